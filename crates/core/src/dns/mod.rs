//! The DNS stub resolver's query machine: one question, sans-IO.
//!
//! [`DnsQuery`] asks one question (a name and a [`RecordType`]) of the nameservers in a
//! [`DnsConfig`], walking the search list, retransmitting across servers, falling back to TCP on
//! truncation and following CNAMEs, and ends with exactly one [`DnsEvent`]. It sends nothing itself:
//! it emits [`Transmit`]s, and the adapter feeds back datagrams, TCP bytes, TCP errors and timeouts.
//!
//! # Driving the machine
//!
//! After creating the machine and after **every** `handle_*` call, drain the outputs in this order:
//! 1. [`poll_transmit`](DnsQuery::poll_transmit) until `None`: send each over UDP or TCP;
//! 2. [`poll_event`](DnsQuery::poll_event): the outcome, returned exactly once;
//! 3. [`poll_timeout`](DnsQuery::poll_timeout): the deadline at which to call
//!    [`handle_timeout`](DnsQuery::handle_timeout) (`None` once the machine has ended).
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::{Duration, Instant};
//! use anysock_core::dns::{DnsEvent, DnsQuery, RecordType, Transport};
//! use anysock_core::resolv_conf::DnsConfig;
//!
//! let server: SocketAddr = "127.0.0.1:5353".parse().unwrap();
//! let config = DnsConfig::builder().nameserver(server).timeout(Duration::from_secs(1)).build().unwrap();
//! # let clock_reading = anysock_testkit::clock_origin();
//! let mut now: Instant = clock_reading; // the adapter reads its clock; the machine never does
//! let mut q = DnsQuery::new(&config, "nowhere.example.", RecordType::A, now, 0x5eed).unwrap();
//! let outcome = loop {
//!     while let Some(t) = q.poll_transmit() {
//!         assert_eq!((t.to, t.transport), (server, Transport::Udp));
//!         // adapter: socket.send_to(&t.payload, t.to); nothing answers in this example
//!     }
//!     if let Some(event) = q.poll_event() {
//!         break event;
//!     }
//!     let deadline = q.poll_timeout().expect("a running machine always has a deadline");
//!     // adapter: wait for a datagram until `deadline`, then q.handle_datagram(now, from, &buf)
//!     now = deadline;
//!     q.handle_timeout(now);
//! };
//! match outcome {
//!     DnsEvent::Failed(e) => assert_eq!(e.tries.len(), 2), // 2 attempts x 1 server
//!     DnsEvent::Answer(_) => unreachable!(),
//!     _ => unreachable!(),
//! }
//! ```
//!
//! The machine owns no resources: dropping it cancels the query. Once it has ended, the adapter can
//! close the UDP socket and any TCP connection it opened for it.
//!
//! # Anti-spoofing
//!
//! A datagram is accepted only if it comes from the server a try was sent to, carries that try's
//! transaction id, is a response to a standard query, and repeats our question (name compared ASCII
//! case-insensitively, type, class IN). Everything else is ignored and counted in [`DnsStats`]. Ids
//! are drawn from a [`SplitMix64`] seeded by the `random` argument, which the
//! adapter takes from the operating system. Source-port randomisation is the adapter's job: it sends
//! each machine's datagrams from a fresh UDP socket bound to port 0, so the kernel picks a random
//! ephemeral port (RFC 5452 §9.2).

mod name;
mod wire;

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use name::{MAX_LABEL_LEN, MAX_NAME_WIRE_LEN, NameError, name_to_ascii};
pub use wire::MAX_CNAME_LINKS;

use crate::resolv_conf::{DnsConfig, MAX_TIMEOUT};
use crate::rng::SplitMix64;

/// The record types the machine asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordType {
    /// IPv4 address (RFC 1035).
    A,
    /// IPv6 address (RFC 3596).
    Aaaa,
    /// Service location (RFC 2782).
    Srv,
    /// Canonical name (RFC 1035). Asked for directly, CNAMEs are returned, not followed.
    Cname,
    /// Text strings (RFC 1035).
    Txt,
    /// Domain name pointer, for reverse lookups (RFC 1035).
    Ptr,
}

impl RecordType {
    /// The numeric type code.
    #[must_use]
    pub fn code(self) -> u16 {
        match self {
            Self::A => wire::rtype::A,
            Self::Aaaa => wire::rtype::AAAA,
            Self::Srv => wire::rtype::SRV,
            Self::Cname => wire::rtype::CNAME,
            Self::Txt => wire::rtype::TXT,
            Self::Ptr => wire::rtype::PTR,
        }
    }

    /// hickory-proto's type: the tests' reference encoder.
    #[cfg(test)]
    fn to_hickory(self) -> hickory_proto::rr::RecordType {
        hickory_proto::rr::RecordType::from(self.code())
    }
}

/// Record data, owned and independent of any wire-format library.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A service location. A `target` of `"."` means the service is not offered (RFC 2782).
    Srv {
        /// Lower is preferred.
        priority: u16,
        /// Relative weight within a priority.
        weight: u16,
        /// Port of the service.
        port: u16,
        /// Host name of the target, without trailing dot.
        target: String,
    },
    /// The character strings of a TXT record.
    Txt(Vec<Vec<u8>>),
    /// A PTR target name.
    Ptr(String),
    /// A CNAME target name (only when CNAME itself was asked for).
    Cname(String),
}

