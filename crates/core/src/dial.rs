//! The dial machine: name resolution feeding Happy Eyeballs, as one sans-IO machine.
//!
//! [`Dial`] joins a [`Resolution`] (a [`Resolve`] planner and its DNS queries), or a fixed list of
//! targets, to a [`Connect`] machine: targets stream from resolution into the race as answers
//! arrive, the end of resolution (and its error) is passed on, and the final failure names both every
//! attempt and why resolution failed. Adapters only carry out [`DialOutput`]s and report back; there
//! is no protocol logic left for them. Like its parts, it has no networking code, reads no clock and
//! owns no resources: dropping it cancels everything (the adapter closes the sockets it opened).
//!
//! # The run loop (drain contract)
//!
//! After creating the machine and after **every** `handle_*` call and [`Dial::cancel`], drain
//! [`Dial::poll_output`] until `None` and carry out each output:
//! - [`DialOutput::Transmit`]: send a DNS message for a query token (UDP from the token's own socket,
//!   or over a new TCP connection); feed replies back with [`Dial::handle_datagram`],
//!   [`Dial::handle_stream`], [`Dial::handle_stream_error`].
//! - [`DialOutput::CloseQuery`]: close every socket of that token.
//! - [`DialOutput::NeedSources`]: say which source address the kernel would use for each target
//!   (RFC 6724 input; a connected UDP socket's local address, no packet sent) with
//!   [`Dial::handle_sources`]. Targets wait until their batch is answered. An adapter that cannot
//!   tell answers [`Source::Unknown`], or turns the question off with [`DialConfig::source_lookup`].
//! - [`DialOutput::StartAttempt`] / [`DialOutput::CancelAttempt`]: open or close a connection
//!   attempt; report its result with [`Dial::handle_attempt`].
//! - [`DialOutput::Connected`]: the winner. Final, unless you refuse it with [`Dial::handle_reject`]
//!   (the race then resumes). DNS queries may still be running: drop the machine (closing their
//!   sockets) or call [`Dial::cancel`] to get their `CloseQuery` outputs.
//! - [`DialOutput::Failed`]: final; every query has been closed before it.
//! - [`DialOutput::Trace`]: optional observability (attempt and DNS query starts and ends).
//!
//! Then wait for socket readiness or until [`Dial::poll_timeout`], and call [`Dial::handle_timeout`]
//! when it passes (early or repeated calls do nothing).
//!
//! ```
//! use std::collections::HashMap;
//! use std::time::{Duration, Instant};
//! use anysock_core::dial::{Dial, DialConfig, DialOutput};
//! use anysock_core::{Family, SockType, Target};
//!
//! let tcp = |s: &str| Target::new(SockType::Stream, 6, s.parse::<std::net::SocketAddr>().unwrap().into());
//! # let clock_reading = anysock_testkit::clock_origin();
//! let t0: Instant = clock_reading; // read by the adapter, passed in
//! let mut now = t0;
//! let targets = [tcp("[2001:db8::1]:443"), tcp("198.51.100.1:443")];
//! let mut dial = Dial::with_targets(targets, DialConfig::new().source_lookup(false), now);
//! let mut answers = HashMap::new(); // fake network: IPv4 connects after 20 ms, IPv6 never answers
//! let winner = 'run: loop {
//!     while let Some(out) = dial.poll_output() {
//!         match out {
//!             DialOutput::StartAttempt { id, target, .. } if target.family() == Family::V4 => {
//!                 answers.insert(id, now + Duration::from_millis(20));
//!             }
//!             DialOutput::CancelAttempt { id } => { answers.remove(&id); }
//!             DialOutput::Connected { target, .. } => break 'run target,
//!             DialOutput::Failed(e) => panic!("{e}"),
//!             _ => {}
//!         }
//!     }
//!     let next = answers.iter().map(|(id, t)| (*t, *id)).min();
//!     match (next, dial.poll_timeout()) {
//!         (Some((t, id)), timer) if timer.is_none_or(|d| t <= d) => {
//!             now = t;
//!             answers.remove(&id);
//!             dial.handle_attempt(now, id, Ok(()));
//!         }
//!         (_, timer) => {
//!             now = timer.expect("a timer or an attempt is always pending");
//!             dial.handle_timeout(now);
//!         }
//!     }
//! };
//! assert_eq!(winner.family(), Family::V4);
//! assert_eq!(now - t0, Duration::from_millis(270)); // 250 ms attempt delay + 20 ms
//! ```

