//! The connected stream: TCP or unix-domain, as one type implementing tokio's `AsyncRead` and
//! `AsyncWrite`; and the peer as AnyEvent reports it.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use anysock_core::SockAddr;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// A connected stream socket: TCP or unix-domain.
#[derive(Debug)]
#[non_exhaustive]
pub enum Stream {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A unix-domain stream connection.
    Unix(UnixStream),
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

impl Stream {
    /// The TCP stream, if it is one.
    pub fn as_tcp(&self) -> Option<&TcpStream> {
        match self {
            Stream::Tcp(s) => Some(s),
            Stream::Unix(_) => None,
        }
    }

    /// The unix stream, if it is one.
    pub fn as_unix(&self) -> Option<&UnixStream> {
        match self {
            Stream::Unix(s) => Some(s),
            Stream::Tcp(_) => None,
        }
    }

    /// The peer's address (`None` for an unnamed unix peer).
    pub fn peer_addr(&self) -> io::Result<Option<SockAddr>> {
        match self {
            Stream::Tcp(s) => s.peer_addr().map(|a| Some(SockAddr::Inet(a))),
            Stream::Unix(s) => Ok(unix_addr(&s.peer_addr()?)),
        }
    }

    /// The local address (`None` for an unnamed unix socket).
    pub fn local_addr(&self) -> io::Result<Option<SockAddr>> {
        match self {
            Stream::Tcp(s) => s.local_addr().map(|a| Some(SockAddr::Inet(a))),
            Stream::Unix(s) => Ok(unix_addr(&s.local_addr()?)),
        }
    }
}

fn unix_addr(a: &tokio::net::unix::SocketAddr) -> Option<SockAddr> {
    let path = a.as_pathname()?;
    use std::os::unix::ffi::OsStrExt;
    anysock_core::UnixAddr::pathname(path.as_os_str().as_bytes())
        .ok()
        .map(SockAddr::Unix)
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            Stream::Unix(s) => s.is_write_vectored(),
        }
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
