//! Socket addresses: IPv4, IPv6 and unix-domain, as one `Copy` type.

use core::fmt;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::target::Family;

/// The size of `sun_path` in Linux's `struct sockaddr_un`.
pub const SUN_PATH_LEN: usize = 108;

/// A unix-domain socket address: a filesystem path or a Linux abstract name.
///
/// Stored inline (no allocation) as the bytes of `sun_path`. An abstract name starts with a NUL byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnixAddr {
    len: u8,
    path: [u8; SUN_PATH_LEN],
}

/// Why bytes cannot be a unix socket address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnixAddrError {
    /// The path is empty.
    #[error("unix socket path is empty")]
    Empty,
    /// The path does not fit in `sun_path`.
    #[error("unix socket path is {len} bytes long; at most {max} fit", max = SUN_PATH_LEN)]
    TooLong {
        /// The length that was given.
        len: usize,
    },
    /// A filesystem path contains a NUL byte.
    #[error("unix socket path contains a NUL byte at offset {at}")]
    InteriorNul {
        /// Byte offset of the NUL.
        at: usize,
    },
}

impl UnixAddr {
    /// A filesystem path (no NUL bytes, 1 to 108 bytes; a path of exactly 108 bytes has no terminator,
    /// as Linux allows).
    pub fn pathname(path: &[u8]) -> Result<Self, UnixAddrError> {
        if path.is_empty() {
            return Err(UnixAddrError::Empty);
        }
        if let Some(at) = path.iter().position(|&b| b == 0) {
            return Err(UnixAddrError::InteriorNul { at });
        }
        Self::from_raw(path)
    }

    /// A Linux abstract socket name, given without its leading NUL byte (at most 107 bytes; any bytes).
    pub fn abstract_name(name: &[u8]) -> Result<Self, UnixAddrError> {
        if name.len() + 1 > SUN_PATH_LEN {
            return Err(UnixAddrError::TooLong {
                len: name.len() + 1,
            });
        }
        let mut path = [0u8; SUN_PATH_LEN];
        path[1..=name.len()].copy_from_slice(name);
        Ok(UnixAddr {
            len: (name.len() + 1) as u8,
            path,
        })
    }

    /// From the raw bytes of `sun_path` as far as they are significant (abstract names with their leading
    /// NUL, pathnames without a terminator).
    pub fn from_raw(bytes: &[u8]) -> Result<Self, UnixAddrError> {
        if bytes.is_empty() {
            return Err(UnixAddrError::Empty);
        }
        if bytes.len() > SUN_PATH_LEN {
            return Err(UnixAddrError::TooLong { len: bytes.len() });
        }
        let mut path = [0u8; SUN_PATH_LEN];
        path[..bytes.len()].copy_from_slice(bytes);
        Ok(UnixAddr {
            len: bytes.len() as u8,
            path,
        })
    }

    /// The significant bytes of `sun_path`: the path, or a NUL followed by the abstract name.
    pub fn as_raw(&self) -> &[u8] {
        &self.path[..usize::from(self.len)]
    }

    /// True for a Linux abstract name.
    pub fn is_abstract(&self) -> bool {
        self.path[0] == 0
    }

    /// The filesystem path, or `None` for an abstract name.
    pub fn as_pathname(&self) -> Option<&[u8]> {
        (!self.is_abstract()).then(|| self.as_raw())
    }

    /// The abstract name without its leading NUL, or `None` for a filesystem path.
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        self.is_abstract().then(|| &self.as_raw()[1..])
    }
}

