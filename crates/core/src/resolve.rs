//! The `resolve_sockaddr` planner: from node, service, protocol and family to ordered connection targets.
//!
//! [`Resolve`] is a sans-IO machine. It decides which DNS questions to ask (SRV, then A and AAAA for each
//! target), takes typed answers back, consults the hosts file, and streams [`Target`]s out per address
//! family as they become known, in the order a client should try them. It speaks no wire format (the DNS
//! query machine does that), reads no clock and draws its randomness (RFC 2782 weighted choice) from a
//! seed given to [`Resolve::new`].
//!
//! # The run loop
//!
//! After [`Resolve::new`] and after every [`Resolve::handle_answer`], drain both outputs:
//! [`Resolve::poll_query`] until `None` (send each query; answer it later, in any order, with its
//! [`QueryId`]), and [`Resolve::poll_event`] until `None`. The last event is always exactly one
//! [`ResolveEvent::Done`]; nothing follows it.
//!
//! ```
//! use anysock_core::resolve::{
//!     QueryOutcome, Resolve, ResolveConfig, ResolveEvent, ResolveRequest, QueryType,
//! };
//! use std::net::IpAddr;
//!
//! let config = ResolveConfig::default();
//! let mut r = Resolve::new(ResolveRequest::new("www.example.test", Some("443")), &config, 7).unwrap();
//! let mut targets = Vec::new();
//! let mut done = None;
//! while done.is_none() {
//!     while let Some(q) = r.poll_query() {
//!         // A real program sends these; here every name has one address per family.
//!         let ip: IpAddr = match q.qtype {
//!             QueryType::Aaaa => "2001:db8::1".parse().unwrap(),
//!             _ => "203.0.113.1".parse().unwrap(),
//!         };
//!         r.handle_answer(q.id, QueryOutcome::Addresses(vec![ip]));
//!     }
//!     while let Some(ev) = r.poll_event() {
//!         match ev {
//!             ResolveEvent::Targets { targets: t, .. } => targets.extend(t),
//!             ResolveEvent::Done(result) => done = Some(result),
//!             _ => {}
//!         }
//!     }
//! }
//! assert_eq!(done, Some(Ok(())));
//! assert_eq!(targets.len(), 2);
//! assert_eq!(targets[0].addr.to_string(), "[2001:db8::1]:443"); // IPv6 preferred by default
//! ```
//!
//! # Policy (see `docs/resolve.md`)
//!
//! - IP literals (every POSIX IPv4 form), `unix/` paths and `localhost` / `*.localhost` answer at
//!   once, with no query (RFC 6761; B20 fix).
//! - A service name with a DNS name (or `name=port`) asks SRV `_service._proto.node` first. Records
//!   are ordered by priority, then by RFC 2782 weighted random choice exactly as AnyEvent draws it
//!   ([`order_srv`]). A lone `.` target means the service is not offered: [`ResolveError::ServiceNotOffered`]
//!   and no further query (B17 fix). Without records the plain name and the service's port are used.
//! - SRV priority outranks address family: family preference applies within one priority level
//!   (B18 fix).
//! - The hosts file is consulted first by default ([`HostsPolicy::First`], as the system resolver
//!   does), or only when DNS has no answer for a record type ([`HostsPolicy::Fallback`], AnyEvent's
//!   behaviour). Hosts lookups match SRV targets and names with a trailing dot (B19 fix).
//! - The machine completes exactly once (B16 fix), ports are range-checked (B22 fix), protocol names
//!   are case-insensitive and protocol 0 (`ip`) is valid (B21 fix), malformed answers are skipped
//!   (B23 fix).

use core::fmt;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::Arc;

use crate::addr::{Address, parse_address};
use crate::hosts::HostsFile;
use crate::protocol::ProtocolDb;
use crate::rng::SplitMix64;
use crate::service::{Service, ServiceDb, ServiceError};
use crate::sockaddr::{SockAddr, UnixAddr, UnixAddrError};
use crate::target::{Family, SockType, Target, TargetMeta};

/// At most this many SRV records are followed; further records (the least preferred after ordering)
/// are dropped, so that one large answer cannot fan out into an unbounded number of address queries.
pub const MAX_SRV_TARGETS: usize = 32;

/// The longest name (in presentation form, without a trailing dot) that DNS can carry (RFC 1035 §2.3.4:
/// 255 octets on the wire).
pub const MAX_NAME_LEN: usize = 253;

/// The longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

// ---------------------------------------------------------------------------------------------------
// Inputs

/// What to resolve: AnyEvent's `resolve_sockaddr $node, $service, $proto, $family, $type` arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolveRequest<'a> {
    /// A host name, an IP literal (every form [`parse_address`] takes), or `unix/`.
    pub node: &'a str,
    /// The service: a port number (`"443"`), a service name (`"https"`, looked up in the services
    /// database and asked for SRV records), `name=port` (SRV for `name`, else `port`), or for `unix/`
    /// an absolute socket path. `None` resolves addresses only: port 0 and no SRV (used by [`InetAton`]).
    pub service: Option<&'a str>,
    /// The protocol name (`tcp`, `udp`, `sctp`, ...; any case). Empty means `tcp`.
    pub protocol: &'a str,
    /// Restrict the result to one family (`None`: any family the configuration allows).
    pub family: Option<Family>,
    /// The socket type; `None` derives it from the protocol (`udp`: datagram, else stream).
    pub socktype: Option<SockType>,
}

impl<'a> ResolveRequest<'a> {
    /// A request for `node` and `service` over TCP, any family, default socket type.
    pub const fn new(node: &'a str, service: Option<&'a str>) -> Self {
        ResolveRequest {
            node,
            service,
            protocol: "tcp",
            family: None,
            socktype: None,
        }
    }

    /// Sets the protocol name.
    #[must_use]
    pub const fn protocol(mut self, protocol: &'a str) -> Self {
        self.protocol = protocol;
        self
    }

    /// Restricts the result to one family.
    #[must_use]
    pub const fn family(mut self, family: Option<Family>) -> Self {
        self.family = family;
        self
    }

    /// Sets the socket type.
    #[must_use]
    pub const fn socktype(mut self, socktype: Option<SockType>) -> Self {
        self.socktype = socktype;
        self
    }

    /// Which parts of a [`ResolveConfig`] planning this request reads, so that an adapter loads (and
    /// checks for changes) only those files. An IP literal with a numeric port over TCP needs none.
    ///
    /// Planning with a configuration whose unneeded parts are left at their defaults gives the same
    /// plan as with the full configuration.
    ///
    /// ```
    /// use anysock_core::{ConfigNeeds, ResolveRequest};
    ///
    /// assert_eq!(ResolveRequest::new("127.0.0.1", Some("80")).config_needs(), ConfigNeeds::NONE);
    /// let n = ResolveRequest::new("db.internal", Some("postgresql")).config_needs();
    /// assert!(n.hosts && n.services && !n.protocols);
    /// ```
    pub fn config_needs(&self) -> ConfigNeeds {
        let literal = self.node == "unix/"
            || (self.node.is_ascii()
                && matches!(ip_literal(self.node), Some(Address::V4(_) | Address::V6(_))));
        let service_name = self.node != "unix/"
            && self
                .service
                .is_some_and(|s| matches!(Service::parse(s), Ok(Service::Name(_))));
        ConfigNeeds {
            hosts: !literal,
            services: service_name,
            protocols: !builtin_protocol(self.protocol),
        }
    }
}

