//! # anysock-async-std
//!
//! The async-std / smol adapter of anysock: AnyEvent::Socket's `tcp_connect` (with Happy Eyeballs v2,
//! RFC 8305), `tcp_server`, `tcp_bind` and a DNS stub resolver, as futures.
//!
//! ## One adapter for async-std and smol
//!
//! async-std has been discontinued by its authors in favour of smol (RUSTSEC-2025-0052). Both run their
//! I/O on [`async_io`]'s reactor, so this crate is built on `async-io` alone ([`async_io::Async`],
//! [`async_io::Timer`]) and spawns nothing: its futures run under `async_std::task::block_on` /
//! `async_std::task::spawn`, `smol::block_on` / `smol::spawn`, `async_io::block_on`, or any executor,
//! because the `async-io` reactor drives itself (on its own thread when no `block_on` of its is running).
//!
//! A connected [`Stream`] is an [`async_io::Async`] of a std stream and implements
//! [`futures_lite::AsyncRead`] / [`futures_lite::AsyncWrite`] itself. To get each runtime's own type:
//!
//! - smol (`async-net`): `smol::net::TcpStream::from(async_stream)`:
//!   `async_net::TcpStream` implements `From<Async<std::net::TcpStream>>` (and the unix types alike);
//!   [`Stream::into_tcp`] gives the `Async<std::net::TcpStream>`. No system call is made.
//! - async-std: `async_std::net::TcpStream` implements only `From<std::net::TcpStream>` (it registers
//!   the socket anew), so use [`Stream::into_std_tcp`]:
//!   `async_std::net::TcpStream::from(stream.into_std_tcp()?)`.
//!
//! ```
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//!
//! # async_io::block_on(async {
//! let server = anysock_async_std::tcp_server(Some("127.0.0.1"), "0", |mut stream, _host, _port| {
//!     // Runs on the server's accept thread: hand longer work to a task of your runtime.
//!     async_io::block_on(async move {
//!         let _ = stream.write_all(b"hi").await;
//!     });
//! })?;
//! let port = server.local_addr().as_inet().unwrap().port();
//! let mut c = anysock_async_std::tcp_connect("127.0.0.1", &port.to_string()).await?;
//! let mut buf = String::new();
//! c.stream.read_to_string(&mut buf).await?;
//! assert_eq!(buf, "hi");
//! # Ok::<(), std::io::Error>(())
//! # }).unwrap();
//! ```
//!
//! ## No protocol logic here
//!
//! Connects are the core's [`Dial`](anysock_core::dial::Dial) machine (the resolve planner, DNS
//! machines and the Happy Eyeballs connect machine joined), resolution and lookups the core's
//! [`Resolution`](anysock_core::resolution::Resolution); this crate only carries out their outputs
//! (sockets, timers, the prepare and accept hooks) and feeds back what the sockets say. Every clock
//! read is in one `now()` function; one [`async_io::Timer`] per future is re-armed at the machine's
//! absolute deadline, so timers do not drift.
//!
//! ## Cancellation
//!
//! Every future owns its sockets: dropping a [`tcp_connect`] future mid-race closes every attempt's
//! socket and every DNS socket at once and stops the resolution; no task is left behind.
//!
//! ## The server
//!
//! [`tcp_server`] runs its accept loop on a small thread of its own, with `async_io::block_on`, so it
//! needs no spawner and works the same under both runtimes; the handler is called on that thread with
//! an async [`Stream`] and typically spawns a task of the caller's runtime (`smol::spawn(..).detach()`,
//! `async_std::task::spawn(..)`). Dropping the [`Server`] stops accepting and closes the listener.
//! Callers that want the accept loop on their own executor use [`tcp_bind`] and
//! [`BoundListener::accept`] instead.
//!
//! ## Features
//!
//! - `tracing`: emits `tracing` events (target `anysock_async_std`) for connection attempts, DNS
//!   queries and accept errors.
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg(unix)]

#[macro_use]
mod trace;
mod clock;
mod connect;
mod dns;
mod error;
mod hostspec;
mod resolver;
mod server;
mod stream;
mod sysdb;

pub use connect::{AcceptHook, Connect, Connection, Connector, PrepareHook, tcp_connect};
pub use error::Error;
pub use resolver::{Resolver, ResolverBuilder};
pub use server::{AcceptErrorHook, Bind, BindPrepare, BoundListener, Server, tcp_bind, tcp_server};
pub use stream::{Peer, Stream};

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use anysock_core::dns::RecordType;

    fn assert_send<T: Send>(_: &T) {}

    /// Every future of the crate can be spawned on a multi-threaded executor (async-std's, smol's).
    #[test]
    fn futures_are_send() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let r = crate::Resolver::builder()
            .nameservers([addr])
            .no_hosts()
            .build()
            .unwrap();
        let c = crate::Connector::new().resolver(r.clone());
        assert_send(&c.connect_addrs([addr]));
        assert_send(&c.connect("localhost", "9"));
        assert_send(&r.resolve_sockaddr("localhost", Some("9"), "tcp", None, None));
        assert_send(&r.inet_aton("localhost"));
        assert_send(&r.lookup("localhost.", RecordType::A));
        let l = crate::tcp_bind(Some("127.0.0.1"), "0").unwrap();
        assert_send(&l.accept());
    }
}
