//! Search list and ndots, glibc `res_search` semantics: which names are tried, in which order, and
//! which results move on to the next name.

mod dns_support;
use dns_support::*;

use std::time::Duration;

use anysock_core::dns::{DnsErrorKind, DnsEvent, DnsQuery, NameError, RecordType};
use anysock_core::resolv_conf::DnsConfig;
use hickory_proto::op::ResponseCode;

fn cfg(search: &[&str], ndots: u8) -> DnsConfig {
    DnsConfig::builder()
        .nameserver(sa(NS1))
        .search(search.iter().copied())
        .ndots(ndots)
        .timeout(Duration::from_secs(1))
        .attempts(1)
        .build()
        .unwrap()
}

#[test]
fn candidate_table() {
    // (name, search, ndots, candidates in order)
    let cases: &[(&str, &[&str], u8, &[&str])] = &[
        (
            "www",
            &["a.example", "b.example"],
            1,
            &["www.a.example", "www.b.example", "www"],
        ),
        (
            "www.corp",
            &["a.example"],
            1,
            &["www.corp", "www.corp.a.example"],
        ),
        (
            "www.corp",
            &["a.example"],
            2,
            &["www.corp.a.example", "www.corp"],
        ),
        ("x.y.z", &["a.example"], 2, &["x.y.z", "x.y.z.a.example"]),
        ("www.corp.", &["a.example"], 5, &["www.corp"]),
        ("www", &[], 1, &["www"]),
        ("host", &["a.example"], 0, &["host", "host.a.example"]),
        ("WWW", &["A.Example"], 1, &["www.a.example", "www"]),
        (
            "bücher",
            &["例え.テスト"],
            1,
            &["xn--bcher-kva.xn--r8jz45g.xn--zckzah", "xn--bcher-kva"],
        ),
    ];
    for (name, search, ndots, expected) in cases {
        let q = DnsQuery::new(&cfg(search, *ndots), name, RecordType::A, t0(), 1).unwrap();
        assert_eq!(
            q.candidates(),
            *expected,
            "name {name:?} search {search:?} ndots {ndots}"
        );
    }
}

#[test]
fn too_long_candidates_are_skipped() {
    let long = format!("{}.{}.{}", "a".repeat(63), "b".repeat(63), "c".repeat(63)); // 191 chars
    let domain = format!("{}.example", "d".repeat(60)); // would make 191 + 1 + 68 = 260
    let q = DnsQuery::new(
        &cfg(&[&domain, "ok.example"], 5),
        &long,
        RecordType::A,
        t0(),
        1,
    )
    .unwrap();
    assert_eq!(q.candidates(), [format!("{long}.ok.example"), long.clone()]);
}

#[test]
fn invalid_names_are_rejected_before_sending() {
    let c = cfg(&[], 1);
    let cases: &[(&str, NameError)] = &[
        ("", NameError::Empty),
        (".", NameError::Empty),
        ("a..b", NameError::EmptyLabel),
        ("has space.example", NameError::Idna),
    ];
    for (n, e) in cases {
        assert_eq!(
            DnsQuery::new(&c, n, RecordType::A, t0(), 1).err(),
            Some(*e),
            "{n:?}"
        );
    }
    let label64 = format!("{}.example", "x".repeat(64));
    assert_eq!(
        DnsQuery::new(&c, &label64, RecordType::A, t0(), 1).err(),
        Some(NameError::LabelTooLong)
    );
    let name256 = vec!["abcdefghi"; 26].join("."); // 26*10 - 1 = 259 chars
    assert_eq!(
        DnsQuery::new(&c, &name256, RecordType::A, t0(), 1).err(),
        Some(NameError::NameTooLong)
    );
}

/// Steps a query through its candidates, answering each question with `respond(name)`.
fn run(
    q: &mut DnsQuery,
    mut respond: impl FnMut(&anysock_core::dns::Transmit, &str) -> Option<Vec<u8>>,
) -> (Vec<String>, DnsEvent) {
    let mut asked = Vec::new();
    let mut now = at(0);
    loop {
        while let Some(t) = q.poll_transmit() {
            let n = qname(&t);
            asked.push(n.clone());
            if let Some(bytes) = respond(&t, &n) {
                now += Duration::from_millis(1);
                assert!(q.handle_datagram(now, t.to, &bytes));
            }
        }
        if let Some(ev) = q.poll_event() {
            return (asked, ev);
        }
        now = q.poll_timeout().unwrap();
        q.handle_timeout(now);
    }
}

