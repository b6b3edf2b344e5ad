//! The error type of the socket layer.

use core::fmt;
use std::io;

use anysock_core::UnixAddr;

/// The system call or file operation that failed, for [`SysError::Io`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `socket(2)`.
    Socket,
    /// Making a socket non-blocking.
    SetNonBlocking,
    /// Setting `SO_REUSEADDR`.
    SetReuseAddr,
    /// Setting `IPV6_V6ONLY`.
    SetOnlyV6,
    /// `bind(2)`.
    Bind,
    /// `listen(2)`.
    Listen,
    /// `getsockname(2)`.
    LocalAddr,
    /// Inspecting an existing unix socket path (`lstat`).
    StatPath,
    /// Probing whether an existing unix socket has a live listener.
    ProbePath,
    /// Removing a stale unix socket path.
    RemovePath,
    /// Setting `TCP_NODELAY`.
    SetNoDelay,
    /// Reading `TCP_NODELAY`.
    GetNoDelay,
    /// Setting `TCP_CONGESTION`.
    SetCongestion,
    /// Reading `TCP_CONGESTION`.
    GetCongestion,
    /// Reading a configuration file.
    ReadConfig,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Socket => "socket",
            Op::SetNonBlocking => "set non-blocking",
            Op::SetReuseAddr => "setsockopt SO_REUSEADDR",
            Op::SetOnlyV6 => "setsockopt IPV6_V6ONLY",
            Op::Bind => "bind",
            Op::Listen => "listen",
            Op::LocalAddr => "getsockname",
            Op::StatPath => "lstat of unix socket path",
            Op::ProbePath => "probe of existing unix socket",
            Op::RemovePath => "removing stale unix socket",
            Op::SetNoDelay => "setsockopt TCP_NODELAY",
            Op::GetNoDelay => "getsockopt TCP_NODELAY",
            Op::SetCongestion => "setsockopt TCP_CONGESTION",
            Op::GetCongestion => "getsockopt TCP_CONGESTION",
            Op::ReadConfig => "reading configuration file",
        })
    }
}

/// Why a socket-layer operation failed.
///
/// Converts into [`io::Error`] with a fitting [`io::ErrorKind`], keeping this value as the inner error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SysError {
    /// A system call failed.
    #[error("{op}: {source}")]
    Io {
        /// What was being done.
        op: Op,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A unix socket path to bind exists and is not a socket; it is left untouched (AnyEvent B30).
    #[error("{path}: the path exists and is not a socket; refusing to replace it")]
    PathNotSocket {
        /// The path.
        path: UnixAddr,
    },
    /// A unix socket path to bind is a socket with a live listener; it is left untouched.
    #[error("{path}: a server is listening on this socket already")]
    PathInUse {
        /// The path.
        path: UnixAddr,
    },
    /// The kernel does not know this TCP congestion control algorithm (`ENOENT`).
    #[error("unknown TCP congestion control algorithm {name:?}")]
    UnknownCongestion {
        /// The name that was asked for.
        name: String,
    },
    /// A congestion control name that cannot be valid: empty, longer than 15 bytes, or with a NUL byte.
    #[error(
        "invalid TCP congestion control algorithm name {name:?}: it must be 1 to 15 bytes without NUL"
    )]
    InvalidCongestionName {
        /// The name that was given.
        name: String,
    },
    /// The operation does not exist on this platform.
    #[error("{what} is not supported on this platform")]
    Unsupported {
        /// What was asked for.
        what: &'static str,
    },
    /// The socket type cannot be used with the operation (for example `listen` on a datagram socket).
    #[error("{what}")]
    InvalidInput {
        /// What was wrong.
        what: &'static str,
    },
}

impl SysError {
    pub(crate) fn io(op: Op) -> impl FnOnce(io::Error) -> SysError {
        move |source| SysError::Io { op, source }
    }

    /// The [`io::ErrorKind`] this error converts to.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            SysError::Io { source, .. } => source.kind(),
            SysError::PathNotSocket { .. } => io::ErrorKind::AlreadyExists,
            SysError::PathInUse { .. } => io::ErrorKind::AddrInUse,
            SysError::UnknownCongestion { .. } => io::ErrorKind::NotFound,
            SysError::InvalidCongestionName { .. } | SysError::InvalidInput { .. } => {
                io::ErrorKind::InvalidInput
            }
            SysError::Unsupported { .. } => io::ErrorKind::Unsupported,
        }
    }

    /// The OS error number, for [`SysError::Io`].
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            SysError::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

impl From<SysError> for io::Error {
    fn from(e: SysError) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_messages() {
        let e = SysError::Io {
            op: Op::Bind,
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        assert!(e.to_string().starts_with("bind: "));
        let p = UnixAddr::pathname(b"/tmp/x").unwrap();
        let e: io::Error = SysError::PathNotSocket { path: p }.into();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(e.to_string().contains("/tmp/x"), "{e}");
        assert!(e.get_ref().unwrap().downcast_ref::<SysError>().is_some());
        let e = SysError::UnknownCongestion {
            name: "nosuch".into(),
        };
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("\"nosuch\""));
    }
}
