//! What a connect did, told to a person (text, trace lines) or to a program (JSON), and the exit status
//! it stands for.

use std::io::{self, Write};
#[cfg(test)]
use std::time::Duration;
use std::time::Instant;

use anysock_core::connect::{AttemptOutcome, AttemptRecord, ConnectError, FailReason};
use anysock_core::{ResolveError, SockAddr, Target};
use serde_json::{Value, json};

use crate::opts::{EXIT_ALL_FAILED, EXIT_ERROR, EXIT_NOT_FOUND, EXIT_OK, EXIT_TIMED_OUT};

/// Milliseconds from `start` to `t` (0 if `t` is earlier), with a tenth of a millisecond.
pub fn ms(start: Instant, t: Instant) -> f64 {
    let d = t.saturating_duration_since(start);
    (d.as_micros() as f64 / 100.0).round() / 10.0
}

/// How an attempt ended, in words.
pub fn outcome_text(o: Option<AttemptOutcome>) -> String {
    match o {
        None => "still in flight".into(),
        Some(AttemptOutcome::Connected) => "connected".into(),
        Some(AttemptOutcome::TimedOut) => "timed out".into(),
        Some(AttemptOutcome::Cancelled) => "cancelled".into(),
        Some(AttemptOutcome::Rejected) => "rejected after connecting".into(),
        Some(AttemptOutcome::Failed(k)) => io::Error::from(k).to_string().to_lowercase(),
        Some(other) => format!("{other}"),
    }
}

/// A short word for the outcome, for JSON.
pub fn outcome_word(o: Option<AttemptOutcome>) -> &'static str {
    match o {
        None => "in_flight",
        Some(AttemptOutcome::Connected) => "connected",
        Some(AttemptOutcome::TimedOut) => "timed_out",
        Some(AttemptOutcome::Cancelled) => "cancelled",
        Some(AttemptOutcome::Rejected) => "rejected",
        Some(AttemptOutcome::Failed(_)) => "failed",
        Some(_) => "other",
    }
}

/// Live trace lines on stderr, stamped with milliseconds since the start.
#[derive(Clone, Copy, Debug)]
pub struct Trace {
    /// When the command started its work.
    pub start: Instant,
    /// Whether lines are printed at all.
    pub on: bool,
    /// On stdout (the demo) instead of stderr.
    pub stdout: bool,
}

impl Trace {
    /// Prints one line (if tracing), at the current time.
    pub fn line(&self, what: &str) {
        if self.on {
            self.line_at(crate::clock::now(), what);
        }
    }

    /// Prints one line (if tracing) stamped with the given time.
    pub fn line_at(&self, t: Instant, what: &str) {
        if !self.on {
            return;
        }
        let line = format!("   [{:>7.1} ms] {what}\n", ms(self.start, t));
        if self.stdout {
            let mut o = io::stdout().lock();
            let _ = o.write_all(line.as_bytes());
            let _ = o.flush();
        } else {
            let _ = io::stderr().lock().write_all(line.as_bytes());
        }
    }

    /// The line for an attempt that starts now.
    pub fn attempt_started(&self, target: &Target) {
        self.line(&format!(
            "attempt to {} ({}) started",
            target.addr,
            target.family()
        ));
    }

    /// Every attempt's start and end line, in time order (for a report after the fact).
    pub fn timeline(&self, attempts: &[AttemptRecord]) {
        let mut lines: Vec<(Instant, String)> = Vec::new();
        for a in attempts {
            lines.push((
                a.started,
                format!(
                    "attempt to {} ({}) started",
                    a.target.addr,
                    a.target.family()
                ),
            ));
            if let Some(end) = a.ended {
                lines.push((end, end_text(a)));
            }
        }
        lines.sort_by_key(|(t, _)| *t);
        for (t, l) in lines {
            self.line_at(t, &l);
        }
    }

    /// The end lines of the attempts, in the order they ended.
    pub fn attempts_ended(&self, attempts: &[AttemptRecord]) {
        let mut ended: Vec<&AttemptRecord> =
            attempts.iter().filter(|a| a.ended.is_some()).collect();
        ended.sort_by_key(|a| a.ended);
        for a in ended {
            self.line_at(a.ended.expect("filtered"), &end_text(a));
        }
    }
}

fn end_text(a: &AttemptRecord) -> String {
    format!(
        "attempt to {} {} after {:.1} ms",
        a.target.addr,
        outcome_text(a.outcome),
        a.elapsed().unwrap_or_default().as_secs_f64() * 1000.0
    )
}

/// Why a connect failed, in the command's terms.
#[derive(Debug)]
pub struct Failure {
    /// The exit status.
    pub status: i32,
    /// One sentence: what failed and why.
    pub message: String,
    /// Every attempt made, if the connect got that far.
    pub attempts: Vec<AttemptRecord>,
}

