//! # anysock-blocking
//!
//! The blocking adapter of anysock: AnyEvent::Socket's `tcp_server` and `tcp_bind` on plain std sockets,
//! with no async runtime and no thread per connection attempt.
//!
//! ```
//! use std::io::{Read, Write};
//!
//! let server = anysock_blocking::tcp_server(Some("127.0.0.1"), "0", |mut s, _host, _port| {
//!     let _ = s.write_all(b"hi");
//! })?;
//! let port = server.local_addr().as_inet().unwrap().port();
//! let mut c = std::net::TcpStream::connect(("127.0.0.1", port))?;
//! let mut buf = String::new();
//! c.read_to_string(&mut buf)?;
//! assert_eq!(buf, "hi");
//! # Ok::<(), std::io::Error>(())
//! ```
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
