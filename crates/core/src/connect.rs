//! The connect machine: Happy Eyeballs v2 (RFC 8305) as a sans-IO state machine.
//!
//! [`Connect`] takes resolver answers ([`Target`]s, per address family, as they arrive), the end of
//! resolution, the outcome of each connection attempt, the caller's rejection of a connected stream
//! and the time; it answers with [`Step`]s: start an attempt (with its deadline), cancel one, the
//! winner, or the final failure listing every attempt. It owns every delay and timeout: the
//! Resolution Delay (§3), the Connection Attempt Delay (§5), each attempt's timeout and the overall
//! deadline. It has no networking code, reads no clock and owns no resources: dropping it is a
//! complete cancellation.
//!
//! # The run loop (drain contract)
//!
//! After **every** `handle_*` call and [`Connect::cancel`], drain [`Connect::poll_step`] until it
//! returns `None` (and [`Connect::poll_event`] if you log or trace), then sleep until
//! [`Connect::poll_timeout`] (if `Some`) or until an attempt or the resolver reports, whichever comes
//! first, and call [`Connect::handle_timeout`] when the timer fires. `handle_timeout` may be called
//! early or repeatedly: it does nothing until something is due. Exactly one final step is emitted:
//! [`Step::Connected`] (final unless you [`reject`](Connect::handle_reject) it) or
//! [`Step::Failed`]; after it, nothing.
//!
//! A [`Step::StartAttempt`] deadline is enforced by the machine: when it passes, the machine emits
//! [`Step::CancelAttempt`] for that id. The adapter may also enforce it itself and report
//! `Err(ErrorKind::TimedOut)`; whichever comes first counts. Results for unknown or cancelled ids are
//! ignored (they race the cancel).
//!
//! ```
//! use std::collections::HashMap;
//! use std::net::SocketAddr;
//! use std::time::{Duration, Instant};
//! use anysock_core::connect::{Connect, ConnectConfig, Step};
//! use anysock_core::{Family, SockType, Target};
//!
//! // A fake network: IPv6 black-holed (no answer ever), IPv4 connects 30 ms after the SYN.
//! let tcp = |s: &str| Target::new(SockType::Stream, 6, s.parse::<SocketAddr>().unwrap().into());
//! # let clock_reading = anysock_testkit::clock_origin();
//! let t0: Instant = clock_reading; // read by the adapter, passed in
//! let mut now = t0;
//! let mut hs = Connect::new(ConnectConfig::default(), now);
//! hs.handle_targets(now, Family::V6, [tcp("[2001:db8::1]:443")]);
//! hs.handle_targets(now, Family::V4, [tcp("198.51.100.1:443")]);
//! hs.handle_resolution_done(now, None, Ok(()));
//!
//! let mut answers = HashMap::new(); // attempt id -> when the fake network answers it
//! let winner = 'run: loop {
//!     while let Some(step) = hs.poll_step() {
//!         match step {
//!             Step::StartAttempt { id, target, .. } => {
//!                 if target.family() == Family::V4 {
//!                     answers.insert(id, now + Duration::from_millis(30));
//!                 }
//!             }
//!             Step::CancelAttempt { id } => { answers.remove(&id); }
//!             Step::Connected { target, .. } => break 'run target,
//!             Step::Failed(e) => panic!("{e}"),
//!             _ => {}
//!         }
//!     }
//!     // Sleep until the machine's timer or the next network event, whichever comes first.
//!     let next = answers.iter().map(|(id, t)| (*t, *id)).min();
//!     let timer = hs.poll_timeout();
//!     match next {
//!         Some((t, id)) if timer.is_none_or(|d| t <= d) => {
//!             now = t;
//!             answers.remove(&id);
//!             hs.handle_attempt(now, id, Ok(()));
//!         }
//!         _ => {
//!             now = timer.expect("the machine always has a timer or an attempt in flight");
//!             hs.handle_timeout(now);
//!         }
//!     }
//! };
//! assert_eq!(winner.family(), Family::V4);
//! // IPv6 went first at t0, IPv4 250 ms later (Connection Attempt Delay), connected at 280 ms.
//! assert_eq!(now - t0, Duration::from_millis(280));
//! assert_eq!(hs.attempts().len(), 2);
//! ```
//!
//! # Ordering
//!
//! In [`Mode::HappyEyeballs`], targets are grouped by SRV priority (lowest first; B18 policy: SRV
//! priority outranks family), sorted within a group by RFC 6724 ([`crate::rfc6724`]) using the sources
//! the adapter supplied ([`Connect::handle_targets_with_sources`]), then interleaved by family: the
//! family of the best address goes first, [`ConnectConfig::first_family_count`] of it, then one of
//! each family in turn (§4). Late answers are merged into the remaining list. Each endpoint (address,
//! socket type, protocol) is tried at most once: duplicates are dropped. In [`Mode::Serial`]
//! (AnyEvent's behaviour) the targets are tried one at a time in the order handed in.