/// The exit status for a resolution failure.
pub fn resolve_status(e: &ResolveError) -> i32 {
    match e {
        ResolveError::NotFound
        | ResolveError::NoAddresses
        | ResolveError::UnknownService
        | ResolveError::ServiceNotOffered => EXIT_NOT_FOUND,
        ResolveError::Lookup(anysock_core::QueryFailure::TimedOut) => EXIT_TIMED_OUT,
        ResolveError::Lookup(
            anysock_core::QueryFailure::NxDomain | anysock_core::QueryFailure::NoData,
        ) => EXIT_NOT_FOUND,
        _ => EXIT_ERROR,
    }
}

/// The exit status for an `io::Error` without a more detailed inner error.
pub fn io_status(e: &io::Error) -> i32 {
    match e.kind() {
        io::ErrorKind::NotFound => EXIT_NOT_FOUND,
        io::ErrorKind::TimedOut => EXIT_TIMED_OUT,
        _ => EXIT_ERROR,
    }
}

/// A failure from the connect machine's report (and the resolution error, if there was one).
pub fn connect_failure(
    host: &str,
    service: &str,
    error: &ConnectError,
    resolution: Option<(&dyn std::fmt::Display, i32)>,
) -> Failure {
    let n = error.attempts.len();
    let (status, message) = match error.reason {
        FailReason::NoTargets => (
            EXIT_NOT_FOUND,
            format!("cannot connect to {host} port {service}: the name has no addresses"),
        ),
        FailReason::Resolution(kind) => match resolution {
            Some((r, status)) => (
                status,
                format!("cannot connect to {host} port {service}: {r}"),
            ),
            None => (
                match kind {
                    io::ErrorKind::NotFound => EXIT_NOT_FOUND,
                    io::ErrorKind::TimedOut => EXIT_TIMED_OUT,
                    _ => EXIT_ERROR,
                },
                format!(
                    "cannot connect to {host} port {service}: name resolution failed: {}",
                    io::Error::from(kind).to_string().to_lowercase()
                ),
            ),
        },
        FailReason::AllFailed(last) => (
            EXIT_ALL_FAILED,
            format!(
                "cannot connect to {host} port {service}: {} failed (the last one: {})",
                if n == 1 {
                    "the only address".to_owned()
                } else {
                    format!("all {n} addresses")
                },
                outcome_text(Some(last))
            ),
        ),
        FailReason::TimedOut => (
            EXIT_TIMED_OUT,
            if n == 0 {
                format!(
                    "cannot connect to {host} port {service}: timed out while resolving the name"
                )
            } else {
                format!(
                    "cannot connect to {host} port {service}: timed out with {n} attempt{} made",
                    if n == 1 { "" } else { "s" }
                )
            },
        ),
        _ => (
            EXIT_ERROR,
            format!("cannot connect to {host} port {service}: {error}"),
        ),
    };
    Failure {
        status,
        message,
        attempts: error.attempts.clone(),
    }
}

/// The failure for an adapter error without a connect report (bad input, local errors).
pub fn plain_failure(host: &str, service: &str, e: &io::Error) -> Failure {
    Failure {
        status: io_status(e),
        message: format!("cannot connect to {host} port {service}: {e}"),
        attempts: Vec::new(),
    }
}

/// Prints a failure for a person: the sentence, then one line per attempt.
pub fn print_failure(f: &Failure) {
    let mut e = io::stderr().lock();
    let _ = writeln!(e, "anysock: {}", f.message);
    for a in &f.attempts {
        let _ = writeln!(
            e,
            "  {:<45} {} after {:.1} ms",
            a.target.addr.to_string(),
            outcome_text(a.outcome),
            a.elapsed().unwrap_or_default().as_secs_f64() * 1000.0
        );
    }
}

/// One attempt as JSON: address, family, start and end in ms since `start`, outcome (and error).
pub fn attempt_json(start: Instant, a: &AttemptRecord) -> Value {
    let mut o = json!({
        "address": a.target.addr.to_string(),
        "family": a.target.family().to_string(),
        "start_ms": ms(start, a.started),
        "end_ms": a.ended.map(|t| ms(start, t)),
        "outcome": outcome_word(a.outcome),
    });
    if let Some(err) = a.outcome.and_then(AttemptOutcome::error_kind)
        && a.outcome != Some(AttemptOutcome::Cancelled)
    {
        o["error"] = Value::String(outcome_text(a.outcome));
        let _ = err;
    }
    o
}

/// Which connect a summary is about.
#[derive(Clone, Copy, Debug)]
pub struct Run<'a> {
    /// The adapter's name.
    pub runtime: &'a str,
    /// The host asked for.
    pub host: &'a str,
    /// The service asked for.
    pub service: &'a str,
    /// When the connect started.
    pub start: Instant,
    /// When it ended.
    pub end: Instant,
}

