//! The dial machine on a virtual clock: names resolved through scripted DNS replies (built with
//! hickory-proto from the machine's own queries) lead to attempts; late AAAA, NXDOMAIN, truncation
//! to TCP, overall timeout, rejection and cancellation; and a property check that a dial always ends.

mod dns_support;
use dns_support::*;

use std::collections::{BTreeMap, HashSet};
use std::io::ErrorKind;
use std::time::{Duration, Instant};

use anysock_core::connect::{AttemptId, AttemptOutcome, ConnectConfig, FailReason, Mode};
use anysock_core::dial::{Dial, DialConfig, DialError, DialOutput, TraceEvent};
use anysock_core::dns::{Transmit, Transport};
use anysock_core::resolution::QueryToken;
use anysock_core::resolv_conf::DnsConfig;
use anysock_core::rfc6724::Source;
use anysock_core::{Family, Resolve, ResolveConfig, ResolveError, ResolveRequest, Target};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType as HRecordType;
use proptest::prelude::*;

/// What the fake network does with a DNS transmit: reply after `ms` with these bytes, or nothing.
type Responder<'a> = dyn FnMut(&Transmit) -> Option<(u64, Vec<u8>)> + 'a;
/// What the fake network does with a connection attempt: a result after `ms`, or nothing (black hole).
type Network<'a> = dyn FnMut(&Target) -> Option<(u64, Result<(), ErrorKind>)> + 'a;

#[derive(Debug)]
enum Input {
    Datagram(QueryToken, Transmit, Vec<u8>),
    Attempt(AttemptId, Result<(), ErrorKind>),
}

/// A run's log: every output with its time in ms since t0, and the final outcome.
struct Run {
    log: Vec<(u64, DialOutput)>,
    end: u64,
    result: Result<Target, DialError>,
}

impl Run {
    fn starts(&self) -> Vec<(u64, String)> {
        self.log
            .iter()
            .filter_map(|(t, o)| match o {
                DialOutput::StartAttempt { target, .. } => Some((*t, target.addr.to_string())),
                _ => None,
            })
            .collect()
    }
    fn transmits(&self) -> Vec<(u64, QueryToken, Transport)> {
        self.log
            .iter()
            .filter_map(|(t, o)| match o {
                DialOutput::Transmit { token, transmit } => Some((*t, *token, transmit.transport)),
                _ => None,
            })
            .collect()
    }
    /// Every token that sent something was closed, and every started attempt ended.
    fn assert_nothing_left_open(&self) {
        let mut open: HashSet<QueryToken> = HashSet::new();
        for (_, o) in &self.log {
            match o {
                DialOutput::Transmit { token, .. } => {
                    open.insert(*token);
                }
                DialOutput::CloseQuery(token) => {
                    open.remove(token);
                }
                _ => {}
            }
        }
        if self.result.is_err() {
            assert!(open.is_empty(), "queries left open after failure: {open:?}");
        }
    }
}

fn dns_cfg() -> DnsConfig {
    config(&[NS1], 1000, 2)
}

fn plan(host: &str, service: &str) -> Resolve {
    Resolve::new(
        ResolveRequest::new(host, Some(service)),
        &ResolveConfig::new(),
        3,
    )
    .unwrap()
}

