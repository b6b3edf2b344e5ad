//! # anysock-core
//!
//! The sans-IO core of anysock, a Rust reimplementation of Perl's AnyEvent::Socket.
//!
//! This crate contains no networking code and reads no clock, environment, file or socket. Time comes in
//! as an [`Instant`](std::time::Instant) argument, randomness as a seed or an input, and file contents as
//! text. Every adapter (blocking, tokio, async-std/smol) and any custom event loop drives the same
//! machines.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod dns;
#[doc(hidden)]
pub mod fuzzing;
pub mod resolv_conf;
pub mod rng;
pub mod sockaddr;
pub mod target;

pub use dns::{DnsEvent, DnsQuery};
pub use resolv_conf::{DnsConfig, ResolvConf};
pub use sockaddr::{SockAddr, UnixAddr, UnixAddrError};
pub use target::{Family, SockType, Target, TargetMeta};
