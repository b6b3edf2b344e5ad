//! One stream type for TCP and unix connections.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;

use anysock_core::SockAddr;
use anysock_sys::socket2::Socket;

/// A connected stream socket: TCP or unix. Implements [`Read`] and [`Write`]; blocking unless
/// [`Stream::set_nonblocking`] says otherwise.
#[derive(Debug)]
pub enum Stream {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A unix-domain stream connection.
    Unix(UnixStream),
}

impl Stream {
    /// Wraps a connected socket of the given address family.
    pub(crate) fn from_socket(sock: Socket, unix: bool) -> Self {
        if unix {
            Stream::Unix(sock.into())
        } else {
            Stream::Tcp(sock.into())
        }
    }

    /// Wraps a connected non-blocking socket and makes it blocking (one `ioctl(FIONBIO)` through std).
    pub(crate) fn from_nonblocking_socket(sock: Socket, unix: bool) -> io::Result<Self> {
        let s = Stream::from_socket(sock, unix);
        s.set_nonblocking(false)?;
        Ok(s)
    }

    /// The TCP stream, if this is one.
    pub fn as_tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Tcp(s) => Some(s),
            Stream::Unix(_) => None,
        }
    }

    /// The unix stream, if this is one.
    pub fn as_unix(&self) -> Option<&UnixStream> {
        match self {
            Stream::Unix(s) => Some(s),
            Stream::Tcp(_) => None,
        }
    }

    /// The peer's address (`None` for an unnamed unix peer).
    pub fn peer_addr(&self) -> io::Result<Option<SockAddr>> {
        let sa = anysock_sys::socket2::SockRef::from(self).peer_addr()?;
        Ok(anysock_sys::addr::from_socket2(&sa))
    }

    /// The local address (`None` for an unnamed unix socket).
    pub fn local_addr(&self) -> io::Result<Option<SockAddr>> {
        let sa = anysock_sys::socket2::SockRef::from(self).local_addr()?;
        Ok(anysock_sys::addr::from_socket2(&sa))
    }

    /// Switches non-blocking mode.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(on),
            Stream::Unix(s) => s.set_nonblocking(on),
        }
    }

    /// Shuts down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }

    /// A second handle to the same connection.
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read_vectored(bufs),
            Stream::Unix(s) => s.read_vectored(bufs),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Unix(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// A peer as AnyEvent reports it: host text and port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The host: an IP address as text (an IPv4-mapped IPv6 address is shown as IPv4, as AnyEvent's
    /// `format_address` does), or `unix/` for a unix-domain peer.
    pub host: String,
    /// The port; 0 for a unix-domain peer.
    pub port: u16,
    /// The full address, if the peer has one (unix peers usually do not).
    pub addr: Option<SockAddr>,
}

impl Peer {
    pub(crate) fn from_addr(addr: Option<SockAddr>) -> Peer {
        match addr {
            Some(SockAddr::Inet(sa)) => Peer {
                host: sa.ip().to_canonical().to_string(),
                port: sa.port(),
                addr,
            },
            _ => Peer {
                host: "unix/".into(),
                port: 0,
                addr,
            },
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            Some(a) => fmt::Display::fmt(&a, f),
            None => f.write_str("unix/"),
        }
    }
}