use core::fmt;
use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Instant;

use crate::connect::{
    AttemptId, AttemptRecord, Connect, ConnectConfig, ConnectError, Event, FailReason, Step,
};
use crate::dns::Transmit;
use crate::resolution::{
    DnsInput, QueryRecord, QueryToken, Resolution, ResolutionEvent, resolve_error_kind,
};
use crate::resolv_conf::DnsConfig;
use crate::resolve::{Resolve, ResolveError};
use crate::rfc6724::Source;
use crate::sockaddr::SockAddr;
use crate::target::{Family, Target};

/// Settings of a [`Dial`]: the connect machine's configuration and whether to ask the adapter for
/// source addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DialConfig {
    connect: ConnectConfig,
    source_lookup: bool,
}

impl Default for DialConfig {
    fn default() -> Self {
        DialConfig::new()
    }
}

impl DialConfig {
    /// Happy Eyeballs with RFC 8305's defaults, asking for source addresses.
    pub fn new() -> Self {
        DialConfig {
            connect: ConnectConfig::default(),
            source_lookup: true,
        }
    }

    /// The connect machine's configuration (mode, delays, concurrency, timeouts).
    pub fn connect(mut self, config: ConnectConfig) -> Self {
        self.connect = config;
        self
    }

    /// Whether to emit [`DialOutput::NeedSources`] for IP targets (default `true`). Off: targets go
    /// into the race at once with [`Source::Unknown`] (RFC 6724 then uses only the rules that need no
    /// source address).
    pub fn source_lookup(mut self, on: bool) -> Self {
        self.source_lookup = on;
        self
    }

    /// The connect machine's configuration.
    pub fn connect_config(&self) -> &ConnectConfig {
        &self.connect
    }
}

/// Identifies a [`DialOutput::NeedSources`] question; hand it back to [`Dial::handle_sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SourceBatch(u32);

impl SourceBatch {
    /// The batch as a number (counting from 0).
    pub const fn as_u32(self) -> u32 {
        self.0
    }
}

/// A trace event, for logs and `--trace`: DNS queries and connection attempts, with their timing.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceEvent {
    /// A DNS query started.
    QueryStarted(QueryRecord),
    /// A DNS query ended (its record has the end time and the result; none if cancelled).
    QueryFinished(QueryRecord),
    /// A connection attempt started.
    AttemptStarted(AttemptRecord),
    /// A connection attempt ended (a rejected winner ends a second time, as rejected).
    AttemptEnded(AttemptRecord),
}

/// The final failure of a [`Dial`]: the connect machine's report (every attempt with its address,
/// timing and outcome) and, when resolution failed, why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct DialError {
    /// The connect machine's report.
    pub connect: ConnectError,
    /// Why resolution failed, if it did (a failure is kept even when some targets were found).
    pub resolution: Option<ResolveError>,
}

impl DialError {
    /// The `io::ErrorKind` adapters should report: the resolution error's kind when nothing could be
    /// tried, else the connect machine's ([`ConnectError::kind`]).
    pub fn kind(&self) -> ErrorKind {
        match (self.connect.reason, self.resolution) {
            (FailReason::Resolution(_) | FailReason::NoTargets, Some(e)) => resolve_error_kind(e),
            _ => self.connect.kind(),
        }
    }
}

impl fmt::Display for DialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.connect.reason, self.resolution) {
            (FailReason::Resolution(_) | FailReason::NoTargets, Some(e)) => {
                write!(f, "name resolution failed: {e}")?;
                if !self.connect.attempts.is_empty() {
                    write!(f, "; {}", self.connect)?;
                }
                Ok(())
            }
            (_, Some(e)) => write!(f, "{} (resolution: {e})", self.connect),
            (_, None) => write!(f, "{}", self.connect),
        }
    }
}