/// One record of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DnsRecord {
    /// Time to live in seconds, as the server sent it.
    pub ttl: u32,
    /// The data.
    pub data: RecordData,
}

/// One CNAME link followed on the way to the answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CnameLink {
    /// The alias.
    pub name: String,
    /// What it points to.
    pub target: String,
    /// Time to live in seconds.
    pub ttl: u32,
}

/// A successful answer.
///
/// Names are ASCII presentation form without the trailing dot, as the server wrote them (case kept),
/// with unusual octets escaped as `\DDD`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DnsAnswer {
    /// The name that was asked for and answered: the search-list candidate, before any CNAME.
    pub name: String,
    /// The record type asked for.
    pub rtype: RecordType,
    /// The owner of `records`: the end of the CNAME chain, or `name` when there was none.
    pub canonical_name: String,
    /// The CNAME links followed, in order (empty without CNAMEs).
    pub cname_chain: Vec<CnameLink>,
    /// The records, in the order the server sent them. Never empty.
    pub records: Vec<DnsRecord>,
    /// Records of the asked type that were malformed and skipped (B23 policy).
    pub skipped: u16,
}

impl DnsAnswer {
    /// The IPv4 and IPv6 addresses among the records, in server order.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.records.iter().filter_map(|r| match r.data {
            RecordData::A(a) => Some(IpAddr::V4(a)),
            RecordData::Aaaa(a) => Some(IpAddr::V6(a)),
            _ => None,
        })
    }

    /// The lowest TTL among the records and the CNAME links: how long the whole answer may be cached.
    #[must_use]
    pub fn min_ttl(&self) -> u32 {
        let records = self.records.iter().map(|r| r.ttl);
        let links = self.cname_chain.iter().map(|l| l.ttl);
        records.chain(links).min().unwrap_or(0)
    }
}

/// Why a query failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsErrorKind {
    /// No candidate name exists (NXDOMAIN for every name on the search list).
    #[error("name does not exist")]
    NxDomain,
    /// A name exists but has no records of the asked type.
    #[error("name has no records of the requested type")]
    NoData,
    /// The servers answered SERVFAIL (or another error code) for every try.
    #[error("server failure")]
    ServerFailure,
    /// The servers refused the query.
    #[error("query refused")]
    Refused,
    /// No usable reply before the last try timed out.
    #[error("timed out")]
    TimedOut,
    /// The replies were ours but malformed.
    #[error("malformed reply")]
    Malformed,
    /// The CNAME chain loops.
    #[error("CNAME loop")]
    CnameLoop,
    /// The CNAME chain is longer than 8 links.
    #[error("CNAME chain too long")]
    CnameLimit,
}

/// What happened to one try (one query sent to one server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryOutcome {
    /// Still waiting when the machine ended (its answer may have come from a later try).
    Pending,
    /// The try's timer expired (a late reply was still accepted until the machine ended).
    TimedOut,
    /// A usable reply (records, NXDOMAIN or no data).
    Answered,
    /// The reply was a bare CNAME: the target was asked next.
    Cname,
    /// The reply was truncated: the question was asked again over TCP.
    Truncated,
    /// The server rejected EDNS (FORMERR/NOTIMP): asked again without it.
    EdnsRejected,
    /// SERVFAIL, FORMERR, NOTIMP or another error code.
    ServerFailure,
    /// REFUSED.
    Refused,
    /// A malformed reply.
    Malformed,
    /// The TCP connection failed or closed early.
    StreamError,
}

/// The transport of a try or transmit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// One datagram, one reply.
    Udp,
    /// A TCP connection; payloads carry the 2-byte length prefix (RFC 1035 §4.2.2).
    Tcp,
}

/// A record of one try, for error reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DnsTry {
    /// The server.
    pub server: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// The name asked.
    pub name: String,
    /// When it was sent.
    pub sent_at: Instant,
    /// What became of it.
    pub outcome: TryOutcome,
}

/// A failed query: what went wrong, for which name, and every try made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DNS lookup of {name} failed: {kind} ({} tries)", tries.len())]
#[non_exhaustive]
pub struct DnsError {
    /// What went wrong.
    pub kind: DnsErrorKind,
    /// The name the error is about: the last name asked (for NXDOMAIN, the last search candidate).
    pub name: String,
    /// Every try, in the order sent.
    pub tries: Vec<DnsTry>,
}

/// The outcome of a [`DnsQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DnsEvent {
    /// Records were found.
    Answer(DnsAnswer),
    /// The query failed.
    Failed(DnsError),
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The nameserver.
    pub to: SocketAddr,
    /// UDP: send `payload` as one datagram from the machine's socket. TCP: connect to `to`, write
    /// `payload` (already length-prefixed), and feed what comes back to
    /// [`DnsQuery::handle_stream`].
    pub transport: Transport,
    /// The DNS message.
    pub payload: Vec<u8>,
}