use core::fmt;
use std::collections::VecDeque;
use std::io::ErrorKind;
use std::time::{Duration, Instant};

use crate::rfc6724::{self, Source};
use crate::target::{Family, Target};

/// RFC 8305 §3: how long to wait for AAAA answers after A answers arrived first (50 ms).
pub const RESOLUTION_DELAY: Duration = Duration::from_millis(50);
/// RFC 8305 §5: the delay between starting attempts (250 ms).
pub const CONNECTION_ATTEMPT_DELAY: Duration = Duration::from_millis(250);
/// RFC 8305 §5: the Connection Attempt Delay MUST NOT be less than 10 ms; shorter values are raised to it.
pub const MIN_CONNECTION_ATTEMPT_DELAY: Duration = Duration::from_millis(10);
/// RFC 8305 §5: the recommended lower bound of the Connection Attempt Delay (100 ms). Not enforced.
pub const RECOMMENDED_MIN_CONNECTION_ATTEMPT_DELAY: Duration = Duration::from_millis(100);
/// RFC 8305 §5: the recommended upper bound of the Connection Attempt Delay (2 s). Not enforced.
pub const RECOMMENDED_MAX_CONNECTION_ATTEMPT_DELAY: Duration = Duration::from_secs(2);
/// RFC 8305 §4: how many addresses of the first family to try before switching (1).
pub const FIRST_ADDRESS_FAMILY_COUNT: u8 = 1;
/// The default cap on attempts in flight (6, as curl).
pub const MAX_IN_FLIGHT: usize = 6;

/// How attempts are ordered and paced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// RFC 8305: resolution delay, RFC 6724 sorting, family interleaving, staggered parallel attempts.
    #[default]
    HappyEyeballs,
    /// AnyEvent's `tcp_connect`: targets in the order handed in, one at a time, the next when the
    /// previous fails or times out. No sorting, no interleaving, no resolution delay.
    Serial,
}

/// Configuration of a [`Connect`] machine.
///
/// | field | default | source |
/// |---|---|---|
/// | `mode` | [`Mode::HappyEyeballs`] | RFC 8305 |
/// | `resolution_delay` | 50 ms | RFC 8305 §3 |
/// | `attempt_delay` | 250 ms (raised to at least 10 ms) | RFC 8305 §5 |
/// | `first_family_count` | 1 | RFC 8305 §4 |
/// | `max_in_flight` | 6 | curl |
/// | `attempt_timeout` | `None` | AnyEvent has none; the kernel gives up after ~127 s on Linux |
/// | `overall_timeout` | `None` | AnyEvent has none |
///
/// Why no default timeouts: a stagger is not a timeout, and cutting slow but healthy hosts is the
/// bug users hit most (Node's 250 ms abort). Without timeouts the kernel's SYN retries (~127 s on
/// Linux) bound each attempt, exactly as in AnyEvent. Callers that want a bound set
/// `overall_timeout` (one budget for the whole connect, not divided among addresses) and, if they
/// like, `attempt_timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectConfig {
    /// Happy Eyeballs or serial.
    pub mode: Mode,
    /// RFC 8305 §3 Resolution Delay; `Duration::ZERO` disables it.
    pub resolution_delay: Duration,
    /// RFC 8305 §5 Connection Attempt Delay; values under 10 ms are treated as 10 ms.
    pub attempt_delay: Duration,
    /// RFC 8305 §4 First Address Family Count; 0 is treated as 1.
    pub first_family_count: u8,
    /// Most attempts in flight at once; 0 is treated as 1. Ignored in serial mode (always 1).
    pub max_in_flight: usize,
    /// Each attempt's own timeout, or `None`.
    pub attempt_timeout: Option<Duration>,
    /// A deadline for the whole connect, counted from [`Connect::new`], or `None`.
    pub overall_timeout: Option<Duration>,
}

impl Default for ConnectConfig {
    fn default() -> Self {
        ConnectConfig {
            mode: Mode::HappyEyeballs,
            resolution_delay: RESOLUTION_DELAY,
            attempt_delay: CONNECTION_ATTEMPT_DELAY,
            first_family_count: FIRST_ADDRESS_FAMILY_COUNT,
            max_in_flight: MAX_IN_FLIGHT,
            attempt_timeout: None,
            overall_timeout: None,
        }
    }
}