/// An output of [`Dial`]: something the adapter must do or may log. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DialOutput {
    /// Send a DNS message for query `token`.
    Transmit {
        /// The query.
        token: QueryToken,
        /// What to send, where, over which transport.
        transmit: Transmit,
    },
    /// Query `token` ended: close its sockets.
    CloseQuery(QueryToken),
    /// Say which source address the kernel would use for each of these targets, in this order, with
    /// [`Dial::handle_sources`].
    NeedSources {
        /// The question's id.
        batch: SourceBatch,
        /// The targets.
        targets: Vec<Target>,
    },
    /// Start connecting to `target`; report with [`Dial::handle_attempt`]. The machine cancels the
    /// attempt at `deadline` (if any) with [`DialOutput::CancelAttempt`].
    StartAttempt {
        /// The attempt's id.
        id: AttemptId,
        /// Where to connect.
        target: Target,
        /// When the machine gives up on it.
        deadline: Option<Instant>,
    },
    /// Abort the attempt (close its socket).
    CancelAttempt {
        /// The attempt's id.
        id: AttemptId,
    },
    /// The attempt `id` connected and won; every other attempt has been cancelled. Final unless
    /// rejected with [`Dial::handle_reject`].
    Connected {
        /// The winning attempt.
        id: AttemptId,
        /// Its target.
        target: Target,
    },
    /// The dial failed. Final.
    Failed(DialError),
    /// An observability event.
    Trace(TraceEvent),
}

/// A resolution result waiting to go into the connect machine (in order).
#[derive(Debug)]
enum Pending {
    Targets {
        batch: SourceBatch,
        family: Family,
        targets: Vec<Target>,
        sources: Option<Vec<Source>>,
    },
    Done(Result<(), ResolveError>),
}

/// Resolution (or fixed targets) feeding a Happy Eyeballs race. See the [module docs](self).
#[derive(Debug)]
pub struct Dial {
    resolution: Option<Resolution>,
    connect: Connect,
    source_lookup: bool,
    pending: VecDeque<Pending>,
    next_batch: u32,
    resolution_error: Option<ResolveError>,
    outputs: VecDeque<DialOutput>,
}

impl Dial {
    fn empty(config: DialConfig, now: Instant) -> Self {
        Dial {
            resolution: None,
            connect: Connect::new(config.connect, now),
            source_lookup: config.source_lookup,
            pending: VecDeque::new(),
            next_batch: 0,
            resolution_error: None,
            outputs: VecDeque::new(),
        }
    }

    /// Resolves with `plan` (asking DNS questions of the servers in `dns`) and connects to what it
    /// finds. `now` starts the overall deadline ([`ConnectConfig::with_overall_timeout`]), which
    /// covers resolution. `seed` seeds the DNS machines (see [`Resolution::new`]).
    pub fn new(
        plan: Resolve,
        dns: &DnsConfig,
        config: DialConfig,
        now: Instant,
        seed: u64,
    ) -> Self {
        let mut d = Self::empty(config, now);
        d.resolution = Some(Resolution::new(plan, dns, now, seed));
        d.pump(now);
        d
    }

    /// Connects to these targets (no resolution). In Happy Eyeballs mode they are sorted (RFC 6724)
    /// and interleaved by family; in serial mode they are tried in the order given.
    pub fn with_targets(
        targets: impl IntoIterator<Item = Target>,
        config: DialConfig,
        now: Instant,
    ) -> Self {
        let mut d = Self::empty(config, now);
        let targets: Vec<Target> = targets.into_iter().collect();
        if let Some(first) = targets.first() {
            // One batch: every target is known at once, so the race sorts them all together.
            let lone = targets.len() == 1;
            d.queue_targets(first.family(), targets, lone);
        }
        d.pending.push_back(Pending::Done(Ok(())));
        d.pump(now);
        d
    }

