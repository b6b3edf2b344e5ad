//! Property tests for the DNS query machine: whatever the servers do, the machine ends (given
//! timeouts), emits exactly one event, and only ever sends to configured servers.

mod dns_support;
use dns_support::*;

use std::time::Duration;

use anysock_core::dns::{DnsEvent, DnsQuery, RecordType, Transport};
use anysock_core::resolv_conf::DnsConfig;
use hickory_proto::op::ResponseCode;
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Act {
    Drop,
    Answer,
    NxDomain,
    NoData,
    ServFail,
    Refused,
    FormErr,
    Truncated,
    BareCname,
    Garbage,
    Spoof,
    StreamError,
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        Just(Act::Drop),
        Just(Act::Answer),
        Just(Act::NxDomain),
        Just(Act::NoData),
        Just(Act::ServFail),
        Just(Act::Refused),
        Just(Act::FormErr),
        Just(Act::Truncated),
        Just(Act::BareCname),
        Just(Act::Garbage),
        Just(Act::Spoof),
        Just(Act::StreamError),
    ]
}

fn rtype() -> impl Strategy<Value = RecordType> {
    prop_oneof![
        Just(RecordType::A),
        Just(RecordType::Aaaa),
        Just(RecordType::Srv),
        Just(RecordType::Txt)
    ]
}

fn reply_for(
    t: &anysock_core::dns::Transmit,
    a: Act,
    rt: RecordType,
    step: usize,
) -> Option<Vec<u8>> {
    let n = qname(t);
    Some(match a {
        Act::Drop | Act::StreamError => return None,
        Act::Answer => answer(
            t,
            vec![match rt {
                RecordType::A => rec_a(&n, 1, "203.0.113.1"),
                RecordType::Aaaa => rec_aaaa(&n, 1, "2001:db8::1"),
                RecordType::Srv => rec_srv(&n, 1, 1, 1, 443, "t.example"),
                _ => rec_txt(&n, 1, &["x"]),
            }],
        ),
        Act::NxDomain => nxdomain(t, "example"),
        Act::NoData => nodata(t, "example"),
        Act::ServFail => rcode_only(t, ResponseCode::ServFail),
        Act::Refused => rcode_only(t, ResponseCode::Refused),
        Act::FormErr => rcode_only(t, ResponseCode::FormErr),
        Act::Truncated => {
            let mut m = reply_msg(t, ResponseCode::NoError, vec![], vec![]);
            m.metadata.truncation = true;
            m.to_vec().unwrap()
        }
        Act::BareCname => answer(t, vec![rec_cname(&n, 1, &format!("hop{step}.example"))]),
        Act::Garbage => vec![0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0, 0xff],
        Act::Spoof => {
            let mut b = answer(t, vec![rec_a(&n, 1, "198.51.100.66")]);
            b[0] ^= 0x55;
            b
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn machine_ends_once_and_only_talks_to_configured_servers(
        nservers in 1usize..=3,
        attempts in 1u8..=3,
        timeout_ms in 1u64..3000,
        rotate in any::<bool>(),
        edns in any::<bool>(),
        search in 0usize..=2,
        rt in rtype(),
        seed in any::<u64>(),
        acts in proptest::collection::vec((act(), 0u64..2000), 0..40),
    ) {
        let servers: Vec<_> = [NS1, NS2, NS3][..nservers].iter().map(|s| sa(s)).collect();
        let cfg = DnsConfig::builder()
            .nameservers(servers.iter().copied())
            .search(["s1.example", "s2.example"].into_iter().take(search))
            .timeout(Duration::from_millis(timeout_ms))
            .attempts(attempts)
            .rotate(rotate)
            .edns0(edns)
            .build()
            .unwrap();
        let mut q = DnsQuery::new(&cfg, "host", rt, t0(), seed).unwrap();
        let mut now = t0();
        let mut events = Vec::new();
        let mut acts = acts.into_iter();
        let mut steps = 0usize;
        let mut answered_ever = false;
        loop {
            steps += 1;
            prop_assert!(steps < 10_000, "did not end");
            let mut sent = Vec::new();
            while let Some(t) = q.poll_transmit() {
                prop_assert!(servers.contains(&t.to));
                sent.push(t);
            }
            if let Some(ev) = q.poll_event() { events.push(ev); }
            prop_assert!(q.poll_event().is_none());
            if q.is_done() {
                prop_assert!(q.poll_timeout().is_none());
                break;
            }
            let deadline = q.poll_timeout();
            prop_assert!(deadline.is_some());
            let mut acted = false;
            for (i, t) in sent.iter().enumerate() {
                let Some((a, delay)) = acts.next() else { break };
                let at_time = now + Duration::from_millis(delay);
                if at_time >= deadline.unwrap() { continue; }
                if matches!(a, Act::Answer) { answered_ever = true; }
                match (t.transport, a) {
                    (Transport::Tcp, Act::StreamError) => { q.handle_stream_error(at_time, t.to); acted = true; }
                    (Transport::Tcp, _) => {
                        if let Some(b) = reply_for(t, a, rt, steps * 10 + i) {
                            q.handle_stream(at_time, t.to, &tcp_frame(&b));
                            acted = true;
                        }
                    }
                    (_, _) => {
                        if let Some(b) = reply_for(t, a, rt, steps * 10 + i) {
                            q.handle_datagram(at_time, t.to, &b);
                            acted = true;
                        }
                    }
                }
                now = now.max(at_time);
                break;
            }
            if !acted && q.poll_transmit().is_none() && !q.is_done() {
                now = q.poll_timeout().unwrap();
                q.handle_timeout(now);
            }
        }
        prop_assert_eq!(events.len(), 1);
        if let DnsEvent::Answer(a) = &events[0] {
            prop_assert!(answered_ever);
            prop_assert!(!a.records.is_empty());
        }
    }

    #[test]
    fn arbitrary_scripts_never_break_invariants(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        anysock_core::fuzzing::dns::dns_query(t0(), &data);
    }
}

/// Replays the fuzz corpus (`fuzz/corpus/dns_query/`) through the same checks, so a plain
/// `cargo test` covers every seed and every crash input committed there.
#[test]
fn fuzz_corpus_replays() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/dns_query");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz corpus directory") {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        anysock_core::fuzzing::dns::dns_query(t0(), &data);
        n += 1;
    }
    assert!(n >= 8, "expected the committed seeds, found {n}");
}

/// The virtual clock's origin for the fuzz checker.
fn t0() -> std::time::Instant {
    anysock_testkit::clock_origin()
}
