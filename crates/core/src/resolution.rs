//! The resolution machine: a resolve planner ([`Resolve`] or [`InetAton`]) joined to the [`DnsQuery`]
//! machines it needs, or a batch of plain record lookups.
//!
//! [`Resolution`] owns the mapping from the planner's [`Query`]s to DNS machines and from each
//! machine's [`DnsEvent`] back to the planner's [`QueryOutcome`], so that every adapter (blocking,
//! tokio, async-std/smol, a custom loop) only moves bytes. Like the machines it composes, it has no
//! networking code, reads no clock and owns no resources: dropping it cancels everything.
//!
//! Every DNS machine is known to the adapter by a [`QueryToken`]. Its transmits come out tagged with
//! the token ([`Resolution::poll_transmit`]); the adapter sends each UDP transmit from a socket of its
//! own for that token (a fresh socket per token gives the source-port randomisation of RFC 5452
//! §9.2; anysock's adapters reuse sockets only for a loopback nameserver, after a complete exchange,
//! where no off-host datagram can reach them: see `anysock_sys::dns_udp_socket`), opens a TCP
//! connection for each TCP transmit, and feeds what arrives back with the token. When a token ends,
//! [`ResolutionEvent::QueryFinished`] tells the adapter to close (or hand back) its sockets.
//!
//! # The run loop (drain contract)
//!
//! After creating the machine and after **every** `handle_*` call and [`Resolution::cancel`], drain
//! [`Resolution::poll_transmit`] until `None`, then [`Resolution::poll_event`] until `None`. Then
//! wait for a datagram or stream bytes on any token's sockets, or until [`Resolution::poll_timeout`],
//! and call [`Resolution::handle_timeout`] when it passes (early or repeated calls do nothing). The last
//! event is exactly one [`ResolutionEvent::Done`]; nothing follows it.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::{Duration, Instant};
//! use anysock_core::resolution::{Resolution, ResolutionEvent};
//! use anysock_core::resolv_conf::DnsConfig;
//! use anysock_core::{Resolve, ResolveConfig, ResolveRequest};
//!
//! let server: SocketAddr = "127.0.0.1:5353".parse().unwrap();
//! let dns = DnsConfig::builder().nameserver(server).timeout(Duration::from_secs(1)).attempts(1)
//!     .build().unwrap();
//! let plan = Resolve::new(ResolveRequest::new("db.example.", Some("5432")), &ResolveConfig::new(), 1)
//!     .unwrap();
//! # let clock_reading = anysock_testkit::clock_origin();
//! let mut now: Instant = clock_reading; // read by the adapter, passed in
//! let mut r = Resolution::new(plan, &dns, now, 0x5eed);
//! let result = 'run: loop {
//!     while let Some((_token, t)) = r.poll_transmit() {
//!         assert_eq!(t.to, server); // adapter: send t.payload from this token's socket
//!     }
//!     while let Some(ev) = r.poll_event() {
//!         match ev {
//!             ResolutionEvent::Targets { .. } => {} // stream them into a connect machine
//!             ResolutionEvent::Done(result) => break 'run result,
//!             _ => {} // QueryStarted / QueryFinished (close that token's sockets)
//!         }
//!     }
//!     // adapter: wait for datagrams until the deadline; nothing answers in this example
//!     now = r.poll_timeout().expect("queries are running");
//!     r.handle_timeout(now);
//! };
//! assert!(result.is_err()); // both queries timed out
//! ```

use core::fmt;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use crate::dns::{
    DnsAnswer, DnsError, DnsErrorKind, DnsEvent, DnsQuery, NameError, RecordData, RecordType,
    Transmit,
};
use crate::resolv_conf::DnsConfig;
use crate::resolve::{
    InetAton, InetAtonEvent, Query, QueryFailure, QueryId, QueryOutcome, QueryType, Resolve,
    ResolveError, ResolveEvent, SrvRecord,
};
use crate::rng::SplitMix64;
use crate::target::{Family, Target};