impl ConnectConfig {
    /// AnyEvent's serial behaviour (see [`Mode::Serial`]), no timeouts.
    pub fn serial() -> Self {
        ConnectConfig {
            mode: Mode::Serial,
            ..Self::default()
        }
    }
    /// Sets the mode.
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
    /// Sets the Resolution Delay.
    pub fn with_resolution_delay(mut self, d: Duration) -> Self {
        self.resolution_delay = d;
        self
    }
    /// Sets the Connection Attempt Delay (raised to at least 10 ms when used).
    pub fn with_attempt_delay(mut self, d: Duration) -> Self {
        self.attempt_delay = d;
        self
    }
    /// Sets the First Address Family Count.
    pub fn with_first_family_count(mut self, n: u8) -> Self {
        self.first_family_count = n;
        self
    }
    /// Sets the cap on attempts in flight.
    pub fn with_max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }
    /// Sets each attempt's timeout.
    pub fn with_attempt_timeout(mut self, t: Option<Duration>) -> Self {
        self.attempt_timeout = t;
        self
    }
    /// Sets the overall deadline.
    pub fn with_overall_timeout(mut self, t: Option<Duration>) -> Self {
        self.overall_timeout = t;
        self
    }

    /// The Connection Attempt Delay actually used (at least [`MIN_CONNECTION_ATTEMPT_DELAY`]).
    pub fn effective_attempt_delay(&self) -> Duration {
        self.attempt_delay.max(MIN_CONNECTION_ATTEMPT_DELAY)
    }
}

/// Identifies one connection attempt; it matches a [`Step::StartAttempt`] to later inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptId(u32);

impl AttemptId {
    /// The attempt's number: 0 for the first attempt started, 1 for the next, and so on. It is also the
    /// attempt's index in [`Connect::attempts`].
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for AttemptId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// How one attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// It connected (and won).
    Connected,
    /// The adapter reported an error.
    Failed(ErrorKind),
    /// Its deadline (own timeout or the overall deadline) passed; the machine cancelled it.
    TimedOut,
    /// It connected, then the caller rejected the connection ([`Connect::handle_reject`]).
    Rejected,
    /// Another attempt won, or the caller cancelled the whole connect.
    Cancelled,
}

impl AttemptOutcome {
    /// The `io::ErrorKind` this outcome stands for, or `None` for `Connected`.
    pub fn error_kind(self) -> Option<ErrorKind> {
        match self {
            AttemptOutcome::Connected => None,
            AttemptOutcome::Failed(k) => Some(k),
            AttemptOutcome::TimedOut => Some(ErrorKind::TimedOut),
            AttemptOutcome::Rejected => Some(ErrorKind::ConnectionAborted),
            AttemptOutcome::Cancelled => Some(ErrorKind::Interrupted),
        }
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptOutcome::Connected => f.write_str("connected"),
            AttemptOutcome::Failed(k) => write!(f, "failed: {k}"),
            AttemptOutcome::TimedOut => f.write_str("timed out"),
            AttemptOutcome::Rejected => f.write_str("rejected by the caller"),
            AttemptOutcome::Cancelled => f.write_str("cancelled"),
        }
    }
}

/// One attempt in the trace: what was tried, when, and how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The attempt's id.
    pub id: AttemptId,
    /// What was tried.
    pub target: Target,
    /// When it started.
    pub started: Instant,
    /// Its deadline, if any.
    pub deadline: Option<Instant>,
    /// When it ended (for a rejected attempt: when it was rejected), or `None` while in flight.
    pub ended: Option<Instant>,
    /// How it ended, or `None` while in flight.
    pub outcome: Option<AttemptOutcome>,
}

impl AttemptRecord {
    /// How long the attempt ran, if it ended.
    pub fn elapsed(&self) -> Option<Duration> {
        self.ended
            .map(|e| e.saturating_duration_since(self.started))
    }
    /// Start and end relative to `origin` (usually [`Connect::origin`]): the times of a `--json`
    /// attempt list.
    pub fn offsets(&self, origin: Instant) -> (Duration, Option<Duration>) {
        (
            self.started.saturating_duration_since(origin),
            self.ended.map(|e| e.saturating_duration_since(origin)),
        )
    }
    /// True if this attempt is the current winner.
    pub fn is_connected(&self) -> bool {
        self.outcome == Some(AttemptOutcome::Connected)
    }
}

/// Why the whole connect failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailReason {
    /// Resolution ended without any target and without an error.
    NoTargets,
    /// Resolution ended with an error and without any target.
    Resolution(ErrorKind),
    /// Every attempt failed; this is how the last one ended (AnyEvent's `$!`).
    AllFailed(AttemptOutcome),
    /// The overall deadline passed.
    TimedOut,
    /// The caller cancelled.
    Cancelled,
}

/// The final failure: the reason and every attempt with its address, timing and outcome.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ConnectError {
    /// Why it failed.
    pub reason: FailReason,
    /// Every attempt, in the order they were started.
    pub attempts: Vec<AttemptRecord>,
}

impl ConnectError {
    /// The `io::ErrorKind` adapters should report: `NotFound` when nothing resolved, the resolver's
    /// kind, the last attempt's kind, `TimedOut`, or `Interrupted` for a cancellation.
    pub fn kind(&self) -> ErrorKind {
        match self.reason {
            FailReason::NoTargets => ErrorKind::NotFound,
            FailReason::Resolution(k) => k,
            FailReason::AllFailed(o) => o.error_kind().unwrap_or(ErrorKind::Other),
            FailReason::TimedOut => ErrorKind::TimedOut,
            FailReason::Cancelled => ErrorKind::Interrupted,
        }
    }