impl ResolveRequest<'_> {
    /// The one target of a request that needs no planning: an IP literal in plain form (what
    /// [`parse_address`] takes) with a port number or `name=port`, over `tcp`, `udp` or the default,
    /// with no family filter, whose family `config` allows. `None` for everything else, which
    /// [`Resolve::new`] plans; for these requests it would give exactly this target and nothing else.
    ///
    /// Adapters use it to skip the planner's machinery on the hot path of connecting to a literal.
    ///
    /// ```
    /// use anysock_core::{ResolveConfig, ResolveRequest};
    ///
    /// let config = ResolveConfig::new();
    /// let t = ResolveRequest::new("127.1", Some("80")).literal_target(&config).unwrap();
    /// assert_eq!(t.addr.to_string(), "127.0.0.1:80");
    /// assert!(ResolveRequest::new("db.internal", Some("80")).literal_target(&config).is_none());
    /// ```
    pub fn literal_target(&self, config: &ResolveConfig) -> Option<Target> {
        if self.family.is_some() || !self.node.is_ascii() || !builtin_protocol(self.protocol) {
            return None;
        }
        let port = match Service::parse(self.service?) {
            Ok(Service::Port(p) | Service::NamePort { port: p, .. }) => p,
            _ => return None,
        };
        let addr = match ip_literal(self.node)? {
            Address::V4(a) => SocketAddr::V4(SocketAddrV4::new(a, port)),
            Address::V6(a) => SocketAddr::V6(SocketAddrV6::new(a, port, 0, 0)),
            _ => return None,
        };
        let family = if addr.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        };
        if !config.family_preference.order().contains(&family) {
            return None;
        }
        let protocol = if self.protocol.eq_ignore_ascii_case("udp") {
            17
        } else {
            6
        };
        let socktype = self.socktype.unwrap_or(default_socktype(protocol));
        Some(Target::new(socktype, protocol, SockAddr::Inet(addr)))
    }
}

/// The parts of a [`ResolveConfig`] that planning one request reads ([`ResolveRequest::config_needs`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConfigNeeds {
    /// The hosts file: for every node that is not an IP literal or `unix/`.
    pub hosts: bool,
    /// The services database: for a service given by name alone (`https`, not `443` or `https=443`).
    pub services: bool,
    /// The protocols database: for a protocol other than `tcp`, `udp` or the empty default, whose
    /// numbers (6 and 17) are fixed by IANA and the same in every protocols file.
    pub protocols: bool,
}

impl ConfigNeeds {
    /// Nothing: an IP literal or `unix/` path with a numeric port over TCP or UDP.
    pub const NONE: ConfigNeeds = ConfigNeeds {
        hosts: false,
        services: false,
        protocols: false,
    };
    /// Everything.
    pub const ALL: ConfigNeeds = ConfigNeeds {
        hosts: true,
        services: true,
        protocols: true,
    };
}

/// The socket type a request without one gets: datagram for UDP, stream for everything else.
fn default_socktype(protocol: u8) -> SockType {
    if protocol == 17 {
        SockType::Datagram
    } else {
        SockType::Stream
    }
}

/// `tcp`, `udp` or empty (`tcp`): protocols the planner resolves from the built-in table alone.
fn builtin_protocol(name: &str) -> bool {
    name.is_empty() || name.eq_ignore_ascii_case("tcp") || name.eq_ignore_ascii_case("udp")
}

/// When the hosts file is consulted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostsPolicy {
    /// Before DNS, as the system resolver (`hosts: files dns`) does: a name listed in the hosts file is
    /// answered from it (both families, even if it lists only one) with no DNS query at all, SRV
    /// included. The default.
    #[default]
    First,
    /// After DNS, per record type, as AnyEvent does (semantics doc 4.2 step 9): the hosts file's IPv4
    /// addresses are used only when the A query gave none, its IPv6 addresses only when AAAA gave none.
    Fallback,
    /// Never.
    Ignore,
}

/// Which address families to use, and which comes first within one SRV priority level.
///
/// Happy Eyeballs re-sorts and interleaves the families later; this order is what a serial client
/// (AnyEvent's `tcp_connect`) tries, and which family's queries are sent first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FamilyPreference {
    /// Both families, IPv6 first (RFC 6724's default policy table; RFC 8305 §3 sends AAAA first). The
    /// default.
    #[default]
    PreferV6,
    /// Both families, IPv4 first: AnyEvent's default (`PERL_ANYEVENT_PROTOCOLS=ipv4,ipv6`).
    PreferV4,
    /// IPv4 only.
    V4Only,
    /// IPv6 only.
    V6Only,
}

impl FamilyPreference {
    /// AnyEvent's default: both families, IPv4 first.
    pub const ANYEVENT: FamilyPreference = FamilyPreference::PreferV4;

    /// The enabled families, most preferred first.
    pub const fn order(self) -> &'static [Family] {
        match self {
            FamilyPreference::PreferV6 => &[Family::V6, Family::V4],
            FamilyPreference::PreferV4 => &[Family::V4, Family::V6],
            FamilyPreference::V4Only => &[Family::V4],
            FamilyPreference::V6Only => &[Family::V6],
        }
    }
}

/// The planner's configuration: the hosts file, the services and protocols databases, and policies.
///
/// Cheap to clone (the tables are shared). One configuration serves any number of [`Resolve`] machines.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ResolveConfig {
    /// The hosts file (empty by default; core reads no file, so the adapter hands over its text).
    pub hosts: Arc<HostsFile>,
    /// When the hosts file is consulted.
    pub hosts_policy: HostsPolicy,
    /// Which families, in which order.
    pub family_preference: FamilyPreference,
    /// The services database for service names; `None`: the built-in table ([`ServiceDb::builtin`]).
    pub services: Option<Arc<ServiceDb>>,
    /// The protocols database for protocol names; `None`: the built-in table ([`ProtocolDb::builtin`]).
    pub protocols: Option<Arc<ProtocolDb>>,
}

impl Default for ResolveConfig {
    fn default() -> Self {
        /// One empty hosts table shared by every default configuration: making one costs no allocation.
        static NO_HOSTS: std::sync::OnceLock<Arc<HostsFile>> = std::sync::OnceLock::new();
        ResolveConfig {
            hosts: Arc::clone(NO_HOSTS.get_or_init(|| Arc::new(HostsFile::default()))),
            hosts_policy: HostsPolicy::default(),
            family_preference: FamilyPreference::default(),
            services: None,
            protocols: None,
        }
    }
}

impl ResolveConfig {
    /// The default configuration: empty hosts file consulted first, IPv6 preferred, built-in
    /// services and protocols.
    pub fn new() -> Self {
        Self::default()
    }

    /// A configuration that behaves like AnyEvent's defaults: hosts file after DNS, IPv4 preferred.
    pub fn anyevent() -> Self {
        ResolveConfig {
            hosts_policy: HostsPolicy::Fallback,
            family_preference: FamilyPreference::ANYEVENT,
            ..Self::default()
        }
    }

    /// Replaces the hosts file.
    #[must_use]
    pub fn with_hosts(mut self, hosts: HostsFile) -> Self {
        self.hosts = Arc::new(hosts);
        self
    }

    /// Sets the hosts policy.
    #[must_use]
    pub fn with_hosts_policy(mut self, policy: HostsPolicy) -> Self {
        self.hosts_policy = policy;
        self
    }

    /// Sets the family preference.
    #[must_use]
    pub fn with_family_preference(mut self, preference: FamilyPreference) -> Self {
        self.family_preference = preference;
        self
    }

