//! Creating sockets and running non-blocking connects.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use anysock_core::{Family, SockAddr, SockType, Target};
use std::os::fd::AsFd;

use socket2::{Protocol, SockRef, Socket, Type};

use crate::addr::{domain, sock_type, to_socket2};

/// Where a connect stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectProgress {
    /// The connection is established.
    Connected,
    /// The connection is being set up: wait until the socket is writable, then call [`finish_connect`].
    InProgress,
}

fn nonblocking_type(ty: Type) -> Type {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        ty.nonblocking()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        ty
    }
}

/// A new close-on-exec, non-blocking socket.
///
/// `protocol` is the IP protocol number (6 for TCP); 0 lets the kernel choose, and is always used for
/// unix sockets whatever is given (the kernel accepts nothing else there).
pub fn new_socket(family: Family, socktype: SockType, protocol: u8) -> io::Result<Socket> {
    let protocol = if family == Family::Unix || protocol == 0 {
        None
    } else {
        Some(Protocol::from(i32::from(protocol)))
    };
    // socket2 sets close-on-exec (atomically with SOCK_CLOEXEC where the platform has it).
    let sock = socket2::Socket::new(
        domain(family),
        nonblocking_type(sock_type(socktype)),
        protocol,
    )?;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    sock.set_nonblocking(true)?;
    Ok(sock)
}

/// A new close-on-exec, non-blocking socket for a connection target (its family, type and protocol).
pub fn socket_for(target: &Target) -> io::Result<Socket> {
    new_socket(target.family(), target.socktype, target.protocol)
}

/// A new close-on-exec, **blocking** socket for a connection target: for a connect that has nothing
/// to race and no deadline, where a blocking `connect(2)` is all there is to do (two system calls, as
/// `std::net::TcpStream::connect` makes).
pub fn blocking_socket_for(target: &Target) -> io::Result<Socket> {
    let family = target.family();
    let protocol = if family == Family::Unix || target.protocol == 0 {
        None
    } else {
        Some(Protocol::from(i32::from(target.protocol)))
    };
    socket2::Socket::new(domain(family), sock_type(target.socktype), protocol)
}

/// Starts connecting a non-blocking socket (a `socket2::Socket`, `std::net::TcpStream`, ...).
///
/// `EINPROGRESS` (and, for IP sockets, `EAGAIN`/`EWOULDBLOCK`, which some systems return instead) is
/// [`ConnectProgress::InProgress`]. For a unix socket `EAGAIN` means the server's accept queue is full:
/// that is an error (the kernel does not keep such a connect pending), returned as `WouldBlock`.
pub fn start_connect<S: AsFd>(sock: &S, addr: &SockAddr) -> io::Result<ConnectProgress> {
    let sa = to_socket2(addr)?;
    match SockRef::from(sock).connect(&sa) {
        Ok(()) => Ok(ConnectProgress::Connected),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(ConnectProgress::InProgress),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock && addr.as_inet().is_some() => {
            Ok(ConnectProgress::InProgress)
        }
        Err(e) => Err(e),
    }
}

/// Reads the outcome of a connect that was [`ConnectProgress::InProgress`], once the socket has become
/// writable (or an error was signalled).
///
/// The pending error (`SO_ERROR`, e.g. `ECONNREFUSED`) is returned as `Err`. A wake-up with no error
/// and no peer yet (a spurious readiness) gives [`ConnectProgress::InProgress`] again.
pub fn finish_connect<S: AsFd>(sock: &S) -> io::Result<ConnectProgress> {
    let sock = SockRef::from(sock);
    // A peer address means connected: one system call on the common path. Only without one is the
    // pending error read, to tell a failed connect from one still in progress.
    match sock.peer_addr() {
        Ok(_) => Ok(ConnectProgress::Connected),
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => match sock.take_error()? {
            Some(e) => Err(e),
            // No error either: still connecting (a spurious wake-up).
            None => Ok(ConnectProgress::InProgress),
        },
        Err(e) => Err(e),
    }
}

/// A non-blocking, close-on-exec UDP socket for talking to `peer`: bound to the unspecified address of
/// `peer`'s family on an ephemeral port (not connected, so answers are read with `recv_from`).
///
/// A fresh socket per DNS query, for custom event loops; anysock's adapters take theirs from
/// [`dns_udp_socket`](crate::dns_udp_socket), which gives this for remote nameservers and reuses
/// loopback-bound sockets for a loopback nameserver.
pub fn udp_socket_for(peer: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = if peer.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    bound_udp(local)
}

/// A non-blocking, close-on-exec UDP socket bound to `local`.
pub(crate) fn bound_udp(local: SocketAddr) -> io::Result<UdpSocket> {
    let family = if local.is_ipv4() {
        Family::V4
    } else {
        Family::V6
    };
    let sock = new_socket(family, SockType::Datagram, 17)?;
    sock.bind(&local.into())?;
    Ok(sock.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads the `flags:` line of /proc/self/fdinfo (octal open flags; O_CLOEXEC is 0o2000000).
    pub(crate) fn fd_is_cloexec(s: &Socket) -> bool {
        use std::os::fd::AsRawFd;
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", s.as_raw_fd())).unwrap();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map(|v| u32::from_str_radix(v.trim(), 8).unwrap())
            .unwrap();
        flags & 0o2000000 != 0
    }

    #[test]
    fn new_sockets_are_nonblocking_and_cloexec() {
        for (fam, ty, proto) in [
            (Family::V4, SockType::Stream, 6),
            (Family::V4, SockType::Datagram, 17),
            (Family::V4, SockType::Stream, 0),
            (Family::Unix, SockType::Stream, 6),
            (Family::Unix, SockType::Datagram, 0),
            (Family::Unix, SockType::SeqPacket, 0),
        ] {
            let s = new_socket(fam, ty, proto).unwrap();
            assert!(s.nonblocking().unwrap(), "{fam} {ty}");
            assert!(fd_is_cloexec(&s), "{fam} {ty}");
        }
    }

    #[test]
    fn unknown_protocol_is_an_error_not_a_panic() {
        // protocol 200 is not a stream protocol
        assert!(new_socket(Family::V4, SockType::Stream, 200).is_err());
    }
}
