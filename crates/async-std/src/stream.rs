//! One async stream type for TCP and unix connections.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::task::{Context, Poll};

use anysock_core::SockAddr;
use async_io::Async;
use futures_lite::{AsyncRead, AsyncWrite};

/// A connected stream socket, TCP or unix, registered with async-io's reactor. Implements
/// [`AsyncRead`] and [`AsyncWrite`]; see the crate docs for turning it into `smol::net::TcpStream` or
/// `async_std::net::TcpStream`.
#[derive(Debug)]
pub enum Stream {
    /// A TCP connection.
    Tcp(Async<TcpStream>),
    /// A unix-domain stream connection.
    Unix(Async<UnixStream>),
}

impl Stream {
    /// The TCP stream, if this is one.
    pub fn as_tcp(&self) -> Option<&Async<TcpStream>> {
        match self {
            Stream::Tcp(s) => Some(s),
            Stream::Unix(_) => None,
        }
    }

    /// The unix stream, if this is one.
    pub fn as_unix(&self) -> Option<&Async<UnixStream>> {
        match self {
            Stream::Unix(s) => Some(s),
            Stream::Tcp(_) => None,
        }
    }

    /// The `Async<TcpStream>` (for `smol::net::TcpStream::from`), or the stream back if it is a unix
    /// one.
    pub fn into_tcp(self) -> Result<Async<TcpStream>, Stream> {
        match self {
            Stream::Tcp(s) => Ok(s),
            s => Err(s),
        }
    }

    /// The `Async<UnixStream>` (for `smol::net::unix::UnixStream::from`), or the stream back if it is
    /// a TCP one.
    pub fn into_unix(self) -> Result<Async<UnixStream>, Stream> {
        match self {
            Stream::Unix(s) => Ok(s),
            s => Err(s),
        }
    }

    /// The std TCP stream, taken off the reactor and left non-blocking (for
    /// `async_std::net::TcpStream::from`). `InvalidInput` for a unix stream.
    pub fn into_std_tcp(self) -> io::Result<TcpStream> {
        match self {
            Stream::Tcp(s) => s.into_inner(),
            Stream::Unix(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a TCP stream",
            )),
        }
    }

    /// The std unix stream, taken off the reactor and left non-blocking (for
    /// `async_std::os::unix::net::UnixStream::from`). `InvalidInput` for a TCP stream.
    pub fn into_std_unix(self) -> io::Result<UnixStream> {
        match self {
            Stream::Unix(s) => s.into_inner(),
            Stream::Tcp(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a unix stream",
            )),
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

    /// Shuts down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.get_ref().shutdown(how),
            Stream::Unix(s) => s.get_ref().shutdown(how),
        }
    }

    /// Sets `TCP_NODELAY` (an error for a unix stream).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        Ok(anysock_sys::tcp_nodelay(self, on)?)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(anysock_sys::tcp_nodelay_enabled(self)?)
    }

    /// Sets the TCP congestion control algorithm (Linux `TCP_CONGESTION`, e.g. `"cubic"`).
    pub fn set_congestion(&self, name: &str) -> io::Result<()> {
        Ok(anysock_sys::tcp_congestion(self, name)?)
    }

    /// The TCP congestion control algorithm in use.
    pub fn congestion(&self) -> io::Result<String> {
        Ok(anysock_sys::tcp_congestion_name(self)?)
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read_vectored(cx, bufs),
            Stream::Unix(s) => Pin::new(s).poll_read_vectored(cx, bufs),
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

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_close(cx),
            Stream::Unix(s) => Pin::new(s).poll_close(cx),
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.get_ref().as_fd(),
            Stream::Unix(s) => s.get_ref().as_fd(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_as_anyevent_reports_them() {
        let p = Peer::from_addr(Some(SockAddr::Inet(
            "[::ffff:127.0.0.1]:80".parse().unwrap(),
        )));
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 80));
        assert_eq!(p.to_string(), "[::ffff:127.0.0.1]:80");
        let p = Peer::from_addr(Some(SockAddr::Inet("[::1]:8080".parse().unwrap())));
        assert_eq!((p.host.as_str(), p.port), ("::1", 8080));
        let p = Peer::from_addr(None);
        assert_eq!((p.host.as_str(), p.port), ("unix/", 0));
        assert_eq!(p.to_string(), "unix/");
    }
}
