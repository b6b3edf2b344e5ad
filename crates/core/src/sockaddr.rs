//! Socket addresses: IPv4, IPv6 and unix-domain, as one `Copy` type.

use core::fmt;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::addr::Address;
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

/// The largest [`pack_sockaddr`] output: a `struct sockaddr_un` (2 + 108 bytes).
pub const SOCKADDR_MAX: usize = 2 + SUN_PATH_LEN;

/// Linux `AF_INET`.
const AF_INET: u16 = 2;
/// Linux `AF_INET6`.
const AF_INET6: u16 = 10;
/// Linux `AF_UNIX`.
const AF_UNIX: u16 = 1;

/// The `sockaddr` bytes of a socket address, in a stack buffer. Dereferences to `&[u8]`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PackedSockAddr {
    len: u8,
    bytes: [u8; SOCKADDR_MAX],
}

impl PackedSockAddr {
    /// The bytes (16 for IPv4, 28 for IPv6, 110 for a unix pathname, 2 + name length for an abstract
    /// unix name).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl core::ops::Deref for PackedSockAddr {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for PackedSockAddr {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for PackedSockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PackedSockAddr(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// Why bytes are not a socket address anysock handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SockAddrError {
    /// Fewer than the two bytes of the family field.
    #[error("sockaddr of {len} bytes has no family field")]
    TooShort {
        /// The length given.
        len: usize,
    },
    /// A length that does not fit the family (IPv4 needs exactly 16 bytes, IPv6 at least 24, unix at
    /// most 110).
    #[error("sockaddr of family {family} cannot be {len} bytes long")]
    BadLength {
        /// The family field.
        family: u16,
        /// The length given.
        len: usize,
    },
    /// A family other than `AF_INET` (2), `AF_INET6` (10) and `AF_UNIX` (1).
    #[error("unsupported address family {family}")]
    UnsupportedFamily {
        /// The family field.
        family: u16,
    },
    /// A unix sockaddr whose path is empty (an unnamed socket) or otherwise unusable.
    #[error("unix sockaddr: {0}")]
    Unix(UnixAddrError),
    /// A unix address where an IP socket address was needed.
    #[error("not an IP socket address")]
    NotInet,
}

/// Packs a socket address into Linux's `sockaddr` bytes (AnyEvent's `pack_sockaddr`).
///
/// The layout (the family field is a native-endian `u16`, little-endian on the platforms anysock is
/// tested on; ports are big-endian):
///
/// | family | bytes | layout |
/// |---|---|---|
/// | IPv4 | 16 | `02 00`, port (BE16), address (4), 8 zero bytes (`struct sockaddr_in`) |
/// | IPv6 | 28 | `0a 00`, port (BE16), flow info (native u32), address (16), scope id (native u32) (`struct sockaddr_in6`) |
/// | unix pathname | 110 | `01 00`, path, NUL padding to 108 bytes (`struct sockaddr_un`) |
/// | unix abstract | 2 + 1 + name | `01 00`, NUL, name, no padding (Linux abstract namespace) |
///
/// Flow info and scope id are written as native-endian integers, as `std` and `socket2` fill
/// `sin6_flowinfo` and `sin6_scope_id`; AnyEvent always writes zeros there. These are AnyEvent's exact
/// bytes for every address it can pack.
///
/// ```
/// use anysock_core::{pack_sockaddr, parse_address, unpack_sockaddr, SockAddr};
///
/// let sa = SockAddr::from_address(parse_address("127.0.0.1").unwrap(), 80).unwrap();
/// let bytes = pack_sockaddr(&sa);
/// assert_eq!(&bytes[..8], b"\x02\x00\x00\x50\x7f\x00\x00\x01");
/// assert_eq!(unpack_sockaddr(&bytes), Ok(sa));
/// let unix = SockAddr::unix_path(b"/run/app.sock").unwrap();
/// assert_eq!(pack_sockaddr(&unix).len(), 110);
/// ```
pub fn pack_sockaddr(sa: &SockAddr) -> PackedSockAddr {
    let mut out = PackedSockAddr {
        len: 0,
        bytes: [0; SOCKADDR_MAX],
    };
    let b = &mut out.bytes;
    match sa {
        SockAddr::Inet(SocketAddr::V4(v4)) => {
            b[..2].copy_from_slice(&AF_INET.to_ne_bytes());
            b[2..4].copy_from_slice(&v4.port().to_be_bytes());
            b[4..8].copy_from_slice(&v4.ip().octets());
            out.len = 16;
        }
        SockAddr::Inet(SocketAddr::V6(v6)) => {
            b[..2].copy_from_slice(&AF_INET6.to_ne_bytes());
            b[2..4].copy_from_slice(&v6.port().to_be_bytes());
            b[4..8].copy_from_slice(&v6.flowinfo().to_ne_bytes());
            b[8..24].copy_from_slice(&v6.ip().octets());
            b[24..28].copy_from_slice(&v6.scope_id().to_ne_bytes());
            out.len = 28;
        }
        SockAddr::Unix(u) => {
            b[..2].copy_from_slice(&AF_UNIX.to_ne_bytes());
            let raw = u.as_raw();
            b[2..2 + raw.len()].copy_from_slice(raw);
            out.len = if u.is_abstract() {
                (2 + raw.len()) as u8
            } else {
                SOCKADDR_MAX as u8
            };
        }
    }
    out
}

