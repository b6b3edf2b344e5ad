//! Errors of the async-std adapter. Every public function returns [`std::io::Error`]; the detailed
//! [`Error`] is its inner error (`io::Error::get_ref` / `downcast`).

use std::io;

use anysock_sys::SysError;

/// What went wrong, in detail. Converts into [`io::Error`] with the fitting [`io::ErrorKind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A host given to bind is not an IP address (names are not resolved for binding).
    #[error(
        "cannot bind to {host:?}: not an IP address (give a literal such as 127.0.0.1 or ::, or unix/)"
    )]
    BindHost {
        /// The host that was given.
        host: String,
    },
    /// A service that is not a port (0-65535), a service name or `name=port`.
    #[error("invalid service {service:?}: {reason}")]
    BadService {
        /// The service text that was given.
        service: String,
        /// What is wrong with it.
        reason: anysock_core::ServiceError,
    },
    /// A service name the services database does not know for this protocol.
    #[error("unknown service {service:?} for protocol {proto}")]
    UnknownService {
        /// The service name.
        service: String,
        /// The protocol (`tcp`, `udp`).
        proto: &'static str,
    },
    /// A unix socket path that cannot be a socket address.
    #[error("bad unix socket path {path:?}: {reason}")]
    BadUnixPath {
        /// The path that was given.
        path: String,
        /// Why it is not usable.
        reason: anysock_core::UnixAddrError,
    },
    /// The connect failed: every attempt with its address, timing and error, and why resolution
    /// failed if it did (the dial machine's report).
    #[error("cannot connect to {node:?}: {error}")]
    Connect {
        /// The host that was given (or the first address for a connect without resolution).
        node: String,
        /// The dial machine's report.
        error: anysock_core::dial::DialError,
    },
    /// Name resolution failed (or its input was bad).
    #[error("cannot resolve {node:?}: {error}")]
    Resolve {
        /// The host that was being resolved.
        node: String,
        /// Why.
        error: anysock_core::ResolveError,
    },
    /// A socket-layer failure.
    #[error(transparent)]
    Sys(#[from] SysError),
    /// An I/O error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    pub(crate) fn resolve(node: &str, error: anysock_core::ResolveError) -> Error {
        Error::Resolve {
            node: node.into(),
            error,
        }
    }

    /// The [`io::ErrorKind`] this error converts to.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::BindHost { .. } | Error::BadService { .. } | Error::BadUnixPath { .. } => {
                io::ErrorKind::InvalidInput
            }
            Error::UnknownService { .. } => io::ErrorKind::NotFound,
            Error::Connect { error, .. } => error.kind(),
            Error::Resolve { error, .. } => crate::resolver::resolve_error_kind(*error),
            Error::Sys(e) => e.kind(),
            Error::Io(e) => e.kind(),
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            e => io::Error::new(e.kind(), e),
        }
    }
}

impl From<anysock_sys::BindSpecError> for Error {
    fn from(e: anysock_sys::BindSpecError) -> Self {
        use anysock_sys::BindSpecError as B;
        match e {
            B::BindHost { host } => Error::BindHost { host },
            B::BadService { service, reason } => Error::BadService { service, reason },
            B::UnknownService { service, proto } => Error::UnknownService { service, proto },
            B::BadUnixPath { path, reason } => Error::BadUnixPath { path, reason },
            other => Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, other)),
        }
    }
}
