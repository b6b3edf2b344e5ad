//! Anti-spoofing: a reply is accepted only from the server a try went to, with that try's id, as a
//! response to a standard query, repeating our question. Everything else is ignored and counted.

mod dns_support;
use dns_support::*;

use anysock_core::dns::{DnsEvent, DnsQuery, DnsStats, RecordType};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType as HType};

fn good(t: &anysock_core::dns::Transmit) -> Vec<u8> {
    answer(t, vec![rec_a("bank.example", 60, "203.0.113.10")])
}

fn forged(t: &anysock_core::dns::Transmit, edit: impl FnOnce(&mut Message)) -> Vec<u8> {
    let mut m = reply_msg(
        t,
        ResponseCode::NoError,
        vec![rec_a("bank.example", 60, "198.51.100.66")],
        vec![],
    );
    edit(&mut m);
    m.to_vec().unwrap()
}

fn expect_still_waiting(q: &mut DnsQuery) {
    assert!(q.poll_event().is_none());
    assert!(q.poll_transmit().is_none());
    assert!(q.poll_timeout().is_some());
}

#[test]
fn forgeries_are_ignored_and_counted_then_the_real_reply_wins() {
    let cfg = config(&[NS1, NS2], 1000, 2);
    let mut q = new_query(&cfg, "bank.example.", RecordType::A, 21);
    let t = one(&mut q);
    let id = query_of(&t).metadata.id;

    // (description, source, bytes, which counter)
    let other_port = {
        let mut a = sa(NS1);
        a.set_port(53);
        a
    };
    let wrong_question = |edit: fn(&mut Query)| {
        forged(&t, |m| {
            let mut qq = m.queries[0].clone();
            edit(&mut qq);
            m.queries = vec![qq];
        })
    };
    type Case<'a> = (&'a str, std::net::SocketAddr, Vec<u8>, fn(&DnsStats) -> u32);
    let cases: Vec<Case<'_>> = vec![
        ("another host", sa("127.0.0.9:5301"), good(&t), |s| {
            s.ignored_wrong_source
        }),
        ("same host, another port", other_port, good(&t), |s| {
            s.ignored_wrong_source
        }),
        ("the other configured server", sa(NS2), good(&t), |s| {
            s.ignored_wrong_id
        }),
        (
            "wrong id",
            sa(NS1),
            forged(&t, |m| m.metadata.id = id.wrapping_add(1)),
            |s| s.ignored_wrong_id,
        ),
        (
            "QR bit clear",
            sa(NS1),
            forged(&t, |m| m.metadata.message_type = MessageType::Query),
            |s| s.ignored_wrong_question,
        ),
        (
            "opcode STATUS",
            sa(NS1),
            forged(&t, |m| m.metadata.op_code = OpCode::Status),
            |s| s.ignored_wrong_question,
        ),
        (
            "other name",
            sa(NS1),
            wrong_question(|q| {
                q.set_name(name("evil.example"));
            }),
            |s| s.ignored_wrong_question,
        ),
        (
            "other type",
            sa(NS1),
            wrong_question(|q| {
                q.set_query_type(HType::AAAA);
            }),
            |s| s.ignored_wrong_question,
        ),
        (
            "other class",
            sa(NS1),
            wrong_question(|q| {
                q.set_query_class(DNSClass::CH);
            }),
            |s| s.ignored_wrong_question,
        ),
        (
            "no question",
            sa(NS1),
            forged(&t, |m| m.queries.clear()),
            |s| s.ignored_wrong_question,
        ),
        (
            "two questions",
            sa(NS1),
            forged(&t, |m| {
                let q0 = m.queries[0].clone();
                m.queries.push(q0);
            }),
            |s| s.ignored_wrong_question,
        ),
        ("short garbage", sa(NS1), vec![0x12, 0x34, 0x81], |s| {
            s.ignored_malformed
        }),
        ("empty", sa(NS1), vec![], |s| s.ignored_malformed),
    ];
    for (i, (what, from, bytes, counter)) in cases.iter().enumerate() {
        let before = counter(&q.stats());
        assert!(
            !q.handle_datagram(at(i as u64), *from, bytes),
            "{what} must be ignored"
        );
        assert_eq!(counter(&q.stats()), before + 1, "{what} must be counted");
        expect_still_waiting(&mut q);
    }
    assert_eq!(q.stats().accepted, 0);
    assert!(q.handle_datagram(at(100), sa(NS1), &good(&t)));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(
        a.records[0].data,
        anysock_core::dns::RecordData::A("203.0.113.10".parse().unwrap())
    );
    assert_eq!(q.stats().accepted, 1);
    // Replays after the end are ignored.
    assert!(!q.handle_datagram(at(101), sa(NS1), &good(&t)));
    assert_eq!(q.stats().ignored_after_end, 1);
}

#[test]
fn question_name_case_may_differ() {
    let cfg = config(&[NS1], 1000, 1);
    let mut q = new_query(&cfg, "bank.example.", RecordType::A, 22);
    let t = one(&mut q);
    let bytes = forged(&t, |m| {
        let mut qq = m.queries[0].clone();
        qq.set_name(name("BaNk.ExAmPlE"));
        m.queries = vec![qq];
        m.answers = vec![rec_a("BANK.EXAMPLE", 60, "203.0.113.10")];
    });
    assert!(q.handle_datagram(at(1), sa(NS1), &bytes));
    assert!(matches!(q.poll_event(), Some(DnsEvent::Answer(_))));
}

#[test]
fn ids_are_fresh_per_try_and_reproducible_per_seed() {
    let cfg = config(&[NS1, NS2], 1000, 2);
    let ids = |seed: u64| -> Vec<u16> {
        let mut q = new_query(&cfg, "ids.example.", RecordType::A, seed);
        let mut v = vec![query_of(&one(&mut q)).metadata.id];
        for i in 1..4 {
            q.handle_timeout(at(1000 * i));
            v.push(query_of(&one(&mut q)).metadata.id);
        }
        v
    };
    let a = ids(1);
    assert_eq!(a, ids(1));
    assert_ne!(a, ids(2));
    let distinct: std::collections::HashSet<_> = a.iter().collect();
    assert_eq!(distinct.len(), 4, "{a:?}");
    // Across many seeds, the first id is spread over the id space.
    let firsts: std::collections::HashSet<u16> = (0..500).map(|s| ids(s)[0]).collect();
    assert!(firsts.len() > 490);
}

#[test]
fn a_timed_out_try_still_accepts_its_own_id_only() {
    let cfg = config(&[NS1], 1000, 2);
    let mut q = new_query(&cfg, "bank.example.", RecordType::A, 23);
    let t1 = one(&mut q);
    q.handle_timeout(at(1000));
    let t2 = one(&mut q);
    let (id1, id2) = (query_of(&t1).metadata.id, query_of(&t2).metadata.id);
    assert_ne!(id1, id2);
    // An id that neither try used is ignored even from the right server.
    let unused = (0..=u16::MAX).find(|i| *i != id1 && *i != id2).unwrap();
    assert!(!q.handle_datagram(at(1001), sa(NS1), &forged(&t1, |m| m.metadata.id = unused)));
    assert_eq!(q.stats().ignored_wrong_id, 1);
    // The first try timed out, but its reply is still accepted with its own id.
    assert!(q.handle_datagram(at(1002), sa(NS1), &good(&t1)));
    assert!(matches!(q.poll_event(), Some(DnsEvent::Answer(_))));
}