    /// A datagram arrived on query `token`'s UDP socket. Returns `true` if the query took it.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        token: QueryToken,
        from: SocketAddr,
        bytes: &[u8],
    ) -> bool {
        let taken = self
            .resolution
            .as_mut()
            .is_some_and(|r| r.handle_datagram(now, token, from, bytes));
        self.pump(now);
        taken
    }

    /// Bytes arrived on query `token`'s TCP connection to `from`. Returns `true` while the query
    /// still wants bytes from it; `false`: close that connection.
    pub fn handle_stream(
        &mut self,
        now: Instant,
        token: QueryToken,
        from: SocketAddr,
        bytes: &[u8],
    ) -> bool {
        let wanted = self
            .resolution
            .as_mut()
            .is_some_and(|r| r.handle_stream(now, token, from, bytes));
        self.pump(now);
        wanted
    }

    /// Query `token`'s TCP connection to `from` failed or closed early.
    pub fn handle_stream_error(&mut self, now: Instant, token: QueryToken, from: SocketAddr) {
        if let Some(r) = self.resolution.as_mut() {
            r.handle_stream_error(now, token, from);
        }
        self.pump(now);
    }

    /// The answer to a [`DialOutput::NeedSources`] question: one source per target, in order (missing
    /// entries count as [`Source::Unknown`], extra ones are ignored). Unknown batches are ignored.
    pub fn handle_sources(
        &mut self,
        now: Instant,
        batch: SourceBatch,
        sources: impl IntoIterator<Item = Source>,
    ) {
        for p in &mut self.pending {
            if let Pending::Targets {
                batch: b,
                targets,
                sources: s @ None,
                ..
            } = p
            {
                if *b == batch {
                    let mut v: Vec<Source> = sources.into_iter().take(targets.len()).collect();
                    v.resize(targets.len(), Source::Unknown);
                    *s = Some(v);
                    break;
                }
            }
        }
        self.pump(now);
    }

    /// The result of attempt `id`: `Ok(())` connected, `Err(kind)` failed (an adapter-enforced
    /// timeout is `Err(TimedOut)`). Results for unknown or cancelled ids are ignored.
    pub fn handle_attempt(&mut self, now: Instant, id: AttemptId, result: Result<(), ErrorKind>) {
        self.connect.handle_attempt(now, id, result);
        self.pump(now);
    }

    /// Refuses the connection [`DialOutput::Connected`] reported (AnyEvent's `$retry`, B27 fixed):
    /// the race resumes with the remaining targets.
    pub fn handle_reject(&mut self, now: Instant, id: AttemptId) {
        self.connect.handle_reject(now, id);
        self.pump(now);
    }

    /// Time has passed. Early or repeated calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(r) = self.resolution.as_mut() {
            r.handle_timeout(now);
        }
        self.connect.handle_timeout(now);
        self.pump(now);
    }

    /// Stops everything: every DNS query is closed ([`DialOutput::CloseQuery`]), every attempt in
    /// flight cancelled, and, unless a winner was already reported, [`DialOutput::Failed`] with
    /// [`FailReason::Cancelled`] is the last output.
    pub fn cancel(&mut self, now: Instant) {
        self.cancel_resolution(now);
        self.connect.cancel(now);
        self.pump(now);
    }

    /// The next output. Drain until `None` after every input.
    pub fn poll_output(&mut self) -> Option<DialOutput> {
        self.outputs.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next, if a timer is needed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let r = self.resolution.as_ref().and_then(Resolution::poll_timeout);
        let c = self.connect.poll_timeout();
        match (r, c) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True once the final output (a winner not rejected, or the failure) has been queued.
    pub fn is_finished(&self) -> bool {
        self.connect.is_finished()
    }

    /// Every attempt started so far, in order (the trace, on success and failure alike).
    pub fn attempts(&self) -> &[AttemptRecord] {
        self.connect.attempts()
    }

    /// Why resolution failed, once it did.
    pub fn resolution_error(&self) -> Option<ResolveError> {
        self.resolution_error
    }

    /// Number of DNS queries running.
    pub fn queries_running(&self) -> usize {
        self.resolution
            .as_ref()
            .map_or(0, Resolution::queries_running)
    }

    /// Number of connection attempts in flight.
    pub fn attempts_in_flight(&self) -> usize {
        self.connect.in_flight()
    }

    // ----- internals -----

    /// Queues a batch of targets; `lone` says it is the only target there will ever be (nothing to
    /// sort, so no source question).
    fn queue_targets(&mut self, family: Family, targets: Vec<Target>, lone: bool) {
        let batch = SourceBatch(self.next_batch);
        self.next_batch = self.next_batch.wrapping_add(1);
        let ask = self.source_lookup
            && !lone
            && targets.iter().any(|t| matches!(t.addr, SockAddr::Inet(_)));
        if ask {
            self.outputs.push_back(DialOutput::NeedSources {
                batch,
                targets: targets.clone(),
            });
        }
        self.pending.push_back(Pending::Targets {
            batch,
            family,
            targets,
            sources: (!ask).then(Vec::new),
        });
    }

    fn cancel_resolution(&mut self, now: Instant) {
        if let Some(r) = self.resolution.as_mut() {
            r.cancel(now);
        }
        self.drain_resolution();
        self.pending.clear();
    }

    /// Moves the resolution's outputs into ours and its results into the pending queue.
    fn drain_resolution(&mut self) {
        let Some(r) = self.resolution.as_mut() else {
            return;
        };
        while let Some((token, transmit)) = r.poll_transmit() {
            self.outputs
                .push_back(DialOutput::Transmit { token, transmit });
        }
        let mut found = Vec::new();
        while let Some(ev) = r.poll_event() {
            match ev {
                ResolutionEvent::QueryStarted(rec) => {
                    self.outputs
                        .push_back(DialOutput::Trace(TraceEvent::QueryStarted(rec)));
                }
                ResolutionEvent::QueryFinished(rec) => {
                    self.outputs.push_back(DialOutput::CloseQuery(rec.token));
                    self.outputs
                        .push_back(DialOutput::Trace(TraceEvent::QueryFinished(rec)));
                }
                ResolutionEvent::Targets { family, targets } => found.push(Ok((family, targets))),
                ResolutionEvent::Done(result) => found.push(Err(result)),
                // Addresses / Lookup come only from other planners; Cancelled needs nothing.
                _ => {}
            }
        }
        // A single target that arrives together with the end of resolution (an IP literal, a
        // one-address hosts entry) is the whole list: there is nothing to sort.
        let lone = self.next_batch == 0
            && matches!(found.as_slice(), [Ok((_, t)), Err(_)] if t.len() == 1);
        for f in found {
            match f {
                Ok((family, targets)) => self.queue_targets(family, targets, lone),
                Err(result) => self.pending.push_back(Pending::Done(result)),
            }
        }
    }

    /// Moves ready resolution results into the connect machine and the machine's steps out.
    fn pump(&mut self, now: Instant) {
        self.drain_resolution();
        loop {
            let ready = match self.pending.front() {
                Some(Pending::Targets { sources, .. }) => sources.is_some(),
                Some(Pending::Done(_)) => true,
                None => false,
            };
            if !ready {
                break;
            }
            match self.pending.pop_front() {
                Some(Pending::Targets {
                    family,
                    targets,
                    sources,
                    ..
                }) => {
                    let sources = sources.unwrap_or_default();
                    let with_sources = targets
                        .into_iter()
                        .enumerate()
                        .map(|(i, t)| (t, sources.get(i).copied().unwrap_or(Source::Unknown)));
                    self.connect
                        .handle_targets_with_sources(now, family, with_sources);
                }
                Some(Pending::Done(result)) => {
                    if let Err(e) = result {
                        self.resolution_error = Some(e);
                    }
                    self.connect.handle_resolution_done(
                        now,
                        None,
                        result.map_err(resolve_error_kind),
                    );
                }
                None => break,
            }
            self.drain_connect(now);
        }
        self.drain_connect(now);
    }

    fn drain_connect(&mut self, now: Instant) {
        while let Some(step) = self.connect.poll_step() {
            match step {
                Step::StartAttempt {
                    id,
                    target,
                    deadline,
                } => self.outputs.push_back(DialOutput::StartAttempt {
                    id,
                    target,
                    deadline,
                }),
                Step::CancelAttempt { id } => {
                    self.outputs.push_back(DialOutput::CancelAttempt { id });
                }
                Step::Connected { id, target } => {
                    self.drain_events();
                    self.outputs.push_back(DialOutput::Connected { id, target });
                }
                Step::Failed(e) => {
                    self.drain_events();
                    // Nothing more to resolve for: close every query before the final output.
                    self.cancel_resolution(now);
                    self.outputs.push_back(DialOutput::Failed(DialError {
                        connect: e,
                        resolution: self.resolution_error,
                    }));
                }
            }
        }
        self.drain_events();
    }

    fn drain_events(&mut self) {
        while let Some(ev) = self.connect.poll_event() {
            let t = match ev {
                Event::AttemptStarted(r) => TraceEvent::AttemptStarted(r),
                Event::AttemptEnded(r) => TraceEvent::AttemptEnded(r),
            };
            self.outputs.push_back(DialOutput::Trace(t));
        }
    }
}