/// Drives `dial` to its end (or until `max_ms`), answering sources at once and cancelling at
/// `cancel_at` if given.
fn run(
    mut dial: Dial,
    responder: &mut Responder<'_>,
    network: &mut Network<'_>,
    reject_first: bool,
    cancel_at: Option<u64>,
) -> Run {
    let mut now = t0();
    let mut log = Vec::new();
    let mut scheduled: BTreeMap<(Instant, u64), Input> = BTreeMap::new();
    let mut seq = 0u64;
    let mut rejected = false;
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(steps < 10_000, "the dial does not end");
        while let Some(out) = dial.poll_output() {
            log.push((ms_since_t0(now), out.clone()));
            match out {
                DialOutput::Transmit { token, transmit } => {
                    if let Some((ms, bytes)) = responder(&transmit) {
                        seq += 1;
                        scheduled.insert(
                            (now + Duration::from_millis(ms), seq),
                            Input::Datagram(token, transmit, bytes),
                        );
                    }
                }
                DialOutput::CloseQuery(token) => {
                    scheduled.retain(|_, i| !matches!(i, Input::Datagram(t, ..) if *t == token));
                }
                DialOutput::NeedSources { batch, targets } => {
                    let sources: Vec<Source> = targets.iter().map(|_| Source::Unknown).collect();
                    dial.handle_sources(now, batch, sources);
                }
                DialOutput::StartAttempt { id, target, .. } => {
                    if let Some((ms, r)) = network(&target) {
                        seq += 1;
                        scheduled.insert(
                            (now + Duration::from_millis(ms), seq),
                            Input::Attempt(id, r),
                        );
                    }
                }
                DialOutput::CancelAttempt { id } => {
                    scheduled.retain(|_, i| !matches!(i, Input::Attempt(a, _) if *a == id));
                }
                DialOutput::Connected { id, target } => {
                    if reject_first && !rejected {
                        rejected = true;
                        dial.handle_reject(now, id);
                        continue;
                    }
                    assert!(dial.is_finished());
                    return Run {
                        log,
                        end: ms_since_t0(now),
                        result: Ok(target),
                    };
                }
                DialOutput::Failed(e) => {
                    assert!(dial.is_finished());
                    assert!(dial.poll_output().is_none(), "nothing after Failed");
                    assert_eq!(dial.poll_timeout(), None);
                    assert_eq!(dial.queries_running(), 0);
                    let r = Run {
                        log,
                        end: ms_since_t0(now),
                        result: Err(e),
                    };
                    r.assert_nothing_left_open();
                    return r;
                }
                _ => {}
            }
        }
        let next_input = scheduled.keys().next().copied();
        let timer = dial.poll_timeout();
        let cancel = cancel_at.map(at).filter(|c| *c >= now);
        let mut candidates: Vec<Instant> = [next_input.map(|k| k.0), timer, cancel]
            .into_iter()
            .flatten()
            .collect();
        candidates.sort();
        let Some(&t) = candidates.first() else {
            panic!("stalled: no timer, no input, not finished; log: {log:#?}");
        };
        now = now.max(t);
        if cancel == Some(t) {
            dial.cancel(now);
            continue;
        }
        if let Some(k) = next_input.filter(|k| k.0 == t) {
            match scheduled.remove(&k).unwrap() {
                Input::Datagram(token, transmit, bytes) => match transmit.transport {
                    Transport::Udp => {
                        dial.handle_datagram(now, token, transmit.to, &bytes);
                    }
                    _ => {
                        dial.handle_stream(now, token, transmit.to, &tcp_frame(&bytes));
                    }
                },
                Input::Attempt(id, r) => dial.handle_attempt(now, id, r),
            }
        } else {
            dial.handle_timeout(now);
        }
    }
}

fn qtype(t: &Transmit) -> HRecordType {
    query_of(t).queries[0].query_type()
}

/// A responder for `db.example`: A after `a_ms`, AAAA after `aaaa_ms` (`None`: never answered).
fn two_families(
    a_ms: Option<u64>,
    aaaa_ms: Option<u64>,
) -> impl FnMut(&Transmit) -> Option<(u64, Vec<u8>)> {
    move |t| match qtype(t) {
        HRecordType::A => {
            a_ms.map(|ms| (ms, answer(t, vec![rec_a("db.example", 60, "198.51.100.7")])))
        }
        HRecordType::AAAA => aaaa_ms.map(|ms| {
            (
                ms,
                answer(t, vec![rec_aaaa("db.example", 60, "2001:db8::7")]),
            )
        }),
        other => panic!("unexpected {other:?}"),
    }
}

fn dial_db(config: DialConfig) -> Dial {
    Dial::new(plan("db.example.", "5432"), &dns_cfg(), config, t0(), 42)
}