/// The `--json` summary of a connect.
pub fn summary_json(
    run: &Run<'_>,
    connected: Option<&SockAddr>,
    attempts: &[AttemptRecord],
    failure: Option<&Failure>,
) -> Value {
    let Run {
        runtime,
        host,
        service,
        start,
        end,
    } = *run;
    let mut o = json!({
        "host": host,
        "service": service,
        "runtime": runtime,
        "connected": connected.map(|a| a.to_string()),
        "elapsed_ms": ms(start, end),
        "attempts": attempts.iter().map(|a| attempt_json(start, a)).collect::<Vec<_>>(),
        "exit_status": failure.map_or(EXIT_OK, |f| f.status),
    });
    if let Some(f) = failure {
        o["error"] = Value::String(f.message.clone());
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use anysock_core::connect::{Connect, ConnectConfig, Step};
    use anysock_core::{Family, SockType, Target};

    /// Runs the connect machine on a virtual clock: each target fails (or times out) with the given
    /// outcome after `ms` milliseconds; returns the machine's final error.
    fn failed_connect(
        t0: Instant,
        cfg: ConnectConfig,
        addrs: &[(&str, u64, Option<io::ErrorKind>)],
    ) -> ConnectError {
        let mut m = Connect::new(cfg, t0);
        for (a, _, _) in addrs {
            let sa: std::net::SocketAddr = a.parse().unwrap();
            let fam = if sa.is_ipv4() { Family::V4 } else { Family::V6 };
            m.handle_targets(
                t0,
                fam,
                [Target::new(SockType::Stream, 6, SockAddr::Inet(sa))],
            );
        }
        m.handle_resolution_done(t0, None, Ok(()));
        let mut now = t0;
        loop {
            while let Some(step) = m.poll_step() {
                match step {
                    Step::StartAttempt { id, target, .. } => {
                        let (_, after, err) = addrs
                            .iter()
                            .find(|(a, _, _)| {
                                a.parse::<std::net::SocketAddr>().unwrap().to_string()
                                    == target.addr.to_string()
                            })
                            .copied()
                            .unwrap();
                        if let Some(k) = err {
                            now = t0 + Duration::from_millis(after);
                            m.handle_attempt(now, id, Err(k));
                        }
                    }
                    Step::Failed(e) => return e,
                    _ => {}
                }
            }
            match m.poll_timeout() {
                Some(t) => {
                    now = now.max(t);
                    m.handle_timeout(now);
                }
                None => panic!("machine stuck"),
            }
        }
    }

    #[test]
    fn all_failed_is_status_4_with_every_address() {
        let t0 = crate::clock::now();
        let refused = Some(io::ErrorKind::ConnectionRefused);
        let err = failed_connect(
            t0,
            ConnectConfig::default(),
            &[
                ("[2001:db8::1]:80", 3, refused),
                ("198.51.100.1:80", 5, refused),
            ],
        );
        let f = connect_failure("db.example", "80", &err, None);
        assert_eq!(f.status, EXIT_ALL_FAILED);
        assert_eq!(
            f.message,
            "cannot connect to db.example port 80: all 2 addresses failed (the last one: connection refused)"
        );
        let run = Run {
            runtime: "blocking",
            host: "db.example",
            service: "80",
            start: t0,
            end: t0,
        };
        let j = summary_json(&run, None, &f.attempts, Some(&f));
        assert_eq!(j["attempts"][1]["end_ms"], 5.0);
        assert_eq!(j["attempts"][1]["outcome"], "failed");
        assert_eq!(j["attempts"][1]["error"], "connection refused");
        assert_eq!(j["exit_status"], 4);
        assert!(j["connected"].is_null());
    }

    #[test]
    fn timeout_and_not_found_statuses() {
        let t0 = crate::clock::now();
        let err = failed_connect(
            t0,
            ConnectConfig::default().with_overall_timeout(Some(Duration::from_millis(100))),
            &[("198.51.100.1:80", 0, None)],
        );
        assert_eq!(err.reason, FailReason::TimedOut);
        assert_eq!(err.attempts[0].outcome, Some(AttemptOutcome::TimedOut));
        assert_eq!(
            connect_failure("h", "80", &err, None).status,
            EXIT_TIMED_OUT
        );
        let err = ConnectError {
            reason: FailReason::Resolution(io::ErrorKind::NotFound),
            attempts: vec![],
        };
        let f = connect_failure("nx.example", "80", &err, None);
        assert_eq!(f.status, EXIT_NOT_FOUND);
        assert_eq!(resolve_status(&ResolveError::NotFound), EXIT_NOT_FOUND);
        assert_eq!(
            io_status(&io::Error::from(io::ErrorKind::TimedOut)),
            EXIT_TIMED_OUT
        );
    }

    #[test]
    fn ms_has_one_decimal() {
        let t0 = crate::clock::now();
        assert_eq!(ms(t0, t0 + Duration::from_micros(250_460)), 250.5);
        assert_eq!(ms(t0 + Duration::from_millis(1), t0), 0.0);
    }
}
