//! Errors of the tokio adapter. Every public function returns [`std::io::Error`]; the detailed
//! [`Error`] is its inner error (`io::Error::get_ref` / `downcast`).

use std::io;

use anysock_core::dial::DialError;
use anysock_core::resolution::resolve_error_kind;
use anysock_sys::SysError;

/// What went wrong, in detail. Converts into [`io::Error`] with the fitting [`io::ErrorKind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `host`/`service` of a bind cannot be turned into an address (see
    /// [`anysock_sys::BindSpecError`]).
    #[error(transparent)]
    Bind(#[from] anysock_sys::BindSpecError),
    /// The connect failed: every attempt with its address, timing and error, and why resolution
    /// failed if it did.
    #[error("cannot connect to {node:?}: {error}")]
    Connect {
        /// The host that was given (or the first address for a connect without resolution).
        node: String,
        /// The dial machine's report.
        error: DialError,
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
            Error::Bind(e) => e.kind(),
            Error::Connect { error, .. } => error.kind(),
            Error::Resolve { error, .. } => resolve_error_kind(*error),
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