#[test]
fn resolved_name_leads_to_attempts_v6_first() {
    let mut dns = two_families(Some(10), Some(20));
    let mut net = |t: &Target| {
        Some((
            5,
            if t.family() == Family::V6 {
                Ok(())
            } else {
                Err(ErrorKind::ConnectionRefused)
            },
        ))
    };
    let r = run(dial_db(DialConfig::new()), &mut dns, &mut net, false, None);
    assert_eq!(
        r.result.clone().unwrap().addr.to_string(),
        "[2001:db8::7]:5432"
    );
    // A at 10 ms starts the Resolution Delay; AAAA at 20 ms ends it: IPv6 goes first at once.
    assert_eq!(r.starts(), [(20, "[2001:db8::7]:5432".to_owned())]);
    assert_eq!(r.end, 25);
    let tx = r.transmits();
    assert_eq!(tx.len(), 2, "one A and one AAAA query: {tx:?}");
    assert!(tx.iter().all(|(t, _, tr)| *t == 0 && *tr == Transport::Udp));
    // Trace: both queries started and finished with a result; the attempt started and ended.
    let finished: Vec<_> = r
        .log
        .iter()
        .filter_map(|(_, o)| match o {
            DialOutput::Trace(TraceEvent::QueryFinished(q)) => Some(q.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(finished.len(), 2);
    assert!(
        finished
            .iter()
            .all(|q| q.result == Some(Ok(1)) && q.tries == 1)
    );
    assert!(r.log.iter().any(|(t, o)| *t == 25
        && matches!(o, DialOutput::Trace(TraceEvent::AttemptEnded(a)) if a.outcome == Some(AttemptOutcome::Connected))));
}

#[test]
fn late_aaaa_v4_starts_after_resolution_delay_v6_joins_the_race() {
    // A at 10 ms, AAAA at 200 ms; IPv4 black-holed, IPv6 connects 30 ms after its SYN.
    let mut dns = two_families(Some(10), Some(200));
    let mut net = |t: &Target| (t.family() == Family::V6).then_some((30, Ok(())));
    let r = run(dial_db(DialConfig::new()), &mut dns, &mut net, false, None);
    assert_eq!(r.result.clone().unwrap().family(), Family::V6);
    assert_eq!(
        r.starts(),
        [
            (60, "198.51.100.7:5432".to_owned()), // 10 ms + 50 ms Resolution Delay
            (310, "[2001:db8::7]:5432".to_owned()), // 250 ms after the first attempt
        ]
    );
    assert_eq!(r.end, 340);
    // The IPv4 attempt was cancelled when IPv6 won.
    assert!(
        r.log
            .iter()
            .any(|(t, o)| *t == 340 && matches!(o, DialOutput::CancelAttempt { .. }))
    );
}

#[test]
fn nxdomain_fails_naming_the_resolution_error() {
    let mut dns = |t: &Transmit| Some((15, nxdomain(t, "example")));
    let mut net =
        |_: &Target| -> Option<(u64, Result<(), ErrorKind>)> { panic!("no attempt expected") };
    let r = run(dial_db(DialConfig::new()), &mut dns, &mut net, false, None);
    let e = r.result.clone().unwrap_err();
    assert_eq!(e.resolution, Some(ResolveError::NotFound));
    assert!(matches!(e.connect.reason, FailReason::Resolution(_)));
    assert!(e.connect.attempts.is_empty());
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("host not found"), "{e}");
    assert_eq!(r.end, 15);
}

#[test]
fn dns_timeout_fails_with_timed_out() {
    let mut dns = |_: &Transmit| None;
    let mut net = |_: &Target| None;
    let r = run(dial_db(DialConfig::new()), &mut dns, &mut net, false, None);
    let e = r.result.clone().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    // 2 attempts x 1 server at 1 s each (glibc schedule: round 1 gets 2 s / 1 server).
    assert_eq!(r.end, 3000);
    assert_eq!(r.transmits().len(), 4, "A and AAAA, two tries each");
}

#[test]
fn one_family_failing_still_connects_with_the_other() {
    let mut dns = |t: &Transmit| match qtype(t) {
        HRecordType::A => Some((5, answer(t, vec![rec_a("db.example", 60, "198.51.100.7")]))),
        _ => Some((8, rcode_only(t, ResponseCode::ServFail))),
    };
    let mut net = |_: &Target| Some((3, Ok(())));
    let r = run(dial_db(DialConfig::new()), &mut dns, &mut net, false, None);
    assert_eq!(r.result.clone().unwrap().family(), Family::V4);
}

#[test]
fn truncated_reply_falls_back_to_tcp() {
    let mut dns = |t: &Transmit| {
        let mut m = reply_msg(t, ResponseCode::NoError, vec![], vec![]);
        match (t.transport, qtype(t)) {
            (Transport::Udp, _) => {
                m.metadata.truncation = true;
                Some((2, m.to_vec().unwrap()))
            }
            (_, HRecordType::A) => {
                Some((4, answer(t, vec![rec_a("db.example", 60, "198.51.100.7")])))
            }
            _ => Some((4, nodata(t, "example"))),
        }
    };
    let mut net = |_: &Target| Some((1, Ok(())));
    let r = run(dial_db(DialConfig::new()), &mut dns, &mut net, false, None);
    assert_eq!(r.result.clone().unwrap().family(), Family::V4);
    let tcp: Vec<_> = r
        .transmits()
        .into_iter()
        .filter(|x| x.2 == Transport::Tcp)
        .collect();
    assert_eq!(tcp.len(), 2, "both queries retried over TCP: {tcp:?}");
}

#[test]
fn overall_timeout_during_dns_closes_every_query() {
    let config = DialConfig::new()
        .connect(ConnectConfig::default().with_overall_timeout(Some(Duration::from_millis(300))));
    let mut dns = |_: &Transmit| None;
    let mut net = |_: &Target| None;
    let r = run(dial_db(config), &mut dns, &mut net, false, None);
    let e = r.result.clone().unwrap_err();
    assert_eq!(e.connect.reason, FailReason::TimedOut);
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert_eq!(r.end, 300);
    let closes = r
        .log
        .iter()
        .filter(|(_, o)| matches!(o, DialOutput::CloseQuery(_)))
        .count();
    assert_eq!(closes, 2);
}

#[test]
fn cancellation_stops_dns_and_attempts() {
    // A at 10 ms, AAAA never: IPv4 starts at 60 ms and hangs; cancel at 100 ms.
    let mut dns = two_families(Some(10), None);
    let mut net = |_: &Target| None;
    let r = run(
        dial_db(DialConfig::new()),
        &mut dns,
        &mut net,
        false,
        Some(100),
    );
    let e = r.result.clone().unwrap_err();
    assert_eq!(e.connect.reason, FailReason::Cancelled);
    assert_eq!(e.kind(), ErrorKind::Interrupted);
    assert_eq!(r.end, 100);
    let at_cancel: Vec<&DialOutput> = r
        .log
        .iter()
        .filter(|(t, _)| *t == 100)
        .map(|(_, o)| o)
        .collect();
    assert!(
        at_cancel
            .iter()
            .any(|o| matches!(o, DialOutput::CloseQuery(_))),
        "{at_cancel:?}"
    );
    assert!(
        at_cancel
            .iter()
            .any(|o| matches!(o, DialOutput::CancelAttempt { .. })),
        "{at_cancel:?}"
    );
    assert_eq!(e.connect.attempts.len(), 1);
    assert_eq!(
        e.connect.attempts[0].outcome,
        Some(AttemptOutcome::Cancelled)
    );
}

#[test]
fn rejected_winner_resumes_the_race() {
    let mut dns = two_families(Some(1), Some(1));
    let mut net = |_: &Target| Some((5, Ok(())));
    let r = run(dial_db(DialConfig::new()), &mut dns, &mut net, true, None);
    // IPv6 won first and was rejected; IPv4 started at once and won.
    assert_eq!(r.result.clone().unwrap().family(), Family::V4);
    assert_eq!(
        r.starts(),
        [
            (1, "[2001:db8::7]:5432".to_owned()),
            (6, "198.51.100.7:5432".to_owned())
        ]
    );
}

#[test]
fn fixed_targets_serial_mode_in_order() {
    let tcp = |s: &str| Target::new(anysock_core::SockType::Stream, 6, sa(s).into());
    let config = DialConfig::new()
        .connect(ConnectConfig::default().with_mode(Mode::Serial))
        .source_lookup(false);
    let d = Dial::with_targets(
        [
            tcp("198.51.100.1:1"),
            tcp("[2001:db8::1]:1"),
            tcp("198.51.100.2:1"),
        ],
        config,
        t0(),
    );
    let mut dns = |_: &Transmit| -> Option<(u64, Vec<u8>)> { panic!("no DNS for fixed targets") };
    let mut net = |_: &Target| Some((10, Err(ErrorKind::ConnectionRefused)));
    let r = run(d, &mut dns, &mut net, false, None);
    let e = r.result.clone().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    assert_eq!(e.resolution, None);
    assert_eq!(
        r.starts(),
        [
            (0, "198.51.100.1:1".to_owned()),
            (10, "[2001:db8::1]:1".to_owned()),
            (20, "198.51.100.2:1".to_owned())
        ]
    );
}

#[derive(Clone, Debug)]
enum DnsFate {
    Silent,
    Answer(u64),
    NxDomain(u64),
    ServFail(u64),
    Truncated(u64),
}

#[derive(Clone, Debug)]
enum NetFate {
    BlackHole,
    Connect(u64),
    Refuse(u64),
}

fn dns_fate() -> impl Strategy<Value = DnsFate> {
    prop_oneof![
        Just(DnsFate::Silent),
        (0u64..3000).prop_map(DnsFate::Answer),
        (0u64..3000).prop_map(DnsFate::NxDomain),
        (0u64..3000).prop_map(DnsFate::ServFail),
        (0u64..500).prop_map(DnsFate::Truncated),
    ]
}

fn net_fate() -> impl Strategy<Value = NetFate> {
    prop_oneof![
        Just(NetFate::BlackHole),
        (0u64..5000).prop_map(NetFate::Connect),
        (0u64..5000).prop_map(NetFate::Refuse),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// With an attempt timeout, every dial ends with exactly one final output, whatever DNS and the
    /// network do; a failure leaves no query open and no attempt in flight.
    #[test]
    fn dial_always_ends(
        fates in proptest::collection::vec(dns_fate(), 1..12),
        nets in proptest::collection::vec(net_fate(), 1..8),
        serial in any::<bool>(),
        cancel_at in proptest::option::of(0u64..4000),
    ) {
        let mode = if serial { Mode::Serial } else { Mode::HappyEyeballs };
        let config = DialConfig::new().connect(
            ConnectConfig::default().with_mode(mode).with_attempt_timeout(Some(Duration::from_secs(2))),
        );
        let mut i = 0;
        let mut dns = |t: &Transmit| {
            let fate = fates[i % fates.len()].clone();
            i += 1;
            match fate {
                DnsFate::Silent => None,
                DnsFate::Answer(ms) => Some((ms, match qtype(t) {
                    HRecordType::A => answer(t, vec![rec_a("db.example", 60, "198.51.100.7"), rec_a("db.example", 60, "198.51.100.8")]),
                    _ => answer(t, vec![rec_aaaa("db.example", 60, "2001:db8::7")]),
                })),
                DnsFate::NxDomain(ms) => Some((ms, nxdomain(t, "example"))),
                DnsFate::ServFail(ms) => Some((ms, rcode_only(t, ResponseCode::ServFail))),
                DnsFate::Truncated(ms) => {
                    let mut m = reply_msg(t, ResponseCode::NoError, vec![], vec![]);
                    m.metadata.truncation = true;
                    Some((ms, m.to_vec().unwrap()))
                }
            }
        };
        let mut j = 0;
        let mut net = |_: &Target| {
            let fate = nets[j % nets.len()].clone();
            j += 1;
            match fate {
                NetFate::BlackHole => None,
                NetFate::Connect(ms) => Some((ms, Ok(()))),
                NetFate::Refuse(ms) => Some((ms, Err(ErrorKind::ConnectionRefused))),
            }
        };
        let r = run(dial_db(config), &mut dns, &mut net, false, cancel_at);
        let finals = r.log.iter().filter(|(_, o)| matches!(o, DialOutput::Connected { .. } | DialOutput::Failed(_))).count();
        prop_assert_eq!(finals, 1);
        if let Err(e) = &r.result {
            prop_assert!(e.connect.attempts.iter().all(|a| a.outcome.is_some()), "attempt left in flight: {:?}", e);
        }
    }
}
