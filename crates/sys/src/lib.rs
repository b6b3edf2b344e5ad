//! # anysock-sys
//!
//! The socket layer of anysock: the one crate that makes socket system calls (through `socket2`) and
//! reads system configuration files. The adapters (blocking, tokio, async-std/smol) share it, the way
//! quinn's runtimes share `quinn-udp`; `anysock-core` stays free of I/O.
//!
//! What it does:
//! - creates close-on-exec, non-blocking sockets for a [`Target`](anysock_core::Target)
//!   ([`socket_for`], [`new_socket`]), starts a connect ([`start_connect`]: `EINPROGRESS` is
//!   [`ConnectProgress::InProgress`]) and reads its outcome ([`finish_connect`]);
//! - binds and listens ([`bind`], [`listen`]) with `SO_REUSEADDR`, a dual-stack `::` for the
//!   unspecified host when IPv6 is available ([`unspecified_listen_addr`], AnyEvent B32), the backlog
//!   [`DEFAULT_BACKLOG`] unless told otherwise;
//! - unix sockets on paths and Linux abstract names, with safe path rules: an existing path is replaced
//!   only if it is a stale socket, never a regular file (AnyEvent B30), and removed on drop only if it
//!   is still the socket bound here ([`UnixPathOwner`]);
//! - socket options [`tcp_nodelay`] and [`tcp_congestion`];
//! - the local source address for a destination ([`source_address`]), input to RFC 6724 sorting;
//! - the system configuration files with environment overrides and change detection ([`ConfigFile`],
//!   [`Watched`]), and the resolver settings built on them that every adapter's `Resolver` shares
//!   ([`ResolverSettings`], [`ResolverBuilder`]).
//!
//! ```
//! use anysock_core::{SockAddr, SockType, Target};
//! use anysock_sys::{ConnectProgress, DEFAULT_BACKLOG};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = anysock_sys::listen(
//!     &SockAddr::Inet("127.0.0.1:0".parse()?),
//!     SockType::Stream,
//!     DEFAULT_BACKLOG,
//! )?;
//! let target = Target::new(SockType::Stream, 6, listener.local_addr());
//! let sock = anysock_sys::socket_for(&target)?;
//! let mut progress = anysock_sys::start_connect(&sock, &target.addr)?;
//! while progress == ConnectProgress::InProgress {
//!     // An event loop would wait for writability here.
//!     std::thread::yield_now();
//!     progress = anysock_sys::finish_connect(&sock)?;
//! }
//! let (_accepted, peer) = listener.accept()?;
//! assert_eq!(peer.unwrap().as_inet().unwrap().ip(), std::net::Ipv4Addr::LOCALHOST);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg(unix)]

pub mod addr;
mod bindspec;
pub mod config;
pub mod dns_udp;
mod error;
mod listen;
mod options;
mod random;
pub mod resolver_settings;
mod socket;
mod source;
pub mod sysdb;

pub use bindspec::{BindSpecError, bind_addr, service_port};
pub use dns_udp::{
    DNS_READ_BUF_LEN, DNS_UDP_POOL_MAX, DnsUdpExchange, dns_udp_socket, recycle_dns_udp_socket,
    with_dns_read_buf,
};
pub use socket2;

pub use config::{ConfigFile, Watched, read_config};
pub use error::{Op, SysError};
pub use listen::{
    Bound, DEFAULT_BACKLOG, Listener, UnixPathOwner, bind, ipv6_available, listen,
    unspecified_listen_addr,
};
pub use options::{tcp_congestion, tcp_congestion_name, tcp_nodelay, tcp_nodelay_enabled};
pub use random::random_u64;
pub use resolver_settings::{PlanError, ResolverBuilder, ResolverSettings};
pub use socket::{
    ConnectProgress, blocking_socket_for, finish_connect, new_socket, socket_for, start_connect,
    udp_socket_for,
};
pub use source::{source_address, source_addresses};
