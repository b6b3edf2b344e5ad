//! Conversions between [`anysock_core::SockAddr`] and `socket2`'s address type.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use anysock_core::{Family, SockAddr, SockType, UnixAddr};
use socket2::{Domain, Type};

/// The `socket2` address for a [`SockAddr`]. Abstract unix names keep their leading NUL.
///
/// Fails with [`std::io::ErrorKind::InvalidInput`] for the one unix pathname `socket2` cannot represent:
/// one of exactly 108 bytes, which leaves no room for a terminator.
pub fn to_socket2(addr: &SockAddr) -> std::io::Result<socket2::SockAddr> {
    match addr {
        SockAddr::Inet(sa) => Ok(socket2::SockAddr::from(*sa)),
        SockAddr::Unix(u) => socket2::SockAddr::unix(OsStr::from_bytes(u.as_raw())),
    }
}

/// The [`SockAddr`] for a `socket2` address; `None` for an unnamed unix address or a family anysock does
/// not handle.
pub fn from_socket2(addr: &socket2::SockAddr) -> Option<SockAddr> {
    if let Some(sa) = addr.as_socket() {
        return Some(SockAddr::Inet(sa));
    }
    if let Some(path) = addr.as_pathname() {
        return UnixAddr::pathname(path.as_os_str().as_bytes())
            .ok()
            .map(SockAddr::Unix);
    }
    if let Some(name) = addr.as_abstract_namespace() {
        return UnixAddr::abstract_name(name).ok().map(SockAddr::Unix);
    }
    None
}

/// The `socket2` domain of a family.
pub fn domain(family: Family) -> Domain {
    match family {
        Family::V4 => Domain::IPV4,
        Family::V6 => Domain::IPV6,
        Family::Unix => Domain::UNIX,
    }
}

/// The `socket2` type of a socket type.
pub fn sock_type(socktype: SockType) -> Type {
    match socktype {
        SockType::Stream => Type::STREAM,
        SockType::Datagram => Type::DGRAM,
        SockType::SeqPacket => Type::SEQPACKET,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_round_trip() {
        for s in ["127.0.0.1:80", "[::1]:443", "[2001:db8::1%3]:53"] {
            let sa: std::net::SocketAddr = s.parse().unwrap();
            let a = SockAddr::Inet(sa);
            assert_eq!(from_socket2(&to_socket2(&a).unwrap()), Some(a), "{s}");
        }
    }

    #[test]
    fn unix_round_trip() {
        let p = SockAddr::Unix(UnixAddr::pathname(b"/run/x.sock").unwrap());
        assert_eq!(from_socket2(&to_socket2(&p).unwrap()), Some(p));
        let a = SockAddr::Unix(UnixAddr::abstract_name(b"anysock\0demo").unwrap());
        let s2 = to_socket2(&a).unwrap();
        assert_eq!(s2.as_abstract_namespace(), Some(&b"anysock\0demo"[..]));
        assert_eq!(from_socket2(&s2), Some(a));
        let max_abstract = SockAddr::Unix(UnixAddr::abstract_name(&[7; 107]).unwrap());
        assert_eq!(
            from_socket2(&to_socket2(&max_abstract).unwrap()),
            Some(max_abstract)
        );
    }

    #[test]
    fn unterminated_108_byte_path_is_an_error() {
        let p = SockAddr::Unix(UnixAddr::pathname(&[b'a'; 108]).unwrap());
        assert!(to_socket2(&p).is_err());
        let p = SockAddr::Unix(UnixAddr::pathname(&[b'a'; 107]).unwrap());
        assert!(to_socket2(&p).is_ok());
    }
}
