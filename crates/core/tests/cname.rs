//! CNAME handling: chains inside one reply (in any order), bare CNAMEs chased with a new question,
//! the 8-link limit, loops, and negative answers at the end of a chain.

mod dns_support;
use dns_support::*;

use anysock_core::dns::{
    CnameLink, DnsErrorKind, DnsEvent, DnsQuery, MAX_CNAME_LINKS, RecordData, RecordType,
    TryOutcome,
};
use hickory_proto::op::ResponseCode;

fn start(name: &str, rtype: RecordType) -> (DnsQuery, anysock_core::dns::Transmit) {
    let cfg = config(&[NS1], 1000, 1);
    let mut q = new_query(&cfg, name, rtype, 31);
    let t = one(&mut q);
    (q, t)
}

fn link(name: &str, target: &str) -> CnameLink {
    CnameLink {
        name: name.into(),
        target: target.into(),
        ttl: 60,
    }
}

#[test]
fn chain_inside_one_reply_in_any_order() {
    let (mut q, t) = start("www.example.", RecordType::A);
    // Records out of order: the A first, then the second link, then the first.
    let bytes = answer(
        &t,
        vec![
            rec_a("edge.cdn.example", 20, "203.0.113.80"),
            rec_cname("web.example", 60, "edge.cdn.example"),
            rec_a("unrelated.example", 20, "203.0.113.99"),
            rec_cname("www.example", 60, "web.example"),
            rec_a("edge.cdn.example", 20, "203.0.113.81"),
        ],
    );
    assert!(q.handle_datagram(at(5), sa(NS1), &bytes));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(a.name, "www.example");
    assert_eq!(a.canonical_name, "edge.cdn.example");
    assert_eq!(
        a.cname_chain,
        vec![
            link("www.example", "web.example"),
            link("web.example", "edge.cdn.example")
        ]
    );
    let ips: Vec<_> = a.records.iter().map(|r| r.data.clone()).collect();
    assert_eq!(
        ips,
        vec![
            RecordData::A("203.0.113.80".parse().unwrap()),
            RecordData::A("203.0.113.81".parse().unwrap())
        ]
    );
    assert_eq!(a.records[0].ttl, 20);
    assert_eq!(a.min_ttl(), 20);
    let addrs: Vec<std::net::IpAddr> = a.addresses().collect();
    assert_eq!(
        addrs,
        [
            "203.0.113.80".parse::<std::net::IpAddr>().unwrap(),
            "203.0.113.81".parse().unwrap()
        ]
    );
}

#[test]
fn bare_cname_is_chased_with_a_new_question() {
    let (mut q, t) = start("alias.example.", RecordType::Aaaa);
    assert!(q.handle_datagram(
        at(5),
        sa(NS1),
        &answer(
            &t,
            vec![rec_cname("alias.example", 60, "real.other.example")]
        )
    ));
    let t2 = one(&mut q);
    assert_eq!(qname(&t2), "real.other.example");
    assert_eq!(
        query_of(&t2).queries[0].query_type(),
        hickory_proto::rr::RecordType::AAAA
    );
    assert_eq!(
        q.poll_timeout(),
        Some(at(1005)),
        "a new question gets a fresh timer"
    );
    assert!(q.handle_datagram(
        at(9),
        sa(NS1),
        &answer(&t2, vec![rec_aaaa("real.other.example", 30, "2001:db8::5")])
    ));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(a.name, "alias.example");
    assert_eq!(a.canonical_name, "real.other.example");
    assert_eq!(
        a.cname_chain,
        vec![link("alias.example", "real.other.example")]
    );
}

