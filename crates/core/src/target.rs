//! Connection targets: what the resolver planner produces and the connect machine consumes.
//!
//! A [`Target`] is AnyEvent's `[$family, $type, $proto, $sockaddr]` tuple as a typed value, plus
//! [`TargetMeta`], room for the metadata that Happy Eyeballs v3 (SVCB/HTTPS records) will need.

use core::fmt;

use crate::sockaddr::SockAddr;

/// An address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4 (`AF_INET`).
    V4,
    /// IPv6 (`AF_INET6`).
    V6,
    /// Unix-domain sockets (`AF_UNIX`).
    Unix,
}

impl Family {
    /// The Linux `AF_*` number of this family (2, 10 or 1), as AnyEvent's `address_family` returns it.
    pub const fn af(self) -> u16 {
        match self {
            Family::V4 => 2,
            Family::V6 => 10,
            Family::Unix => 1,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
            Family::Unix => "unix",
        })
    }
}

/// A socket type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SockType {
    /// `SOCK_STREAM` (TCP, unix stream sockets).
    Stream,
    /// `SOCK_DGRAM` (UDP, unix datagram sockets).
    Datagram,
    /// `SOCK_SEQPACKET` (SCTP, unix seqpacket sockets).
    SeqPacket,
}

impl fmt::Display for SockType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SockType::Stream => "stream",
            SockType::Datagram => "dgram",
            SockType::SeqPacket => "seqpacket",
        })
    }
}

/// Metadata carried with a target from the resolver to the connect machine.
///
/// Today it records where a target came from (its SRV priority and weight, if any). It is the place
/// where Happy Eyeballs v3 data (ALPN, ECH configuration, SVCB priority) will be added, so that the
/// connect machine's interface need not change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TargetMeta {
    /// The SRV priority of the record this target came from; `None` for targets not found via SRV.
    /// Lower values are tried first (RFC 2782).
    pub srv_priority: Option<u16>,
    /// The SRV weight of the record this target came from.
    pub srv_weight: Option<u16>,
}

impl TargetMeta {
    /// Metadata for a target found through an SRV record.
    pub const fn srv(priority: u16, weight: u16) -> Self {
        TargetMeta {
            srv_priority: Some(priority),
            srv_weight: Some(weight),
        }
    }
}

/// One resolved connection target: family, socket type, protocol number and socket address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// The socket type to create.
    pub socktype: SockType,
    /// The IP protocol number (6 for TCP, 17 for UDP, 132 for SCTP, 0 for unix sockets).
    pub protocol: u8,
    /// Where to connect.
    pub addr: SockAddr,
    /// Where the target came from.
    pub meta: TargetMeta,
}

impl Target {
    /// A target with no metadata.
    pub const fn new(socktype: SockType, protocol: u8, addr: SockAddr) -> Self {
        Target {
            socktype,
            protocol,
            addr,
            meta: TargetMeta {
                srv_priority: None,
                srv_weight: None,
            },
        }
    }

    /// The target's address family.
    pub const fn family(&self) -> Family {
        self.addr.family()
    }
}