/// Counters of what the machine sent, accepted and ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DnsStats {
    /// UDP queries sent.
    pub udp_sent: u32,
    /// TCP queries sent.
    pub tcp_sent: u32,
    /// Replies accepted (UDP or TCP).
    pub accepted: u32,
    /// Datagrams from an address no try was sent to.
    pub ignored_wrong_source: u32,
    /// Datagrams from a server with an id no live try to it has.
    pub ignored_wrong_id: u32,
    /// Datagrams with a matching id whose question, opcode or QR bit did not match.
    pub ignored_wrong_question: u32,
    /// Datagrams too short for a DNS header.
    pub ignored_malformed: u32,
    /// Datagrams or stream bytes after the machine ended.
    pub ignored_after_end: u32,
    /// TCP failures reported by the adapter.
    pub stream_errors: u32,
}

#[derive(Debug)]
struct Try {
    server_idx: usize,
    id: u16,
    transport: Transport,
    edns: bool,
    timeout: Duration,
    deadline: Instant,
    /// No more replies are accepted (it failed or was superseded by TCP or a non-EDNS retry).
    dead: bool,
    tcp_buf: Vec<u8>,
    sent_at: Instant,
    outcome: TryOutcome,
}

impl Try {
    /// This try as the error report shows it: `asked` is the name its question asked.
    fn report(&self, servers: &[SocketAddr], asked: &str) -> DnsTry {
        DnsTry {
            server: servers[self.server_idx],
            transport: self.transport,
            name: asked.to_owned(),
            sent_at: self.sent_at,
            outcome: self.outcome,
        }
    }
}

/// A question's tries: nearly always one, kept inline (no allocation per query); any more go to a list.
/// Indexed like the list of all of them, oldest first.
#[derive(Debug, Default)]
struct Tries {
    /// The first try; `None` only while there is no try at all.
    first: Option<Try>,
    more: Vec<Try>,
}

