//! # anysock-tokio
//!
//! The tokio adapter of anysock: AnyEvent::Socket's `tcp_connect` (with Happy Eyeballs v2),
//! `tcp_server`, `tcp_bind` and a DNS stub resolver, as futures on tokio's own sockets and timers.
//!
//! Every protocol decision is made by the sans-IO machines of `anysock-core` ([`Dial`] for a connect:
//! resolution feeding the Happy Eyeballs race; [`Resolution`] for lookups); this crate only turns
//! their outputs into socket calls and socket events into their inputs, reads the clock in one place
//! and keeps one timer per operation, reset only when the machine's deadline changes. Sockets are made
//! by `anysock-sys` (close-on-exec, non-blocking, unix path rules). Dropping a connect or lookup future
//! closes every socket it opened.
//!
//! ```
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let server = anysock_tokio::tcp_server(Some("127.0.0.1"), "0", |mut s, _peer| async move {
//!     let _ = s.write_all(b"hi").await;
//! })?;
//! let port = server.local_addr().as_inet().unwrap().port().to_string();
//! let mut c = anysock_tokio::tcp_connect("127.0.0.1", &port).await?;
//! let mut buf = String::new();
//! c.stream.read_to_string(&mut buf).await?;
//! assert_eq!(buf, "hi");
//! # Ok(())
//! # }
//! ```
//!
//! [`Dial`]: anysock_core::dial::Dial
//! [`Resolution`]: anysock_core::resolution::Resolution
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg(unix)]

mod clock;
mod connect;
mod error;
mod io;
mod resolver;
mod server;
mod stream;
mod trace;
mod udp_pool;

pub use connect::{AcceptHook, Connection, Connector, PrepareHook, tcp_connect};
pub use error::Error;
pub use resolver::{Resolver, ResolverBuilder};
pub use server::{AcceptErrorHook, Bind, BindPrepare, BoundListener, Server, tcp_bind, tcp_server};
pub use stream::{Peer, Stream};
