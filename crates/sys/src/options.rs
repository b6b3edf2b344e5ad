//! Socket options: `TCP_NODELAY` and `TCP_CONGESTION`.
//!
//! The functions take anything that owns a socket file descriptor (`std::net::TcpStream`,
//! `socket2::Socket`, a runtime's stream), like AnyEvent's `tcp_nodelay $fh` and `tcp_congestion $fh`.

use std::os::fd::AsFd;

use socket2::SockRef;

use crate::error::{Op, SysError};

/// Turns Nagle's algorithm off (`on = true`) or back on, like AnyEvent's `tcp_nodelay $fh, $enable`.
pub fn tcp_nodelay<S: AsFd>(stream: &S, on: bool) -> Result<(), SysError> {
    SockRef::from(stream)
        .set_tcp_nodelay(on)
        .map_err(SysError::io(Op::SetNoDelay))
}

/// Whether `TCP_NODELAY` is set.
pub fn tcp_nodelay_enabled<S: AsFd>(stream: &S) -> Result<bool, SysError> {
    SockRef::from(stream)
        .tcp_nodelay()
        .map_err(SysError::io(Op::GetNoDelay))
}

/// The kernel's limit for a congestion control name, including its terminating NUL (`TCP_CA_NAME_MAX`).
const TCP_CA_NAME_MAX: usize = 16;

fn check_congestion_name(name: &str) -> Result<(), SysError> {
    if name.is_empty() || name.len() >= TCP_CA_NAME_MAX || name.as_bytes().contains(&0) {
        return Err(SysError::InvalidCongestionName { name: name.into() });
    }
    Ok(())
}

/// Selects the TCP congestion control algorithm of a socket (`TCP_CONGESTION`), like AnyEvent's
/// `tcp_congestion $fh, $algo`.
///
/// An algorithm the kernel does not know is [`SysError::UnknownCongestion`] naming it; one that exists
/// but that an unprivileged process may not select (see `net.ipv4.tcp_allowed_congestion_control`) is
/// [`SysError::Io`] with `EPERM`. Only Linux and FreeBSD have the option; elsewhere the result is
/// [`SysError::Unsupported`].
pub fn tcp_congestion<S: AsFd>(stream: &S, name: &str) -> Result<(), SysError> {
    check_congestion_name(name)?;
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    {
        SockRef::from(stream)
            .set_tcp_congestion(name.as_bytes())
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::ENOENT) {
                    SysError::UnknownCongestion { name: name.into() }
                } else {
                    SysError::io(Op::SetCongestion)(e)
                }
            })
    }
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    {
        let _ = stream;
        Err(SysError::Unsupported {
            what: "TCP_CONGESTION",
        })
    }
}

/// The name of the TCP congestion control algorithm a socket uses.
pub fn tcp_congestion_name<S: AsFd>(stream: &S) -> Result<String, SysError> {
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    {
        let raw = SockRef::from(stream)
            .tcp_congestion()
            .map_err(SysError::io(Op::GetCongestion))?;
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        Ok(String::from_utf8_lossy(&raw[..end]).into_owned())
    }
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    {
        let _ = stream;
        Err(SysError::Unsupported {
            what: "TCP_CONGESTION",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn congestion_names_are_checked_before_the_kernel() {
        let s = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        for bad in ["", "sixteen-bytes-xx", "a\0b"] {
            match tcp_congestion(&s, bad) {
                Err(SysError::InvalidCongestionName { name }) => assert_eq!(name, bad),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