/// Identifies one DNS query machine inside a [`Resolution`] (or a [`Dial`](crate::dial::Dial)); the
/// adapter keys the query's sockets by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryToken(u64);

impl QueryToken {
    /// The token as a number (unique within one machine, counting from 0).
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for QueryToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dns{}", self.0)
    }
}

/// The trace of one DNS query: what was asked, when, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryRecord {
    /// The query's token.
    pub token: QueryToken,
    /// The name as the planner (or the caller) asked it (shared: the record is cloned into the
    /// started and finished events).
    pub name: Arc<str>,
    /// The record type.
    pub rtype: RecordType,
    /// When it started.
    pub started: Instant,
    /// When it ended, or `None` while running.
    pub ended: Option<Instant>,
    /// How it ended: the number of records found, or why it failed; `None` while running or when it
    /// was cancelled.
    pub result: Option<Result<usize, DnsErrorKind>>,
    /// How many tries (datagrams or TCP exchanges) it made.
    pub tries: usize,
}

/// Why a plain record lookup ([`Resolution::lookups`]) failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The name cannot be asked.
    #[error("invalid DNS name: {0}")]
    Name(NameError),
    /// The query failed; every try is listed.
    #[error(transparent)]
    Dns(DnsError),
}

impl LookupError {
    /// The `io::ErrorKind` adapters should report: `NotFound` for a name without such records,
    /// `TimedOut`, `InvalidInput` for a bad name, `InvalidData` for malformed replies.
    pub fn kind(&self) -> std::io::ErrorKind {
        use std::io::ErrorKind;
        match self {
            LookupError::Name(_) => ErrorKind::InvalidInput,
            LookupError::Dns(e) => match e.kind {
                DnsErrorKind::NxDomain | DnsErrorKind::NoData => ErrorKind::NotFound,
                DnsErrorKind::TimedOut => ErrorKind::TimedOut,
                DnsErrorKind::Malformed => ErrorKind::InvalidData,
                _ => ErrorKind::Other,
            },
        }
    }
}

/// An output of [`Resolution`] other than a transmit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolutionEvent {
    /// A DNS query started (trace): its first transmit is queued.
    QueryStarted(QueryRecord),
    /// A DNS query ended (answered, failed, or cancelled): close every socket of its token. Late
    /// datagrams for it are ignored.
    QueryFinished(QueryRecord),
    /// More targets of one family (a [`Resolve`] planner); see [`ResolveEvent::Targets`] for the order.
    Targets {
        /// The family of every target.
        family: Family,
        /// The targets, in the order to try them.
        targets: Vec<Target>,
    },
    /// More addresses of one family (an [`InetAton`] planner).
    Addresses {
        /// The family of every address.
        family: Family,
        /// The addresses.
        addrs: Vec<IpAddr>,
    },
    /// The result of the `index`-th question of [`Resolution::lookups`].
    Lookup {
        /// The question's position in the list given.
        index: usize,
        /// The answer or why there is none.
        result: Result<DnsAnswer, LookupError>,
    },
    /// The end, exactly once, always last (unless cancelled). For a planner: `Ok` if anything was
    /// found, else why not. For lookups: always `Ok` (each question has its own result).
    Done(Result<(), ResolveError>),
    /// The resolution was cancelled ([`Resolution::cancel`]); the final event instead of `Done`.
    Cancelled,
}

#[derive(Debug)]
enum Planner {
    Resolve(Box<Resolve>),
    Aton(Box<InetAton>),
    /// Plain lookups: how many results are still due.
    Lookups(usize),
}

/// What a running DNS machine is for.
#[derive(Clone, Copy, Debug)]
enum Purpose {
    Plan(QueryId, QueryType),
    Lookup(usize),
}

#[derive(Debug)]
struct Running {
    token: QueryToken,
    /// Boxed: a query machine is about 550 bytes, and two of them inline would make the running list
    /// a large allocation (glibc consolidates its free lists for each one).
    query: Box<DnsQuery>,
    purpose: Purpose,
    record: QueryRecord,
}

