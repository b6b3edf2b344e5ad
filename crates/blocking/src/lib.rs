//! # anysock-blocking
//!
//! The blocking adapter of anysock: AnyEvent::Socket's `tcp_connect`, `tcp_server`, `tcp_bind`,
//! `resolve_sockaddr` and `inet_aton` on plain std sockets, with no async runtime and no thread per
//! connection attempt.
//!
//! | AnyEvent | here |
//! |---|---|
//! | `tcp_connect $host, $service, $cb, $prepare_cb` | [`tcp_connect`], [`Connector`] ([`Connector::prepare`], [`Connector::accept`] for `$retry`) |
//! | `tcp_server $host, $service, $cb, $prepare_cb` | [`tcp_server`], [`Bind::serve`] |
//! | `tcp_bind $host, $service, $cb, $prepare_cb` | [`tcp_bind`], [`Bind::listen`] |
//! | `resolve_sockaddr`, `inet_aton` | [`Resolver::resolve_sockaddr`], [`Resolver::inet_aton`] |
//! | AnyEvent::DNS `a`, `aaaa`, `srv`, `txt`, ... | [`Resolver::lookup`], [`Resolver::lookup_many`] |
//!
//! How it works: every connect runs the core's machines (the resolve planner, one DNS query machine per
//! question, the Happy Eyeballs v2 connect machine) in the calling thread, on one `polling` poller that
//! watches the DNS sockets and every connection attempt at once. The adapter has no DNS or RFC 8305
//! logic of its own: it turns the machines' steps into syscalls (through `anysock-sys`) and the
//! syscalls' results into machine inputs, and reads the clock in one place. A server accepts on a thread
//! of its own, also on `polling`, so that dropping its guard stops it at once.
//!
//! Errors are [`std::io::Error`]s with fitting kinds (`NotFound` for a name that does not resolve,
//! `TimedOut`, `ConnectionRefused`, `InvalidInput` for bad arguments); the detailed [`Error`] (for a
//! failed connect: every attempt with its address, timing and error) is the inner error.
//!
//! ```
//! use std::io::{Read, Write};
//!
//! // A server on an ephemeral port, and a client connecting to it by name and port.
//! let server = anysock_blocking::tcp_server(Some("127.0.0.1"), "0", |mut s, _host, _port| {
//!     let _ = s.write_all(b"hi");
//! })?;
//! let port = server.local_addr().as_inet().unwrap().port();
//! let mut c = anysock_blocking::tcp_connect("127.0.0.1", &port.to_string())?;
//! let mut buf = String::new();
//! c.stream.read_to_string(&mut buf)?;
//! assert_eq!(buf, "hi");
//! println!("connected to {} after {} attempt(s)", c.peer_addr(), c.attempts.len());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Configuration files (read only when used, re-read when changed): `/etc/resolv.conf`, `/etc/hosts`,
//! `/etc/services`, `/etc/protocols`, overridden by `ANYSOCK_RESOLV_CONF`, `ANYSOCK_HOSTS`,
//! `ANYSOCK_SERVICES`, `ANYSOCK_PROTOCOLS`.
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg(unix)]

mod clock;
mod connect;
mod dns;
mod error;
mod hostspec;
mod reactor;
mod resolver;
mod server;
mod stream;
mod sysdb;

pub use connect::{AcceptHook, Connection, Connector, PrepareHook, tcp_connect};
pub use error::Error;
pub use resolver::{Resolver, ResolverBuilder};
pub use server::{AcceptErrorHook, Bind, BindPrepare, BoundListener, Server, tcp_bind, tcp_server};
pub use stream::{Peer, Stream};

/// Socket options for any stream (a [`Stream`], a `std::net::TcpStream`, ...): AnyEvent's `tcp_nodelay`
/// and `tcp_congestion`, from `anysock-sys`.
pub use anysock_sys::{tcp_congestion, tcp_congestion_name, tcp_nodelay, tcp_nodelay_enabled};
