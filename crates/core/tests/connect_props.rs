//! Property tests of the connect machine's invariants.
//!
//! `script_invariants` drives the machine with arbitrary input scripts through the same checker the
//! fuzz target uses (`anysock_core::fuzzing::connect`): no endpoint twice, no attempt after success,
//! at most one connected result, starts at least the attempt delay apart unless a failure freed the
//! slot, every attempt ends with a result or a cancel, and termination.
//!
//! `simulated_network` races a random network (each address refuses, connects or never answers,
//! after a random time) to the end and checks the outcome against the network.

mod common;

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use anysock_core::connect::{AttemptId, Connect, ConnectConfig, FailReason, Mode, Step};
use anysock_core::fuzzing::connect::connect_script;
use anysock_core::{Family, SockType, Target};
use proptest::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Peer {
    Refuses(u16),
    Accepts(u16),
    Silent,
}

fn peer() -> impl Strategy<Value = Peer> {
    prop_oneof![
        (1u16..2000).prop_map(Peer::Refuses),
        (1u16..2000).prop_map(Peer::Accepts),
        Just(Peer::Silent),
    ]
}

fn tcp(sa: SocketAddr) -> Target {
    Target::new(SockType::Stream, 6, sa.into())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn script_invariants(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        connect_script(common::connect_script::origin(), &bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn simulated_network(
        v6 in proptest::collection::vec(peer(), 0..6),
        v4 in proptest::collection::vec(peer(), 0..6),
        aaaa_at in 0u64..200,
        a_at in 0u64..200,
        serial in any::<bool>(),
        attempt_timeout in proptest::option::of(100u64..3000),
        delay in 10u64..400,
    ) {
        let t0 = common::connect_script::origin();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mode = if serial { Mode::Serial } else { Mode::HappyEyeballs };
        let cfg = ConnectConfig::default()
            .with_mode(mode)
            .with_attempt_delay(Duration::from_millis(delay))
            .with_attempt_timeout(attempt_timeout.map(Duration::from_millis));
        let mut c = Connect::new(cfg, t0);
        let mut peers: HashMap<SocketAddr, Peer> = HashMap::new();
        let v6t: Vec<Target> = v6.iter().enumerate().map(|(i, p)| {
            let sa = SocketAddr::from((Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16 + 1), 80));
            peers.insert(sa, *p);
            tcp(sa)
        }).collect();
        let v4t: Vec<Target> = v4.iter().enumerate().map(|(i, p)| {
            let sa = SocketAddr::from((Ipv4Addr::new(198, 51, 100, i as u8 + 1), 80));
            peers.insert(sa, *p);
            tcp(sa)
        }).collect();
        // Inputs in time order: the two answers, then the end of resolution.
        let mut answers = [(aaaa_at, Family::V6, v6t), (a_at, Family::V4, v4t)];
        answers.sort_by_key(|a| a.0);
        let mut now = t0;
        let mut pending: Vec<(Instant, AttemptId, Result<(), ErrorKind>)> = Vec::new();
        let mut next_answer = 0;
        let mut outcome = None;
        let mut steps = 0;
        loop {
            while let Some(step) = c.poll_step() {
                match step {
                    Step::StartAttempt { id, target, .. } => {
                        let sa = target.addr.as_inet().unwrap();
                        match peers[&sa] {
                            Peer::Refuses(ms) => pending.push((now + Duration::from_millis(ms.into()), id, Err(ErrorKind::ConnectionRefused))),
                            Peer::Accepts(ms) => pending.push((now + Duration::from_millis(ms.into()), id, Ok(()))),
                            Peer::Silent => {}
                        }
                    }
                    Step::CancelAttempt { id } => pending.retain(|p| p.1 != id),
                    Step::Connected { target, .. } => outcome = Some(Ok(target)),
                    Step::Failed(e) => outcome = Some(Err(e)),
                    _ => {}
                }
            }
            if outcome.is_some() {
                break;
            }
            steps += 1;
            prop_assert!(steps < 10_000, "no end");
            // The next event: an answer, an attempt result or the machine's timer.
            let answer_t = answers.get(next_answer).map(|a| at(a.0)).or(
                (next_answer == answers.len()).then(|| at(a_at.max(aaaa_at) + 1)));
            let net = pending.iter().enumerate().min_by_key(|(_, p)| p.0).map(|(i, p)| (p.0, i));
            let timer = c.poll_timeout();
            let mut best = [answer_t, net.map(|n| n.0), timer].into_iter().flatten().min();
            let Some(t) = best.take() else {
                // Only silent peers in flight and no timeouts: the kernel would give up eventually.
                prop_assert!(attempt_timeout.is_none());
                prop_assert!(c.in_flight() > 0);
                break;
            };
            now = t;
            if answer_t == Some(t) {
                if next_answer < answers.len() {
                    let (_, fam, ts) = answers[next_answer].clone();
                    c.handle_targets(now, fam, ts);
                } else {
                    c.handle_resolution_done(now, None, Ok(()));
                }
                next_answer += 1;
            } else if net.map(|n| n.0) == Some(t) {
                let (_, id, r) = pending.remove(net.unwrap().1);
                c.handle_attempt(now, id, r);
            } else {
                c.handle_timeout(now);
            }
        }
        let any_accepts = peers.values().any(|p| matches!(p, Peer::Accepts(_)));
        match outcome {
            Some(Ok(target)) => {
                let sa = target.addr.as_inet().unwrap();
                prop_assert!(matches!(peers[&sa], Peer::Accepts(_)));
            }
            Some(Err(e)) => {
                // Without timeouts, a peer that accepts is always reached (nothing is given up on).
                if attempt_timeout.is_none() {
                    prop_assert!(!any_accepts, "failed although a peer accepts: {e}");
                }
                if peers.is_empty() {
                    prop_assert_eq!(e.reason, FailReason::NoTargets);
                }
                prop_assert!(e.attempts.iter().all(|a| a.outcome.is_some()));
            }
            None => {}
        }
        // Serial mode never has two attempts overlapping.
        if serial {
            let recs = c.attempts();
            for w in recs.windows(2) {
                prop_assert!(w[0].ended.is_some_and(|e| e <= w[1].started));
            }
        }
    }
}

/// The checker is only worth something if random scripts reach the interesting states: wins,
/// rejections, failures after several attempts.
#[test]
fn random_scripts_reach_every_outcome() {
    let t0 = common::connect_script::origin();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let (mut wins, mut rejects, mut long_failures) = (0, 0, 0);
    for _ in 0..3000 {
        let bytes: Vec<u8> = (0..120)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let s = connect_script(t0, &bytes);
        wins += usize::from(s.connected);
        rejects += s.rejects;
        long_failures += usize::from(!s.connected && s.attempts >= 3);
    }
    eprintln!("wins {wins}, rejects {rejects}, failures with 3+ attempts {long_failures}");
    assert!(
        wins > 100 && rejects > 20 && long_failures > 100,
        "wins {wins}, rejects {rejects}, failures {long_failures}"
    );
}

/// The fuzz corpus is replayed by a plain `cargo test`.
#[test]
fn fuzz_corpus_replays() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/connect_script");
    let (mut n, mut with_attempts) = (0, 0);
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let path = entry.expect("corpus entry").path();
        let bytes = std::fs::read(&path).expect("corpus file");
        // The script runner checks the machine's invariants on every input; inputs the fuzzer kept
        // may legitimately start no attempt (no targets, cancelled at once).
        let s = connect_script(common::connect_script::origin(), &bytes);
        with_attempts += usize::from(s.attempts > 0);
        n += 1;
    }
    assert!(n >= 6, "corpus has {n} files");
    assert!(
        with_attempts >= 6,
        "only {with_attempts} corpus files start an attempt"
    );
}