/// What the DNS sockets of a machine's queries receive, fed by query token. [`Resolution`] and
/// [`Dial`](crate::dial::Dial) both take these inputs, so an adapter's DNS I/O code can serve either
/// through this one trait; each method is the machine's `handle_*` method of the same name.
pub trait DnsInput {
    /// A datagram on `token`'s UDP socket; `true` if the query took it as its answer.
    fn datagram(&mut self, now: Instant, token: QueryToken, from: SocketAddr, bytes: &[u8])
    -> bool;
    /// Bytes from `token`'s TCP connection to `from`; `false`: close that connection.
    fn stream(&mut self, now: Instant, token: QueryToken, from: SocketAddr, bytes: &[u8]) -> bool;
    /// `token`'s TCP connection to `from` could not be opened, failed, or closed early.
    fn stream_error(&mut self, now: Instant, token: QueryToken, from: SocketAddr);
}

impl DnsInput for Resolution {
    fn datagram(
        &mut self,
        now: Instant,
        token: QueryToken,
        from: SocketAddr,
        bytes: &[u8],
    ) -> bool {
        self.handle_datagram(now, token, from, bytes)
    }
    fn stream(&mut self, now: Instant, token: QueryToken, from: SocketAddr, bytes: &[u8]) -> bool {
        self.handle_stream(now, token, from, bytes)
    }
    fn stream_error(&mut self, now: Instant, token: QueryToken, from: SocketAddr) {
        self.handle_stream_error(now, token, from);
    }
}

/// A planner and its DNS queries. See the [module docs](self) for the run loop.
#[derive(Debug)]
pub struct Resolution {
    planner: Planner,
    dns: DnsConfig,
    rng: SplitMix64,
    next_token: u64,
    running: Vec<Running>,
    events: VecDeque<ResolutionEvent>,
    finished: bool,
}

impl Resolution {
    fn with_planner(planner: Planner, dns: &DnsConfig, seed: u64) -> Self {
        Resolution {
            planner,
            dns: dns.clone(),
            rng: SplitMix64::new(seed),
            next_token: 0,
            // Sized for the common resolution (A and AAAA: two queries, four query events and a few
            // planner events) so that none of them grows: every reallocation is a copy, and a
            // `running` list of four queries would be a large (consolidating) allocation.
            running: Vec::with_capacity(2),
            events: VecDeque::with_capacity(8),
            finished: false,
        }
    }

    /// Runs a `resolve_sockaddr` planner, asking its questions of the servers in `dns`. `seed` seeds
    /// every DNS machine (each gets its own seed drawn from it); adapters pass 64 bits from the
    /// operating system's generator. The planner's own answers (IP literals, hosts file) are already
    /// queued as events.
    pub fn new(plan: Resolve, dns: &DnsConfig, now: Instant, seed: u64) -> Self {
        let mut r = Self::with_planner(Planner::Resolve(Box::new(plan)), dns, seed);
        r.pump(now);
        r
    }

    /// Runs an `inet_aton` planner (addresses only).
    pub fn inet_aton(plan: InetAton, dns: &DnsConfig, now: Instant, seed: u64) -> Self {
        let mut r = Self::with_planner(Planner::Aton(Box::new(plan)), dns, seed);
        r.pump(now);
        r
    }

    /// Plain record lookups (AnyEvent::DNS's record queries), all at once: one
    /// [`ResolutionEvent::Lookup`] per question, in the order they finish, then `Done(Ok(()))`.
    pub fn lookups<S: AsRef<str>>(
        questions: impl IntoIterator<Item = (S, RecordType)>,
        dns: &DnsConfig,
        now: Instant,
        seed: u64,
    ) -> Self {
        let mut r = Self::with_planner(Planner::Lookups(0), dns, seed);
        let mut due = 0;
        for (index, (name, rtype)) in questions.into_iter().enumerate() {
            due += 1;
            if let Err(e) =
                r.start_query(now, Arc::from(name.as_ref()), rtype, Purpose::Lookup(index))
            {
                due -= 1;
                r.events.push_back(ResolutionEvent::Lookup {
                    index,
                    result: Err(LookupError::Name(e)),
                });
            }
        }
        r.planner = Planner::Lookups(due);
        r.pump(now);
        r
    }