/// Unpacks Linux `sockaddr` bytes (AnyEvent's `unpack_sockaddr`), keeping IPv6 flow info and scope id.
///
/// IPv4 needs exactly 16 bytes (as AnyEvent). IPv6 needs at least 24 (the RFC 2133 layout without a
/// scope id, which is then 0); longer input such as a whole `sockaddr_storage` is fine. A unix sockaddr
/// is at most 110 bytes (AnyEvent's Socket module accepts longer ones and returns mangled paths): a
/// pathname ends at its first NUL, an abstract name (leading NUL) keeps every byte, and a sockaddr of
/// just the family (an unnamed socket) is an error, since [`UnixAddr`] cannot be empty. See
/// [`pack_sockaddr`] for the layout.
pub fn unpack_sockaddr(bytes: &[u8]) -> Result<SockAddr, SockAddrError> {
    let len = bytes.len();
    let Some(fam) = bytes.first_chunk::<2>() else {
        return Err(SockAddrError::TooShort { len });
    };
    let family = u16::from_ne_bytes(*fam);
    let be16 = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
    let ne32 = |i: usize| u32::from_ne_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    match family {
        AF_INET => {
            if len != 16 {
                return Err(SockAddrError::BadLength { family, len });
            }
            let ip = std::net::Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]);
            Ok(SockAddr::Inet(SocketAddr::V4(SocketAddrV4::new(
                ip,
                be16(2),
            ))))
        }
        AF_INET6 => {
            if len < 24 {
                return Err(SockAddrError::BadLength { family, len });
            }
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&bytes[8..24]);
            let scope = if len >= 28 { ne32(24) } else { 0 };
            Ok(SockAddr::Inet(SocketAddr::V6(SocketAddrV6::new(
                ip.into(),
                be16(2),
                ne32(4),
                scope,
            ))))
        }
        AF_UNIX => {
            if len > SOCKADDR_MAX {
                return Err(SockAddrError::BadLength { family, len });
            }
            let path = &bytes[2..];
            let raw = match path.first() {
                Some(0) => path,
                _ => &path[..path.iter().position(|&c| c == 0).unwrap_or(path.len())],
            };
            UnixAddr::from_raw(raw)
                .map(SockAddr::Unix)
                .map_err(SockAddrError::Unix)
        }
        family => Err(SockAddrError::UnsupportedFamily { family }),
    }
}

impl SockAddr {
    /// A socket address from a host address and a port; `None` for [`Address::Unix`], which needs a
    /// path ([`SockAddr::unix_path`]).
    pub const fn from_address(addr: Address, port: u16) -> Option<SockAddr> {
        match addr {
            Address::V4(a) => Some(SockAddr::Inet(SocketAddr::V4(SocketAddrV4::new(a, port)))),
            Address::V6(a) => Some(SockAddr::Inet(SocketAddr::V6(SocketAddrV6::new(
                a, port, 0, 0,
            )))),
            Address::Unix => None,
        }
    }

    /// A unix socket address for a filesystem path.
    pub fn unix_path(path: &[u8]) -> Result<SockAddr, UnixAddrError> {
        UnixAddr::pathname(path).map(SockAddr::Unix)
    }

    /// The host address: the IP address, or [`Address::Unix`].
    pub const fn address(&self) -> Address {
        match self {
            SockAddr::Inet(SocketAddr::V4(a)) => Address::V4(*a.ip()),
            SockAddr::Inet(SocketAddr::V6(a)) => Address::V6(*a.ip()),
            SockAddr::Unix(_) => Address::Unix,
        }
    }

    /// The port of an IP socket address.
    pub const fn port(&self) -> Option<u16> {
        match self {
            SockAddr::Inet(sa) => Some(sa.port()),
            SockAddr::Unix(_) => None,
        }
    }