    fn describe(&self) -> String {
        let head = match self.reason {
            FailReason::NoTargets => "no addresses to connect to".to_owned(),
            FailReason::Resolution(k) => format!("name resolution failed: {k}"),
            FailReason::AllFailed(o) => format!(
                "all {} connection attempts failed (last: {o})",
                self.attempts.len()
            ),
            FailReason::TimedOut => "connect timed out".to_owned(),
            FailReason::Cancelled => "connect cancelled".to_owned(),
        };
        let mut s = head;
        for a in &self.attempts {
            let outcome = a.outcome.map_or("in flight".to_owned(), |o| o.to_string());
            let ms = a.elapsed().unwrap_or_default().as_millis();
            s.push_str(&format!("; {} {outcome} after {ms} ms", a.target.addr));
        }
        s
    }
}

/// An output of the machine: something the adapter must do or learn.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Start connecting to `target`; report the result with [`Connect::handle_attempt`] and `id`.
    /// The machine cancels the attempt at `deadline` (if any) with [`Step::CancelAttempt`].
    StartAttempt {
        /// The attempt's id.
        id: AttemptId,
        /// Where to connect.
        target: Target,
        /// When the machine gives up on it.
        deadline: Option<Instant>,
    },
    /// Abort the attempt (close its socket); any later result for it is ignored.
    CancelAttempt {
        /// The attempt's id.
        id: AttemptId,
    },
    /// The attempt `id` connected and won; every other attempt has been cancelled. Final, unless the
    /// caller rejects it with [`Connect::handle_reject`].
    Connected {
        /// The winning attempt.
        id: AttemptId,
        /// Its target.
        target: Target,
    },
    /// The connect failed. Final.
    Failed(ConnectError),
}

/// An observability event: an attempt started or ended. Drain with [`Connect::poll_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An attempt started (the record has no end yet).
    AttemptStarted(AttemptRecord),
    /// An attempt ended. A connected attempt that the caller later rejects ends a second time, with
    /// [`AttemptOutcome::Rejected`].
    AttemptEnded(AttemptRecord),
}

#[derive(Clone, Copy, Debug)]
struct Candidate {
    target: Target,
    /// RFC 6724 data for IP targets, computed once.
    key: Option<rfc6724::Destination>,
    /// Arrival order; rule 10 and serial order.
    seq: u32,
}

impl Candidate {
    fn new(target: Target, source: Source, seq: u32) -> Self {
        Candidate {
            target,
            key: target
                .addr
                .as_inet()
                .map(|sa| rfc6724::Destination::new(sa.ip(), source)),
            seq,
        }
    }
    fn group(&self) -> u32 {
        self.target
            .meta
            .srv_priority
            .map_or(0, |p| u32::from(p) + 1)
    }
    fn same_endpoint(&self, t: &Target) -> bool {
        same_endpoint(&self.target, t)
    }
}

/// SRV priority group, then RFC 6724 (unix targets are equal to everything), then arrival order.
fn candidate_order(a: &Candidate, b: &Candidate) -> core::cmp::Ordering {
    a.group().cmp(&b.group()).then_with(|| {
        match (&a.key, &b.key) {
            (Some(x), Some(y)) => rfc6724::compare_destinations(x, y),
            _ => core::cmp::Ordering::Equal,
        }
        .then(a.seq.cmp(&b.seq))
    })
}

fn same_endpoint(a: &Target, b: &Target) -> bool {
    a.addr == b.addr && a.socktype == b.socktype && a.protocol == b.protocol
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Running,
    /// Connected; waiting for nothing or a rejection.
    Won(AttemptId),
    /// The final failure has been queued.
    Done,
}

/// The Happy Eyeballs v2 connect machine. See the [module docs](self) for the run loop.
#[derive(Debug)]
pub struct Connect {
    cfg: ConnectConfig,
    state: State,
    /// The time given to `new`.
    origin: Instant,
    /// The latest time seen (inputs earlier than this are treated as this).
    now: Instant,
    overall_deadline: Option<Instant>,
    /// Candidates not yet started, kept in the order they will be considered (see `sort_pending`).
    pending: Vec<Candidate>,
    next_seq: u32,
    /// Every attempt started, indexed by id.
    records: Vec<AttemptRecord>,
    /// Ids of attempts in flight.
    in_flight: Vec<AttemptId>,
    /// Attempts cancelled because another won; requeued if the winner is rejected.
    lost_race: Vec<AttemptId>,
    steps: VecDeque<Step>,
    events: VecDeque<Event>,
    // Resolution state.
    v4_done: bool,
    v6_done: bool,
    all_done: bool,
    resolution_error: Option<ErrorKind>,
    /// Set when the Resolution Delay is running (A came first, AAAA still outstanding).
    resolution_delay_until: Option<Instant>,
    /// True once the first attempt may start (Resolution Delay over or not needed).
    may_start: bool,
    /// How the attempt that ended last ended (AnyEvent's `$!`).
    last_outcome: Option<AttemptOutcome>,
    // Pacing.
    last_start: Option<Instant>,
    /// Failures (and rejections) not yet used to start the next attempt at once (§5).
    credits: u32,
    // Interleaving state, within the current SRV group.
    group: Option<u32>,
    last_family: Option<Family>,
    first_run: u8,
    switched: bool,
}