impl Tries {
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.more.len()
    }

    fn push(&mut self, t: Try) {
        if self.first.is_none() {
            self.first = Some(t);
        } else {
            self.more.push(t);
        }
    }

    fn last(&self) -> Option<&Try> {
        self.more.last().or(self.first.as_ref())
    }

    fn last_mut(&mut self) -> Option<&mut Try> {
        match self.more.last_mut() {
            Some(t) => Some(t),
            None => self.first.as_mut(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Try> {
        self.first.iter().chain(&self.more)
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Try> {
        self.first.iter_mut().chain(&mut self.more)
    }

    /// The index of the newest try for which `f` holds.
    fn rposition(&self, f: impl Fn(&Try) -> bool) -> Option<usize> {
        match self.more.iter().rposition(&f) {
            Some(i) => Some(i + 1),
            None => self.first.as_ref().filter(|t| f(t)).map(|_| 0),
        }
    }

    /// Takes every try out, oldest first.
    fn drain(&mut self) -> impl Iterator<Item = Try> + '_ {
        self.first.take().into_iter().chain(self.more.drain(..))
    }
}

impl std::ops::Index<usize> for Tries {
    type Output = Try;
    fn index(&self, i: usize) -> &Try {
        match (i, &self.first) {
            (0, Some(t)) => t,
            _ => &self.more[i - 1],
        }
    }
}

impl std::ops::IndexMut<usize> for Tries {
    fn index_mut(&mut self, i: usize) -> &mut Try {
        match (i, &mut self.first) {
            (0, Some(t)) => t,
            _ => &mut self.more[i - 1],
        }
    }
}

/// Search-list bookkeeping: the worst negative results seen so far.
#[derive(Debug, Default)]
struct Negatives {
    nodata: bool,
    servfail: bool,
}

/// Transmits waiting to be taken, first in first out. There is nearly always at most one, and it is
/// kept inline: no allocation per query.
#[derive(Debug, Default)]
struct Outbox {
    first: Option<Transmit>,
    more: VecDeque<Transmit>,
}

impl Outbox {
    fn push(&mut self, t: Transmit) {
        if self.first.is_none() && self.more.is_empty() {
            self.first = Some(t);
        } else {
            self.more.push_back(t);
        }
    }

    fn pop(&mut self) -> Option<Transmit> {
        self.first.take().or_else(|| self.more.pop_front())
    }

    fn clear(&mut self) {
        self.first = None;
        self.more.clear();
    }
}

/// One DNS question, asked until it is answered or every try has failed. See the [module docs](self)
/// for the run loop.
#[derive(Debug)]
pub struct DnsQuery {
    servers: Arc<[SocketAddr]>,
    base_timeout: Duration,
    attempts: usize,
    edns0: bool,
    rtype: RecordType,
    candidates: Candidates,
    candidate: usize,
    /// The CNAME target being asked now, if any; otherwise the current candidate is (see
    /// [`qname`](Self::qname)). ASCII, no trailing dot.
    cname_target: Option<String>,
    /// The name being asked now in wire form.
    qname_wire: name::WireName,
    chain: Vec<CnameLink>,
    rng: SplitMix64,
    start: usize,
    plan_pos: usize,
    tries: Tries,
    /// Servers that rejected EDNS, by index; allocated only when one does.
    no_edns: Vec<bool>,
    transmits: Outbox,
    event: Option<DnsEvent>,
    done: bool,
    /// The tries of earlier questions (search candidates, CNAME targets), for the error report; the
    /// current question's are in `tries`.
    past: Vec<DnsTry>,
    negatives: Negatives,
    stats: DnsStats,
}

impl DnsQuery {
    /// Starts a query for `name` (any case, Unicode allowed: converted with [`name_to_ascii`]) of type
    /// `rtype`. `random` seeds the transaction ids (and the start server with `rotate`); adapters pass
    /// 64 bits from the operating system's generator. The first query is ready in
    /// [`poll_transmit`](Self::poll_transmit).
    ///
    /// The names tried follow glibc's `res_search`: a name with a trailing dot is asked as-is only;
    /// otherwise a name with at least `ndots` dots is asked as-is first and then with each search
    /// domain appended, and a name with fewer dots with each search domain first and as-is last.
    /// Candidates longer than 255 octets are skipped.
    ///
    /// # Errors
    /// [`NameError`] if the name is not a valid domain name.
    pub fn new(
        config: &DnsConfig,
        name: &str,
        rtype: RecordType,
        now: Instant,
        random: u64,
    ) -> Result<Self, NameError> {
        let ascii = name_to_ascii(name)?;
        let candidates = search_candidates(config, ascii);
        let qname_wire = name::WireName::new(&candidates[0])?;
        let mut rng = SplitMix64::new(random);
        let servers = config.nameservers_shared();
        let start = if config.rotate() {
            rng.below(servers.len() as u64) as usize
        } else {
            0
        };
        let mut q = Self {
            no_edns: Vec::new(),
            servers,
            base_timeout: config.timeout(),
            attempts: usize::from(config.attempts()).max(1),
            edns0: config.edns0(),
            rtype,
            candidates,
            candidate: 0,
            cname_target: None,
            qname_wire,
            chain: Vec::new(),
            rng,
            start,
            plan_pos: 0,
            tries: Tries::default(),
            transmits: Outbox::default(),
            event: None,
            done: false,
            past: Vec::new(),
            negatives: Negatives::default(),
            stats: DnsStats::default(),
        };
        q.send_next_try(now);
        Ok(q)
    }

    /// The record type asked for.
    #[must_use]
    pub fn rtype(&self) -> RecordType {
        self.rtype
    }

    /// The names this query tries, in order (ASCII, no trailing dot). Once the query has been
    /// answered, the answered name has moved into the answer ([`DnsAnswer::name`]) and is empty here.
    #[must_use]
    pub fn candidates(&self) -> &[String] {
        &self.candidates
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> DnsStats {
        self.stats
    }

    /// Whether the machine has ended (its event may still be waiting in [`poll_event`](Self::poll_event)).
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Feeds a UDP datagram received from `from`. Returns `true` if it was a reply to one of this
    /// machine's tries (and was acted on), `false` if it was ignored (counted in [`stats`](Self::stats)).
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> bool {
        if self.done {
            self.stats.ignored_after_end += 1;
            return false;
        }
        let Some(h) = wire::read_header(bytes) else {
            self.stats.ignored_malformed += 1;
            return false;
        };
        let idx = self.tries.rposition(|t| {
            t.transport == Transport::Udp
                && !t.dead
                && t.id == h.id
                && same_server(self.servers[t.server_idx], from)
        });
        let Some(idx) = idx else {
            if self.servers.iter().any(|s| same_server(*s, from)) {
                self.stats.ignored_wrong_id += 1;
            } else {
                self.stats.ignored_wrong_source += 1;
            }
            return false;
        };
        let Some(qend) = self.validate(bytes, &h) else {
            self.stats.ignored_wrong_question += 1;
            return false;
        };
        self.stats.accepted += 1;
        self.process(now, idx, bytes, &h, qend);
        true
    }

    /// Feeds bytes read from the TCP connection opened for a [`Transport::Tcp`] transmit to `from`.
    /// Bytes may come in any chunks; the machine reassembles the 2-byte length-prefixed message and
    /// acts once it is complete (bytes after it are ignored). Returns `true` if a TCP try to `from` is
    /// waiting for them.
    ///
    /// A complete message whose id or question does not match ends the try as
    /// [`TryOutcome::Malformed`]: on a connection we opened, that is a broken server, not a spoof.
    pub fn handle_stream(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) -> bool {
        if self.done {
            self.stats.ignored_after_end += 1;
            return false;
        }
        let Some(idx) = self.live_tcp_try(from) else {
            return false;
        };
        let t = &mut self.tries[idx];
        t.tcp_buf.extend_from_slice(bytes);
        if t.tcp_buf.len() < 2 {
            return true;
        }
        let len = usize::from(u16::from_be_bytes([t.tcp_buf[0], t.tcp_buf[1]]));
        if t.tcp_buf.len() < 2 + len {
            return true;
        }
        let buf = std::mem::take(&mut t.tcp_buf);
        let msg = &buf[2..2 + len];
        let ok = wire::read_header(msg)
            .filter(|h| h.id == self.tries[idx].id)
            .and_then(|h| self.validate(msg, &h).map(|qend| (h, qend)));
        match ok {
            Some((h, qend)) => {
                self.stats.accepted += 1;
                self.process(now, idx, msg, &h, qend);
            }
            None => self.fail_try(now, idx, TryOutcome::Malformed),
        }
        true
    }

    /// Reports that the TCP connection to `from` failed (connect refused, reset, or closed before a
    /// whole message arrived). The machine moves on to the next try at once. Returns `true` if a TCP
    /// try to `from` was waiting.
    pub fn handle_stream_error(&mut self, now: Instant, from: SocketAddr) -> bool {
        if self.done {
            return false;
        }
        let Some(idx) = self.live_tcp_try(from) else {
            return false;
        };
        self.stats.stream_errors += 1;
        self.fail_try(now, idx, TryOutcome::StreamError);
        true
    }

    /// Advances time. When the current try's deadline has passed, the next try is sent, or the
    /// query fails once every try is used. Early and repeated calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.done {
            return;
        }
        let Some(cur) = self.tries.last() else { return };
        if now < cur.deadline {
            return;
        }
        if let Some(t) = self.tries.last_mut() {
            if t.outcome == TryOutcome::Pending {
                t.outcome = TryOutcome::TimedOut;
            }
            // A timed-out UDP try stays acceptable (a late reply still wins); a TCP try is over.
            if t.transport == Transport::Tcp {
                t.dead = true;
            }
        }
        self.send_next_try(now);
    }

    /// The next message to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop()
    }

    /// The outcome, once: `Some` exactly one time, after the machine ends.
    pub fn poll_event(&mut self) -> Option<DnsEvent> {
        self.event.take()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next; `None` once the machine has ended.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.done {
            return None;
        }
        self.tries.last().map(|t| t.deadline)
    }

    // ----- internals -----

    fn live_tcp_try(&self, from: SocketAddr) -> Option<usize> {
        self.tries.rposition(|t| {
            t.transport == Transport::Tcp
                && !t.dead
                && same_server(self.servers[t.server_idx], from)
        })
    }

    fn validate(&self, msg: &[u8], h: &wire::ReplyHeader) -> Option<usize> {
        if !h.is_response || !h.is_query_opcode {
            return None;
        }
        wire::check_question(msg, h, self.qname_wire.as_bytes(), self.rtype.code())
    }

    /// The per-try timeout of `round`, glibc's schedule: round 0 gives each server the base timeout;
    /// round r > 0 gives `base * 2^r / servers`, at least `min(base, 1 s)` and at most one hour.
    fn try_timeout(&self, round: usize) -> Duration {
        if round == 0 {
            return self.base_timeout;
        }
        let factor = 2u32.saturating_pow(u32::try_from(round).unwrap_or(u32::MAX));
        let n = u32::try_from(self.servers.len()).unwrap_or(u32::MAX).max(1);
        let t = self.base_timeout.saturating_mul(factor) / n;
        t.max(self.base_timeout.min(Duration::from_secs(1)))
            .min(MAX_TIMEOUT)
    }

    /// The name being asked now: a CNAME target, or the current search candidate.
    fn qname(&self) -> &str {
        asked(&self.cname_target, &self.candidates, self.candidate)
    }

    /// Asks the next question: the search candidate `next` if `cname_target` is `None`, else that
    /// CNAME target. Both are valid names (checked before they get here); one that is not ends the
    /// query as malformed instead of panicking.
    fn start_question(&mut self, now: Instant, next: usize, cname_target: Option<String>) {
        // The last question's tries go to the report, under the name they asked.
        let asked = asked(&self.cname_target, &self.candidates, self.candidate);
        let servers = &self.servers;
        self.past
            .extend(self.tries.drain().map(|t| t.report(servers, asked)));
        self.candidate = next;
        self.cname_target = cname_target;
        match name::WireName::new(self.qname()) {
            Ok(w) => self.qname_wire = w,
            Err(_) => return self.fail(DnsErrorKind::Malformed),
        }
        self.plan_pos = 0;
        self.send_next_try(now);
    }

    fn send_next_try(&mut self, now: Instant) {
        let n = self.servers.len();
        if self.plan_pos >= self.attempts * n {
            self.question_exhausted(now);
            return;
        }
        let round = self.plan_pos / n;
        let server_idx = (self.start + self.plan_pos % n) % n;
        self.plan_pos += 1;
        let timeout = self.try_timeout(round);
        let edns = self.edns0 && !self.no_edns.get(server_idx).copied().unwrap_or(false);
        self.send(now, server_idx, Transport::Udp, edns, timeout);
    }

    fn send(
        &mut self,
        now: Instant,
        server_idx: usize,
        transport: Transport,
        edns: bool,
        timeout: Duration,
    ) {
        let id = self.rng.next_u16();
        let tcp = transport == Transport::Tcp;
        let payload = wire::build_query(id, self.qname_wire.as_bytes(), self.rtype, edns, tcp);
        if tcp {
            self.stats.tcp_sent += 1;
        } else {
            self.stats.udp_sent += 1;
        }
        let server = self.servers[server_idx];
        self.tries.push(Try {
            server_idx,
            id,
            transport,
            edns,
            timeout,
            // Cannot overflow for any real clock (timeouts are capped at one hour); if it did, the
            // try would simply time out at once instead of panicking.
            deadline: now.checked_add(timeout).unwrap_or(now),
            dead: false,
            tcp_buf: Vec::new(),
            sent_at: now,
            outcome: TryOutcome::Pending,
        });
        self.transmits.push(Transmit {
            to: server,
            transport,
            payload,
        });
    }

    /// A try ended without a usable answer. If it is the current one, move on at once; an earlier
    /// (already timed-out) try just records the outcome.
    fn fail_try(&mut self, now: Instant, idx: usize, outcome: TryOutcome) {
        let t = &mut self.tries[idx];
        t.dead = true;
        t.outcome = outcome;
        if idx + 1 == self.tries.len() {
            self.send_next_try(now);
        }
    }

    fn process(
        &mut self,
        now: Instant,
        idx: usize,
        msg: &[u8],
        h: &wire::ReplyHeader,
        qend: usize,
    ) {
        let over_tcp = self.tries[idx].transport == Transport::Tcp;
        let verdict = wire::interpret(msg, h, qend, self.rtype.code(), over_tcp, self.chain.len());
        match verdict {
            wire::Verdict::Truncated => {
                let (server_idx, edns, timeout) = {
                    let t = &mut self.tries[idx];
                    t.dead = true;
                    (t.server_idx, t.edns, t.timeout)
                };
                self.tries[idx].outcome = TryOutcome::Truncated;
                self.send(now, server_idx, Transport::Tcp, edns, timeout);
            }
            wire::Verdict::Rcode(rc)
                if (rc == wire::rcode::FORMERR || rc == wire::rcode::NOTIMP)
                    && self.tries[idx].edns =>
            {
                // RFC 6891 §7: a server that does not understand EDNS; ask it again without.
                let (server_idx, transport, timeout) = {
                    let t = &mut self.tries[idx];
                    t.dead = true;
                    (t.server_idx, t.transport, t.timeout)
                };
                if self.no_edns.len() <= server_idx {
                    self.no_edns.resize(self.servers.len(), false);
                }
                self.no_edns[server_idx] = true;
                self.tries[idx].outcome = TryOutcome::EdnsRejected;
                self.send(now, server_idx, transport, false, timeout);
            }
            wire::Verdict::Rcode(rc) => {
                let outcome = if rc == wire::rcode::REFUSED {
                    TryOutcome::Refused
                } else {
                    TryOutcome::ServerFailure
                };
                self.fail_try(now, idx, outcome);
            }
            wire::Verdict::Malformed => self.fail_try(now, idx, TryOutcome::Malformed),
            wire::Verdict::Answer {
                canonical,
                chain,
                records,
                skipped,
            } => {
                self.tries[idx].outcome = TryOutcome::Answered;
                self.chain.extend(chain);
                // The query ends here: the candidate asked moves into the answer.
                let name = std::mem::take(&mut self.candidates[self.candidate]);
                let canonical_name = match (canonical, self.cname_target.take()) {
                    (Some(c), _) | (None, Some(c)) => c,
                    (None, None) => name.clone(),
                };
                let answer = DnsAnswer {
                    name,
                    rtype: self.rtype,
                    canonical_name,
                    cname_chain: std::mem::take(&mut self.chain),
                    records,
                    skipped,
                };
                self.finish(DnsEvent::Answer(answer));
            }
            wire::Verdict::NxDomain { chain } => {
                self.tries[idx].outcome = TryOutcome::Answered;
                self.chain.extend(chain);
                self.candidate_failed(now, DnsErrorKind::NxDomain);
            }
            wire::Verdict::NoData { chain } => {
                self.tries[idx].outcome = TryOutcome::Answered;
                self.chain.extend(chain);
                self.candidate_failed(now, DnsErrorKind::NoData);
            }
            wire::Verdict::CnameLoop => {
                self.tries[idx].outcome = TryOutcome::Answered;
                self.fail(DnsErrorKind::CnameLoop);
            }
            wire::Verdict::CnameLimit => {
                self.tries[idx].outcome = TryOutcome::Answered;
                self.fail(DnsErrorKind::CnameLimit);
            }
            wire::Verdict::Chase { chain, target } => {
                self.tries[idx].outcome = TryOutcome::Cname;
                self.chain.extend(chain);
                if self.chain.len() > MAX_CNAME_LINKS {
                    return self.fail(DnsErrorKind::CnameLimit);
                }
                let seen = self
                    .chain
                    .iter()
                    .any(|l| l.name.eq_ignore_ascii_case(&target))
                    || self.candidates[self.candidate].eq_ignore_ascii_case(&target);
                if seen {
                    return self.fail(DnsErrorKind::CnameLoop);
                }
                // The target came off the wire in presentation form: it can only be asked again if
                // it needed no escapes (`\DDD`, `\.`) and fits the limits.
                if target.contains('\\') || name::check_ascii_name(&target).is_err() {
                    return self.fail(DnsErrorKind::Malformed);
                }
                self.start_question(now, self.candidate, Some(target));
            }
        }
    }

    /// Every try of the current question is used up: decide what the question's result is.
    fn question_exhausted(&mut self, now: Instant) {
        let outcomes = self.tries.iter().map(|t| t.outcome);
        let mut any_servfail = false;
        let mut any_refused = false;
        let mut any_malformed = false;
        for o in outcomes {
            match o {
                TryOutcome::ServerFailure | TryOutcome::StreamError => any_servfail = true,
                TryOutcome::Refused => any_refused = true,
                TryOutcome::Malformed => any_malformed = true,
                _ => {}
            }
        }
        if any_servfail {
            // glibc res_search: SERVFAIL on one candidate moves on to the next.
            self.candidate_failed(now, DnsErrorKind::ServerFailure);
        } else if any_refused {
            self.fail(DnsErrorKind::Refused);
        } else if any_malformed {
            self.fail(DnsErrorKind::Malformed);
        } else {
            self.fail(DnsErrorKind::TimedOut);
        }
    }

    /// A candidate gave NXDOMAIN, NODATA or SERVFAIL: try the next search candidate, or end with the
    /// most useful of the negative results (no data > server failure > NXDOMAIN, as glibc does).
    fn candidate_failed(&mut self, now: Instant, kind: DnsErrorKind) {
        match kind {
            DnsErrorKind::NoData => self.negatives.nodata = true,
            DnsErrorKind::ServerFailure => self.negatives.servfail = true,
            _ => {}
        }
        if self.candidate + 1 < self.candidates.len() {
            self.chain.clear();
            self.start_question(now, self.candidate + 1, None);
            return;
        }
        let kind = if self.negatives.nodata {
            DnsErrorKind::NoData
        } else if self.negatives.servfail {
            DnsErrorKind::ServerFailure
        } else {
            kind
        };
        self.fail(kind);
    }

    fn fail(&mut self, kind: DnsErrorKind) {
        let err = DnsError {
            kind,
            name: self.qname().to_owned(),
            tries: Vec::new(),
        };
        self.finish(DnsEvent::Failed(err));
    }

    fn finish(&mut self, mut event: DnsEvent) {
        debug_assert!(!self.done, "a DnsQuery ends once");
        if let DnsEvent::Failed(e) = &mut event {
            let asked = asked(&self.cname_target, &self.candidates, self.candidate);
            let servers = &self.servers;
            let mut tries = std::mem::take(&mut self.past);
            tries.extend(self.tries.iter().map(|t| t.report(servers, asked)));
            e.tries = tries;
        }
        self.done = true;
        self.transmits.clear();
        for t in self.tries.iter_mut() {
            t.dead = true;
        }
        self.event = Some(event);
    }
}

