//! # anysock-core
//!
//! The sans-IO core of anysock, a Rust reimplementation of Perl's AnyEvent::Socket.
//!
//! This crate contains no networking code and reads no clock, environment, file or socket. Time comes in
//! as an [`Instant`](std::time::Instant) argument, randomness as a seed or an input, and file contents as
//! text. Every adapter (blocking, tokio, async-std/smol) and any custom event loop drives the same
//! machines.
//!
//! The address toolkit: [`addr`] (parsing), [`format`](mod@format) (formatting without allocation), [`hostport`]
//! (`host:port` strings), [`sockaddr`] (socket addresses and their `sockaddr` bytes), [`service`] and
//! [`protocol`] (the services and protocols databases).
//!
//! ```
//! use anysock_core::{parse_address, parse_hostport, format_address, Address, Service};
//!
//! let addr = parse_address("127.1").unwrap();
//! assert_eq!(format_address(&addr), "127.0.0.1");
//! let hp = parse_hostport("[::1]:https", None).unwrap();
//! assert_eq!((hp.host, hp.service), ("::1", Service::Name("https")));
//! assert_eq!(hp.to_string(), "[::1]:https");
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod addr;
pub mod connect;
pub mod dial;
pub mod dns;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
pub mod hostport;
pub mod hosts;
pub mod protocol;
pub mod resolution;
pub mod resolv_conf;
pub mod resolve;
pub mod rfc6724;
pub mod rng;
pub mod service;
pub mod sockaddr;
pub mod target;

pub use addr::{
    AddrParseError, Address, address_family, parse_address, parse_address_strict, parse_ipv4,
    parse_ipv4_strict, parse_ipv6, parse_ipv6_strict, parse_unix,
};
pub use connect::{
    AttemptId, AttemptOutcome, AttemptRecord, Connect, ConnectConfig, ConnectError, FailReason,
    Mode, Step,
};
pub use dial::{Dial, DialConfig, DialError, DialOutput, SourceBatch, TraceEvent};
pub use dns::{DnsEvent, DnsQuery};
pub use format::{
    AddrText, BufferTooSmall, format_address, format_ipv4, format_ipv6, write_address, write_ipv4,
    write_ipv6,
};
pub use hostport::{
    HostPort, HostPortError, format_hostport, parse_hostport, parse_hostport_strict,
};
pub use hosts::{HostsEntry, HostsFile, HostsWarning, HostsWarningKind};
pub use protocol::{Protocol, ProtocolDb, getprotobyname};
pub use resolution::{LookupError, QueryRecord, QueryToken, Resolution, ResolutionEvent};
pub use resolv_conf::{DnsConfig, ResolvConf};
pub use resolve::{
    ConfigNeeds, FamilyPreference, HostsPolicy, InetAton, InetAtonEvent, Query, QueryFailure,
    QueryId, QueryOutcome, QueryType, Resolve, ResolveConfig, ResolveError, ResolveEvent,
    ResolveRequest, SrvRecord,
};
pub use service::{Service, ServiceDb, ServiceError, getservbyname};
pub use sockaddr::{
    PackedSockAddr, SockAddr, SockAddrError, UnixAddr, UnixAddrError, pack_sockaddr,
    unpack_sockaddr,
};
pub use target::{Family, SockType, Target, TargetMeta};