    /// Feeds a datagram received on `token`'s UDP socket. Returns `true` if the query took it, `false`
    /// if it was ignored (not a reply to a live try of this token, or the token has ended).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        token: QueryToken,
        from: SocketAddr,
        bytes: &[u8],
    ) -> bool {
        let Some(i) = self.index_of(token) else {
            return false;
        };
        let taken = self.running[i].query.handle_datagram(now, from, bytes);
        self.after_input(now, i);
        taken
    }

    /// Feeds bytes read from `token`'s TCP connection to `from`. Returns `true` while the query still
    /// wants bytes from that connection; `false` means close it (answered, superseded or unknown).
    pub fn handle_stream(
        &mut self,
        now: Instant,
        token: QueryToken,
        from: SocketAddr,
        bytes: &[u8],
    ) -> bool {
        let Some(i) = self.index_of(token) else {
            return false;
        };
        let wanted = self.running[i].query.handle_stream(now, from, bytes);
        let done = self.running[i].query.is_done();
        self.after_input(now, i);
        wanted && !done
    }

    /// Reports that `token`'s TCP connection to `from` could not be opened, failed, or closed before a
    /// whole reply came: the query moves on to its next try at once.
    pub fn handle_stream_error(&mut self, now: Instant, token: QueryToken, from: SocketAddr) {
        if let Some(i) = self.index_of(token) {
            self.running[i].query.handle_stream_error(now, from);
            self.after_input(now, i);
        }
    }

    /// Time has passed: every query whose try deadline passed sends its next try or fails. Early or
    /// repeated calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.running.len() {
            let due = self.running[i]
                .query
                .poll_timeout()
                .is_some_and(|d| d <= now);
            if due {
                self.running[i].query.handle_timeout(now);
                if self.after_input(now, i) {
                    // Slot `i` now holds another query (swap_remove): look at it too.
                    continue;
                }
            }
            i += 1;
        }
    }

    /// Gives up: every running query ends ([`ResolutionEvent::QueryFinished`] for each, without a
    /// result) and [`ResolutionEvent::Cancelled`] is the final event. Does nothing once finished.
    pub fn cancel(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        for mut r in self.running.drain(..) {
            r.record.ended = Some(now);
            r.record.tries = r.query.stats().udp_sent as usize + r.query.stats().tcp_sent as usize;
            self.events
                .push_back(ResolutionEvent::QueryFinished(r.record));
        }
        self.finished = true;
        self.events.push_back(ResolutionEvent::Cancelled);
    }

    /// The next message to send, tagged with its query's token. Each query keeps its own transmits
    /// (first in, first out), so an ended query's unsent ones go with it.
    pub fn poll_transmit(&mut self) -> Option<(QueryToken, Transmit)> {
        self.running
            .iter_mut()
            .find_map(|r| r.query.poll_transmit().map(|t| (r.token, t)))
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ResolutionEvent> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next: the earliest deadline of the
    /// running queries; `None` when none is running.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.running
            .iter()
            .filter_map(|r| r.query.poll_timeout())
            .min()
    }

    /// True once the final event (`Done` or `Cancelled`) has been queued.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Every target found so far, in final order (a [`Resolve`] planner; empty otherwise): the
    /// whole `resolve_sockaddr` answer once `Done(Ok(()))` came.
    pub fn targets(&self) -> Vec<Target> {
        match &self.planner {
            Planner::Resolve(p) => p.targets(),
            _ => Vec::new(),
        }
    }

    /// [`targets`](Self::targets), consuming the machine (without a copy in the common case: see
    /// [`Resolve::into_targets`]).
    pub fn into_targets(self) -> Vec<Target> {
        match self.planner {
            Planner::Resolve(p) => p.into_targets(),
            _ => Vec::new(),
        }
    }

    /// Every address found so far, in final order (an [`InetAton`] planner; empty otherwise).
    pub fn addresses(&self) -> Vec<IpAddr> {
        match &self.planner {
            Planner::Aton(p) => p.addresses(),
            _ => Vec::new(),
        }
    }

    /// Number of DNS queries running.
    pub fn queries_running(&self) -> usize {
        self.running.len()
    }

    /// The tokens of the running queries.
    pub fn running_tokens(&self) -> impl Iterator<Item = QueryToken> + '_ {
        self.running.iter().map(|r| r.token)
    }

    // ----- internals -----

    fn index_of(&self, token: QueryToken) -> Option<usize> {
        self.running.iter().position(|r| r.token == token)
    }

    fn start_query(
        &mut self,
        now: Instant,
        name: Arc<str>,
        rtype: RecordType,
        purpose: Purpose,
    ) -> Result<(), NameError> {
        let query = Box::new(DnsQuery::new(
            &self.dns,
            &name,
            rtype,
            now,
            self.rng.next_u64(),
        )?);
        let token = QueryToken(self.next_token);
        self.next_token += 1;
        let record = QueryRecord {
            token,
            name,
            rtype,
            started: now,
            ended: None,
            result: None,
            tries: 0,
        };
        self.events
            .push_back(ResolutionEvent::QueryStarted(record.clone()));
        self.running.push(Running {
            token,
            query,
            purpose,
            record,
        });
        let i = self.running.len() - 1;
        self.collect(now, i);
        Ok(())
    }

    /// Collects the outputs of query `i` after an input; then runs the planner. Returns true if the
    /// query ended and was removed (slot `i` now holds another query, or is past the end).
    fn after_input(&mut self, now: Instant, i: usize) -> bool {
        let removed = self.collect(now, i);
        self.pump(now);
        removed
    }

    /// If query `i` ended, hands its outcome on. Returns true if it ended (and was removed with
    /// `swap_remove`, with any transmit it had not handed out).
    fn collect(&mut self, now: Instant, i: usize) -> bool {
        let Some(ev) = self.running[i].query.poll_event() else {
            return false;
        };
        let mut r = self.running.swap_remove(i);
        let stats = r.query.stats();
        r.record.tries = stats.udp_sent as usize + stats.tcp_sent as usize;
        r.record.ended = Some(now);
        r.record.result = Some(match &ev {
            DnsEvent::Answer(a) => Ok(a.records.len()),
            DnsEvent::Failed(e) => Err(e.kind),
        });
        self.events
            .push_back(ResolutionEvent::QueryFinished(r.record));
        match r.purpose {
            Purpose::Plan(id, qtype) => {
                let o = outcome(qtype, ev);
                match &mut self.planner {
                    Planner::Resolve(p) => p.handle_answer(id, o),
                    Planner::Aton(p) => p.handle_answer(id, o),
                    Planner::Lookups(_) => {}
                }
            }
            Purpose::Lookup(index) => {
                let result = match ev {
                    DnsEvent::Answer(a) => Ok(a),
                    DnsEvent::Failed(e) => Err(LookupError::Dns(e)),
                };
                self.events
                    .push_back(ResolutionEvent::Lookup { index, result });
                if let Planner::Lookups(due) = &mut self.planner {
                    *due = due.saturating_sub(1);
                }
            }
        }
        true
    }

    /// Starts the planner's questions and moves its events out, until nothing moves.
    fn pump(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        loop {
            let q: Option<Query> = match &mut self.planner {
                Planner::Resolve(p) => p.poll_query(),
                Planner::Aton(p) => p.poll_query(),
                Planner::Lookups(_) => None,
            };
            let Some(q) = q else { break };
            let rtype = match q.qtype {
                QueryType::A => RecordType::A,
                QueryType::Aaaa => RecordType::Aaaa,
                _ => RecordType::Srv,
            };
            if self
                .start_query(now, q.name, rtype, Purpose::Plan(q.id, q.qtype))
                .is_err()
            {
                // A name the DNS layer cannot ask (a search candidate too long, a bad SRV target):
                // it has no such name.
                let o = QueryOutcome::Failed(QueryFailure::NxDomain);
                match &mut self.planner {
                    Planner::Resolve(p) => p.handle_answer(q.id, o),
                    Planner::Aton(p) => p.handle_answer(q.id, o),
                    Planner::Lookups(_) => {}
                }
            }
        }
        loop {
            let ev = match &mut self.planner {
                Planner::Resolve(p) => p.poll_event().map(|ev| match ev {
                    ResolveEvent::Targets { family, targets } => {
                        Ok(ResolutionEvent::Targets { family, targets })
                    }
                    ResolveEvent::Done(r) => Err(r),
                }),
                Planner::Aton(p) => p.poll_event().map(|ev| match ev {
                    InetAtonEvent::Addresses { family, addrs } => {
                        Ok(ResolutionEvent::Addresses { family, addrs })
                    }
                    InetAtonEvent::Done(r) => Err(r),
                }),
                Planner::Lookups(due) => {
                    (*due == 0 && self.running.is_empty()).then_some(Err(Ok(())))
                }
            };
            match ev {
                None => break,
                Some(Ok(ev)) => self.events.push_back(ev),
                Some(Err(result)) => {
                    // The planner is done: any query it still had running is of no use any more.
                    for mut r in self.running.drain(..) {
                        r.record.ended = Some(now);
                        self.events
                            .push_back(ResolutionEvent::QueryFinished(r.record));
                    }
                    self.finished = true;
                    self.events.push_back(ResolutionEvent::Done(result));
                    break;
                }
            }
        }
    }
}