    /// Replaces the services database.
    #[must_use]
    pub fn with_services(mut self, services: ServiceDb) -> Self {
        self.services = Some(Arc::new(services));
        self
    }

    /// Replaces the protocols database.
    #[must_use]
    pub fn with_protocols(mut self, protocols: ProtocolDb) -> Self {
        self.protocols = Some(Arc::new(protocols));
        self
    }
}

// ---------------------------------------------------------------------------------------------------
// Queries and answers

/// Identifies a [`Query`]; hand it back with the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(u32);

impl QueryId {
    /// The id as a number (unique within one machine, counting from 0).
    pub const fn as_u32(self) -> u32 {
        self.0
    }
}

impl fmt::Display for QueryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "q{}", self.0)
    }
}

/// The record type a [`Query`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QueryType {
    /// IPv4 addresses.
    A,
    /// IPv6 addresses.
    Aaaa,
    /// Service records (RFC 2782).
    Srv,
}

impl fmt::Display for QueryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueryType::A => "A",
            QueryType::Aaaa => "AAAA",
            QueryType::Srv => "SRV",
        })
    }
}

/// A DNS question the planner wants answered.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Query {
    /// Hand this back to [`Resolve::handle_answer`].
    pub id: QueryId,
    /// The name, lowercase ASCII (IDN already converted). A trailing dot marks an absolute name (SRV
    /// targets): the search list does not apply. Without one, the DNS layer applies its search list.
    /// Shared: the A and AAAA questions for one name, and the records of their queries, hold one copy.
    pub name: Arc<str>,
    /// The record type.
    pub qtype: QueryType,
}

/// One SRV record (RFC 2782), as the DNS layer decoded it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative weight among records of the same priority.
    pub weight: u16,
    /// The port to connect to.
    pub port: u16,
    /// The target host name; `.` (or the empty string) is the root: "service not offered".
    pub target: String,
}

impl SrvRecord {
    /// True when the target is the root (`.` or empty): the service is decidedly not offered.
    pub fn is_root(&self) -> bool {
        self.target.is_empty() || self.target == "."
    }
}

/// How a DNS question failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum QueryFailure {
    /// The name does not exist (RCODE 3).
    #[error("no such name")]
    NxDomain,
    /// The name exists but has no record of the type asked.
    #[error("no record of that type")]
    NoData,
    /// The server failed (RCODE 2).
    #[error("server failure")]
    ServerFailure,
    /// The server refused (RCODE 5).
    #[error("query refused")]
    Refused,
    /// No answer in time from any server.
    #[error("timed out")]
    TimedOut,
    /// The answer could not be decoded.
    #[error("malformed answer")]
    Malformed,
    /// The CNAME chain loops or is too long.
    #[error("CNAME loop or chain too long")]
    CnameChain,
}

/// The planner-level answer to a [`Query`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QueryOutcome {
    /// The addresses of an A or AAAA answer, in the order the server sent them (after following
    /// CNAMEs). Addresses of the other family are skipped; an empty list counts as [`QueryFailure::NoData`].
    Addresses(Vec<IpAddr>),
    /// The records of an SRV answer, in the order the server sent them. An empty list counts as
    /// [`QueryFailure::NoData`].
    Srv(Vec<SrvRecord>),
    /// The query failed.
    Failed(QueryFailure),
}

// ---------------------------------------------------------------------------------------------------
// Outputs

/// Why a resolution failed. Returned by [`Resolve::new`] for bad input, and in [`ResolveEvent::Done`]
/// when no target was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The protocol name is not in the protocols database.
    #[error("protocol unknown")]
    UnknownProtocol,
    /// The service name is not in the services database for this protocol.
    #[error("service unknown for this protocol")]
    UnknownService,
    /// The service is not a port (0-65535), a service name or `name=port`.
    #[error("invalid service: {0}")]
    BadService(ServiceError),
    /// The node is not a usable host name.
    #[error("invalid host name: {0}")]
    InvalidName(NameError),
    /// `unix/` needs a socket path as its service.
    #[error("unix/ needs a socket path as its service")]
    UnixPathMissing,
    /// The unix socket path does not fit a socket address.
    #[error("invalid unix socket path: {0}")]
    UnixPath(UnixAddrError),
    /// The family asked for is disabled by the configuration's [`FamilyPreference`].
    #[error("address family disabled by configuration")]
    FamilyDisabled,
    /// The only SRV record has the target `.`: the service is decidedly not offered at this domain
    /// (RFC 2782).
    #[error("service not offered at this domain (SRV target \".\")")]
    ServiceNotOffered,
    /// The name does not exist.
    #[error("host not found")]
    NotFound,
    /// The name exists but has no address of the families asked for.
    #[error("no address of the requested family")]
    NoAddresses,
    /// DNS failed (no answer in time, server failure, refusal, a malformed answer) and nothing else
    /// gave an address.
    #[error("name lookup failed: {0}")]
    Lookup(QueryFailure),
}

/// Why a name is not usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty.
    #[error("empty name")]
    Empty,
    /// Longer than 253 characters.
    #[error("name longer than 253 characters")]
    TooLong,
    /// An empty label (`a..b`, `.a`).
    #[error("empty label")]
    EmptyLabel,
    /// A label longer than 63 characters.
    #[error("label longer than 63 characters")]
    LabelTooLong,
    /// A control character, whitespace, bracket, slash or backslash.
    #[error("character not allowed in a host name at byte {at}")]
    BadChar {
        /// Byte offset in the (converted) name.
        at: usize,
    },
    /// A non-ASCII name that UTS #46 (IDNA) cannot convert.
    #[error("not a valid internationalised domain name")]
    Idna,
}

/// An output of [`Resolve`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveEvent {
    /// More targets of one family, to be tried after those of the same family emitted before.
    ///
    /// Within one family, the concatenation of these events is in final order. Events of different
    /// families interleave as answers arrive (AAAA and A separately, so that a Happy Eyeballs machine
    /// can start early); [`Resolve::targets`] gives the whole list in final order.
    Targets {
        /// The family of every target in this batch.
        family: Family,
        /// The targets, in the order to try them.
        targets: Vec<Target>,
    },
    /// The end: `Ok` if at least one target was emitted. Always the last event, exactly once.
    Done(Result<(), ResolveError>),
}

// ---------------------------------------------------------------------------------------------------
// SRV ordering

/// Orders SRV records as AnyEvent's `AnyEvent::DNS::srv` does (RFC 2782).
///
/// Records are grouped by priority, lowest first. Within a group they are stably sorted by weight
/// (ascending, so zero-weight records come first). Then, while records remain, `draw(sum)` must return
/// a number in `0..=sum` (uniformly, for RFC 2782 behaviour), where `sum` is the total weight of the
/// records left in the group; the first record whose running weight total reaches that number is
/// taken next. This is Perl's `int rand($sum + 1)` followed by `($w -= $weight) <= 0`, so the same draws
/// give the same order as AnyEvent. A draw above `sum` is treated as `sum`.
///
/// ```
/// use anysock_core::resolve::{order_srv, SrvRecord};
/// let rec = |priority, weight, target: &str| SrvRecord { priority, weight, port: 1, target: target.into() };
/// let recs = vec![rec(20, 0, "c"), rec(10, 60, "a"), rec(10, 40, "b")];
/// // Priority 10 first; sorted by weight: b (40), a (60); draw 50 > 40 picks a, then b, then c.
/// let mut draws = [50, 0, 0].into_iter();
/// let order: Vec<_> = order_srv(recs, |_| draws.next().unwrap()).into_iter().map(|r| r.target).collect();
/// assert_eq!(order, ["a", "b", "c"]);
/// ```
pub fn order_srv(mut records: Vec<SrvRecord>, mut draw: impl FnMut(u64) -> u64) -> Vec<SrvRecord> {
    // Stable sort by (priority, weight) gives, per priority, the weight-sorted group in arrival order.
    records.sort_by_key(|r| (r.priority, r.weight));
    let mut out = Vec::with_capacity(records.len());
    let mut rest = records.into_iter().peekable();
    let mut group: Vec<SrvRecord> = Vec::new();
    while let Some(first) = rest.next() {
        group.clear();
        let prio = first.priority;
        group.push(first);
        while let Some(r) = rest.next_if(|r| r.priority == prio) {
            group.push(r);
        }
        let mut sum: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
        while !group.is_empty() {
            let w = draw(sum).min(sum);
            let mut running = 0u64;
            let mut pick = group.len() - 1;
            for (i, r) in group.iter().enumerate() {
                running += u64::from(r.weight);
                if running >= w {
                    pick = i;
                    break;
                }
            }
            let r = group.remove(pick);
            sum -= u64::from(r.weight);
            out.push(r);
        }
    }
    out
}

