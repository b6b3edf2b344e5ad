//! Drives a [`Connect`] machine with an arbitrary script decoded from bytes and checks its invariants
//! after every input. Panics (with a description) on the first broken invariant.
//!
//! Invariants checked:
//! - no endpoint is started twice (except one whose attempt was cancelled because another won, after
//!   that winner was rejected);
//! - no attempt starts after a success, and nothing at all is emitted after the final failure;
//! - at most one connected result per win (one more only after each rejection);
//! - attempts in flight never exceed the cap (1 in serial mode);
//! - starts are at least the Connection Attempt Delay apart, unless nothing was in flight or an
//!   attempt ending (failure, timeout, rejection) freed the slot;
//! - cancels and results refer to attempts in flight; `poll_timeout` is never in the past after a
//!   drain; `handle_timeout` right after a drain emits nothing;
//! - every started attempt ends with a result or a cancel, except the final winner;
//! - given timeouts (or failing attempts), the machine always reaches its final outcome.

use std::collections::{BTreeSet, HashSet};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::connect::{AttemptId, AttemptOutcome, Connect, ConnectConfig, Event, Mode, Step};
use crate::rfc6724::Source;
use crate::sockaddr::{SockAddr, UnixAddr};
use crate::target::{Family, SockType, Target, TargetMeta};

/// What a script run did, for tests that want to see coverage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Attempts started.
    pub attempts: usize,
    /// True if the run ended with a winner, false with a failure.
    pub connected: bool,
    /// Rejections the machine accepted.
    pub rejects: usize,
}

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn byte(&mut self) -> u8 {
        self.next().unwrap_or(0)
    }
}

type Endpoint = (SockAddr, SockType, u8);

fn endpoint(t: &Target) -> Endpoint {
    (t.addr, t.socktype, t.protocol)
}

fn pool_target(family: Family, n: u8) -> Target {
    let addr: SockAddr = match family {
        Family::V4 => SocketAddr::from((Ipv4Addr::new(198, 51, 100, n % 8), 80)).into(),
        Family::V6 => SocketAddr::from((
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(n % 8)),
            80,
        ))
        .into(),
        Family::Unix => UnixAddr::pathname(&[b'/', b's', b'0' + n % 4])
            .map(SockAddr::Unix)
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 1)).into()),
    };
    let mut t = Target::new(
        SockType::Stream,
        if family == Family::Unix { 0 } else { 6 },
        addr,
    );
    if n & 0x80 != 0 {
        t.meta = TargetMeta::srv(u16::from((n >> 3) & 3), 0);
    }
    t
}

const KINDS: [ErrorKind; 5] = [
    ErrorKind::ConnectionRefused,
    ErrorKind::HostUnreachable,
    ErrorKind::NetworkUnreachable,
    ErrorKind::TimedOut,
    ErrorKind::ConnectionReset,
];

struct Harness {
    c: Connect,
    now: Instant,
    delay: Duration,
    serial: bool,
    cap: usize,
    /// Attempts the machine has in flight, as far as its steps tell.
    open: BTreeSet<AttemptId>,
    ever: HashSet<Endpoint>,
    /// Endpoints whose attempt was cancelled by a win, while that win stands.
    lost: Vec<Endpoint>,
    retryable: HashSet<Endpoint>,
    winner: Option<AttemptId>,
    failed: bool,
    connected_count: usize,
    rejects: usize,
    starts: usize,
    last_start: Option<Instant>,
    /// Attempt endings that free a slot, minus early starts that used them.
    credits: usize,
}

