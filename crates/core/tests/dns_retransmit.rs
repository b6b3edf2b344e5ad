//! Retransmission across nameservers on a virtual clock: exact send times, per-try timeouts
//! (glibc's schedule), attempts, rotate, early failure replies, EDNS fallback and late replies.

mod dns_support;
use dns_support::*;

use std::time::Duration;

use anysock_core::dns::{DnsErrorKind, DnsEvent, RecordType, Transport, TryOutcome};
use anysock_core::resolv_conf::DnsConfig;
use hickory_proto::op::ResponseCode;

/// Runs a query nobody answers and returns (send time in ms, server) for every try plus the end time.
fn silent_schedule(cfg: &DnsConfig) -> (Vec<(Duration, String)>, Duration, usize) {
    let mut q = new_query(cfg, "silent.example.", RecordType::A, 99);
    let mut sent = Vec::new();
    let mut now = t0();
    loop {
        for t in drain(&mut q) {
            assert_eq!(t.transport, Transport::Udp);
            sent.push((now - t0(), t.to.to_string()));
        }
        if let Some(ev) = q.poll_event() {
            let DnsEvent::Failed(e) = ev else {
                panic!("unexpected {ev:?}")
            };
            assert_eq!(e.kind, DnsErrorKind::TimedOut);
            assert!(e.tries.iter().all(|t| t.outcome == TryOutcome::TimedOut));
            assert!(q.poll_timeout().is_none());
            return (sent, now - t0(), e.tries.len());
        }
        let d = q.poll_timeout().expect("running machine has a deadline");
        assert!(d > now, "deadline must move forward");
        // Early and repeated calls are no-ops.
        q.handle_timeout(now);
        q.handle_timeout(d - Duration::from_nanos(1));
        assert!(drain(&mut q).is_empty());
        assert!(q.poll_event().is_none());
        now = d;
        q.handle_timeout(now);
    }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

#[test]
fn schedule_table() {
    // (servers, timeout ms, attempts, expected (time, server) list, expected end)
    let third = Duration::from_nanos(3_333_333_333); // 10 s / 3
    type Case<'a> = (Vec<&'a str>, u64, u8, Vec<(Duration, &'a str)>, Duration);
    let cases: Vec<Case<'_>> = vec![
        // glibc defaults with one server: 5 s, then 10 s (5 s * 2 / 1).
        (
            vec![NS1],
            5000,
            2,
            vec![(ms(0), NS1), (ms(5000), NS1)],
            ms(15000),
        ),
        // two servers, 1 s: round 0 one second each, round 1 (1 s * 2 / 2) one second each.
        (
            vec![NS1, NS2],
            1000,
            2,
            vec![
                (ms(0), NS1),
                (ms(1000), NS2),
                (ms(2000), NS1),
                (ms(3000), NS2),
            ],
            ms(4000),
        ),
        // three servers, 5 s: round 1 gets 10 s / 3 each.
        (
            vec![NS1, NS2, NS3],
            5000,
            2,
            vec![
                (ms(0), NS1),
                (ms(5000), NS2),
                (ms(10000), NS3),
                (ms(15000), NS1),
                (ms(15000) + third, NS2),
                (ms(15000) + third * 2, NS3),
            ],
            ms(15000) + third * 3,
        ),
        // one server, three attempts: 2 s, 4 s, 8 s.
        (
            vec![NS1],
            2000,
            3,
            vec![(ms(0), NS1), (ms(2000), NS1), (ms(6000), NS1)],
            ms(14000),
        ),
        // sub-second base: later rounds never go below min(base, 1 s) = 300 ms.
        (
            vec![NS1, NS2, NS3],
            300,
            2,
            vec![
                (ms(0), NS1),
                (ms(300), NS2),
                (ms(600), NS3),
                (ms(900), NS1),
                (ms(1200), NS2),
                (ms(1500), NS3),
            ],
            ms(1800),
        ),
        // one attempt: every server once.
        (
            vec![NS1, NS2],
            700,
            1,
            vec![(ms(0), NS1), (ms(700), NS2)],
            ms(1400),
        ),
    ];
    for (servers, timeout, attempts, expected, end) in cases {
        let cfg = config(&servers, timeout, attempts);
        let (sent, ended, tries) = silent_schedule(&cfg);
        let expected: Vec<(Duration, String)> = expected
            .into_iter()
            .map(|(d, s)| (d, sa(s).to_string()))
            .collect();
        assert_eq!(
            sent, expected,
            "servers {servers:?} timeout {timeout} attempts {attempts}"
        );
        assert_eq!(
            ended, end,
            "end time for servers {servers:?} timeout {timeout} attempts {attempts}"
        );
        assert_eq!(tries, servers.len() * attempts as usize);
    }
}

#[test]
fn late_reply_from_earlier_server_still_wins() {
    let cfg = config(&[NS1, NS2], 1000, 2);
    let mut q = new_query(&cfg, "late.example.", RecordType::A, 1);
    let first = one(&mut q);
    q.handle_timeout(at(1000));
    let second = one(&mut q);
    assert_eq!(second.to, sa(NS2));
    // NS1 answers late, at 1.2 s: accepted.
    assert!(q.handle_datagram(
        at(1200),
        sa(NS1),
        &answer(&first, vec![rec_a("late.example", 60, "203.0.113.5")])
    ));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(
        a.records[0].data,
        anysock_core::dns::RecordData::A("203.0.113.5".parse().unwrap())
    );
    assert!(q.poll_event().is_none());
    assert!(q.poll_timeout().is_none());
    // The reply to the second try now comes too late and is ignored.
    assert!(!q.handle_datagram(
        at(1300),
        sa(NS2),
        &answer(&second, vec![rec_a("late.example", 60, "203.0.113.6")])
    ));
    assert_eq!(q.stats().ignored_after_end, 1);
}

#[test]
fn servfail_moves_to_next_server_at_once() {
    let cfg = config(&[NS1, NS2], 1000, 2);
    let mut q = new_query(&cfg, "sf.example.", RecordType::Aaaa, 2);
    let t1 = one(&mut q);
    assert!(q.handle_datagram(at(10), sa(NS1), &rcode_only(&t1, ResponseCode::ServFail)));
    let t2 = one(&mut q);
    assert_eq!(t2.to, sa(NS2));
    assert_eq!(q.poll_timeout(), Some(at(1010)));
    assert!(q.handle_datagram(
        at(20),
        sa(NS2),
        &answer(&t2, vec![rec_aaaa("sf.example", 30, "2001:db8::1")])
    ));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(a.records.len(), 1);
    assert_eq!(q.stats().udp_sent, 2);
}

#[test]
fn every_server_refuses() {
    let cfg = config(&[NS1, NS2], 1000, 2);
    let mut q = new_query(&cfg, "ref.example.", RecordType::A, 3);
    let mut times = Vec::new();
    let mut now = at(0);
    let ev = loop {
        for t in drain(&mut q) {
            times.push((ms_since_t0(now), t.to));
            now += Duration::from_millis(5);
            assert!(q.handle_datagram(now, t.to, &rcode_only(&t, ResponseCode::Refused)));
        }
        if let Some(ev) = q.poll_event() {
            break ev;
        }
    };
    // 2 attempts x 2 servers, each refused 5 ms after it was sent; no waiting for timeouts.
    assert_eq!(
        times,
        vec![(0, sa(NS1)), (5, sa(NS2)), (10, sa(NS1)), (15, sa(NS2))]
    );
    let DnsEvent::Failed(e) = ev else { panic!() };
    assert_eq!(e.kind, DnsErrorKind::Refused);
    assert_eq!(e.tries.len(), 4);
    assert!(e.tries.iter().all(|t| t.outcome == TryOutcome::Refused));
}

#[test]
fn servfail_everywhere_is_server_failure() {
    let cfg = config(&[NS1], 1000, 2);
    let mut q = new_query(&cfg, "sf2.example.", RecordType::A, 4);
    for i in 0..2 {
        let t = one(&mut q);
        assert!(q.handle_datagram(at(i), t.to, &rcode_only(&t, ResponseCode::ServFail)));
    }
    let Some(DnsEvent::Failed(e)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(e.kind, DnsErrorKind::ServerFailure);
}

#[test]
fn rotate_starts_at_a_seed_chosen_server_and_keeps_the_order() {
    let cfg = DnsConfig::builder()
        .nameservers([sa(NS1), sa(NS2), sa(NS3)])
        .timeout(Duration::from_secs(1))
        .attempts(1)
        .rotate(true)
        .build()
        .unwrap();
    let servers = [sa(NS1), sa(NS2), sa(NS3)];
    let mut firsts = std::collections::HashSet::new();
    for seed in 0..64 {
        let mut q = new_query(&cfg, "rot.example.", RecordType::A, seed);
        let mut order = vec![one(&mut q).to];
        q.handle_timeout(at(1000));
        order.push(one(&mut q).to);
        q.handle_timeout(at(2000));
        order.push(one(&mut q).to);
        let start = servers.iter().position(|s| *s == order[0]).unwrap();
        assert_eq!(
            order,
            vec![
                servers[start],
                servers[(start + 1) % 3],
                servers[(start + 2) % 3]
            ]
        );
        firsts.insert(start);
        // Same seed, same start.
        let mut again = new_query(&cfg, "rot.example.", RecordType::A, seed);
        assert_eq!(one(&mut again).to, order[0]);
    }
    assert_eq!(firsts.len(), 3, "every server starts some query");
    // Without rotate the first server is always first.
    let cfg = config(&[NS1, NS2, NS3], 1000, 1);
    for seed in 0..16 {
        assert_eq!(
            one(&mut new_query(&cfg, "rot.example.", RecordType::A, seed)).to,
            sa(NS1)
        );
    }
}

#[test]
fn edns_formerr_falls_back_without_edns() {
    let cfg = config(&[NS1, NS2], 1000, 1);
    let mut q = new_query(&cfg, "old.example.", RecordType::A, 5);
    let t1 = one(&mut q);
    assert!(query_of(&t1).edns.is_some(), "EDNS on by default");
    assert_eq!(query_of(&t1).edns.as_ref().unwrap().max_payload(), 1232);
    assert!(q.handle_datagram(at(3), sa(NS1), &rcode_only(&t1, ResponseCode::FormErr)));
    let t2 = one(&mut q);
    assert_eq!(t2.to, sa(NS1), "same server, again");
    assert!(query_of(&t2).edns.is_none(), "without EDNS");
    assert_eq!(q.poll_timeout(), Some(at(1003)));
    assert!(q.handle_datagram(
        at(4),
        sa(NS1),
        &answer(&t2, vec![rec_a("old.example", 5, "198.51.100.1")])
    ));
    assert!(matches!(q.poll_event(), Some(DnsEvent::Answer(_))));
}

#[test]
fn formerr_without_edns_is_a_failure() {
    let cfg = DnsConfig::builder()
        .nameserver(sa(NS1))
        .attempts(1)
        .edns0(false)
        .build()
        .unwrap();
    let mut q = new_query(&cfg, "old.example.", RecordType::A, 6);
    let t1 = one(&mut q);
    assert!(query_of(&t1).edns.is_none());
    assert!(q.handle_datagram(at(1), sa(NS1), &rcode_only(&t1, ResponseCode::FormErr)));
    let Some(DnsEvent::Failed(e)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(e.kind, DnsErrorKind::ServerFailure);
    assert_eq!(e.tries[0].outcome, TryOutcome::ServerFailure);
}

#[test]
fn queries_ask_for_recursion() {
    let cfg = config(&[NS1], 1000, 1);
    let mut q = new_query(&cfg, "Mixed.Example", RecordType::Srv, 7);
    let t = one(&mut q);
    let m = query_of(&t);
    assert!(m.metadata.recursion_desired);
    assert_eq!(m.queries.len(), 1);
    assert_eq!(
        m.queries[0].query_type(),
        hickory_proto::rr::RecordType::SRV
    );
    assert_eq!(qname(&t), "mixed.example");
}