impl Connect {
    /// A new machine; `now` starts the overall deadline.
    pub fn new(cfg: ConnectConfig, now: Instant) -> Self {
        let cap = match cfg.mode {
            Mode::Serial => 1,
            Mode::HappyEyeballs => cfg.max_in_flight.clamp(1, 64),
        };
        Connect {
            cfg,
            state: State::Running,
            origin: now,
            now,
            overall_deadline: cfg.overall_timeout.and_then(|t| now.checked_add(t)),
            pending: Vec::new(),
            next_seq: 0,
            records: Vec::new(),
            in_flight: Vec::with_capacity(cap),
            lost_race: Vec::with_capacity(cap),
            steps: VecDeque::with_capacity(2 * cap + 4),
            events: VecDeque::with_capacity(2 * cap + 4),
            v4_done: false,
            v6_done: false,
            all_done: false,
            resolution_error: None,
            resolution_delay_until: None,
            may_start: false,
            last_outcome: None,
            last_start: None,
            credits: 0,
            group: None,
            last_family: None,
            first_run: 0,
            switched: false,
        }
    }

    /// The time given to [`Connect::new`]: the origin for relative times in a trace (`--json`).
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// The configuration.
    pub fn config(&self) -> &ConnectConfig {
        &self.cfg
    }

    fn serial(&self) -> bool {
        self.cfg.mode == Mode::Serial
    }

    fn cap(&self) -> usize {
        if self.serial() {
            1
        } else {
            self.cfg.max_in_flight.max(1)
        }
    }

    fn clock(&mut self, now: Instant) -> Instant {
        if now > self.now {
            self.now = now;
        }
        self.now
    }

    /// Answers for `family` (A or AAAA records turned into targets, or unix targets), with no source
    /// information: RFC 6724 then uses only the rules that need no source. Duplicates of endpoints
    /// already known are dropped. Targets whose address is not of `family` are accepted as their own
    /// family (the family argument only drives the Resolution Delay).
    pub fn handle_targets(
        &mut self,
        now: Instant,
        family: Family,
        targets: impl IntoIterator<Item = Target>,
    ) {
        self.handle_targets_with_sources(
            now,
            family,
            targets.into_iter().map(|t| (t, Source::Unknown)),
        );
    }

    /// Answers for `family` with, for each target, what the kernel would use as source address
    /// ([`Source::Addr`]), [`Source::Unreachable`] for no route, or [`Source::Unknown`].
    pub fn handle_targets_with_sources(
        &mut self,
        now: Instant,
        family: Family,
        targets: impl IntoIterator<Item = (Target, Source)>,
    ) {
        let now = self.clock(now);
        if self.state == State::Done {
            return;
        }
        let mut added = false;
        for (target, source) in targets {
            if self.knows(&target) {
                continue;
            }
            let seq = self.next_seq;
            self.next_seq = self.next_seq.saturating_add(1);
            self.pending.push(Candidate::new(target, source, seq));
            added = true;
        }
        if !added {
            self.drive(now);
            return;
        }
        // Room for one record and two events per new candidate, so that the race allocates no more.
        self.records.reserve(self.pending.len());
        self.events.reserve(2 * self.pending.len());
        self.sort_pending();
        if !self.may_start {
            if self.serial() || self.cfg.resolution_delay.is_zero() {
                self.may_start = true;
            } else if family == Family::V4 && !self.v6_done && !self.all_done && !self.has_v6() {
                // RFC 8305 §3: A first; wait a little for AAAA.
                if self.resolution_delay_until.is_none() {
                    match now.checked_add(self.cfg.resolution_delay) {
                        Some(t) => self.resolution_delay_until = Some(t),
                        // A delay too long for the clock: no delay rather than waiting forever.
                        None => self.may_start = true,
                    }
                }
            } else {
                self.may_start = true;
            }
        }
        self.drive(now);
    }