/// A draw for the weighted SRV choice, uniform in `0..=max`, from the crate's SplitMix64 (not for
/// anything secret): Lemire's multiply-shift without rejection, whose bias is below 2^-32 for any
/// `max` < 2^32. The exact sequence of draws per seed is part of the SRV tests.
fn upto(rng: &mut SplitMix64, max: u64) -> u64 {
    ((u128::from(rng.next_u64()) * (u128::from(max) + 1)) >> 64) as u64
}

/// Orders SRV records with RFC 2782 weighted random choice drawn from `seed` (see [`order_srv`]).
pub fn order_srv_seeded(records: Vec<SrvRecord>, seed: u64) -> Vec<SrvRecord> {
    let mut rng = SplitMix64::new(seed);
    order_srv(records, |sum| upto(&mut rng, sum))
}

// ---------------------------------------------------------------------------------------------------
// The machine

/// The `resolve_sockaddr` planner. See the [module docs](self) for the run loop and the policy.
#[derive(Debug)]
pub struct Resolve {
    socktype: SockType,
    protocol: u8,
    /// The canonical protocol name for SRV query names (`_http._tcp`); borrowed for tcp and udp.
    proto_name: Cow<'static, str>,
    /// Port for the plain-name fallback when SRV has no records.
    port: u16,
    /// The node, normalised, for the SRV fallback job (shared with its job and queries).
    node: Option<Arc<str>>,
    families: &'static [Family],
    hosts: Arc<HostsFile>,
    hosts_policy: HostsPolicy,
    rng: SplitMix64,

    jobs: Vec<Job>,
    /// In final order: (SRV level, family rank, job index).
    slots: Vec<Slot>,
    /// The questions not answered yet, in the order asked; the first `polled` have been handed out by
    /// `poll_query` (one list for both: no second allocation per resolution).
    pending: Vec<Pending>,
    polled: usize,
    next_id: u32,
    /// The Targets batches not yet taken.
    events: VecDeque<ResolveEvent>,
    /// The final result once known, handed out after every batch (kept apart from the batches: an
    /// address resolution without batches needs no queue at all).
    done: Option<Result<(), ResolveError>>,
    /// Every emitted target, in the order emitted; each slot knows its range. Also the
    /// de-duplication list (targets are few; a linear scan is cheapest).
    emitted: Vec<Target>,
    emitted_any: bool,
    /// Whether targets are also handed out as [`ResolveEvent::Targets`] batches.
    batches: bool,
    /// The target of a `unix/` request.
    unix: Option<Target>,
    failures: Failures,
    srv_pending: bool,
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Running,
    /// `Done` queued; nothing more happens.
    Finished,
}

/// One name (or literal) with a port: AnyEvent's `[$node, $port]` target.
#[derive(Debug)]
struct Job {
    level: u16,
    meta: TargetMeta,
    port: u16,
    /// The name (normalised: lowercase, no trailing dot) for hosts lookups; `None` for literals.
    name: Option<Arc<str>>,
}

#[derive(Debug)]
struct Slot {
    job: usize,
    level: u16,
    family: Family,
    state: SlotState,
}

#[derive(Debug)]
enum SlotState {
    /// Waiting for the answer to this query.
    Waiting(QueryId),
    Ready(Vec<IpAddr>),
    /// The targets this slot produced (after de-duplication).
    Emitted {
        start: usize,
        end: usize,
    },
}

#[derive(Debug)]
struct Pending {
    id: QueryId,
    name: Arc<str>,
    qtype: QueryType,
}

#[derive(Debug, Default)]
struct Failures {
    transient: Option<QueryFailure>,
    nxdomain: bool,
}

impl Failures {
    fn record(&mut self, f: QueryFailure) {
        match f {
            QueryFailure::NxDomain => self.nxdomain = true,
            QueryFailure::NoData => {}
            other => {
                self.transient.get_or_insert(other);
            }
        }
    }

    fn error(&self) -> ResolveError {
        match (self.transient, self.nxdomain) {
            (Some(f), _) => ResolveError::Lookup(f),
            (None, true) => ResolveError::NotFound,
            (None, false) => ResolveError::NoAddresses,
        }
    }
}