impl fmt::Debug for UnixAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Writes the path lossily as UTF-8; an abstract name is shown with a leading `@`, as `ss` does.
impl fmt::Display for UnixAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_abstract_name() {
            Some(name) => write!(
                f,
                "@{}",
                name.utf8_chunks().map(|c| c.valid()).collect::<String>()
            ),
            None => {
                for chunk in self.as_raw().utf8_chunks() {
                    f.write_str(chunk.valid())?;
                    if !chunk.invalid().is_empty() {
                        f.write_str("\u{fffd}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// A socket address of any family anysock handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SockAddr {
    /// An IPv4 or IPv6 address with a port (IPv6 keeps flow info and scope id).
    Inet(SocketAddr),
    /// A unix-domain address.
    Unix(UnixAddr),
}

impl SockAddr {
    /// The address family.
    pub const fn family(&self) -> Family {
        match self {
            SockAddr::Inet(SocketAddr::V4(_)) => Family::V4,
            SockAddr::Inet(SocketAddr::V6(_)) => Family::V6,
            SockAddr::Unix(_) => Family::Unix,
        }
    }

    /// The IP socket address, if this is one.
    pub const fn as_inet(&self) -> Option<SocketAddr> {
        match self {
            SockAddr::Inet(sa) => Some(*sa),
            SockAddr::Unix(_) => None,
        }
    }

    /// The unix address, if this is one.
    pub const fn as_unix(&self) -> Option<&UnixAddr> {
        match self {
            SockAddr::Unix(u) => Some(u),
            SockAddr::Inet(_) => None,
        }
    }
}

impl From<SocketAddr> for SockAddr {
    fn from(sa: SocketAddr) -> Self {
        SockAddr::Inet(sa)
    }
}

impl From<SocketAddrV4> for SockAddr {
    fn from(sa: SocketAddrV4) -> Self {
        SockAddr::Inet(sa.into())
    }
}

impl From<SocketAddrV6> for SockAddr {
    fn from(sa: SocketAddrV6) -> Self {
        SockAddr::Inet(sa.into())
    }
}

impl From<UnixAddr> for SockAddr {
    fn from(u: UnixAddr) -> Self {
        SockAddr::Unix(u)
    }
}

/// IP addresses print as `ip:port` / `[ip]:port` (std's form); unix addresses as `unix/:PATH`.
impl fmt::Display for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SockAddr::Inet(sa) => fmt::Display::fmt(sa, f),
            SockAddr::Unix(u) => write!(f, "unix/:{u}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_pathname_rules() {
        assert_eq!(UnixAddr::pathname(b""), Err(UnixAddrError::Empty));
        assert_eq!(
            UnixAddr::pathname(b"a\0b"),
            Err(UnixAddrError::InteriorNul { at: 1 })
        );
        assert_eq!(
            UnixAddr::pathname(&[b'x'; 109]),
            Err(UnixAddrError::TooLong { len: 109 })
        );
        let p = UnixAddr::pathname(&[b'x'; 108]).unwrap();
        assert_eq!(p.as_pathname().unwrap().len(), 108);
        assert!(!p.is_abstract());
    }

    #[test]
    fn unix_abstract_names() {
        let a = UnixAddr::abstract_name(b"demo").unwrap();
        assert!(a.is_abstract());
        assert_eq!(a.as_raw(), b"\0demo");
        assert_eq!(a.as_abstract_name(), Some(&b"demo"[..]));
        assert_eq!(a.to_string(), "@demo");
        assert!(UnixAddr::abstract_name(&[1; 107]).is_ok());
        assert_eq!(
            UnixAddr::abstract_name(&[1; 108]),
            Err(UnixAddrError::TooLong { len: 109 })
        );
    }

    #[test]
    fn families_and_display() {
        let v4: SockAddr = "127.0.0.1:80".parse::<SocketAddr>().unwrap().into();
        let v6: SockAddr = "[::1]:80".parse::<SocketAddr>().unwrap().into();
        let ux: SockAddr = UnixAddr::pathname(b"/run/s").unwrap().into();
        assert_eq!(
            (v4.family(), v6.family(), ux.family()),
            (Family::V4, Family::V6, Family::Unix)
        );
        assert_eq!(v6.to_string(), "[::1]:80");
        assert_eq!(ux.to_string(), "unix/:/run/s");
    }
}