    /// The end of resolution: for one family (`Some`), or for everything (`None`). `Err` reports that
    /// resolution failed (it is used in the final error if nothing could be tried). Resolution is
    /// complete after `None`, or after both `V4` and `V6` ended; a caller that only asks for one family
    /// should send `None` when it is done.
    pub fn handle_resolution_done(
        &mut self,
        now: Instant,
        family: Option<Family>,
        result: Result<(), ErrorKind>,
    ) {
        let now = self.clock(now);
        if self.state == State::Done {
            return;
        }
        if let Err(k) = result {
            self.resolution_error = Some(k);
        }
        match family {
            None => self.all_done = true,
            Some(Family::V4) => self.v4_done = true,
            Some(Family::V6) => self.v6_done = true,
            Some(Family::Unix) => {}
        }
        if self.v4_done && self.v6_done {
            self.all_done = true;
        }
        if self.all_done || family == Some(Family::V6) {
            // Nothing more to wait for: the Resolution Delay ends.
            self.may_start = true;
            self.resolution_delay_until = None;
        }
        self.drive(now);
    }

    /// The result of attempt `id`: `Ok(())` connected, `Err(kind)` failed. Ignored for unknown, ended
    /// or cancelled ids. A result is taken before the deadlines are checked: a connection that was
    /// established when the adapter looked counts.
    pub fn handle_attempt(&mut self, now: Instant, id: AttemptId, result: Result<(), ErrorKind>) {
        let now = self.clock(now);
        if self.state != State::Running {
            return;
        }
        let Some(pos) = self.in_flight.iter().position(|&i| i == id) else {
            return;
        };
        self.in_flight.remove(pos);
        match result {
            Ok(()) => {
                self.end_attempt(id, now, AttemptOutcome::Connected);
                self.win(now, id);
            }
            Err(kind) => {
                self.end_attempt(id, now, AttemptOutcome::Failed(kind));
                self.credits = self.credits.saturating_add(1);
                self.drive(now);
            }
        }
    }

    /// The caller does not want the connection attempt `id` made (AnyEvent's `$retry`, B27 fixed): it
    /// is recorded as rejected and the race resumes with the remaining targets, including those whose
    /// attempts were cancelled when `id` won. Ignored unless `id` is the current winner.
    pub fn handle_reject(&mut self, now: Instant, id: AttemptId) {
        let now = self.clock(now);
        if self.state != State::Won(id) {
            return;
        }
        self.state = State::Running;
        self.end_attempt(id, now, AttemptOutcome::Rejected);
        // Attempts cut short by the win never got a verdict: they go back into the list.
        for k in 0..self.lost_race.len() {
            let target = self.records[self.lost_race[k].index()].target;
            let seq = self.next_seq;
            self.next_seq = self.next_seq.saturating_add(1);
            self.pending
                .push(Candidate::new(target, Source::Unknown, seq));
        }
        self.lost_race.clear();
        self.records.reserve(self.pending.len());
        self.events.reserve(2 * self.pending.len());
        self.sort_pending();
        self.credits = self.credits.saturating_add(1);
        self.drive(now);
    }