    /// The `sockaddr` bytes ([`pack_sockaddr`]).
    pub fn to_bytes(&self) -> PackedSockAddr {
        pack_sockaddr(self)
    }

    /// From `sockaddr` bytes ([`unpack_sockaddr`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<SockAddr, SockAddrError> {
        unpack_sockaddr(bytes)
    }
}

impl TryFrom<SockAddr> for SocketAddr {
    type Error = SockAddrError;
    fn try_from(sa: SockAddr) -> Result<Self, SockAddrError> {
        sa.as_inet().ok_or(SockAddrError::NotInet)
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

    #[test]
    fn pack_layouts() {
        let v4: SockAddr = "127.0.0.1:80".parse::<SocketAddr>().unwrap().into();
        assert_eq!(
            pack_sockaddr(&v4).as_bytes(),
            b"\x02\x00\x00\x50\x7f\x00\x00\x01\0\0\0\0\0\0\0\0"
        );
        let v6 = SockAddr::Inet(SocketAddr::V6(SocketAddrV6::new(
            "fe80::1".parse().unwrap(),
            443,
            0x12345,
            3,
        )));
        let p = pack_sockaddr(&v6);
        assert_eq!(p.len(), 28);
        assert_eq!(&p[..4], b"\x0a\x00\x01\xbb");
        assert_eq!(unpack_sockaddr(&p), Ok(v6));
        let path = SockAddr::unix_path(b"/run/s").unwrap();
        let p = pack_sockaddr(&path);
        assert_eq!(p.len(), 110);
        assert_eq!(&p[..8], b"\x01\x00/run/s");
        assert_eq!(unpack_sockaddr(&p), Ok(path));
        let abs = SockAddr::Unix(UnixAddr::abstract_name(b"ab").unwrap());
        assert_eq!(pack_sockaddr(&abs).as_bytes(), b"\x01\x00\x00ab");
        assert_eq!(
            unpack_sockaddr(b"\x01\x00\x00ab\x00"),
            Ok(SockAddr::Unix(UnixAddr::from_raw(b"\0ab\0").unwrap()))
        );
    }

    #[test]
    fn unpack_errors() {
        assert_eq!(
            unpack_sockaddr(b"\x02"),
            Err(SockAddrError::TooShort { len: 1 })
        );
        assert_eq!(
            unpack_sockaddr(&[2, 0, 0, 80]),
            Err(SockAddrError::BadLength { family: 2, len: 4 })
        );
        assert_eq!(
            unpack_sockaddr(&[10, 0, 0, 80, 0, 0, 0, 0]),
            Err(SockAddrError::BadLength { family: 10, len: 8 })
        );
        assert_eq!(
            unpack_sockaddr(&[3, 0]),
            Err(SockAddrError::UnsupportedFamily { family: 3 })
        );
        assert_eq!(
            unpack_sockaddr(&[1, 0]),
            Err(SockAddrError::Unix(UnixAddrError::Empty))
        );
        assert_eq!(
            unpack_sockaddr(b"\x01\x00/a\x00bc"),
            Ok(SockAddr::unix_path(b"/a").unwrap())
        );
        let mut v6 = [0u8; 24];
        v6[0] = 10;
        v6[23] = 1;
        assert_eq!(
            unpack_sockaddr(&v6).unwrap().address(),
            Address::V6(std::net::Ipv6Addr::LOCALHOST)
        );
        let mut long = vec![1u8, 0];
        long.extend([b'a'; 120]);
        assert_eq!(
            unpack_sockaddr(&long),
            Err(SockAddrError::BadLength {
                family: 1,
                len: 122
            })
        );
        long.truncate(110);
        let u = unpack_sockaddr(&long).unwrap();
        assert_eq!(u.as_unix().unwrap().as_raw().len(), 108);
    }

    #[test]
    fn conversions() {
        let sa: SocketAddr = "[::1]:9".parse().unwrap();
        let s = SockAddr::from(sa);
        assert_eq!(SocketAddr::try_from(s), Ok(sa));
        assert_eq!(s.port(), Some(9));
        assert_eq!(SockAddr::from_address(s.address(), 9), Some(s));
        assert_eq!(SockAddr::from_address(Address::Unix, 9), None);
        let u = SockAddr::unix_path(b"/x").unwrap();
        assert_eq!(SocketAddr::try_from(u), Err(SockAddrError::NotInet));
        assert_eq!(SockAddr::from_bytes(&u.to_bytes()), Ok(u));
    }
}