impl DnsInput for Dial {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::SockType;
    use std::time::Duration;

    fn t0() -> Instant {
        anysock_testkit::clock_origin()
    }

    fn tcp(s: &str) -> Target {
        Target::new(SockType::Stream, 6, s.parse::<SocketAddr>().unwrap().into())
    }

    fn drain(d: &mut Dial) -> Vec<DialOutput> {
        std::iter::from_fn(|| d.poll_output()).collect()
    }

    #[test]
    fn targets_wait_for_their_sources() {
        let now = t0();
        let mut d = Dial::with_targets(
            [tcp("[2001:db8::1]:80"), tcp("198.51.100.1:80")],
            DialConfig::new(),
            now,
        );
        let out = drain(&mut d);
        let batches: Vec<SourceBatch> = out
            .iter()
            .filter_map(|o| match o {
                DialOutput::NeedSources { batch, .. } => Some(*batch),
                _ => None,
            })
            .collect();
        assert_eq!(batches.len(), 1);
        assert!(
            !out.iter()
                .any(|o| matches!(o, DialOutput::StartAttempt { .. }))
        );
        d.handle_sources(now, SourceBatch(7), [Source::Unknown]);
        assert!(drain(&mut d).is_empty(), "an unknown batch is ignored");
        d.handle_sources(now, batches[0], [Source::Unreachable]);
        let out = drain(&mut d);
        let started: Vec<Target> = out
            .iter()
            .filter_map(|o| match o {
                DialOutput::StartAttempt { target, .. } => Some(*target),
                _ => None,
            })
            .collect();
        // IPv6 is unreachable by its source: RFC 6724 rule 1 puts IPv4 first.
        assert_eq!(started, [tcp("198.51.100.1:80")]);
    }