    /// Time has passed. Early or repeated calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.clock(now);
        self.drive(now);
    }

    /// The caller gives up: every attempt in flight is cancelled and [`Step::Failed`] with
    /// [`FailReason::Cancelled`] is emitted. Does nothing after the final outcome (a winner is yours).
    pub fn cancel(&mut self, now: Instant) {
        let now = self.clock(now);
        if self.state != State::Running {
            return;
        }
        self.cancel_all(now, AttemptOutcome::Cancelled);
        self.fail(FailReason::Cancelled);
    }

    /// The next step to carry out. Drain until `None` after every input.
    pub fn poll_step(&mut self) -> Option<Step> {
        self.steps.pop_front()
    }

    /// The next observability event. Optional to drain; undrained events are kept.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, or `None` if no timer is
    /// needed (finished, or waiting only for attempt results or answers without any deadline).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state != State::Running {
            return None;
        }
        let mut t = self.overall_deadline;
        let mut min = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        if self.has_deadlines() {
            for id in &self.in_flight {
                min(self.records[id.index()].deadline);
            }
        }
        if !self.may_start {
            min(self.resolution_delay_until);
        } else if !self.pending.is_empty()
            && self.in_flight.len() < self.cap()
            && !self.serial()
            && self.credits == 0
        {
            min(self.next_stagger());
        }
        t
    }

    /// Every attempt started so far, in order (index = [`AttemptId::index`]): the trace for logs or a
    /// `--json` attempt list, on success and on failure alike.
    pub fn attempts(&self) -> &[AttemptRecord] {
        &self.records
    }

    /// True once the final outcome has been emitted (a winner not rejected, or a failure).
    pub fn is_finished(&self) -> bool {
        self.state != State::Running
    }

    /// Number of attempts in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Number of targets not yet tried.
    pub fn remaining(&self) -> usize {
        self.pending.len()
    }

    // ----- internals -----

    /// True if attempts get deadlines at all.
    fn has_deadlines(&self) -> bool {
        self.cfg.attempt_timeout.is_some() || self.overall_deadline.is_some()
    }

    fn has_v6(&self) -> bool {
        self.pending.iter().any(|c| c.target.family() == Family::V6)
            || self.records.iter().any(|r| r.target.family() == Family::V6)
    }

    fn knows(&self, t: &Target) -> bool {
        self.pending.iter().any(|c| c.same_endpoint(t))
            || self.records.iter().any(|r| same_endpoint(&r.target, t))
    }

    fn sort_pending(&mut self) {
        if self.serial() {
            // Arrival order; candidates are only ever appended, so the list is already in order.
            return;
        }
        // RFC 6724's rules are pairwise and skip what is unknown, so with a mix of known and unknown
        // sources they need not form a total order, which `slice::sort*` may panic on. A stable
        // insertion sort applies them pairwise, never panics and does not allocate; the lists are
        // short and sorted once per answer.
        let v = &mut self.pending;
        for i in 1..v.len() {
            let mut j = i;
            while j > 0 && candidate_order(&v[j], &v[j - 1]) == core::cmp::Ordering::Less {
                v.swap(j, j - 1);
                j -= 1;
            }
        }
    }

    fn next_stagger(&self) -> Option<Instant> {
        match self.last_start {
            None => Some(self.now),
            Some(t) => t.checked_add(self.cfg.effective_attempt_delay()),
        }
    }

    /// Picks the index in `pending` of the next candidate to start (§4 interleaving).
    fn pick(&mut self) -> Option<usize> {
        let first = self.pending.first()?;
        if self.serial() {
            return Some(0);
        }
        let group = first.group();
        if self.group != Some(group) {
            // A new SRV priority group (or the first): start with its best address.
            self.group = Some(group);
            self.last_family = None;
            self.first_run = 0;
            self.switched = false;
            return Some(0);
        }
        let Some(last) = self.last_family else {
            return Some(0);
        };
        let in_group = |c: &Candidate| c.group() == group;
        let ffc = self.cfg.first_family_count.max(1);
        if !self.switched && self.first_run < ffc {
            if let Some(i) = self
                .pending
                .iter()
                .position(|c| in_group(c) && c.target.family() == last)
            {
                return Some(i);
            }
        }
        if let Some(i) = self
            .pending
            .iter()
            .position(|c| in_group(c) && c.target.family() != last)
        {
            return Some(i);
        }
        Some(0)
    }

    fn start_one(&mut self, now: Instant) -> bool {
        let Some(i) = self.pick() else {
            return false;
        };
        let c = self.pending.remove(i);
        let fam = c.target.family();
        if self.last_family == Some(fam) {
            self.first_run = self.first_run.saturating_add(1);
        } else {
            if self.last_family.is_some() {
                self.switched = true;
            }
            self.first_run = 1;
        }
        self.last_family = Some(fam);
        let id = AttemptId(u32::try_from(self.records.len()).unwrap_or(u32::MAX));
        let own = self.cfg.attempt_timeout.and_then(|t| now.checked_add(t));
        let deadline = match (own, self.overall_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let rec = AttemptRecord {
            id,
            target: c.target,
            started: now,
            deadline,
            ended: None,
            outcome: None,
        };
        self.records.push(rec);
        self.in_flight.push(id);
        self.events.push_back(Event::AttemptStarted(rec));
        self.steps.push_back(Step::StartAttempt {
            id,
            target: c.target,
            deadline,
        });
        self.last_start = Some(now);
        true
    }

    fn end_attempt(&mut self, id: AttemptId, now: Instant, outcome: AttemptOutcome) {
        let rec = &mut self.records[id.index()];
        rec.ended = Some(now);
        rec.outcome = Some(outcome);
        let rec = *rec;
        self.last_outcome = Some(outcome);
        self.events.push_back(Event::AttemptEnded(rec));
    }

    /// Cancels every attempt in flight, oldest first.
    fn cancel_all(&mut self, now: Instant, outcome: AttemptOutcome) {
        for k in 0..self.in_flight.len() {
            let id = self.in_flight[k];
            self.end_attempt(id, now, outcome);
            self.steps.push_back(Step::CancelAttempt { id });
        }
        self.in_flight.clear();
    }

    fn win(&mut self, now: Instant, id: AttemptId) {
        self.lost_race.clear();
        self.lost_race.extend_from_slice(&self.in_flight);
        self.cancel_all(now, AttemptOutcome::Cancelled);
        self.credits = 0;
        self.state = State::Won(id);
        self.steps.push_back(Step::Connected {
            id,
            target: self.records[id.index()].target,
        });
    }

    fn fail(&mut self, reason: FailReason) {
        self.state = State::Done;
        self.pending.clear();
        self.steps.push_back(Step::Failed(ConnectError {
            reason,
            attempts: self.records.clone(),
        }));
    }

    /// Applies due timers, starts what may start, and detects the end.
    fn drive(&mut self, now: Instant) {
        if self.state != State::Running {
            return;
        }
        if self.overall_deadline.is_some_and(|d| now >= d) {
            self.cancel_all(now, AttemptOutcome::TimedOut);
            self.fail(FailReason::TimedOut);
            return;
        }
        // Attempts past their own deadline, oldest first (`in_flight` is in id order: ids grow and
        // removal keeps the order). Without timeouts no attempt has a deadline.
        debug_assert!(self.in_flight.windows(2).all(|w| w[0] < w[1]));
        let mut i = 0;
        while self.has_deadlines() && i < self.in_flight.len() {
            let id = self.in_flight[i];
            if self.records[id.index()].deadline.is_some_and(|d| now >= d) {
                self.in_flight.remove(i);
                self.end_attempt(id, now, AttemptOutcome::TimedOut);
                self.steps.push_back(Step::CancelAttempt { id });
                self.credits = self.credits.saturating_add(1);
            } else {
                i += 1;
            }
        }
        if !self.may_start && self.resolution_delay_until.is_some_and(|d| now >= d) {
            self.may_start = true;
            self.resolution_delay_until = None;
        }
        if self.may_start {
            while !self.pending.is_empty() && self.in_flight.len() < self.cap() {
                let due = self.in_flight.is_empty()
                    || self.credits > 0
                    || (!self.serial() && self.next_stagger().is_some_and(|t| now >= t));
                if !due || !self.start_one(now) {
                    break;
                }
                self.credits = self.credits.saturating_sub(1);
            }
        }
        if self.pending.is_empty() {
            // Nothing left to use a freed slot on.
            self.credits = 0;
        }
        if self.all_done && self.pending.is_empty() && self.in_flight.is_empty() {
            let reason = match self.last_outcome {
                Some(o) => FailReason::AllFailed(o),
                None => match self.resolution_error {
                    Some(k) => FailReason::Resolution(k),
                    None => FailReason::NoTargets,
                },
            };
            self.fail(reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::SockType;
    use std::net::SocketAddr;

    fn tcp(s: &str) -> Target {
        Target::new(SockType::Stream, 6, s.parse::<SocketAddr>().unwrap().into())
    }

    /// The virtual clock's origin; tests never read the clock again.
    fn base() -> Instant {
        anysock_testkit::clock_origin()
    }

    fn drain(c: &mut Connect) -> Vec<Step> {
        core::iter::from_fn(|| c.poll_step()).collect()
    }

    #[test]
    fn aaaa_first_starts_at_once() {
        let t0 = base();
        let mut c = Connect::new(ConnectConfig::default(), t0);
        c.handle_targets(t0, Family::V6, [tcp("[2001:db8::1]:80")]);
        let s = drain(&mut c);
        assert!(matches!(s[..], [Step::StartAttempt { .. }]));
    }

    #[test]
    fn duplicates_dropped() {
        let t0 = base();
        let mut c = Connect::new(ConnectConfig::default(), t0);
        c.handle_targets(
            t0,
            Family::V6,
            [tcp("[2001:db8::1]:80"), tcp("[2001:db8::1]:80")],
        );
        c.handle_targets(t0, Family::V6, [tcp("[2001:db8::1]:80")]);
        assert_eq!(c.remaining() + c.in_flight(), 1);
    }

    #[test]
    fn clock_never_goes_back() {
        let t0 = base();
        let t1 = t0 + Duration::from_millis(10);
        let mut c = Connect::new(ConnectConfig::default(), t0);
        c.handle_timeout(t1);
        c.handle_targets(t0, Family::V6, [tcp("[2001:db8::1]:80")]);
        let s = drain(&mut c);
        assert!(matches!(s[..], [Step::StartAttempt { .. }]));
        assert_eq!(c.attempts()[0].started, t1);
    }

    #[test]
    fn trace_offsets_are_relative_to_the_origin() {
        let t0 = base();
        let ms = Duration::from_millis;
        let mut c = Connect::new(ConnectConfig::default(), t0);
        c.handle_targets(t0 + ms(5), Family::V6, [tcp("[2001:db8::1]:80")]);
        c.handle_attempt(t0 + ms(25), AttemptId(0), Ok(()));
        assert_eq!(c.origin(), t0);
        let r = c.attempts()[0];
        assert_eq!(r.offsets(c.origin()), (ms(5), Some(ms(25))));
        assert_eq!(r.elapsed(), Some(ms(20)));
        assert!(r.is_connected());
    }

    #[test]
    fn error_display_lists_attempts() {
        let t0 = base();
        let mut c = Connect::new(ConnectConfig::default(), t0);
        c.handle_targets(t0, Family::V4, [tcp("198.51.100.1:80")]);
        c.handle_resolution_done(t0, None, Ok(()));
        let id = AttemptId(0);
        c.handle_attempt(
            t0 + Duration::from_millis(3),
            id,
            Err(ErrorKind::ConnectionRefused),
        );
        let Some(Step::Failed(e)) = drain(&mut c).pop() else {
            panic!("no failure")
        };
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
        assert_eq!(
            e.to_string(),
            "all 1 connection attempts failed (last: failed: connection refused); \
             198.51.100.1:80 failed: connection refused after 3 ms"
        );
    }
}
