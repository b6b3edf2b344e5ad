//! Errors of the blocking adapter. Every public function returns [`std::io::Error`]; the detailed
//! [`Error`] is its inner error (`io::Error::get_ref` / `downcast`).

use std::io;

use anysock_sys::SysError;

/// What went wrong, in detail. Converts into [`io::Error`] with the fitting [`io::ErrorKind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `host`/`service` of a bind cannot be turned into an address (see
    /// [`anysock_sys::BindSpecError`]).
    #[error(transparent)]
    Bind(#[from] anysock_sys::BindSpecError),
    /// Every connection attempt failed (or none could be made). Lists every attempt with its address,
    /// timing and error; `resolution` says why name resolution failed, if it did.
    #[error("{error}{}", resolution.as_ref().map(|r| format!(" ({r})")).unwrap_or_default())]
    Connect {
        /// The connect machine's report.
        error: anysock_core::ConnectError,
        /// The resolution error, if resolution failed.
        resolution: Option<Box<Error>>,
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