    #[test]
    fn a_lone_target_needs_no_source() {
        let now = t0();
        let mut d = Dial::with_targets([tcp("198.51.100.1:80")], DialConfig::new(), now);
        let out = drain(&mut d);
        assert!(
            !out.iter()
                .any(|o| matches!(o, DialOutput::NeedSources { .. }))
        );
        assert!(
            out.iter()
                .any(|o| matches!(o, DialOutput::StartAttempt { .. }))
        );
    }

    #[test]
    fn no_targets_fails_at_once() {
        let now = t0();
        let mut d = Dial::with_targets([], DialConfig::new(), now);
        let out = drain(&mut d);
        match out.last() {
            Some(DialOutput::Failed(e)) => {
                assert_eq!(e.connect.reason, FailReason::NoTargets);
                assert_eq!(e.kind(), ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
        assert!(d.is_finished());
        assert_eq!(d.poll_timeout(), None);
    }

    #[test]
    fn cancel_fails_with_cancelled_after_cancelling_attempts() {
        let now = t0();
        let mut d = Dial::with_targets(
            [tcp("198.51.100.1:80")],
            DialConfig::new().source_lookup(false),
            now,
        );
        let out = drain(&mut d);
        let id = match out
            .iter()
            .find(|o| matches!(o, DialOutput::StartAttempt { .. }))
        {
            Some(DialOutput::StartAttempt { id, .. }) => *id,
            other => panic!("{other:?}"),
        };
        d.cancel(now + Duration::from_millis(5));
        let out = drain(&mut d);
        assert!(out.contains(&DialOutput::CancelAttempt { id }));
        assert!(
            matches!(out.last(), Some(DialOutput::Failed(e)) if e.connect.reason == FailReason::Cancelled)
        );
        assert!(d.is_finished());
    }
}