/// A DNS outcome in the planner's terms.
fn outcome(qtype: QueryType, ev: DnsEvent) -> QueryOutcome {
    match ev {
        DnsEvent::Answer(a) => match qtype {
            QueryType::Srv => QueryOutcome::Srv(
                a.records
                    .into_iter()
                    .filter_map(|r| match r.data {
                        RecordData::Srv {
                            priority,
                            weight,
                            port,
                            target,
                        } => Some(SrvRecord {
                            priority,
                            weight,
                            port,
                            target,
                        }),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => QueryOutcome::Addresses(
                a.records
                    .into_iter()
                    .filter_map(|r| match r.data {
                        RecordData::A(ip) => Some(IpAddr::V4(ip)),
                        RecordData::Aaaa(ip) => Some(IpAddr::V6(ip)),
                        _ => None,
                    })
                    .collect(),
            ),
        },
        DnsEvent::Failed(e) => QueryOutcome::Failed(match e.kind {
            DnsErrorKind::NxDomain => QueryFailure::NxDomain,
            DnsErrorKind::NoData => QueryFailure::NoData,
            DnsErrorKind::ServerFailure => QueryFailure::ServerFailure,
            DnsErrorKind::Refused => QueryFailure::Refused,
            DnsErrorKind::TimedOut => QueryFailure::TimedOut,
            _ => QueryFailure::Malformed,
        }),
    }
}

/// The `io::ErrorKind` adapters report for a resolution failure: `NotFound` when the name (or the
/// service) does not exist or has no usable address, `TimedOut` when DNS did not answer, `Other` for
/// other DNS failures, `InvalidInput` for a bad name, service, protocol or path.
pub fn resolve_error_kind(e: ResolveError) -> std::io::ErrorKind {
    use std::io::ErrorKind;
    match e {
        ResolveError::NotFound
        | ResolveError::NoAddresses
        | ResolveError::UnknownService
        | ResolveError::UnknownProtocol
        | ResolveError::ServiceNotOffered => ErrorKind::NotFound,
        ResolveError::Lookup(QueryFailure::TimedOut) => ErrorKind::TimedOut,
        ResolveError::Lookup(_) => ErrorKind::Other,
        _ => ErrorKind::InvalidInput,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::{ResolveConfig, ResolveRequest};
    use std::time::Duration;

    fn dns() -> DnsConfig {
        DnsConfig::builder()
            .nameserver("127.0.0.1:5399".parse().unwrap())
            .timeout(Duration::from_millis(100))
            .attempts(1)
            .build()
            .unwrap()
    }

    fn t0() -> Instant {
        anysock_testkit::clock_origin()
    }

    #[test]
    fn literal_resolves_without_queries() {
        let plan = Resolve::new(
            ResolveRequest::new("127.0.0.1", Some("80")),
            &ResolveConfig::new(),
            1,
        )
        .unwrap();
        let mut r = Resolution::new(plan, &dns(), t0(), 1);
        assert!(r.poll_transmit().is_none());
        assert!(matches!(
            r.poll_event(),
            Some(ResolutionEvent::Targets {
                family: Family::V4,
                ..
            })
        ));
        assert_eq!(r.poll_event(), Some(ResolutionEvent::Done(Ok(()))));
        assert!(r.is_finished());
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn unanswered_queries_time_out_and_close() {
        let now = t0();
        let plan = Resolve::new(
            ResolveRequest::new("db.example.", Some("80")),
            &ResolveConfig::new(),
            1,
        )
        .unwrap();
        let mut r = Resolution::new(plan, &dns(), now, 1);
        let tokens: Vec<QueryToken> = std::iter::from_fn(|| r.poll_transmit())
            .map(|(t, _)| t)
            .collect();
        assert_eq!(tokens.len(), 2, "A and AAAA");
        assert_ne!(tokens[0], tokens[1]);
        let deadline = r.poll_timeout().unwrap();
        r.handle_timeout(deadline - Duration::from_millis(1));
        assert_eq!(r.queries_running(), 2, "early timeout does nothing");
        r.handle_timeout(deadline);
        let evs: Vec<_> = std::iter::from_fn(|| r.poll_event()).collect();
        let finished = evs
            .iter()
            .filter(|e| matches!(e, ResolutionEvent::QueryFinished(_)))
            .count();
        assert_eq!(finished, 2);
        assert_eq!(
            evs.last(),
            Some(&ResolutionEvent::Done(Err(ResolveError::Lookup(
                QueryFailure::TimedOut
            ))))
        );
        assert_eq!(
            resolve_error_kind(ResolveError::Lookup(QueryFailure::TimedOut)),
            std::io::ErrorKind::TimedOut
        );
    }

    #[test]
    fn cancel_closes_every_query() {
        let now = t0();
        let mut r = Resolution::lookups(
            [
                ("a.example.", RecordType::A),
                ("b.example.", RecordType::Txt),
            ],
            &dns(),
            now,
            9,
        );
        assert_eq!(r.queries_running(), 2);
        r.cancel(now);
        assert!(r.poll_transmit().is_none());
        let evs: Vec<_> = std::iter::from_fn(|| r.poll_event()).collect();
        assert_eq!(evs.last(), Some(&ResolutionEvent::Cancelled));
        assert_eq!(
            evs.iter()
                .filter(|e| matches!(e, ResolutionEvent::QueryFinished(_)))
                .count(),
            2
        );
        assert_eq!(r.poll_timeout(), None);
        r.cancel(now);
        assert!(
            r.poll_event().is_none(),
            "cancel after the end does nothing"
        );
    }

    #[test]
    fn bad_lookup_name_is_reported_per_question() {
        let now = t0();
        let long = "a".repeat(70);
        let mut r = Resolution::lookups([(long.as_str(), RecordType::A)], &dns(), now, 9);
        let evs: Vec<_> = std::iter::from_fn(|| r.poll_event()).collect();
        assert!(matches!(
            &evs[0],
            ResolutionEvent::Lookup {
                index: 0,
                result: Err(LookupError::Name(_))
            }
        ));
        assert_eq!(evs.last(), Some(&ResolutionEvent::Done(Ok(()))));
    }
}