/// Whether a reply's source address is the configured server: same IP (an IPv4-mapped IPv6 source, as
/// a dual-stack socket reports it, counts as the IPv4 address) and port; for IPv6, the scope id must
/// match when both sides carry one. Flow labels are ignored.
fn same_server(server: SocketAddr, from: SocketAddr) -> bool {
    if server.port() != from.port() || server.ip().to_canonical() != from.ip().to_canonical() {
        return false;
    }
    match (server, from) {
        (SocketAddr::V6(a), SocketAddr::V6(b)) => {
            a.scope_id() == 0 || b.scope_id() == 0 || a.scope_id() == b.scope_id()
        }
        _ => true,
    }
}

/// The name a query is asking: its CNAME target if it has one, else its current candidate (a free
/// function so that the query's other fields stay free to borrow).
fn asked<'a>(
    cname_target: &'a Option<String>,
    candidates: &'a [String],
    candidate: usize,
) -> &'a str {
    cname_target.as_deref().unwrap_or(&candidates[candidate])
}

/// The names a query tries. Nearly always one (no search list applies), kept without a list.
#[derive(Debug)]
enum Candidates {
    One(String),
    /// At least one name.
    Many(Vec<String>),
}

impl std::ops::Deref for Candidates {
    type Target = [String];
    fn deref(&self) -> &[String] {
        match self {
            Candidates::One(name) => std::slice::from_ref(name),
            Candidates::Many(names) => names,
        }
    }
}