fn ip_strategy() -> impl Strategy<Value = std::net::IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(std::net::IpAddr::from),
        any::<[u8; 16]>().prop_map(std::net::IpAddr::from),
        // Addresses the policy table cares about.
        Just("::1".parse().unwrap()),
        Just("fe80::1".parse().unwrap()),
        Just("2002:c633:6401::1".parse().unwrap()),
        Just("127.0.0.1".parse().unwrap()),
        Just("fc00::1".parse().unwrap()),
    ]
}

proptest! {
    /// RFC 6724 sort: a permutation, stable, no adjacent pair out of order, never a panic, for any
    /// mix of known, unknown and unreachable sources.
    #[test]
    fn rfc6724_sort_is_a_sorted_permutation(
        items in proptest::collection::vec((ip_strategy(), proptest::option::of(proptest::option::of(ip_strategy()))), 0..24)
    ) {
        use anysock_core::rfc6724::{self, Source};
        let src = |s: &Option<Option<std::net::IpAddr>>| match s {
            None => Source::Unknown,
            Some(s) => Source::from(*s),
        };
        let mut sorted: Vec<(usize, std::net::IpAddr, Source)> =
            items.iter().enumerate().map(|(i, (a, s))| (i, *a, src(s))).collect();
        rfc6724::sort_by_key(&mut sorted, |&(_, a, s)| (a, s));
        let mut idx: Vec<usize> = sorted.iter().map(|x| x.0).collect();
        for w in sorted.windows(2) {
            let o = rfc6724::compare(w[1].1, w[1].2, w[0].1, w[0].2);
            prop_assert!(o != std::cmp::Ordering::Less, "adjacent pair out of order");
            if o == std::cmp::Ordering::Equal && rfc6724::compare(w[0].1, w[0].2, w[1].1, w[1].2) == std::cmp::Ordering::Equal {
                prop_assert!(w[0].0 < w[1].0, "equal elements changed order");
            }
        }
        idx.sort_unstable();
        prop_assert_eq!(idx, (0..items.len()).collect::<Vec<_>>());
        // The two-slice form agrees with the keyed form when every source is known or unreachable.
        if items.iter().all(|(_, s)| s.is_some()) {
            let mut d: Vec<std::net::IpAddr> = items.iter().map(|x| x.0).collect();
            let mut s: Vec<Option<std::net::IpAddr>> = items.iter().map(|x| x.1.unwrap()).collect();
            rfc6724::sort(&mut d, &mut s);
            prop_assert_eq!(d, sorted.iter().map(|x| x.1).collect::<Vec<_>>());
        }
    }
}