impl Resolve {
    /// Plans the resolution of `request`.
    ///
    /// `random` seeds the RFC 2782 weighted choice among SRV records; give a fresh random value per
    /// call in production, a fixed one in tests. Errors are bad input, found before any query: unknown
    /// protocol or service, a bad port, an unusable name, a relative unix path, a disabled family.
    pub fn new(
        request: ResolveRequest<'_>,
        config: &ResolveConfig,
        random: u64,
    ) -> Result<Self, ResolveError> {
        let proto_text = if request.protocol.is_empty() {
            "tcp"
        } else {
            request.protocol
        };
        let protocols = config
            .protocols
            .as_deref()
            .unwrap_or_else(|| ProtocolDb::builtin());
        let (proto_name, protocol) = protocols
            .getprotobyname(proto_text)
            .map(|p| (canonical_protocol_name(p.name), p.number))
            .ok_or(ResolveError::UnknownProtocol)?;
        let socktype = request.socktype.unwrap_or(default_socktype(protocol));

        let mut r = Resolve {
            socktype,
            protocol,
            proto_name,
            port: 0,
            node: None,
            families: &[],
            hosts: Arc::clone(&config.hosts),
            hosts_policy: config.hosts_policy,
            rng: SplitMix64::new(random),
            jobs: Vec::new(),
            slots: Vec::new(),
            pending: Vec::new(),
            polled: 0,
            next_id: 0,
            events: VecDeque::new(),
            done: None,
            emitted: Vec::new(),
            emitted_any: false,
            batches: true,
            unix: None,
            failures: Failures::default(),
            srv_pending: false,
            state: State::Running,
        };

        // 1. unix/ (B36: keep AnyEvent's answer, but honour the socket type; protocol number 0).
        if request.node == "unix/" {
            let path = request.service.unwrap_or("");
            // B29: a relative path is taken relative to the current directory, as `tcp_bind`
            // takes it, so that connect and bind agree.
            if path.is_empty() {
                return Err(ResolveError::UnixPathMissing);
            }
            let ua = UnixAddr::pathname(path.as_bytes()).map_err(ResolveError::UnixPath)?;
            if matches!(request.family, None | Some(Family::Unix)) {
                let t = Target::new(socktype, 0, SockAddr::Unix(ua));
                r.unix = Some(t);
                r.emitted_any = true;
                r.events.push_back(ResolveEvent::Targets {
                    family: Family::Unix,
                    targets: vec![t],
                });
            }
            r.finish();
            return Ok(r);
        }

        // 2. Families: the request's filter within the configuration's order (B16: no double answer).
        let allowed = config.family_preference.order();
        r.families = match request.family {
            None => allowed,
            Some(Family::Unix) => &[],
            Some(Family::V4) if allowed.contains(&Family::V4) => &[Family::V4],
            Some(Family::V6) if allowed.contains(&Family::V6) => &[Family::V6],
            Some(_) => return Err(ResolveError::FamilyDisabled),
        };

        // 3. Service: port and SRV name (B21, B22).
        let (srv_name, port) = match request.service {
            None => (None, 0),
            Some(s) => parse_service(s, &r.proto_name, config)?,
        };
        r.port = port;

        // 4. The node: IDN, case, validity.
        let node = normalise_node_shared(request.node)?;

        // 5. Literals answer at once. ASCII text is parsed as given (AnyEvent rejects `0X7f.1`, and
        // lowercasing must not make it a literal); IDN text after conversion (as AnyEvent does).
        let literal_text = if request.node.is_ascii() {
            request.node
        } else {
            &node
        };
        if let Some(addr) = ip_literal(literal_text) {
            let ip = match addr {
                Address::V4(a) => IpAddr::V4(a),
                Address::V6(a) => IpAddr::V6(a),
                // "unix/" was handled above; parse_address knows nothing else.
                _ => return Err(ResolveError::InvalidName(NameError::BadChar { at: 0 })),
            };
            r.add_ready_job(0, TargetMeta::default(), port, None, &[ip]);
            r.flush();
            return Ok(r);
        }
        validate_name(&node)?;
        let key = hosts_key(&node);

        // 6. localhost (RFC 6761; B20 fix): loopback, no DNS, no hosts file, no SRV.
        if is_localhost(&key) {
            r.add_ready_job(
                0,
                TargetMeta::default(),
                port,
                Some(key),
                &[Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()],
            );
            r.flush();
            return Ok(r);
        }

        // 7. SRV, unless the hosts file answers the node first.
        let hosts_first_hit = r.hosts_policy == HostsPolicy::First && r.hosts.contains(&key);
        if let (Some(service), false, false) = (srv_name, hosts_first_hit, r.families.is_empty()) {
            let name = format!("_{service}._{}.{node}", r.proto_name);
            r.node = Some(node);
            r.srv_pending = true;
            r.send(Arc::from(name), QueryType::Srv);
            return Ok(r);
        }

        // 8. The plain name.
        r.add_name_job(0, TargetMeta::default(), port, key, node);
        r.flush();
        Ok(r)
    }

    /// Turns off the [`ResolveEvent::Targets`] events: `Done` is the only event, and the answer is read
    /// from [`targets`](Self::targets) after it. For a caller that wants the whole list rather than a
    /// stream (an adapter's `resolve_sockaddr`), this saves building a list per family. Batches
    /// already queued by [`new`](Self::new) (literals, `localhost`, `unix/`) are dropped; `targets`
    /// has them.
    #[must_use]
    pub fn without_target_events(mut self) -> Self {
        self.batches = false;
        self.events
            .retain(|e| !matches!(e, ResolveEvent::Targets { .. }));
        self
    }

    /// The next DNS question to send, if any. Drain after `new` and after every `handle_answer`.
    pub fn poll_query(&mut self) -> Option<Query> {
        let p = self.pending.get(self.polled)?;
        self.polled += 1;
        Some(Query {
            id: p.id,
            name: Arc::clone(&p.name),
            qtype: p.qtype,
        })
    }

    /// The next output, if any. Drain after `new` and after every `handle_answer`.
    pub fn poll_event(&mut self) -> Option<ResolveEvent> {
        self.events
            .pop_front()
            .or_else(|| self.done.take().map(ResolveEvent::Done))
    }

    /// True once [`ResolveEvent::Done`] has been queued (it may still be waiting in `poll_event`).
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// Every target emitted so far, in final order: by SRV priority, then family preference, then SRV
    /// order and answer order. After `Done` this is the complete `resolve_sockaddr` list.
    pub fn targets(&self) -> Vec<Target> {
        let mut out: Vec<Target> = self.unix.into_iter().collect();
        for s in &self.slots {
            if let SlotState::Emitted { start, end } = s.state {
                out.extend_from_slice(&self.emitted[start..end]);
            }
        }
        out
    }

    /// [`targets`](Self::targets), consuming the planner: when the targets were emitted in their final
    /// order (always, unless SRV levels or families finished out of order), the list is handed over
    /// without a copy.
    pub fn into_targets(self) -> Vec<Target> {
        if self.unix.is_some() {
            return self.targets();
        }
        let mut next = 0;
        for s in &self.slots {
            if let SlotState::Emitted { start, end } = s.state {
                if start != next {
                    return self.targets();
                }
                next = end;
            }
        }
        if next != self.emitted.len() {
            return self.targets();
        }
        self.emitted
    }

    /// Feeds the answer to the query `id`. An unknown id, or a second answer for the same id, is ignored
    /// (it can race a drop or a duplicate). Drain both outputs afterwards.
    pub fn handle_answer(&mut self, id: QueryId, outcome: QueryOutcome) {
        if self.state == State::Finished {
            return;
        }
        let Some(pos) = self.pending.iter().position(|p| p.id == id) else {
            return;
        };
        let p = self.pending.remove(pos);
        if pos < self.polled {
            self.polled -= 1;
        }
        match p.qtype {
            QueryType::Srv => self.handle_srv(outcome),
            QueryType::A | QueryType::Aaaa => {
                let family = if p.qtype == QueryType::A {
                    Family::V4
                } else {
                    Family::V6
                };
                let addrs: Vec<IpAddr> = match outcome {
                    QueryOutcome::Addresses(list) => {
                        let list: Vec<IpAddr> = list
                            .into_iter()
                            .filter(|a| ip_family(a) == family)
                            .collect();
                        if list.is_empty() {
                            self.failures.record(QueryFailure::NoData);
                        }
                        list
                    }
                    QueryOutcome::Failed(f) => {
                        self.failures.record(f);
                        Vec::new()
                    }
                    // An SRV answer to an address question: the DNS layer misbehaved.
                    QueryOutcome::Srv(_) => {
                        self.failures.record(QueryFailure::Malformed);
                        Vec::new()
                    }
                };
                let waiting = |s: &Slot| matches!(s.state, SlotState::Waiting(w) if w == id);
                let mut left = self.slots.iter().filter(|s| waiting(s)).count();
                let mut addrs = Some(addrs);
                for i in 0..self.slots.len() {
                    if !waiting(&self.slots[i]) {
                        continue;
                    }
                    left -= 1;
                    // The last slot (usually the only one) takes the list itself.
                    let mut list = if left == 0 {
                        addrs.take().unwrap_or_default()
                    } else {
                        addrs.clone().unwrap_or_default()
                    };
                    if list.is_empty() && self.hosts_policy == HostsPolicy::Fallback {
                        list =
                            self.hosts_addrs(self.jobs[self.slots[i].job].name.as_deref(), family);
                    }
                    self.slots[i].state = SlotState::Ready(list);
                }
            }
        }
        self.flush();
    }