impl Harness {
    fn drain(&mut self) {
        let mut won_now = false;
        while let Some(step) = self.c.poll_step() {
            assert!(!self.failed, "step after the final failure: {step:?}");
            match step {
                Step::StartAttempt {
                    id,
                    target,
                    deadline,
                } => {
                    assert!(self.winner.is_none(), "attempt started after success");
                    assert!(!won_now, "attempt started in the same drain as a success");
                    let ep = endpoint(&target);
                    assert!(
                        !self.ever.contains(&ep) || self.retryable.remove(&ep),
                        "endpoint {} tried twice",
                        target.addr
                    );
                    self.ever.insert(ep);
                    assert_eq!(id.index(), self.starts, "ids are sequential");
                    if let Some(d) = deadline {
                        assert!(d >= self.now, "deadline in the past");
                    }
                    let early = self
                        .last_start
                        .is_some_and(|t| self.now.saturating_duration_since(t) < self.delay);
                    if early && !self.open.is_empty() {
                        assert!(
                            self.credits > 0 && !self.serial,
                            "attempt started {:?} after the previous one with {} in flight and no failure",
                            self.now
                                .saturating_duration_since(self.last_start.unwrap_or(self.now)),
                            self.open.len()
                        );
                        self.credits -= 1;
                    }
                    self.open.insert(id);
                    assert!(
                        self.open.len() <= self.cap,
                        "more than {} attempts in flight",
                        self.cap
                    );
                    self.starts += 1;
                    self.last_start = Some(self.now);
                }
                Step::CancelAttempt { id } => {
                    assert!(
                        self.open.remove(&id),
                        "cancel of {id} which is not in flight"
                    );
                    let rec = self.c.attempts()[id.index()];
                    match rec.outcome {
                        // A timeout frees a slot.
                        Some(AttemptOutcome::TimedOut) => self.credits += 1,
                        // Cancelled because another won (or by the caller).
                        Some(AttemptOutcome::Cancelled) => self.lost.push(endpoint(&rec.target)),
                        o => panic!("cancelled attempt {id} has outcome {o:?}"),
                    }
                }
                Step::Connected { id, target } => {
                    assert!(self.winner.is_none() && !won_now, "two connected results");
                    assert!(!self.open.contains(&id), "winner still in flight");
                    assert_eq!(self.c.attempts()[id.index()].target, target);
                    self.connected_count += 1;
                    assert!(
                        self.connected_count <= self.rejects + 1,
                        "connected more than once per win"
                    );
                    won_now = true;
                    self.winner = Some(id);
                    // Cancels of the losers come before Connected in the same drain.
                    assert!(
                        self.open.is_empty(),
                        "attempts still in flight after a win: {:?}",
                        self.open
                    );
                }
                Step::Failed(e) => {
                    assert!(self.winner.is_none(), "failure after success");
                    assert!(
                        self.open.is_empty(),
                        "failure with attempts in flight: {:?}",
                        self.open
                    );
                    assert_eq!(e.attempts.len(), self.starts);
                    self.failed = true;
                }
            }
        }
        while let Some(ev) = self.c.poll_event() {
            match ev {
                Event::AttemptStarted(r) => assert!(r.outcome.is_none() && r.started <= self.now),
                Event::AttemptEnded(r) => {
                    assert!(r.outcome.is_some() && r.ended.is_some_and(|e| e >= r.started))
                }
            }
        }
        assert_eq!(self.c.attempts().len(), self.starts);
        if let Some(t) = self.c.poll_timeout() {
            assert!(
                t > self.now,
                "poll_timeout {t:?} not after now {:?}",
                self.now
            );
        }
        // A repeated timeout at the same instant is a no-op.
        self.c.handle_timeout(self.now);
        assert!(
            self.c.poll_step().is_none(),
            "handle_timeout right after a drain did something"
        );
        assert_eq!(self.c.is_finished(), self.failed || self.winner.is_some());
    }

    fn result(&mut self, id: AttemptId, r: Result<(), ErrorKind>) {
        let accepted = self.open.remove(&id) && self.winner.is_none() && !self.failed;
        if !accepted && self.winner.is_none() && !self.failed {
            // Not in flight: must be ignored.
            self.c.handle_attempt(self.now, id, r);
            assert!(
                self.c.poll_step().is_none(),
                "result for {id} not in flight was used"
            );
            return;
        }
        if accepted && r.is_err() {
            self.credits += 1;
        }
        self.c.handle_attempt(self.now, id, r);
        self.drain();
    }

    fn reject(&mut self, id: AttemptId) {
        if self.winner == Some(id) {
            self.winner = None;
            self.rejects += 1;
            self.credits += 1;
            self.retryable.extend(self.lost.drain(..));
        }
        self.c.handle_reject(self.now, id);
        self.drain();
    }
}