#[test]
fn cname_with_soa_is_nodata_not_a_chase() {
    let (mut q, t) = start("alias.example.", RecordType::Aaaa);
    let bytes = reply(
        &t,
        ResponseCode::NoError,
        vec![rec_cname("alias.example", 60, "v4only.example")],
        vec![rec_soa("example")],
    );
    assert!(q.handle_datagram(at(5), sa(NS1), &bytes));
    assert!(q.poll_transmit().is_none());
    let Some(DnsEvent::Failed(e)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(e.kind, DnsErrorKind::NoData);
}

#[test]
fn cname_to_a_missing_name_is_nxdomain() {
    let (mut q, t) = start("dangling.example.", RecordType::A);
    let bytes = reply(
        &t,
        ResponseCode::NXDomain,
        vec![rec_cname("dangling.example", 60, "gone.example")],
        vec![rec_soa("example")],
    );
    assert!(q.handle_datagram(at(5), sa(NS1), &bytes));
    let Some(DnsEvent::Failed(e)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(e.kind, DnsErrorKind::NxDomain);
}

#[test]
fn loop_inside_one_reply() {
    let (mut q, t) = start("a.example.", RecordType::A);
    let bytes = answer(
        &t,
        vec![
            rec_cname("a.example", 60, "b.example"),
            rec_cname("b.example", 60, "A.example"),
        ],
    );
    assert!(q.handle_datagram(at(5), sa(NS1), &bytes));
    let Some(DnsEvent::Failed(e)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(e.kind, DnsErrorKind::CnameLoop);
}

#[test]
fn loop_across_chased_questions() {
    let (mut q, t) = start("a.example.", RecordType::A);
    assert!(q.handle_datagram(
        at(1),
        sa(NS1),
        &answer(&t, vec![rec_cname("a.example", 60, "b.example")])
    ));
    let t2 = one(&mut q);
    assert!(q.handle_datagram(
        at(2),
        sa(NS1),
        &answer(&t2, vec![rec_cname("b.example", 60, "a.example")])
    ));
    assert!(q.poll_transmit().is_none());
    let Some(DnsEvent::Failed(e)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(e.kind, DnsErrorKind::CnameLoop);
    assert_eq!(
        e.tries.iter().map(|t| t.outcome).collect::<Vec<_>>(),
        vec![TryOutcome::Cname, TryOutcome::Cname]
    );
}

fn chain_records(n: usize) -> Vec<hickory_proto::rr::Record> {
    let mut v: Vec<_> = (0..n)
        .map(|i| rec_cname(&format!("c{i}.example"), 60, &format!("c{}.example", i + 1)))
        .collect();
    v.push(rec_a(&format!("c{n}.example"), 60, "198.51.100.1"));
    v
}

#[test]
fn eight_links_in_one_reply_are_followed_nine_are_not() {
    assert_eq!(MAX_CNAME_LINKS, 8);
    let (mut q, t) = start("c0.example.", RecordType::A);
    assert!(q.handle_datagram(at(1), sa(NS1), &answer(&t, chain_records(8))));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(a.cname_chain.len(), 8);
    assert_eq!(a.canonical_name, "c8.example");

    let (mut q, t) = start("c0.example.", RecordType::A);
    assert!(q.handle_datagram(at(1), sa(NS1), &answer(&t, chain_records(9))));
    let Some(DnsEvent::Failed(e)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(e.kind, DnsErrorKind::CnameLimit);
}

#[test]
fn the_limit_counts_links_across_chased_questions() {
    // Each reply carries one bare link: the 9th link fails without a 10th question.
    let (mut q, mut t) = start("c0.example.", RecordType::A);
    for i in 0..9 {
        let bytes = answer(
            &t,
            vec![rec_cname(
                &format!("c{i}.example"),
                60,
                &format!("c{}.example", i + 1),
            )],
        );
        assert!(q.handle_datagram(at(i as u64), sa(NS1), &bytes));
        match q.poll_transmit() {
            Some(next) => {
                assert!(i < 8, "question {} must not be sent", i + 1);
                assert_eq!(qname(&next), format!("c{}.example", i + 1));
                t = next;
            }
            None => assert_eq!(i, 8),
        }
    }
    let Some(DnsEvent::Failed(e)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(e.kind, DnsErrorKind::CnameLimit);
}

#[test]
fn asking_for_cname_returns_it_without_following() {
    let (mut q, t) = start("alias.example.", RecordType::Cname);
    assert!(q.handle_datagram(
        at(1),
        sa(NS1),
        &answer(&t, vec![rec_cname("alias.example", 77, "target.example")])
    ));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert!(a.cname_chain.is_empty());
    assert_eq!(
        a.records[0].data,
        RecordData::Cname("target.example".into())
    );
    assert_eq!(a.records[0].ttl, 77);
}

#[test]
fn txt_and_ptr_are_plain_record_queries() {
    let (mut q, t) = start("txt.example.", RecordType::Txt);
    assert!(q.handle_datagram(
        at(1),
        sa(NS1),
        &answer(&t, vec![rec_txt("txt.example", 5, &["v=spf1 -all", ""])])
    ));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(
        a.records[0].data,
        RecordData::Txt(vec![b"v=spf1 -all".to_vec(), Vec::new()])
    );

    let (mut q, t) = start("7.113.0.203.in-addr.arpa.", RecordType::Ptr);
    assert!(q.handle_datagram(
        at(1),
        sa(NS1),
        &answer(
            &t,
            vec![rec_ptr("7.113.0.203.in-addr.arpa", 5, "host.example")]
        )
    ));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(a.records[0].data, RecordData::Ptr("host.example".into()));
}

// ----- captured-style replies (tests/data/dns), id patched to the query's -----

fn with_id(t: &anysock_core::dns::Transmit, bytes: &[u8]) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v[..2].copy_from_slice(&message_bytes(t)[..2]);
    v
}

#[test]
fn captured_compressed_cname_and_two_a_records() {
    let (mut q, t) = start("WWW.example.org", RecordType::A);
    assert!(q.handle_datagram(
        at(1),
        sa(NS1),
        &with_id(&t, include_bytes!("data/dns/www_example_org_a_cname.bin"))
    ));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(a.canonical_name, "web.example.org");
    assert_eq!(
        a.cname_chain,
        vec![CnameLink {
            name: "www.example.org".into(),
            target: "web.example.org".into(),
            ttl: 3600
        }]
    );
    assert_eq!(a.records.len(), 2);
    assert_eq!(
        a.records[1].data,
        RecordData::A("203.0.113.2".parse().unwrap())
    );
    assert_eq!(a.records[1].ttl, 300);
    assert_eq!(a.skipped, 0);
}

#[test]
fn b23_malformed_a_records_are_skipped_and_good_ones_kept() {
    let (mut q, t) = start("emptya.test.", RecordType::A);
    assert!(q.handle_datagram(
        at(1),
        sa(NS1),
        &with_id(&t, include_bytes!("data/dns/b23_bad_a_rdata.bin"))
    ));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(a.records.len(), 1);
    assert_eq!(
        a.records[0].data,
        RecordData::A("198.51.100.7".parse().unwrap())
    );
    assert_eq!(
        a.skipped, 2,
        "the empty and the 5-byte A record; the AAAA is simply not asked for"
    );
}

#[test]
fn answer_section_cut_off_keeps_the_complete_records() {
    let (mut q, t) = start("cut.test.", RecordType::A);
    assert!(q.handle_datagram(
        at(1),
        sa(NS1),
        &with_id(&t, include_bytes!("data/dns/cut_off_second_record.bin"))
    ));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(a.records.len(), 1);
    assert_eq!(a.skipped, 1);
}

#[test]
fn srv_with_a_bad_target_name_keeps_the_other() {
    let (mut q, t) = start("_x._tcp.srv.test.", RecordType::Srv);
    assert!(q.handle_datagram(
        at(1),
        sa(NS1),
        &with_id(&t, include_bytes!("data/dns/srv_bad_target.bin"))
    ));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(a.records.len(), 1);
    assert_eq!(
        a.records[0].data,
        RecordData::Srv {
            priority: 2,
            weight: 0,
            port: 8443,
            target: "backup.srv.test".into()
        }
    );
    assert_eq!(a.skipped, 1);
}

#[test]
fn only_malformed_records_is_a_malformed_reply() {
    let (mut q, t) = start("emptya.test.", RecordType::A);
    let mut bytes = with_id(&t, include_bytes!("data/dns/b23_bad_a_rdata.bin"));
    // Keep only the first record, the empty A: ANCOUNT = 1 and the message cut after it.
    bytes[7] = 1;
    let first_end = 12 + 13 + 4 + 12; // header, question (13-byte name, type, class), pointer + 10 fixed + 0 rdata
    bytes.truncate(first_end);
    assert!(q.handle_datagram(at(1), sa(NS1), &bytes));
    let Some(DnsEvent::Failed(e)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(e.kind, DnsErrorKind::Malformed);
    assert_eq!(e.tries[0].outcome, TryOutcome::Malformed);
}

#[test]
fn srv_root_target_means_no_service() {
    let (mut q, t) = start("_http._tcp.nosrv.test.", RecordType::Srv);
    let root = hickory_proto::rr::Record::from_rdata(
        name("_http._tcp.nosrv.test"),
        60,
        hickory_proto::rr::RData::SRV(hickory_proto::rr::rdata::SRV::new(
            0,
            0,
            0,
            hickory_proto::rr::Name::root(),
        )),
    );
    assert!(q.handle_datagram(at(1), sa(NS1), &answer(&t, vec![root])));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(
        a.records[0].data,
        RecordData::Srv {
            priority: 0,
            weight: 0,
            port: 0,
            target: ".".into()
        }
    );
}

#[test]
fn bare_cname_to_an_unaskable_name_is_malformed() {
    let (mut q, t) = start("odd.example.", RecordType::A);
    let target =
        hickory_proto::rr::Name::from_labels(vec![b"a b".to_vec(), b"example".to_vec()]).unwrap();
    let rec = hickory_proto::rr::Record::from_rdata(
        name("odd.example"),
        60,
        hickory_proto::rr::RData::CNAME(hickory_proto::rr::rdata::CNAME(target)),
    );
    assert!(q.handle_datagram(at(1), sa(NS1), &answer(&t, vec![rec])));
    assert!(
        q.poll_transmit().is_none(),
        "no question for a name with a space"
    );
    let Some(DnsEvent::Failed(e)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(e.kind, DnsErrorKind::Malformed);
}