    fn handle_srv(&mut self, outcome: QueryOutcome) {
        self.srv_pending = false;
        let records = match outcome {
            QueryOutcome::Srv(r) if !r.is_empty() => r,
            // No records, an error, or nonsense: continue with the plain name (AnyEvent does the same
            // for every failure).
            _ => Vec::new(),
        };
        if records.is_empty() {
            if let Some(node) = self.node.take() {
                self.add_name_job(0, TargetMeta::default(), self.port, hosts_key(&node), node);
            }
            return;
        }
        // RFC 2782: a lone "." target means "decidedly not available"; "." among others is ignored.
        let records: Vec<SrvRecord> = records.into_iter().filter(|r| !r.is_root()).collect();
        if records.is_empty() {
            self.done = Some(Err(ResolveError::ServiceNotOffered));
            self.state = State::Finished;
            return;
        }
        let rng = &mut self.rng;
        let mut ordered = order_srv(records, |sum| upto(rng, sum));
        ordered.truncate(MAX_SRV_TARGETS);
        for rec in ordered {
            let meta = TargetMeta::srv(rec.priority, rec.weight);
            let Ok(target) = normalise_node(&rec.target) else {
                continue; // B23: skip a malformed record, keep the good ones.
            };
            if validate_name(&target).is_err() {
                continue;
            }
            let key: Arc<str> = Arc::from(target.strip_suffix('.').unwrap_or(&target));
            if is_localhost(&key) {
                let ips = [Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()];
                self.add_ready_job(rec.priority, meta, rec.port, Some(key), &ips);
                continue;
            }
            // SRV targets are absolute names: no search list.
            let query_name = Arc::from(format!("{key}."));
            self.add_name_job(rec.priority, meta, rec.port, key, query_name);
        }
    }

    // --- building the plan ---

    fn add_job(
        &mut self,
        level: u16,
        meta: TargetMeta,
        port: u16,
        name: Option<Arc<str>>,
    ) -> usize {
        self.jobs.push(Job {
            level,
            meta,
            port,
            name,
        });
        self.jobs.len() - 1
    }

    /// Inserts a slot keeping `slots` sorted by (level, family rank, job).
    fn insert_slot(&mut self, job: usize, family: Family, state: SlotState) -> usize {
        let level = self.jobs[job].level;
        let rank = self.rank(family);
        let key = (level, rank, job);
        let at = self
            .slots
            .partition_point(|s| (s.level, self.rank(s.family), s.job) <= key);
        self.slots.insert(
            at,
            Slot {
                job,
                level,
                family,
                state,
            },
        );
        at
    }

    fn rank(&self, family: Family) -> usize {
        self.families
            .iter()
            .position(|&f| f == family)
            .unwrap_or(usize::MAX)
    }

    fn add_ready_job(
        &mut self,
        level: u16,
        meta: TargetMeta,
        port: u16,
        name: Option<Arc<str>>,
        ips: &[IpAddr],
    ) {
        let job = self.add_job(level, meta, port, name);
        for &f in self.families {
            let list: Vec<IpAddr> = ips.iter().copied().filter(|a| ip_family(a) == f).collect();
            self.insert_slot(job, f, SlotState::Ready(list));
        }
    }

    fn add_name_job(
        &mut self,
        level: u16,
        meta: TargetMeta,
        port: u16,
        key: Arc<str>,
        query_name: Arc<str>,
    ) {
        // `query_name` is shared by every family's query (and their records).
        let hosts_first = self.hosts_policy == HostsPolicy::First && self.hosts.contains(&key);
        let job = self.add_job(level, meta, port, Some(key));
        for &f in self.families {
            if hosts_first {
                let list = self.hosts_addrs(self.jobs[job].name.as_deref(), f);
                self.insert_slot(job, f, SlotState::Ready(list));
            } else {
                let qtype = if f == Family::V4 {
                    QueryType::A
                } else {
                    QueryType::Aaaa
                };
                let id = self.send(Arc::clone(&query_name), qtype);
                self.insert_slot(job, f, SlotState::Waiting(id));
            }
        }
    }

    /// Queues a query and returns its id, or the id of an identical one still pending.
    fn send(&mut self, name: Arc<str>, qtype: QueryType) -> QueryId {
        if let Some(p) = self
            .pending
            .iter()
            .find(|p| p.qtype == qtype && p.name == name)
        {
            return p.id;
        }
        let id = QueryId(self.next_id);
        self.next_id += 1;
        self.pending.push(Pending { id, name, qtype });
        id
    }

    fn hosts_addrs(&self, name: Option<&str>, family: Family) -> Vec<IpAddr> {
        let Some(name) = name.filter(|_| self.hosts_policy != HostsPolicy::Ignore) else {
            return Vec::new();
        };
        let e = self.hosts.lookup(name);
        match family {
            Family::V4 => e.v4.iter().map(|&a| IpAddr::V4(a)).collect(),
            _ => e.v6.iter().map(|&a| IpAddr::V6(a)).collect(),
        }
    }

    // --- emitting ---

    fn target(&self, job: &Job, ip: IpAddr) -> Target {
        let addr = match ip {
            IpAddr::V4(a) => SocketAddr::V4(SocketAddrV4::new(a, job.port)),
            IpAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(a, job.port, 0, 0)),
        };
        let mut t = Target::new(self.socktype, self.protocol, SockAddr::Inet(addr));
        t.meta = job.meta;
        t
    }

    /// Emits every slot that is ready and whose predecessors are complete; queues `Done` at the end.
    fn flush(&mut self) {
        if self.state == State::Finished {
            return;
        }
        let blocking_level = self
            .slots
            .iter()
            .filter(|s| matches!(s.state, SlotState::Waiting(_)))
            .map(|s| s.level)
            .min();
        let blocked = |level: u16| blocking_level.is_some_and(|b| b < level);
        // Slots are sorted by (level, family rank, job): walk level by level, and within a level
        // family by family, emitting each family's ready slots up to its first waiting one. A level is
        // only reached once every better level is complete, so the stream never hands out a target
        // while a better SRV priority is still being resolved.
        let mut batch: Option<(Family, Vec<Target>)> = None;
        let mut i = 0;
        while i < self.slots.len() {
            let level = self.slots[i].level;
            if blocked(level) {
                break;
            }
            // The families (as bits) that have a waiting slot at this level so far.
            let mut stopped = 0u8;
            while i < self.slots.len() && self.slots[i].level == level {
                let family = self.slots[i].family;
                let bit = 1u8 << (family as u8);
                let ready = matches!(self.slots[i].state, SlotState::Ready(_));
                if matches!(self.slots[i].state, SlotState::Waiting(_)) {
                    stopped |= bit;
                }
                if !ready || stopped & bit != 0 {
                    i += 1;
                    continue;
                }
                let start = self.emitted.len();
                let state = core::mem::replace(
                    &mut self.slots[i].state,
                    SlotState::Emitted { start, end: start },
                );
                let SlotState::Ready(ips) = state else {
                    i += 1;
                    continue; // unreachable: checked above
                };
                let job = &self.jobs[self.slots[i].job];
                for ip in ips {
                    let t = self.target(job, ip);
                    if !self.emitted.iter().any(|e| e.addr == t.addr) {
                        self.emitted.push(t);
                    }
                }
                let end = self.emitted.len();
                self.emitted_any |= end > start;
                if end > start && self.batches {
                    match &mut batch {
                        Some((f, list)) if *f == family => {
                            list.extend_from_slice(&self.emitted[start..end]);
                        }
                        _ => {
                            if let Some((f, list)) = batch.take() {
                                self.push_batch(f, list);
                            }
                            batch = Some((family, self.emitted[start..end].to_vec()));
                        }
                    }
                }
                self.slots[i].state = SlotState::Emitted { start, end };
                i += 1;
            }
        }
        if let Some((f, list)) = batch {
            self.push_batch(f, list);
        }
        let all_done = !self.srv_pending
            && self
                .slots
                .iter()
                .all(|s| matches!(s.state, SlotState::Emitted { .. }));
        if all_done {
            self.finish();
        }
    }

    fn push_batch(&mut self, family: Family, targets: Vec<Target>) {
        self.events
            .push_back(ResolveEvent::Targets { family, targets });
    }

    fn finish(&mut self) {
        if self.state == State::Finished {
            return;
        }
        let result = if self.emitted_any {
            Ok(())
        } else {
            Err(self.failures.error())
        };
        self.done = Some(result);
        self.state = State::Finished;
    }
}