/// Runs the script in `data` from time `t0` and checks every invariant (panics on a violation).
pub fn connect_script(t0: Instant, data: &[u8]) -> Summary {
    let mut b = Bytes(data);
    let flags = b.byte();
    let serial = flags & 1 != 0;
    let delay_ms = 10 + u64::from(b.byte());
    let mut cfg = ConnectConfig::default()
        .with_mode(if serial {
            Mode::Serial
        } else {
            Mode::HappyEyeballs
        })
        .with_attempt_delay(Duration::from_millis(delay_ms))
        .with_resolution_delay(Duration::from_millis(u64::from(b.byte() % 100)))
        .with_first_family_count(b.byte() % 4)
        .with_max_in_flight(usize::from(b.byte() % 8));
    if flags & 2 != 0 {
        cfg = cfg.with_attempt_timeout(Some(Duration::from_millis(1 + 10 * u64::from(b.byte()))));
    }
    if flags & 4 != 0 {
        cfg = cfg.with_overall_timeout(Some(Duration::from_millis(10 * u64::from(b.byte()))));
    }
    let cap = if serial { 1 } else { cfg.max_in_flight.max(1) };
    let mut h = Harness {
        c: Connect::new(cfg, t0),
        now: t0,
        delay: cfg.effective_attempt_delay(),
        serial,
        cap,
        open: BTreeSet::new(),
        ever: HashSet::new(),
        lost: Vec::new(),
        retryable: HashSet::new(),
        winner: None,
        failed: false,
        connected_count: 0,
        rejects: 0,
        starts: 0,
        last_start: None,
        credits: 0,
    };
    // A zero overall timeout is due at once: the first poll_timeout may be `t0` itself.
    h.c.handle_timeout(t0);
    h.drain();
    let mut ops = 0;
    while let Some(op) = b.next() {
        ops += 1;
        if ops > 512 {
            break;
        }
        match op % 10 {
            0 => {
                h.now += Duration::from_millis(u64::from(b.byte()) * 3);
                h.c.handle_timeout(h.now);
                h.drain();
            }
            1..=3 => {
                let family = [Family::V4, Family::V6, Family::Unix][usize::from(op % 10 - 1)];
                let n = 1 + usize::from(b.byte() % 4);
                let with_src = op & 0x80 != 0;
                let mut ts = [(pool_target(family, 0), Source::Unknown); 4];
                for slot in ts.iter_mut().take(n) {
                    let x = b.byte();
                    let src = match (with_src, x & 0x60) {
                        (false, _) => Source::Unknown,
                        (true, 0) => Source::Unreachable,
                        (true, _) => Source::Addr(match family {
                            Family::V6 => Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xff).into(),
                            _ => Ipv4Addr::new(203, 0, 113, 1).into(),
                        }),
                    };
                    *slot = (pool_target(family, x), src);
                }
                h.c.handle_targets_with_sources(h.now, family, ts.into_iter().take(n));
                h.drain();
            }
            4 => {
                let x = b.byte();
                let family = [None, Some(Family::V4), Some(Family::V6), Some(Family::Unix)]
                    [usize::from(x % 4)];
                let r = if x & 4 != 0 {
                    Err(ErrorKind::NotFound)
                } else {
                    Ok(())
                };
                h.c.handle_resolution_done(h.now, family, r);
                h.drain();
            }
            5 | 6 => {
                let x = b.byte();
                // Mostly ids in flight, sometimes stale or unknown ones.
                let id = if x & 0x80 == 0 && !h.open.is_empty() {
                    let k = usize::from(x) % h.open.len();
                    h.open.iter().nth(k).copied()
                } else {
                    (h.starts > 0).then(|| h.c.attempts()[usize::from(x) % h.starts].id)
                };
                if let Some(id) = id {
                    let r = if op % 10 == 5 {
                        Ok(())
                    } else {
                        Err(KINDS[usize::from(x) % KINDS.len()])
                    };
                    h.result(id, r);
                }
            }
            7 => {
                if let Some(w) = h.winner {
                    h.reject(w);
                } else if h.starts > 0 {
                    let id = h.c.attempts()[usize::from(b.byte()) % h.starts].id;
                    h.reject(id);
                }
            }
            8 => {
                if b.byte() % 8 == 0 {
                    let was_running = !h.failed && h.winner.is_none();
                    h.c.cancel(h.now);
                    // Cancels for everything in flight, then the failure; nothing if already final.
                    while let Some(step) = h.c.poll_step() {
                        assert!(
                            was_running,
                            "cancel after the final outcome emitted {step:?}"
                        );
                        match step {
                            Step::CancelAttempt { id } => assert!(h.open.remove(&id)),
                            Step::Failed(e) => {
                                assert!(h.open.is_empty());
                                assert_eq!(e.attempts.len(), h.starts);
                                assert_eq!(e.kind(), ErrorKind::Interrupted);
                                h.failed = true;
                            }
                            s => panic!("unexpected step after cancel: {s:?}"),
                        }
                    }
                    assert!(
                        !was_running || h.failed,
                        "cancel did not emit the final failure"
                    );
                    h.drain();
                }
            }
            _ => {
                h.now += Duration::from_millis(u64::from(b.byte() % 16));
                h.c.handle_timeout(h.now);
                h.drain();
            }
        }
    }
    // Finish: resolution ends; then only timers and failures move the machine. It must terminate.
    h.c.handle_resolution_done(h.now, None, Ok(()));
    h.drain();
    let mut guard = 0;
    while !h.c.is_finished() {
        guard += 1;
        assert!(guard < 10_000, "machine does not terminate");
        if let Some(t) = h.c.poll_timeout() {
            h.now = t;
            h.c.handle_timeout(h.now);
            h.drain();
        } else if let Some(&id) = h.open.iter().next() {
            h.result(id, Err(ErrorKind::ConnectionRefused));
        } else {
            panic!("stuck: not finished, nothing in flight, no timer");
        }
    }
    // Every started attempt ended with a result or a cancel, except the winner.
    assert!(h.open.is_empty(), "attempts never ended: {:?}", h.open);
    for r in h.c.attempts() {
        assert!(r.outcome.is_some(), "attempt {} has no outcome", r.id);
    }
    Summary {
        attempts: h.starts,
        connected: h.winner.is_some(),
        rejects: h.rejects,
    }
}