impl std::ops::DerefMut for Candidates {
    fn deref_mut(&mut self) -> &mut [String] {
        match self {
            Candidates::One(name) => std::slice::from_mut(name),
            Candidates::Many(names) => names,
        }
    }
}

/// The names to try for `ascii` (output of `name_to_ascii`), glibc `res_search` order.
fn search_candidates(config: &DnsConfig, mut ascii: String) -> Candidates {
    if ascii.ends_with('.') {
        ascii.pop();
        return Candidates::One(ascii);
    }
    if config.search().is_empty() {
        return Candidates::One(ascii);
    }
    let dots = ascii.bytes().filter(|&b| b == b'.').count();
    let as_is_first = dots >= usize::from(config.ndots());
    let mut out = Vec::with_capacity(config.search().len() + 1);
    if as_is_first {
        out.push(ascii.clone());
    }
    for domain in config.search() {
        let c = format!("{ascii}.{domain}");
        if name::check_ascii_name(&c).is_ok() {
            out.push(c);
        }
    }
    if !as_is_first {
        out.push(ascii);
    }
    Candidates::Many(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a_try(id: u16) -> Try {
        let t = anysock_testkit::clock_origin(); // any instant will do: only ids are compared
        Try {
            server_idx: 0,
            id,
            transport: Transport::Udp,
            edns: false,
            timeout: Duration::from_secs(1),
            deadline: t,
            dead: false,
            tcp_buf: Vec::new(),
            sent_at: t,
            outcome: TryOutcome::Pending,
        }
    }

    proptest::proptest! {
        /// `Tries` behaves as the list of all tries it stands for, whatever is pushed, looked up,
        /// changed and drained.
        #[test]
        fn tries_behave_as_a_list(ops in proptest::collection::vec((0u8..4, 0u16..6), 0..40)) {
            let (mut tries, mut model) = (Tries::default(), Vec::<Try>::new());
            let mut next = 0u16;
            for (op, arg) in ops {
                match op {
                    0 | 1 => {
                        tries.push(a_try(next % 6));
                        model.push(a_try(next % 6));
                        next += 1;
                    }
                    2 => {
                        let want = model.iter().rposition(|t| t.id == arg);
                        proptest::prop_assert_eq!(tries.rposition(|t| t.id == arg), want);
                        if let Some(i) = want {
                            tries[i].dead = true;
                            model[i].dead = true;
                        }
                    }
                    _ => {
                        let got: Vec<(u16, bool)> = tries.drain().map(|t| (t.id, t.dead)).collect();
                        let want: Vec<(u16, bool)> = model.drain(..).map(|t| (t.id, t.dead)).collect();
                        proptest::prop_assert_eq!(got, want);
                    }
                }
                proptest::prop_assert_eq!(tries.len(), model.len());
                proptest::prop_assert_eq!(tries.last().map(|t| t.id), model.last().map(|t| t.id));
                let all: Vec<(u16, bool)> = tries.iter().map(|t| (t.id, t.dead)).collect();
                let want: Vec<(u16, bool)> = model.iter().map(|t| (t.id, t.dead)).collect();
                proptest::prop_assert_eq!(all, want);
            }
        }
    }

    #[test]
    fn outbox_is_first_in_first_out() {
        let t = |port: u16| Transmit {
            to: SocketAddr::from(([127, 0, 0, 1], port)),
            transport: Transport::Udp,
            payload: Vec::new(),
        };
        let mut o = Outbox::default();
        o.push(t(1));
        o.push(t(2));
        assert_eq!(o.pop().map(|t| t.to.port()), Some(1));
        o.push(t(3));
        o.push(t(4));
        let order: Vec<u16> = std::iter::from_fn(|| o.pop())
            .map(|t| t.to.port())
            .collect();
        assert_eq!(order, [2, 3, 4]);
        o.push(t(5));
        o.clear();
        assert!(o.pop().is_none());
    }

    fn cfg(servers: usize, timeout_ms: u64, search: &[&str], ndots: u8) -> DnsConfig {
        let addrs = (0..servers).map(|i| SocketAddr::from(([127, 0, 0, 1 + i as u8], 53)));
        DnsConfig::builder()
            .nameservers(addrs)
            .timeout(Duration::from_millis(timeout_ms))
            .search(search.iter().copied())
            .ndots(ndots)
            .build()
            .unwrap()
    }

    fn now() -> Instant {
        anysock_testkit::clock_origin()
    }

    #[test]
    fn glibc_try_timeouts() {
        let ms = Duration::from_millis;
        let q = DnsQuery::new(&cfg(2, 5000, &[], 1), "x.", RecordType::A, now(), 0).unwrap();
        assert_eq!(
            [q.try_timeout(0), q.try_timeout(1), q.try_timeout(2)],
            [ms(5000), ms(5000), ms(10000)]
        );
        let q = DnsQuery::new(&cfg(3, 300, &[], 1), "x.", RecordType::A, now(), 0).unwrap();
        assert_eq!(
            [q.try_timeout(0), q.try_timeout(1), q.try_timeout(3)],
            [ms(300), ms(300), ms(800)]
        );
        let q = DnsQuery::new(&cfg(1, 3_600_000, &[], 1), "x.", RecordType::A, now(), 0).unwrap();
        assert_eq!(q.try_timeout(200), MAX_TIMEOUT);
    }

    #[test]
    fn server_matching() {
        let sa = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(same_server(sa("127.0.0.1:53"), sa("127.0.0.1:53")));
        assert!(same_server(sa("127.0.0.1:53"), sa("[::ffff:127.0.0.1]:53")));
        assert!(!same_server(sa("127.0.0.1:53"), sa("127.0.0.1:54")));
        assert!(!same_server(sa("127.0.0.1:53"), sa("127.0.0.2:53")));
        let scoped = |scope: u32| {
            SocketAddr::V6(std::net::SocketAddrV6::new(
                "fe80::1".parse().unwrap(),
                53,
                0,
                scope,
            ))
        };
        let flow = SocketAddr::V6(std::net::SocketAddrV6::new(
            "fe80::1".parse().unwrap(),
            53,
            7,
            2,
        ));
        assert!(same_server(scoped(2), scoped(2)));
        assert!(same_server(scoped(2), flow));
        assert!(same_server(scoped(0), scoped(2)));
        assert!(!same_server(scoped(2), scoped(3)));
    }

    #[test]
    fn candidates_follow_res_search() {
        let c = cfg(1, 1000, &["a.example", "b.example"], 1);
        assert_eq!(
            *search_candidates(&c, "h".to_owned()),
            ["h.a.example", "h.b.example", "h"]
        );
        assert_eq!(
            *search_candidates(&c, "h.x".to_owned()),
            ["h.x", "h.x.a.example", "h.x.b.example"]
        );
        assert_eq!(*search_candidates(&c, "h.x.".to_owned()), ["h.x"]);
    }
}