// ---------------------------------------------------------------------------------------------------
// inet_aton

/// AnyEvent's `inet_aton`, on the same path as [`Resolve`]: a name to its IP addresses.
///
/// Unlike AnyEvent (B35), names go through the same hosts file policy, `localhost` rules and DNS
/// lookups as `resolve_sockaddr`, and an out-of-range dotted quad such as `256.1.1.1` is resolved as a
/// name instead of turning into a mapped address of its first part (B7). There is no service and no SRV.
/// Drive it like [`Resolve`].
///
/// ```
/// use anysock_core::resolve::{InetAton, InetAtonEvent, ResolveConfig};
/// use anysock_core::hosts::HostsFile;
///
/// let config = ResolveConfig::default().with_hosts(HostsFile::parse("203.0.113.5 db.test\n"));
/// let mut a = InetAton::new("db.test", &config).unwrap();
/// assert!(a.poll_query().is_none()); // answered from the hosts file
/// assert!(matches!(a.poll_event(), Some(InetAtonEvent::Addresses { .. })));
/// assert_eq!(a.poll_event(), Some(InetAtonEvent::Done(Ok(()))));
/// assert_eq!(a.addresses(), ["203.0.113.5".parse::<std::net::IpAddr>().unwrap()]);
/// ```
#[derive(Debug)]
pub struct InetAton {
    inner: Resolve,
}

/// An output of [`InetAton`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InetAtonEvent {
    /// More addresses of one family (see [`ResolveEvent::Targets`] for the order rules).
    Addresses {
        /// The family of every address in this batch.
        family: Family,
        /// The addresses.
        addrs: Vec<IpAddr>,
    },
    /// The end, exactly once: `Ok` if at least one address was found.
    Done(Result<(), ResolveError>),
}

impl InetAton {
    /// Starts looking up `name` (an IP literal in any form [`parse_address`] takes, or a host name).
    pub fn new(name: &str, config: &ResolveConfig) -> Result<Self, ResolveError> {
        if name == "unix/" {
            return Err(ResolveError::InvalidName(NameError::BadChar { at: 4 }));
        }
        Ok(InetAton {
            inner: Resolve::new(ResolveRequest::new(name, None), config, 0)?,
        })
    }

    /// The next DNS question to send, if any.
    pub fn poll_query(&mut self) -> Option<Query> {
        self.inner.poll_query()
    }

    /// Feeds the answer to the query `id` (unknown or repeated ids are ignored).
    pub fn handle_answer(&mut self, id: QueryId, outcome: QueryOutcome) {
        self.inner.handle_answer(id, outcome);
    }

    /// The next output, if any.
    pub fn poll_event(&mut self) -> Option<InetAtonEvent> {
        self.inner.poll_event().map(|ev| match ev {
            ResolveEvent::Targets { family, targets } => InetAtonEvent::Addresses {
                family,
                addrs: targets
                    .iter()
                    .filter_map(|t| t.addr.as_inet())
                    .map(|sa| sa.ip())
                    .collect(),
            },
            ResolveEvent::Done(r) => InetAtonEvent::Done(r),
        })
    }

    /// True once `Done` has been queued.
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// Every address found so far, in final order (preferred family first).
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.inner
            .targets()
            .iter()
            .filter_map(|t| t.addr.as_inet())
            .map(|sa| sa.ip())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------------
// Input normalisation

/// The port and the SRV service name (if SRV applies) of a service text (B21, B22 fixes).
fn parse_service(
    text: &str,
    proto: &str,
    config: &ResolveConfig,
) -> Result<(Option<String>, u16), ResolveError> {
    match Service::parse(text).map_err(ResolveError::BadService)? {
        Service::Port(p) => Ok((None, p)),
        Service::NamePort { name, port } => Ok((Some(name.to_ascii_lowercase()), port)),
        Service::Name(name) => {
            let services = config
                .services
                .as_deref()
                .unwrap_or_else(|| ServiceDb::builtin());
            let port = services
                .getservbyname(name, proto)
                .ok_or(ResolveError::UnknownService)?;
            Ok((Some(name.to_ascii_lowercase()), port))
        }
        // `Service::parse` gives no paths; anything else is not a service for an IP host.
        _ => Err(ResolveError::BadService(ServiceError::Empty)),
    }
}

/// [`parse_address`] for the planner, which only asks whether text is a literal: host names skip the
/// parsers (see [`may_be_ip_literal`]).
fn ip_literal(text: &str) -> Option<Address> {
    may_be_ip_literal(text)
        .then(|| parse_address(text).ok())
        .flatten()
}

/// A normalised node's hosts-file key: without its trailing dot, sharing the node's string when it has
/// none (the job and the questions then hold one copy).
fn hosts_key(node: &Arc<str>) -> Arc<str> {
    match node.strip_suffix('.') {
        Some(body) => Arc::from(body),
        None => Arc::clone(node),
    }
}

/// Whether `text` may be an IP literal, so that host names skip the address parsers: every IPv6 form
/// has a `:`, and every IPv4 form [`parse_address`] takes (hexadecimal `0x` parts included; like
/// AnyEvent it rejects `0X`) is made of hex digits, `x` and dots. A name with any other letter
/// (nearly every name) is no literal.
fn may_be_ip_literal(text: &str) -> bool {
    let b = text.as_bytes();
    b.contains(&b':')
        || b.iter()
            .all(|&c| c.is_ascii_hexdigit() || matches!(c, b'.' | b'x'))
}

/// A protocol's name as SRV query names spell it: lowercase; tcp and udp without an allocation.
fn canonical_protocol_name(name: &str) -> Cow<'static, str> {
    if name.eq_ignore_ascii_case("tcp") {
        Cow::Borrowed("tcp")
    } else if name.eq_ignore_ascii_case("udp") {
        Cow::Borrowed("udp")
    } else {
        Cow::Owned(name.to_ascii_lowercase())
    }
}

/// [`normalise_node`] into a shared string; an ASCII name of any usable length is lowercased on the
/// stack and allocated once.
fn normalise_node_shared(node: &str) -> Result<Arc<str>, ResolveError> {
    let b = node.as_bytes();
    if node.is_ascii() && b.len() <= 256 {
        let mut buf = [0u8; 256];
        let lower = &mut buf[..b.len()];
        lower.copy_from_slice(b);
        lower.make_ascii_lowercase();
        // ASCII lowercased is still ASCII: this cannot fail.
        let lower = std::str::from_utf8(lower)
            .map_err(|_| ResolveError::InvalidName(NameError::BadChar { at: 0 }))?;
        return Ok(Arc::from(lower));
    }
    normalise_node(node).map(Arc::from)
}

