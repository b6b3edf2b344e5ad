//! A table-driven script runner for the connect machine on a virtual clock.
//!
//! A script is a list of rows `(time in ms, input, expected steps)`. Each row feeds one input at that
//! time, drains every step and compares them, formatted as short strings, with the expected ones:
//!
//! - `start #N ADDR` (plus ` until MS` when the attempt has a deadline)
//! - `cancel #N`
//! - `connected #N ADDR`
//! - `failed REASON` (the `Debug` form of [`FailReason`])
//!
//! `Run` rows advance the clock from timer to timer up to a time and prefix each step with `@MS `.
//! `Timer` rows check `poll_timeout`, `Trace` rows the attempt list (`#N ADDR START-END OUTCOME`).

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anysock_core::connect::{AttemptId, Connect, ConnectConfig, Step};
use anysock_core::rfc6724::Source;
use anysock_core::{Family, SockAddr, SockType, Target, TargetMeta, UnixAddr};

/// One input of a script.
#[derive(Clone, Copy, Debug)]
pub enum In {
    /// A answers (IPv4 targets, `ip:port`).
    A(&'static [&'static str]),
    /// AAAA answers (IPv6 targets, `[ip]:port`).
    Aaaa(&'static [&'static str]),
    /// Unix targets (paths).
    Unix(&'static [&'static str]),
    /// Targets of `family` from an SRV record of this priority.
    Srv(Family, u16, &'static [&'static str]),
    /// Targets of `family` with RFC 6724 sources (`None` = unreachable).
    Sourced(Family, &'static [(&'static str, Option<&'static str>)]),
    /// The end of resolution for a family or (`None`) overall.
    Done(Option<Family>),
    /// Resolution failed for a family or overall.
    DoneErr(Option<Family>, ErrorKind),
    /// Attempt N connected.
    Connects(u32),
    /// Attempt N failed.
    Fails(u32, ErrorKind),
    /// The caller rejects attempt N.
    Reject(u32),
    /// `handle_timeout`.
    Tick,
    /// `cancel`.
    Cancel,
    /// Advance from timer to timer (calling `handle_timeout`) until this time in ms, inclusive.
    Run(u64),
    /// Check `poll_timeout` (ms since start, or `None`).
    Timer(Option<u64>),
    /// Check the attempt trace.
    Trace(&'static [&'static str]),
}

pub use In::*;

/// The virtual clock's origin. The tests never read the clock again.
pub fn origin() -> Instant {
    anysock_testkit::clock_origin()
}

pub fn target(s: &str) -> Target {
    let sa: SocketAddr = s.parse().unwrap_or_else(|e| panic!("bad address {s}: {e}"));
    Target::new(SockType::Stream, 6, sa.into())
}

pub fn unix_target(path: &str) -> Target {
    let u = UnixAddr::pathname(path.as_bytes()).expect("unix path");
    Target::new(SockType::Stream, 0, SockAddr::Unix(u))
}

/// A machine plus its virtual clock.
pub struct Script {
    pub c: Connect,
    pub t0: Instant,
    pub now: Instant,
    /// Every id the machine handed out, by index.
    pub ids: Vec<AttemptId>,
}

fn ms(t0: Instant, t: Instant) -> u64 {
    t.saturating_duration_since(t0).as_millis() as u64
}

impl Script {
    pub fn new(cfg: ConnectConfig) -> Self {
        let t0 = origin();
        Script {
            c: Connect::new(cfg, t0),
            t0,
            now: t0,
            ids: Vec::new(),
        }
    }

    pub fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn id(&self, n: u32) -> AttemptId {
        *self
            .ids
            .get(n as usize)
            .unwrap_or_else(|| panic!("attempt #{n} was never started"))
    }

    pub fn fmt_step(&mut self, s: &Step) -> String {
        match s {
            Step::StartAttempt {
                id,
                target,
                deadline,
            } => {
                assert_eq!(id.index(), self.ids.len(), "ids are handed out in order");
                self.ids.push(*id);
                match deadline {
                    Some(d) => format!(
                        "start #{} {} until {}",
                        id.index(),
                        target.addr,
                        ms(self.t0, *d)
                    ),
                    None => format!("start #{} {}", id.index(), target.addr),
                }
            }
            Step::CancelAttempt { id } => format!("cancel #{}", id.index()),
            Step::Connected { id, target } => format!("connected #{} {}", id.index(), target.addr),
            Step::Failed(e) => format!("failed {:?}", e.reason),
            other => format!("{other:?}"),
        }
    }