#[test]
fn nxdomain_moves_to_the_next_candidate() {
    let mut q = DnsQuery::new(
        &cfg(&["a.example", "b.example"], 1),
        "www",
        RecordType::A,
        t0(),
        3,
    )
    .unwrap();
    let (asked, ev) = run(&mut q, |t, n| {
        Some(if n == "www.b.example" {
            answer(t, vec![rec_a(n, 60, "203.0.113.7")])
        } else {
            nxdomain(t, "example")
        })
    });
    assert_eq!(asked, ["www.a.example", "www.b.example"]);
    let DnsEvent::Answer(a) = ev else { panic!() };
    assert_eq!(a.name, "www.b.example");
    assert_eq!(a.canonical_name, "www.b.example");
}

#[test]
fn nodata_moves_on_and_wins_over_nxdomain_at_the_end() {
    let mut q = DnsQuery::new(
        &cfg(&["a.example", "b.example"], 1),
        "www",
        RecordType::Aaaa,
        t0(),
        4,
    )
    .unwrap();
    let (asked, ev) = run(&mut q, |t, n| {
        Some(if n == "www.a.example" {
            nodata(t, "a.example")
        } else {
            nxdomain(t, "example")
        })
    });
    assert_eq!(asked, ["www.a.example", "www.b.example", "www"]);
    let DnsEvent::Failed(e) = ev else { panic!() };
    assert_eq!(e.kind, DnsErrorKind::NoData);
    assert_eq!(e.tries.len(), 3);
    // Each try is reported under the name it asked, in the order sent.
    let names: Vec<&str> = e.tries.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, asked);
}

#[test]
fn all_nxdomain_is_nxdomain_for_the_last_name() {
    let mut q = DnsQuery::new(&cfg(&["a.example"], 1), "nope", RecordType::A, t0(), 5).unwrap();
    let (asked, ev) = run(&mut q, |t, _| Some(nxdomain(t, "example")));
    assert_eq!(asked, ["nope.a.example", "nope"]);
    let DnsEvent::Failed(e) = ev else { panic!() };
    assert_eq!(e.kind, DnsErrorKind::NxDomain);
    assert_eq!(e.name, "nope");
}

#[test]
fn servfail_moves_on_but_is_reported_if_nothing_better() {
    let mut q = DnsQuery::new(&cfg(&["a.example"], 1), "sf", RecordType::A, t0(), 6).unwrap();
    let (asked, ev) = run(&mut q, |t, n| {
        Some(if n == "sf.a.example" {
            rcode_only(t, ResponseCode::ServFail)
        } else {
            nxdomain(t, "example")
        })
    });
    assert_eq!(asked, ["sf.a.example", "sf"]);
    let DnsEvent::Failed(e) = ev else { panic!() };
    assert_eq!(e.kind, DnsErrorKind::ServerFailure);
}

#[test]
fn a_timeout_stops_the_search() {
    let mut q = DnsQuery::new(
        &cfg(&["a.example", "b.example"], 1),
        "slow",
        RecordType::A,
        t0(),
        7,
    )
    .unwrap();
    let (asked, ev) = run(&mut q, |t, n| {
        if n == "slow.a.example" {
            Some(nxdomain(t, "example"))
        } else {
            None
        }
    });
    assert_eq!(asked, ["slow.a.example", "slow.b.example"]);
    let DnsEvent::Failed(e) = ev else { panic!() };
    assert_eq!(e.kind, DnsErrorKind::TimedOut);
    assert_eq!(e.name, "slow.b.example");
}

#[test]
fn absolute_names_skip_the_search_list() {
    let mut q = DnsQuery::new(&cfg(&["a.example"], 1), "abs.", RecordType::A, t0(), 8).unwrap();
    let (asked, ev) = run(&mut q, |t, _| Some(nxdomain(t, "example")));
    assert_eq!(asked, ["abs"]);
    assert!(matches!(ev, DnsEvent::Failed(e) if e.kind == DnsErrorKind::NxDomain));
}

mod properties {
    use anysock_core::dns::{MAX_LABEL_LEN, MAX_NAME_WIRE_LEN, name_to_ascii};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn name_to_ascii_output_is_a_valid_idempotent_dns_name(s in "\\PC{0,80}|[a-zA-Z0-9._-]{0,300}") {
            if let Ok(a) = name_to_ascii(&s) {
                prop_assert!(a.is_ascii());
                let body = a.strip_suffix('.').unwrap_or(&a);
                prop_assert!(!body.is_empty());
                prop_assert!(body.split('.').all(|l| !l.is_empty() && l.len() <= MAX_LABEL_LEN));
                prop_assert!(body.len() + 2 <= MAX_NAME_WIRE_LEN);
                prop_assert!(!a.bytes().any(|b| b.is_ascii_uppercase()));
                prop_assert_eq!(name_to_ascii(&a), Ok(a.clone()));
            }
        }
    }
}