/// IDN conversion (UTS #46) for non-ASCII names, ASCII lowercasing for the rest.
fn normalise_node(node: &str) -> Result<String, ResolveError> {
    if node.is_ascii() {
        Ok(node.to_ascii_lowercase())
    } else {
        idna::domain_to_ascii(node).map_err(|_| ResolveError::InvalidName(NameError::Idna))
    }
}

/// Checks a lowercase ASCII name (one trailing dot allowed) for what DNS can carry.
fn validate_name(name: &str) -> Result<(), ResolveError> {
    let err = |e| Err(ResolveError::InvalidName(e));
    let body = name.strip_suffix('.').unwrap_or(name);
    if body.is_empty() {
        return err(NameError::Empty);
    }
    if body.len() > MAX_NAME_LEN {
        return err(NameError::TooLong);
    }
    if let Some(at) = body
        .bytes()
        .position(|b| !(0x21..=0x7e).contains(&b) || matches!(b, b'[' | b']' | b'\\' | b'/'))
    {
        return err(NameError::BadChar { at });
    }
    for label in body.split('.') {
        if label.is_empty() {
            return err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return err(NameError::LabelTooLong);
        }
    }
    Ok(())
}

/// `localhost` and names under `.localhost` (RFC 6761 §6.3); `key` is lowercase without trailing dot.
fn is_localhost(key: &str) -> bool {
    key == "localhost" || key.ends_with(".localhost")
}

fn ip_family(ip: &IpAddr) -> Family {
    match ip {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Resolve>();
        check::<InetAton>();
        check::<ResolveConfig>();
        check::<HostsFile>();
    }

    /// `may_be_ip_literal` only ever turns away text that `parse_address` rejects (or reads as
    /// `unix/`, which the callers handle first).
    fn no_literal_is_turned_away(text: &str) {
        if !may_be_ip_literal(text) {
            assert!(
                !matches!(parse_address(text), Ok(Address::V4(_) | Address::V6(_))),
                "{text:?} is a literal"
            );
        }
    }

    #[test]
    fn the_literal_precheck_keeps_every_literal() {
        // Every text of up to 5 bytes over the characters that matter, then known forms.
        let alphabet = b"0178afxXg.:[]% z";
        for len in 0..=5u32 {
            for mut n in 0..alphabet.len().pow(len) {
                let mut t = Vec::new();
                for _ in 0..len {
                    t.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                no_literal_is_turned_away(std::str::from_utf8(&t).unwrap());
            }
        }
        for t in [
            "127.0.0.1",
            "0x7f.1",
            "0X7F.0.0.1",
            "017700000001",
            "4294967295",
            "0xffffffff",
            "::1",
            "[::1]",
            "fe80::1%eth0",
            "::ffff:127.0.0.1",
            "1:2:3:4:5:6:7:8",
            "unix/",
            "localhost",
            "h12.bench",
            "127.0.0.1 ",
            " 127.0.0.1",
            "0xg",
            "1.2.3.4.5",
        ] {
            no_literal_is_turned_away(t);
        }
        assert!(!may_be_ip_literal("h12.bench") && !may_be_ip_literal("www.example.org"));
        assert!(may_be_ip_literal("0x7f.1") && may_be_ip_literal("fe80::1%eth0"));
    }

    proptest::proptest! {
        #[test]
        fn the_literal_precheck_keeps_every_literal_in_any_text(t in "[0-9a-hxX.:%\\[\\] ]{0,24}|\\PC{0,12}") {
            no_literal_is_turned_away(&t);
        }
    }

    #[test]
    fn name_validation() {
        assert_eq!(validate_name("a.test"), Ok(()));
        assert_eq!(validate_name("a.test."), Ok(()));
        assert_eq!(validate_name("_sip._udp.a-b.test"), Ok(()));
        let bad = |n: &str| match validate_name(n) {
            Err(ResolveError::InvalidName(e)) => e,
            other => panic!("{n:?}: {other:?}"),
        };
        assert_eq!(bad(""), NameError::Empty);
        assert_eq!(bad("."), NameError::Empty);
        assert_eq!(bad("a..b"), NameError::EmptyLabel);
        assert_eq!(bad("a.b.."), NameError::EmptyLabel);
        assert_eq!(bad("a/b"), NameError::BadChar { at: 1 });
        assert_eq!(bad("a\\b"), NameError::BadChar { at: 1 });
        assert_eq!(bad("a\tb"), NameError::BadChar { at: 1 });
        assert_eq!(bad(&"x".repeat(64)), NameError::LabelTooLong);
        assert_eq!(validate_name(&"x".repeat(63)), Ok(()));
        let max = [&"x".repeat(63)[..]; 4].join(".")[..253].to_owned();
        assert_eq!(validate_name(&max), Ok(()));
        assert_eq!(validate_name(&format!("{max}.")), Ok(()));
        assert_eq!(bad(&format!("{max}x")), NameError::TooLong);
    }

    #[test]
    fn localhost_names() {
        for n in ["localhost", "a.localhost", "a.b.localhost"] {
            assert!(is_localhost(n), "{n}");
        }
        for n in ["localhost.test", "xlocalhost", "localhostx", "local"] {
            assert!(!is_localhost(n), "{n}");
        }
    }

    #[test]
    fn literal_text_is_parsed_as_given() {
        // AnyEvent's parse_ipv4 only knows a lower-case 0x; 0X.. is a (bad) name, not a literal.
        let cfg = ResolveConfig::default();
        let r = Resolve::new(ResolveRequest::new("0x7f.1", Some("1")), &cfg, 0).unwrap();
        assert_eq!(r.targets().len(), 1);
        let mut r = Resolve::new(ResolveRequest::new("0X7f.1", Some("1")), &cfg, 0).unwrap();
        assert!(r.targets().is_empty());
        assert!(r.poll_query().is_some(), "looked up as a name");
    }

    #[test]
    fn rng_bounds_and_determinism() {
        let mut a = SplitMix64::new(5);
        let mut b = SplitMix64::new(5);
        for max in [0u64, 1, 2, 99, u64::from(u32::MAX), u64::MAX - 1] {
            for _ in 0..100 {
                let x = upto(&mut a, max);
                assert!(x <= max);
                assert_eq!(x, upto(&mut b, max));
            }
        }
        assert_eq!(upto(&mut SplitMix64::new(0), 0), 0);
        // Both ends of a small range are reachable.
        let mut r = SplitMix64::new(9);
        let seen: std::collections::HashSet<u64> = (0..200).map(|_| upto(&mut r, 3)).collect();
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn failure_summary_prefers_the_most_telling_cause() {
        let mut f = Failures::default();
        assert_eq!(f.error(), ResolveError::NoAddresses);
        f.record(QueryFailure::NoData);
        assert_eq!(f.error(), ResolveError::NoAddresses);
        f.record(QueryFailure::NxDomain);
        assert_eq!(f.error(), ResolveError::NotFound);
        f.record(QueryFailure::TimedOut);
        f.record(QueryFailure::Refused);
        assert_eq!(f.error(), ResolveError::Lookup(QueryFailure::TimedOut));
    }

    #[test]
    fn srv_query_uses_the_canonical_protocol_name() {
        let cfg = ResolveConfig::default();
        let mut r = Resolve::new(
            ResolveRequest::new("Example.Test", Some("SIP")).protocol("UDP"),
            &cfg,
            0,
        )
        .unwrap();
        let q = r.poll_query().unwrap();
        assert_eq!(
            (&*q.name, q.qtype),
            ("_sip._udp.example.test", QueryType::Srv)
        );
        assert_eq!(r.poll_query(), None);
    }
}