    pub fn drain(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(s) = self.c.poll_step() {
            out.push(self.fmt_step(&s));
        }
        out
    }

    pub fn trace(&self) -> Vec<String> {
        self.c
            .attempts()
            .iter()
            .map(|r| {
                let end = r
                    .ended
                    .map_or("…".to_owned(), |e| ms(self.t0, e).to_string());
                let outcome = r.outcome.map_or("in flight".to_owned(), |o| o.to_string());
                format!(
                    "#{} {} {}-{} {}",
                    r.id.index(),
                    r.target.addr,
                    ms(self.t0, r.started),
                    end,
                    outcome
                )
            })
            .collect()
    }

    fn feed(&mut self, family: Family, targets: impl IntoIterator<Item = (Target, Source)>) {
        self.c
            .handle_targets_with_sources(self.now, family, targets);
    }

    /// Applies one input at `t` ms and returns the steps it produced.
    pub fn input(&mut self, t: u64, input: In) -> Vec<String> {
        let now = self.at(t);
        if !matches!(input, Run(_)) {
            self.now = now;
        }
        match input {
            A(list) => self.feed(
                Family::V4,
                list.iter().map(|s| (target(s), Source::Unknown)),
            ),
            Aaaa(list) => self.feed(
                Family::V6,
                list.iter().map(|s| (target(s), Source::Unknown)),
            ),
            Unix(list) => self.feed(
                Family::Unix,
                list.iter().map(|s| (unix_target(s), Source::Unknown)),
            ),
            Srv(family, prio, list) => self.feed(
                family,
                list.iter().map(|s| {
                    let mut t = target(s);
                    t.meta = TargetMeta::srv(prio, 0);
                    (t, Source::Unknown)
                }),
            ),
            Sourced(family, list) => self.feed(
                family,
                list.iter().map(|(s, src)| {
                    let src: Option<IpAddr> = src.map(|a| a.parse().expect("source ip"));
                    (target(s), Source::from(src))
                }),
            ),
            Done(f) => self.c.handle_resolution_done(self.now, f, Ok(())),
            DoneErr(f, k) => self.c.handle_resolution_done(self.now, f, Err(k)),
            Connects(n) => {
                let id = self.id(n);
                self.c.handle_attempt(self.now, id, Ok(()))
            }
            Fails(n, k) => {
                let id = self.id(n);
                self.c.handle_attempt(self.now, id, Err(k))
            }
            Reject(n) => {
                let id = self.id(n);
                self.c.handle_reject(self.now, id)
            }
            Tick => self.c.handle_timeout(self.now),
            Cancel => self.c.cancel(self.now),
            Run(until) => {
                let end = self.at(until);
                let mut out = self.drain();
                while let Some(t) = self.c.poll_timeout() {
                    if t > end {
                        break;
                    }
                    self.now = t;
                    self.c.handle_timeout(t);
                    let at = ms(self.t0, t);
                    for s in self.drain() {
                        out.push(format!("@{at} {s}"));
                    }
                }
                self.now = self.now.max(end);
                return out;
            }
            Timer(expect) => {
                let got = self.c.poll_timeout().map(|t| ms(self.t0, t));
                assert_eq!(got, expect, "poll_timeout at {t} ms");
            }
            Trace(expect) => {
                assert_eq!(self.trace(), expect, "trace at {t} ms");
            }
        }
        self.drain()
    }
}

/// Runs a script: each row is `(time ms, input, expected steps)`.
#[track_caller]
pub fn run(cfg: ConnectConfig, rows: &[(u64, In, &[&str])]) -> Script {
    let mut s = Script::new(cfg);
    for (i, (t, input, expect)) in rows.iter().enumerate() {
        let got = s.input(*t, *input);
        assert_eq!(
            got,
            *expect,
            "row {i} ({input:?} at {t} ms): steps differ\ntrace so far: {:#?}",
            s.trace()
        );
    }
    s
}

/// The default Happy Eyeballs configuration.
pub fn he() -> ConnectConfig {
    ConnectConfig::default()
}
