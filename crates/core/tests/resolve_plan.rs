//! Scenario tests for the `resolve_sockaddr` planner: tables of requests, scripted DNS answers, and the
//! queries and targets expected.

use std::collections::HashMap;
use std::net::IpAddr;

use anysock_core::hosts::HostsFile;
use anysock_core::resolve::{
    FamilyPreference, HostsPolicy, InetAton, InetAtonEvent, NameError, QueryFailure, QueryOutcome,
    QueryType, Resolve, ResolveConfig, ResolveError, ResolveEvent, ResolveRequest, SrvRecord,
};
use anysock_core::service::ServiceError;
use anysock_core::{Family, SockType};

// ------------------------------------------------------------------------------------------------
// The script driver

/// Scripted DNS: (name, type) -> outcome; anything unscripted is NXDOMAIN.
#[derive(Default)]
struct Dns(HashMap<(String, QueryType), QueryOutcome>);

impl Dns {
    fn a(mut self, name: &str, addrs: &[&str]) -> Self {
        self.0
            .insert((name.into(), QueryType::A), addrs_outcome(addrs));
        self
    }
    fn aaaa(mut self, name: &str, addrs: &[&str]) -> Self {
        self.0
            .insert((name.into(), QueryType::Aaaa), addrs_outcome(addrs));
        self
    }
    fn srv(mut self, name: &str, recs: &[(u16, u16, u16, &str)]) -> Self {
        let recs = recs
            .iter()
            .map(|&(priority, weight, port, t)| SrvRecord {
                priority,
                weight,
                port,
                target: t.into(),
            })
            .collect();
        self.0
            .insert((name.into(), QueryType::Srv), QueryOutcome::Srv(recs));
        self
    }
    fn fail(mut self, name: &str, qtype: QueryType, f: QueryFailure) -> Self {
        self.0.insert((name.into(), qtype), QueryOutcome::Failed(f));
        self
    }
    fn answer(&self, name: &str, qtype: QueryType) -> QueryOutcome {
        self.0
            .get(&(name.to_owned(), qtype))
            .cloned()
            .unwrap_or(QueryOutcome::Failed(QueryFailure::NxDomain))
    }
}

fn addrs_outcome(addrs: &[&str]) -> QueryOutcome {
    QueryOutcome::Addresses(addrs.iter().map(|a| a.parse().unwrap()).collect())
}

/// What a run produced.
#[derive(Debug)]
struct Trace {
    /// Every query, as "TYPE name".
    queries: Vec<String>,
    /// Every Targets event as (family, ["addr" ...]).
    batches: Vec<(Family, Vec<String>)>,
    /// The final ordered list (`Resolve::targets`).
    targets: Vec<String>,
    done: Result<(), ResolveError>,
}

/// Answers every query as soon as it is polled (FIFO), draining events after each answer.
/// Also runs the request again without Targets events and checks that it asks the same questions and
/// ends with the same list and result, with no batch.
fn run(req: ResolveRequest<'_>, config: &ResolveConfig, dns: &Dns) -> Trace {
    let mut r = Resolve::new(req, config, 1).expect("request accepted");
    let trace = drive(&mut r, dns);
    let mut quiet = Resolve::new(req, config, 1)
        .expect("request accepted")
        .without_target_events();
    let q = drive(&mut quiet, dns);
    let moved: Vec<String> = quiet
        .into_targets()
        .iter()
        .map(|t| t.addr.to_string())
        .collect();
    assert_eq!(moved, trace.targets, "into_targets");
    assert!(q.batches.is_empty(), "batches without target events: {q:?}");
    assert_eq!(
        (&q.queries, &q.targets, &q.done),
        (&trace.queries, &trace.targets, &trace.done),
        "without target events"
    );
    trace
}

fn drive(r: &mut Resolve, dns: &Dns) -> Trace {
    let mut queries = Vec::new();
    let mut batches = Vec::new();
    let mut done = None;
    loop {
        while let Some(ev) = r.poll_event() {
            assert!(done.is_none(), "event after Done: {ev:?}");
            match ev {
                ResolveEvent::Targets { family, targets } => {
                    assert!(!targets.is_empty());
                    assert!(targets.iter().all(|t| t.family() == family));
                    batches.push((family, targets.iter().map(|t| t.addr.to_string()).collect()));
                }
                ResolveEvent::Done(res) => done = Some(res),
                other => panic!("unexpected {other:?}"),
            }
        }
        let Some(q) = r.poll_query() else { break };
        assert!(done.is_none(), "query after Done");
        queries.push(format!("{} {}", q.qtype, q.name));
        r.handle_answer(q.id, dns.answer(&q.name, q.qtype));
    }
    Trace {
        queries,
        batches,
        targets: r.targets().iter().map(|t| t.addr.to_string()).collect(),
        done: done.expect("exactly one Done"),
    }
}

fn hosts_config(text: &str, policy: HostsPolicy) -> ResolveConfig {
    ResolveConfig::default()
        .with_hosts(HostsFile::parse(text))
        .with_hosts_policy(policy)
}

// ------------------------------------------------------------------------------------------------
// Literals, unix/, localhost: no query

#[test]
fn literals_answer_at_once() {
    let cfg = ResolveConfig::default();
    let dns = Dns::default();
    // (node, service, family, expected targets)
    let table: &[(&str, &str, Option<Family>, &[&str])] = &[
        ("127.0.0.1", "80", None, &["127.0.0.1:80"]),
        ("127.1", "80", None, &["127.0.0.1:80"]),
        ("0x7f000001", "443", None, &["127.0.0.1:443"]),
        ("017700000001", "22", None, &["127.0.0.1:22"]),
        ("::1", "80", None, &["[::1]:80"]),
        ("2001:DB8::1", "http", None, &["[2001:db8::1]:80"]),
        ("::ffff:127.0.0.1", "80", None, &["127.0.0.1:80"]),
        ("::ffff:127.0.0.1", "80", Some(Family::V6), &[]),
        ("::1", "80", Some(Family::V4), &[]),
        ("127.0.0.1", "80", Some(Family::V4), &["127.0.0.1:80"]),
        ("198.51.100.7", "https=8443", None, &["198.51.100.7:8443"]),
    ];
    for &(node, service, family, want) in table {
        let t = run(
            ResolveRequest::new(node, Some(service)).family(family),
            &cfg,
            &dns,
        );
        assert!(t.queries.is_empty(), "{node}: {:?}", t.queries);
        assert_eq!(t.targets, want, "{node} {service}");
        let want_done = if want.is_empty() {
            Err(ResolveError::NoAddresses)
        } else {
            Ok(())
        };
        assert_eq!(t.done, want_done, "{node}");
    }
}

#[test]
fn out_of_range_dotted_quad_is_a_name() {
    // B7 fix: not a mapped address of its first part; resolved as a name (and it is not found).
    let t = run(
        ResolveRequest::new("256.1.1.1", Some("80")),
        &ResolveConfig::default(),
        &Dns::default(),
    );
    assert_eq!(t.queries, ["AAAA 256.1.1.1", "A 256.1.1.1"]);
    assert_eq!(t.done, Err(ResolveError::NotFound));
}

#[test]
fn unix_paths() {
    let cfg = ResolveConfig::default();
    let mk = |proto: &str, st: Option<SockType>| {
        let mut r = Resolve::new(
            ResolveRequest::new("unix/", Some("/run/app.sock"))
                .protocol(proto)
                .socktype(st),
            &cfg,
            0,
        )
        .unwrap();
        assert!(r.poll_query().is_none());
        let Some(ResolveEvent::Targets { family, targets }) = r.poll_event() else {
            panic!("targets first")
        };
        assert_eq!(r.poll_event(), Some(ResolveEvent::Done(Ok(()))));
        assert_eq!(r.poll_event(), None);
        assert_eq!(r.targets(), targets);
        assert_eq!(family, Family::Unix);
        (
            targets[0].socktype,
            targets[0].protocol,
            targets[0].addr.to_string(),
        )
    };
    assert_eq!(
        mk("tcp", None),
        (SockType::Stream, 0, "unix/:/run/app.sock".into())
    );
    // B36: the requested socket type is honoured; udp defaults to datagram.
    assert_eq!(mk("udp", None).0, SockType::Datagram);
    assert_eq!(mk("udp", Some(SockType::SeqPacket)).0, SockType::SeqPacket);

    // B29: a relative path is a path relative to the current directory, as tcp_bind takes it.
    let mut r = Resolve::new(ResolveRequest::new("unix/", Some("run/app.sock")), &cfg, 0).unwrap();
    let Some(ResolveEvent::Targets { targets, .. }) = r.poll_event() else {
        panic!("targets first")
    };
    assert_eq!(targets[0].addr.to_string(), "unix/:run/app.sock");
    for missing in [Some(""), None] {
        assert_eq!(
            Resolve::new(ResolveRequest::new("unix/", missing), &cfg, 0).unwrap_err(),
            ResolveError::UnixPathMissing
        );
    }
    let long = format!("/{}", "x".repeat(200));
    assert!(matches!(
        Resolve::new(ResolveRequest::new("unix/", Some(&long)), &cfg, 0),
        Err(ResolveError::UnixPath(_))
    ));
    // An IP family asked for a unix socket: nothing, reported once.
    let mut r = Resolve::new(
        ResolveRequest::new("unix/", Some("/s")).family(Some(Family::V4)),
        &cfg,
        0,
    )
    .unwrap();
    assert_eq!(
        r.poll_event(),
        Some(ResolveEvent::Done(Err(ResolveError::NoAddresses)))
    );
    assert_eq!(r.poll_event(), None);
}

#[test]
fn localhost_is_loopback_without_dns() {
    // B20 fix. The hosts file says otherwise, and both policies ignore it for localhost names.
    for policy in [HostsPolicy::First, HostsPolicy::Fallback] {
        let cfg = hosts_config("192.0.2.200 localhost foo.localhost\n", policy);
        for node in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "foo.localhost",
            "Foo.LocalHost.",
            "a.b.localhost",
        ] {
            let t = run(
                ResolveRequest::new(node, Some("http")),
                &cfg,
                &Dns::default(),
            );
            assert!(t.queries.is_empty(), "{node}: {:?}", t.queries);
            assert_eq!(t.targets, ["[::1]:80", "127.0.0.1:80"], "{node}");
            assert_eq!(t.done, Ok(()));
        }
    }
    // AnyEvent's preference puts IPv4 first.
    let cfg = ResolveConfig::anyevent();
    let t = run(
        ResolveRequest::new("localhost", Some("80")),
        &cfg,
        &Dns::default(),
    );
    assert_eq!(t.targets, ["127.0.0.1:80", "[::1]:80"]);
    // Not localhost: "localhost.example", "notlocalhost".
    for node in ["localhost.example", "notlocalhost"] {
        let t = run(ResolveRequest::new(node, Some("80")), &cfg, &Dns::default());
        assert_eq!(t.queries.len(), 2, "{node}");
    }
}

// ------------------------------------------------------------------------------------------------
// Plain names, families, streaming

#[test]
fn plain_name_queries_and_order() {
    let dns = Dns::default()
        .a("www.test", &["203.0.113.1", "203.0.113.2"])
        .aaaa("www.test", &["2001:db8::1"]);
    // (preference, request family, queries, final order)
    type Row<'a> = (
        FamilyPreference,
        Option<Family>,
        &'a [&'a str],
        &'a [&'a str],
    );
    let table: &[Row<'_>] = &[
        (
            FamilyPreference::PreferV6,
            None,
            &["AAAA www.test", "A www.test"],
            &["[2001:db8::1]:80", "203.0.113.1:80", "203.0.113.2:80"],
        ),
        (
            FamilyPreference::PreferV4,
            None,
            &["A www.test", "AAAA www.test"],
            &["203.0.113.1:80", "203.0.113.2:80", "[2001:db8::1]:80"],
        ),
        (
            FamilyPreference::V4Only,
            None,
            &["A www.test"],
            &["203.0.113.1:80", "203.0.113.2:80"],
        ),
        (
            FamilyPreference::V6Only,
            None,
            &["AAAA www.test"],
            &["[2001:db8::1]:80"],
        ),
        (
            FamilyPreference::PreferV6,
            Some(Family::V4),
            &["A www.test"],
            &["203.0.113.1:80", "203.0.113.2:80"],
        ),
        (
            FamilyPreference::PreferV4,
            Some(Family::V6),
            &["AAAA www.test"],
            &["[2001:db8::1]:80"],
        ),
        (FamilyPreference::PreferV4, Some(Family::Unix), &[], &[]),
    ];
    for &(pref, family, queries, order) in table {
        let cfg = ResolveConfig::default().with_family_preference(pref);
        let t = run(
            ResolveRequest::new("WWW.Test", Some("80")).family(family),
            &cfg,
            &dns,
        );
        assert_eq!(t.queries, queries, "{pref:?} {family:?}");
        assert_eq!(t.targets, order, "{pref:?} {family:?}");
    }
}

#[test]
fn a_family_the_configuration_disables_is_an_error() {
    let cfg = ResolveConfig::default().with_family_preference(FamilyPreference::V4Only);
    let req = ResolveRequest::new("www.test", Some("80")).family(Some(Family::V6));
    assert_eq!(
        Resolve::new(req, &cfg, 0).unwrap_err(),
        ResolveError::FamilyDisabled
    );
}

#[test]
fn targets_stream_per_family_as_answers_arrive() {
    let cfg = ResolveConfig::default(); // IPv6 preferred
    let mut r = Resolve::new(ResolveRequest::new("dual.test", Some("443")), &cfg, 0).unwrap();
    let q6 = r.poll_query().unwrap();
    let q4 = r.poll_query().unwrap();
    assert_eq!((q6.qtype, q4.qtype), (QueryType::Aaaa, QueryType::A));
    assert_eq!(r.poll_query(), None);
    assert_eq!(r.poll_event(), None);

    // A arrives first: its targets come out at once (the connect machine decides about waiting).
    r.handle_answer(
        q4.id,
        QueryOutcome::Addresses(vec!["203.0.113.4".parse().unwrap()]),
    );
    let Some(ResolveEvent::Targets { family, targets }) = r.poll_event() else {
        panic!()
    };
    assert_eq!(family, Family::V4);
    assert_eq!(targets[0].addr.to_string(), "203.0.113.4:443");
    assert_eq!(r.poll_event(), None, "not done while AAAA is out");
    assert!(!r.is_finished());

    // A repeated or unknown answer is ignored.
    r.handle_answer(q4.id, QueryOutcome::Failed(QueryFailure::ServerFailure));
    assert_eq!(r.poll_event(), None);

    r.handle_answer(
        q6.id,
        QueryOutcome::Addresses(vec!["2001:db8::4".parse().unwrap()]),
    );
    let Some(ResolveEvent::Targets { family, .. }) = r.poll_event() else {
        panic!()
    };
    assert_eq!(family, Family::V6);
    assert_eq!(r.poll_event(), Some(ResolveEvent::Done(Ok(()))));
    assert_eq!(r.poll_event(), None);
    // The final list puts the preferred family first.
    let order: Vec<String> = r.targets().iter().map(|t| t.addr.to_string()).collect();
    assert_eq!(order, ["[2001:db8::4]:443", "203.0.113.4:443"]);
    // Answers after Done change nothing.
    r.handle_answer(q6.id, QueryOutcome::Addresses(vec![]));
    assert_eq!(r.poll_event(), None);
}

#[test]
fn failures_become_one_typed_done() {
    use QueryFailure::*;
    let table: &[(QueryFailure, QueryFailure, ResolveError)] = &[
        (NxDomain, NxDomain, ResolveError::NotFound),
        (NoData, NoData, ResolveError::NoAddresses),
        (NoData, NxDomain, ResolveError::NotFound),
        (TimedOut, NxDomain, ResolveError::Lookup(TimedOut)),
        (NoData, ServerFailure, ResolveError::Lookup(ServerFailure)),
        (Refused, Refused, ResolveError::Lookup(Refused)),
        (Malformed, NoData, ResolveError::Lookup(Malformed)),
        (NxDomain, CnameChain, ResolveError::Lookup(CnameChain)),
    ];
    for &(f6, f4, want) in table {
        let dns = Dns::default().fail("gone.test", QueryType::Aaaa, f6).fail(
            "gone.test",
            QueryType::A,
            f4,
        );
        let t = run(
            ResolveRequest::new("gone.test", Some("80")),
            &ResolveConfig::default(),
            &dns,
        );
        assert_eq!(t.done, Err(want), "{f6:?} {f4:?}");
        assert!(t.batches.is_empty());
    }
    // One family failing does not fail the whole.
    let dns = Dns::default()
        .fail("half.test", QueryType::Aaaa, TimedOut)
        .a("half.test", &["203.0.113.9"]);
    let t = run(
        ResolveRequest::new("half.test", Some("80")),
        &ResolveConfig::default(),
        &dns,
    );
    assert_eq!(t.done, Ok(()));
    assert_eq!(t.targets, ["203.0.113.9:80"]);
}

#[test]
fn malformed_records_are_skipped_and_duplicates_dropped() {
    // B23 fix: an address of the wrong family in an answer is skipped, the good ones kept.
    let dns = Dns::default()
        .a(
            "mixed.test",
            &["2001:db8::bad", "203.0.113.1", "203.0.113.1"],
        )
        .aaaa("mixed.test", &["203.0.113.99", "2001:db8::1"]);
    let t = run(
        ResolveRequest::new("mixed.test", Some("80")),
        &ResolveConfig::default(),
        &dns,
    );
    assert_eq!(t.targets, ["[2001:db8::1]:80", "203.0.113.1:80"]);
    // An SRV answer to an address question counts as malformed.
    let mut r = Resolve::new(
        ResolveRequest::new("odd.test", Some("80")).family(Some(Family::V4)),
        &ResolveConfig::default(),
        0,
    )
    .unwrap();
    let q = r.poll_query().unwrap();
    r.handle_answer(q.id, QueryOutcome::Srv(vec![]));
    assert_eq!(
        r.poll_event(),
        Some(ResolveEvent::Done(Err(ResolveError::Lookup(
            QueryFailure::Malformed
        ))))
    );
}

#[test]
fn idn_names_are_converted_before_lookup() {
    let cfg = hosts_config("203.0.113.50 xn--bcher-kva.test\n", HostsPolicy::First);
    let t = run(
        ResolveRequest::new("Bücher.test", Some("80")),
        &cfg,
        &Dns::default(),
    );
    assert!(t.queries.is_empty());
    assert_eq!(t.targets, ["203.0.113.50:80"]);
    let t = run(
        ResolveRequest::new("bücher.test", Some("80")),
        &ResolveConfig::default(),
        &Dns::default(),
    );
    assert_eq!(
        t.queries,
        ["AAAA xn--bcher-kva.test", "A xn--bcher-kva.test"]
    );
}

// ------------------------------------------------------------------------------------------------
// Synchronous errors

#[test]
fn bad_input_is_a_typed_error() {
    let cfg = ResolveConfig::default();
    let err = |node: &str, service: Option<&str>, proto: &str| {
        Resolve::new(ResolveRequest::new(node, service).protocol(proto), &cfg, 0).err()
    };
    assert_eq!(
        err("h.test", Some("80"), "nope"),
        Some(ResolveError::UnknownProtocol)
    );
    assert_eq!(
        err("h.test", Some("http"), "TCP"),
        None,
        "B21: case-blind protocol"
    );
    assert_eq!(
        err("127.0.0.1", Some("80"), "ip"),
        None,
        "B21: protocol 0 is valid"
    );
    assert_eq!(
        err("127.0.0.1", Some("80"), ""),
        None,
        "empty protocol means tcp"
    );
    assert_eq!(
        err("h.test", Some("nosuchservice"), "tcp"),
        Some(ResolveError::UnknownService)
    );
    assert_eq!(
        err("h.test", Some("70000"), "tcp"),
        Some(ResolveError::BadService(ServiceError::PortOutOfRange)),
        "B22: no wrap to 4464"
    );
    assert_eq!(
        err("h.test", Some(""), "tcp"),
        Some(ResolveError::BadService(ServiceError::Empty))
    );
    assert!(matches!(
        err("h.test", Some("80\n"), "tcp"),
        Some(ResolveError::BadService(_))
    ));
    assert!(matches!(
        err("h.test", Some("-1"), "tcp"),
        Some(ResolveError::BadService(_))
    ));
    for (node, e) in [
        ("", NameError::Empty),
        (".", NameError::Empty),
        ("a..b", NameError::EmptyLabel),
        (".a", NameError::EmptyLabel),
        ("a b", NameError::BadChar { at: 1 }),
        ("[::1]", NameError::BadChar { at: 0 }),
        ("host\n", NameError::BadChar { at: 4 }),
    ] {
        assert_eq!(
            err(node, Some("80"), "tcp"),
            Some(ResolveError::InvalidName(e)),
            "{node:?}"
        );
    }
    let long_label = format!("{}.test", "a".repeat(64));
    assert_eq!(
        err(&long_label, Some("80"), "tcp"),
        Some(ResolveError::InvalidName(NameError::LabelTooLong))
    );
    let long_name = ["abcdefghij"; 30].join(".");
    assert_eq!(
        err(&long_name, Some("80"), "tcp"),
        Some(ResolveError::InvalidName(NameError::TooLong))
    );
}

#[test]
fn protocol_sets_type_and_number() {
    let cfg = ResolveConfig::default();
    for (proto, st, num) in [
        ("tcp", SockType::Stream, 6),
        ("UDP", SockType::Datagram, 17),
        ("sctp", SockType::Stream, 132),
        ("ip", SockType::Stream, 0),
    ] {
        let r = Resolve::new(
            ResolveRequest::new("192.0.2.1", Some("9")).protocol(proto),
            &cfg,
            0,
        )
        .unwrap();
        let t = r.targets();
        assert_eq!((t[0].socktype, t[0].protocol), (st, num), "{proto}");
    }
    // udp service lookups use the udp table; a caller-chosen type wins.
    let r = Resolve::new(
        ResolveRequest::new("192.0.2.1", Some("domain"))
            .protocol("udp")
            .socktype(Some(SockType::SeqPacket)),
        &cfg,
        0,
    )
    .unwrap();
    assert_eq!(r.targets()[0].socktype, SockType::SeqPacket);
    assert_eq!(r.targets()[0].addr.to_string(), "192.0.2.1:53");
}

// ------------------------------------------------------------------------------------------------
// Hosts file policies

#[test]
fn hosts_first_answers_without_dns() {
    let cfg = hosts_config(
        "203.0.113.10 hostsonly.test\n2001:db8::10 hostsonly.test\n203.0.113.11 v4only.test\n",
        HostsPolicy::First,
    );
    let dns = Dns::default()
        .a("hostsonly.test", &["198.51.100.1"])
        .aaaa("v4only.test", &["2001:db8::99"]);
    let t = run(
        ResolveRequest::new("HostsOnly.Test.", Some("http")),
        &cfg,
        &dns,
    );
    assert!(t.queries.is_empty(), "no SRV, no A/AAAA: {:?}", t.queries);
    assert_eq!(t.targets, ["[2001:db8::10]:80", "203.0.113.10:80"]);
    // A name listed only with IPv4 gets no AAAA from DNS (as glibc's files-then-dns does).
    let t = run(ResolveRequest::new("v4only.test", Some("80")), &cfg, &dns);
    assert!(t.queries.is_empty());
    assert_eq!(t.targets, ["203.0.113.11:80"]);
    // Not listed: DNS.
    let t = run(ResolveRequest::new("other.test", Some("80")), &cfg, &dns);
    assert_eq!(t.queries.len(), 2);
}

#[test]
fn hosts_fallback_per_record_type_as_anyevent() {
    let cfg = hosts_config(
        "203.0.113.20 both.test hostsonly.test\n2001:db8::20 both.test\n",
        HostsPolicy::Fallback,
    );
    // DNS has A for both.test, no AAAA: DNS IPv4 plus hosts IPv6 (semantics doc 4.2 step 9).
    let dns = Dns::default().a("both.test", &["198.51.100.20"]).fail(
        "both.test",
        QueryType::Aaaa,
        QueryFailure::NoData,
    );
    let t = run(ResolveRequest::new("both.test", Some("80")), &cfg, &dns);
    assert_eq!(t.queries, ["AAAA both.test", "A both.test"]);
    assert_eq!(t.targets, ["[2001:db8::20]:80", "198.51.100.20:80"]);
    // Nothing in DNS: all from the hosts file, after the queries (SRV included for a service name).
    let t = run(
        ResolveRequest::new("hostsonly.test", Some("http")),
        &cfg,
        &Dns::default(),
    );
    assert_eq!(
        t.queries,
        [
            "SRV _http._tcp.hostsonly.test",
            "AAAA hostsonly.test",
            "A hostsonly.test"
        ]
    );
    assert_eq!(t.targets, ["203.0.113.20:80"]);
    // DNS wins when it answers.
    let dns = Dns::default().a("hostsonly.test", &["198.51.100.21"]);
    let t = run(
        ResolveRequest::new("hostsonly.test", Some("80")),
        &cfg,
        &dns,
    );
    assert_eq!(t.targets, ["198.51.100.21:80"]);
    // Ignore: never.
    let cfg = hosts_config("203.0.113.20 hostsonly.test\n", HostsPolicy::Ignore);
    let t = run(
        ResolveRequest::new("hostsonly.test", Some("80")),
        &cfg,
        &Dns::default(),
    );
    assert_eq!(t.done, Err(ResolveError::NotFound));
}

#[test]
fn hosts_match_srv_targets_and_trailing_dots() {
    // B19 fix, in both policies.
    for policy in [HostsPolicy::First, HostsPolicy::Fallback] {
        let cfg = hosts_config("203.0.113.18 srvtarget.test\n", policy);
        let dns = Dns::default().srv(
            "_http._tcp.srvhosts.test",
            &[(10, 0, 8080, "srvtarget.test")],
        );
        let t = run(
            ResolveRequest::new("srvhosts.test", Some("http")),
            &cfg,
            &dns,
        );
        assert_eq!(t.targets, ["203.0.113.18:8080"], "{policy:?}");
        let t = run(
            ResolveRequest::new("srvtarget.test.", Some("80")),
            &cfg,
            &dns,
        );
        assert_eq!(t.targets, ["203.0.113.18:80"], "{policy:?}");
    }
}

// ------------------------------------------------------------------------------------------------
// SRV

#[test]
fn srv_root_target_means_not_offered() {
    // B17 fix: a clear error and no A/AAAA queries for the root.
    for target in [".", ""] {
        let dns = Dns::default().srv("_http._tcp.nosrv.test", &[(0, 0, 0, target)]);
        let t = run(
            ResolveRequest::new("nosrv.test", Some("http")),
            &ResolveConfig::default(),
            &dns,
        );
        assert_eq!(t.queries, ["SRV _http._tcp.nosrv.test"]);
        assert_eq!(t.done, Err(ResolveError::ServiceNotOffered));
    }
    // "." among real targets is ignored.
    let dns = Dns::default()
        .srv(
            "_http._tcp.mixed.test",
            &[(0, 0, 0, "."), (10, 0, 81, "real.test")],
        )
        .a("real.test.", &["203.0.113.81"]);
    let t = run(
        ResolveRequest::new("mixed.test", Some("http")).family(Some(Family::V4)),
        &ResolveConfig::default(),
        &dns,
    );
    assert_eq!(t.queries, ["SRV _http._tcp.mixed.test", "A real.test."]);
    assert_eq!(t.targets, ["203.0.113.81:81"]);
}

#[test]
fn srv_fallback_to_the_plain_name() {
    let cfg = ResolveConfig::anyevent();
    let dns = Dns::default()
        .fail(
            "_http._tcp.plain.test",
            QueryType::Srv,
            QueryFailure::NxDomain,
        )
        .a("plain.test", &["203.0.113.30"]);
    let table: &[(&str, &str, &str)] = &[
        ("http", "SRV _http._tcp.plain.test", "203.0.113.30:80"),
        (
            "http=8080",
            "SRV _http._tcp.plain.test",
            "203.0.113.30:8080",
        ),
        (
            "xmpp-client=5222",
            "SRV _xmpp-client._tcp.plain.test",
            "203.0.113.30:5222",
        ),
    ];
    for &(service, srv_q, target) in table {
        let t = run(ResolveRequest::new("plain.test", Some(service)), &cfg, &dns);
        assert_eq!(
            t.queries,
            [srv_q, "A plain.test", "AAAA plain.test"],
            "{service}"
        );
        assert_eq!(t.targets, [target], "{service}");
    }
    // Empty records or a failure: the same.
    let dns = Dns::default()
        .srv("_http._tcp.plain.test", &[])
        .a("plain.test", &["203.0.113.30"]);
    let t = run(ResolveRequest::new("plain.test", Some("http")), &cfg, &dns);
    assert_eq!(t.targets, ["203.0.113.30:80"]);
    // A numeric service never asks for SRV.
    let t = run(ResolveRequest::new("plain.test", Some("80")), &cfg, &dns);
    assert_eq!(t.queries, ["A plain.test", "AAAA plain.test"]);
}

#[test]
fn srv_ports_replace_the_name_port_port() {
    let dns = Dns::default()
        .srv("_xmpp._tcp.chat.test", &[(5, 0, 5269, "s1.chat.test.")])
        .a("s1.chat.test.", &["203.0.113.40"]);
    let t = run(
        ResolveRequest::new("chat.test", Some("xmpp=5222")).family(Some(Family::V4)),
        &ResolveConfig::default(),
        &dns,
    );
    assert_eq!(t.targets, ["203.0.113.40:5269"]);
}

/// B18 fix: priority 10 (IPv6 only) before priority 20 (IPv4 only) before priority 30 (both), under
/// either family preference; within priority 30 the preferred family comes first.
#[test]
fn srv_priority_outranks_family() {
    let dns = Dns::default()
        .srv(
            "_http._tcp.srv.test",
            &[
                (20, 0, 8020, "v4only.test"),
                (10, 0, 8010, "v6only.test"),
                (30, 0, 8030, "a.test"),
            ],
        )
        .a("v4only.test.", &["203.0.113.3"])
        .aaaa("v6only.test.", &["2001:db8::3"])
        .a("a.test.", &["203.0.113.1"])
        .aaaa("a.test.", &["2001:db8::1"]);
    let table: &[(FamilyPreference, &[&str])] = &[
        (
            FamilyPreference::PreferV4,
            &[
                "[2001:db8::3]:8010",
                "203.0.113.3:8020",
                "203.0.113.1:8030",
                "[2001:db8::1]:8030",
            ],
        ),
        (
            FamilyPreference::PreferV6,
            &[
                "[2001:db8::3]:8010",
                "203.0.113.3:8020",
                "[2001:db8::1]:8030",
                "203.0.113.1:8030",
            ],
        ),
    ];
    for &(pref, want) in table {
        let cfg = ResolveConfig::default().with_family_preference(pref);
        let t = run(ResolveRequest::new("srv.test", Some("http")), &cfg, &dns);
        assert_eq!(t.targets, want, "{pref:?}");
        // Streaming follows priority too: the concatenated batches are the same set, and no priority
        // 20/30 target is emitted before priority 10 is complete.
        let streamed: Vec<String> = t.batches.iter().flat_map(|(_, b)| b.clone()).collect();
        assert_eq!(streamed[0], "[2001:db8::3]:8010");
        assert_eq!(t.done, Ok(()));
        let meta: Vec<Option<u16>> =
            Resolve::new(ResolveRequest::new("srv.test", Some("http")), &cfg, 1)
                .map(|mut r| {
                    drive(&mut r, &dns);
                    r.targets().iter().map(|t| t.meta.srv_priority).collect()
                })
                .unwrap();
        assert_eq!(meta, [Some(10), Some(20), Some(30), Some(30)]);
    }
}

#[test]
fn lower_priority_answers_wait_for_higher_priority_ones() {
    let cfg = ResolveConfig::default().with_family_preference(FamilyPreference::V4Only);
    let mut r = Resolve::new(ResolveRequest::new("svc.test", Some("http")), &cfg, 0).unwrap();
    let srv = r.poll_query().unwrap();
    r.handle_answer(
        srv.id,
        QueryOutcome::Srv(vec![
            SrvRecord {
                priority: 10,
                weight: 0,
                port: 1,
                target: "first.test".into(),
            },
            SrvRecord {
                priority: 20,
                weight: 0,
                port: 2,
                target: "second.test".into(),
            },
        ]),
    );
    let q1 = r.poll_query().unwrap();
    let q2 = r.poll_query().unwrap();
    assert_eq!((&*q1.name, &*q2.name), ("first.test.", "second.test."));
    r.handle_answer(
        q2.id,
        QueryOutcome::Addresses(vec!["203.0.113.2".parse().unwrap()]),
    );
    assert_eq!(r.poll_event(), None, "priority 20 waits for priority 10");
    r.handle_answer(
        q1.id,
        QueryOutcome::Addresses(vec!["203.0.113.1".parse().unwrap()]),
    );
    let Some(ResolveEvent::Targets { targets, .. }) = r.poll_event() else {
        panic!()
    };
    let got: Vec<String> = targets.iter().map(|t| t.addr.to_string()).collect();
    assert_eq!(
        got,
        ["203.0.113.1:1", "203.0.113.2:2"],
        "one batch, in order"
    );
    assert_eq!(r.poll_event(), Some(ResolveEvent::Done(Ok(()))));
}

#[test]
fn a_pending_family_of_a_better_priority_holds_back_the_other_family() {
    let cfg = ResolveConfig::default();
    let mut r = Resolve::new(ResolveRequest::new("svc.test", Some("http")), &cfg, 0).unwrap();
    let srv = r.poll_query().unwrap();
    r.handle_answer(
        srv.id,
        QueryOutcome::Srv(vec![
            SrvRecord {
                priority: 10,
                weight: 0,
                port: 1,
                target: "first.test".into(),
            },
            SrvRecord {
                priority: 20,
                weight: 0,
                port: 2,
                target: "second.test".into(),
            },
        ]),
    );
    let qs: Vec<_> = std::iter::from_fn(|| r.poll_query()).collect();
    let find = |name: &str, t: QueryType| {
        qs.iter()
            .find(|q| &*q.name == name && q.qtype == t)
            .unwrap()
            .id
    };
    // Priority 10 IPv4 answered (nothing), priority 20 answered in both families; priority 10 IPv6
    // still out: nothing may be emitted yet, not even IPv4 of priority 20.
    r.handle_answer(
        find("first.test.", QueryType::A),
        QueryOutcome::Failed(QueryFailure::NoData),
    );
    r.handle_answer(
        find("second.test.", QueryType::A),
        QueryOutcome::Addresses(vec!["203.0.113.2".parse().unwrap()]),
    );
    r.handle_answer(
        find("second.test.", QueryType::Aaaa),
        QueryOutcome::Addresses(vec!["2001:db8::2".parse().unwrap()]),
    );
    assert_eq!(r.poll_event(), None);
    r.handle_answer(
        find("first.test.", QueryType::Aaaa),
        QueryOutcome::Addresses(vec!["2001:db8::1".parse().unwrap()]),
    );
    let mut order = Vec::new();
    while let Some(ev) = r.poll_event() {
        if let ResolveEvent::Targets { targets, .. } = ev {
            order.extend(targets.iter().map(|t| t.addr.to_string()));
        }
    }
    assert_eq!(
        order,
        ["[2001:db8::1]:1", "[2001:db8::2]:2", "203.0.113.2:2"]
    );
}

#[test]
fn duplicate_srv_targets_share_queries_and_appear_once() {
    let dns = Dns::default()
        .srv(
            "_http._tcp.dup.test",
            &[
                (1, 0, 80, "same.test"),
                (1, 0, 80, "SAME.test."),
                (2, 0, 81, "same.test"),
            ],
        )
        .a("same.test.", &["203.0.113.7"]);
    let t = run(
        ResolveRequest::new("dup.test", Some("http")).family(Some(Family::V4)),
        &ResolveConfig::default(),
        &dns,
    );
    assert_eq!(t.queries, ["SRV _http._tcp.dup.test", "A same.test."]);
    assert_eq!(t.targets, ["203.0.113.7:80", "203.0.113.7:81"]);
}

#[test]
fn srv_target_localhost_and_bad_names() {
    let dns = Dns::default().srv(
        "_http._tcp.weird.test",
        &[
            (1, 0, 8001, "localhost."),
            (2, 0, 8002, "bad name"),
            (3, 0, 8003, "a..b"),
        ],
    );
    let t = run(
        ResolveRequest::new("weird.test", Some("http")),
        &ResolveConfig::default(),
        &dns,
    );
    assert_eq!(t.queries, ["SRV _http._tcp.weird.test"]);
    assert_eq!(t.targets, ["[::1]:8001", "127.0.0.1:8001"]);
}

// ------------------------------------------------------------------------------------------------
// inet_aton on the same path

#[test]
fn inet_aton_uses_the_resolver_path() {
    let cfg = hosts_config("203.0.113.60 hostsonly.test\n", HostsPolicy::Fallback);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    // Literal, synchronous.
    let a = InetAton::new("1.2.3.4", &cfg).unwrap();
    assert_eq!(a.addresses(), [ip("1.2.3.4")]);
    // localhost.
    let a = InetAton::new("LOCALHOST", &cfg).unwrap();
    assert_eq!(a.addresses(), [ip("::1"), ip("127.0.0.1")]);
    // B35: hosts file fallback.
    let mut a = InetAton::new("hostsonly.test", &cfg).unwrap();
    let mut qs = Vec::new();
    while let Some(q) = a.poll_query() {
        qs.push(format!("{} {}", q.qtype, q.name));
        a.handle_answer(q.id, QueryOutcome::Failed(QueryFailure::NxDomain));
    }
    assert_eq!(qs, ["AAAA hostsonly.test", "A hostsonly.test"], "no SRV");
    assert_eq!(
        a.poll_event(),
        Some(InetAtonEvent::Addresses {
            family: Family::V4,
            addrs: vec![ip("203.0.113.60")]
        })
    );
    assert_eq!(a.poll_event(), Some(InetAtonEvent::Done(Ok(()))));
    assert!(a.is_finished());
    // B7: an out-of-range dotted quad is looked up as a name.
    let mut a = InetAton::new("256.1.1.1", &cfg).unwrap();
    assert!(a.poll_query().is_some());
    assert!(InetAton::new("unix/", &cfg).is_err());
}

// ------------------------------------------------------------------------------------------------
// AnyEvent compatibility

/// `ResolveConfig::anyevent()` (hosts file after DNS, IPv4 first) against what the real
/// `AnyEvent::Socket::resolve_sockaddr` 7.17 returned and asked for, with the same stub DNS data and
/// hosts file (`PERL_ANYEVENT_HOSTS`, a stub `$AnyEvent::DNS::RESOLVER`, see semantics doc 6.1). The one
/// row where we differ on purpose (B18) says so.
#[test]
fn same_results_and_queries_as_anyevent() {
    let cfg = ResolveConfig::anyevent().with_hosts(HostsFile::parse(
        "203.0.113.20 both.test hostsonly.test\n2001:db8::20 both.test\n203.0.113.21 srvtarget.test\n",
    ));
    let dns = Dns::default()
        .a("both.test", &["198.51.100.20"])
        .srv(
            "_http._tcp.srv.test",
            &[
                (20, 0, 8020, "v4only.test"),
                (10, 0, 8010, "v6only.test"),
                (30, 0, 8030, "a.test"),
            ],
        )
        .a("v4only.test.", &["203.0.113.3"])
        .aaaa("v6only.test.", &["2001:db8::3"])
        .a("a.test.", &["203.0.113.1"])
        .aaaa("a.test.", &["2001:db8::1"])
        .a("plain.test", &["203.0.113.30"])
        .a("www.test", &["203.0.113.1", "203.0.113.2"])
        .aaaa("www.test", &["2001:db8::1"]);
    let f = |n: u8| match n {
        4 => Some(Family::V4),
        6 => Some(Family::V6),
        _ => None,
    };
    // (node, service, AnyEvent family argument, targets, queries), as printed by perl.
    let table: &[(&str, &str, u8, &str, &str)] = &[
        ("127.1", "80", 0, "127.0.0.1:80", ""),
        ("::ffff:127.0.0.1", "80", 0, "127.0.0.1:80", ""),
        ("::ffff:127.0.0.1", "80", 6, "", ""),
        ("0x7f000001", "443", 0, "127.0.0.1:443", ""),
        (
            "both.test",
            "80",
            0,
            "198.51.100.20:80 [2001:db8::20]:80",
            "a both.test, aaaa both.test",
        ),
        (
            "hostsonly.test",
            "http",
            0,
            "203.0.113.20:80",
            "srv _http._tcp.hostsonly.test, a hostsonly.test, aaaa hostsonly.test",
        ),
        (
            "srv.test",
            "http",
            0,
            // AnyEvent (B18): "203.0.113.3:8020 203.0.113.1:8030 [2001:db8::3]:8010 [2001:db8::1]:8030"
            "[2001:db8::3]:8010 203.0.113.3:8020 203.0.113.1:8030 [2001:db8::1]:8030",
            "srv _http._tcp.srv.test, a v6only.test., aaaa v6only.test., a v4only.test., \
             aaaa v4only.test., a a.test., aaaa a.test.",
        ),
        (
            "plain.test",
            "http=8080",
            0,
            "203.0.113.30:8080",
            "srv _http._tcp.plain.test, a plain.test, aaaa plain.test",
        ),
        (
            "plain.test",
            "http",
            0,
            "203.0.113.30:80",
            "srv _http._tcp.plain.test, a plain.test, aaaa plain.test",
        ),
        (
            "www.test",
            "80",
            0,
            "203.0.113.1:80 203.0.113.2:80 [2001:db8::1]:80",
            "a www.test, aaaa www.test",
        ),
        (
            "www.test",
            "80",
            4,
            "203.0.113.1:80 203.0.113.2:80",
            "a www.test",
        ),
        ("www.test", "80", 6, "[2001:db8::1]:80", "aaaa www.test"),
        ("localhost", "22", 0, "127.0.0.1:22 [::1]:22", ""),
    ];
    for &(node, service, fam, targets, queries) in table {
        let t = run(
            ResolveRequest::new(node, Some(service)).family(f(fam)),
            &cfg,
            &dns,
        );
        assert_eq!(t.targets.join(" "), targets, "{node} {service} {fam}");
        let q: Vec<String> = t.queries.iter().map(|q| q.to_lowercase()).collect();
        assert_eq!(q.join(", "), queries, "{node} {service} {fam}");
    }
}

// ------------------------------------------------------------------------------------------------
// Invariants over arbitrary answer scripts

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
    /// Any request and any answer script (order, failures, wrong-family addresses, SRV records of any
    /// shape, stale ids) ends in exactly one Done; each target appears once; the final list agrees with
    /// the stream. The checks live in the fuzz helper, shared with the cargo-fuzz target.
    #[test]
    fn any_answer_script_ends_in_exactly_one_done(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
        anysock_core::fuzzing::resolve_script_check(&data);
    }
}

// ------------------------------------------------------------------------------------------------
// ConfigNeeds: planning with only the parts a request needs gives the same plan

/// The full configuration of the `config_needs` property: a hosts file, a services database that
/// differs from the built-in one (so that reading it or not shows), and a protocols database.
fn full_config() -> ResolveConfig {
    ResolveConfig::default()
        .with_hosts(HostsFile::parse(
            "10.0.0.7 db.internal\n::1 db.internal\n127.0.0.9 www.example\n",
        ))
        .with_services(anysock_core::ServiceDb::parse(
            "http 8080/tcp www\nhttp 8080/udp\ncustom 4444/tcp\ncustom 4445/udp\nsctpsvc 9999/sctp\n",
        ))
        .with_protocols(anysock_core::ProtocolDb::parse(
            "tcp 6 TCP\nudp 17 UDP\nsctp 132 SCTP\nspecial 99 SPECIAL\n",
        ))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
    /// A request planned with the parts `config_needs` names (the rest left at their defaults) gives
    /// exactly the plan, queries, targets and errors that the full configuration gives.
    #[test]
    fn config_needs_names_every_part_the_plan_reads(
        node in proptest::sample::select(vec![
            "127.0.0.1", "127.1", "0x7f.1", "::1", "::ffff:10.0.0.1", "[::1]", "unix/", "localhost",
            "db.internal", "DB.Internal", "www.example", "missing.example", "bücher.example", "",
            "256.1.1.1", "1.2.3.4.5", "fe80::1%lo",
        ]),
        service in proptest::sample::select(vec![
            None, Some("80"), Some("0"), Some("http"), Some("HTTP"), Some("custom"), Some("https"),
            Some("http=81"), Some("nosuch"), Some("nosuch=82"), Some("/tmp/sock"), Some("rel/sock"),
            Some(""), Some("70000"), Some("sctpsvc"),
        ]),
        protocol in proptest::sample::select(vec!["", "tcp", "TCP", "udp", "sctp", "special", "bogus"]),
        family in proptest::sample::select(vec![None, Some(Family::V4), Some(Family::V6), Some(Family::Unix)]),
    ) {
        let req = ResolveRequest::new(node, service).protocol(protocol).family(family);
        let needs = req.config_needs();
        let full = full_config();
        let mut part = ResolveConfig::default();
        if needs.hosts {
            part.hosts = full.hosts.clone();
        }
        if needs.services {
            part.services = full.services.clone();
        }
        if needs.protocols {
            part.protocols = full.protocols.clone();
        }
        let dns = Dns::default()
            .a("missing.example", &["10.9.9.9"])
            .aaaa("xn--bcher-kva.example", &["2001:db8::9"]);
        let plan = |config: &ResolveConfig| match Resolve::new(req, config, 7) {
            Ok(mut r) => format!("{:?}", drive(&mut r, &dns)),
            Err(e) => format!("error {e:?}"),
        };
        proptest::prop_assert_eq!(plan(&full), plan(&part), "needs {:?}", needs);
    }
}

#[test]
fn config_needs_of_common_requests() {
    use anysock_core::ConfigNeeds;
    let needs = |node, service, proto| {
        ResolveRequest::new(node, service)
            .protocol(proto)
            .config_needs()
    };
    assert_eq!(needs("127.0.0.1", Some("80"), "tcp"), ConfigNeeds::NONE);
    assert_eq!(needs("::1", Some("http=80"), ""), ConfigNeeds::NONE);
    assert_eq!(
        needs("unix/", Some("/run/x.sock"), "tcp"),
        ConfigNeeds::NONE
    );
    assert_eq!(needs("0x7f.1", None, "udp"), ConfigNeeds::NONE);
    assert_eq!(
        needs("example.test", Some("443"), "tcp"),
        ConfigNeeds {
            hosts: true,
            ..ConfigNeeds::NONE
        }
    );
    assert_eq!(
        needs("127.0.0.1", Some("https"), "sctp"),
        ConfigNeeds {
            services: true,
            protocols: true,
            ..ConfigNeeds::NONE
        }
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
    /// `literal_target`, where it answers, gives exactly the planner's one target and a successful end;
    /// and it answers for every plain IP literal with a numeric port over TCP.
    #[test]
    fn literal_target_is_the_planners_answer(
        node in proptest::sample::select(vec![
            "127.0.0.1", "127.1", "0x7f.1", "017700000001", "10.1.2.3", "0.0.0.0", "255.255.255.255",
            "::1", "::", "::ffff:10.0.0.1", "::1.2.3.4", "2001:db8::7", "[::1]", "unix/", "localhost",
            "db.internal", "256.1.1.1", "fe80::1%lo", "bücher.example", "",
        ]),
        service in proptest::sample::select(vec![
            None, Some("80"), Some("0"), Some("65535"), Some("http"), Some("http=81"), Some("/tmp/s"),
            Some(""), Some("70000"),
        ]),
        protocol in proptest::sample::select(vec!["", "tcp", "TCP", "udp", "Udp", "sctp"]),
        family in proptest::sample::select(vec![None, Some(Family::V4), Some(Family::V6)]),
        socktype in proptest::sample::select(vec![None, Some(SockType::Stream), Some(SockType::Datagram)]),
        preference in proptest::sample::select(vec![
            FamilyPreference::PreferV6, FamilyPreference::PreferV4, FamilyPreference::V4Only,
            FamilyPreference::V6Only,
        ]),
    ) {
        let req = ResolveRequest::new(node, service)
            .protocol(protocol)
            .family(family)
            .socktype(socktype);
        let config = full_config().with_family_preference(preference);
        if let Some(t) = req.literal_target(&config) {
            let mut r = Resolve::new(req, &config, 7).expect("the planner accepts it too");
            let mut targets = Vec::new();
            let mut done = None;
            while let Some(ev) = r.poll_event() {
                match ev {
                    ResolveEvent::Targets { targets: ts, .. } => targets.extend(ts),
                    ResolveEvent::Done(d) => done = Some(d),
                    other => panic!("unexpected {other:?}"),
                }
            }
            proptest::prop_assert!(r.poll_query().is_none());
            proptest::prop_assert_eq!(targets, vec![t]);
            proptest::prop_assert_eq!(done, Some(Ok(())));
        } else {
            let plain = family.is_none()
                && matches!(protocol, "" | "tcp")
                && service.is_some_and(|s| s.parse::<u16>().is_ok())
                && anysock_core::parse_address(node).is_ok_and(|a| !matches!(a, anysock_core::Address::Unix))
                && preference == FamilyPreference::PreferV6;
            proptest::prop_assert!(!plain, "a plain literal request was not answered");
        }
    }
}

/// Answers arriving in every order, for one and for two SRV levels: `into_targets` always equals
/// `targets`, whether the targets were emitted in their final order (handed over) or not (copied).
#[test]
fn into_targets_equals_targets_for_any_answer_order() {
    let dns = Dns::default()
        .srv(
            "_http._tcp.multi.example",
            &[(10, 1, 80, "a.example"), (20, 1, 81, "b.example")],
        )
        .a("a.example.", &["192.0.2.10"])
        .aaaa("a.example.", &["2001:db8::10"])
        .a("b.example.", &["192.0.2.20"])
        .aaaa("b.example.", &["2001:db8::20"])
        .a("plain.example", &["192.0.2.1"])
        .aaaa("plain.example", &["2001:db8::1"]);
    let mut out_of_order = 0;
    for (node, service) in [("plain.example", "80"), ("multi.example", "http")] {
        for reverse in [false, true] {
            let mut r = Resolve::new(
                ResolveRequest::new(node, Some(service)),
                &ResolveConfig::default(),
                1,
            )
            .unwrap()
            .without_target_events();
            // Answer whatever is outstanding, newest or oldest first, until nothing is asked.
            let mut asked: Vec<_> = std::iter::from_fn(|| r.poll_query()).collect();
            while !asked.is_empty() {
                let q = if reverse {
                    asked.pop()
                } else {
                    Some(asked.remove(0))
                }
                .unwrap();
                r.handle_answer(q.id, dns.answer(&q.name, q.qtype));
                asked.extend(std::iter::from_fn(|| r.poll_query()));
            }
            assert_eq!(r.poll_event(), Some(ResolveEvent::Done(Ok(()))));
            let listed = r.targets();
            let families: Vec<_> = listed.iter().map(|t| t.family()).collect();
            out_of_order += usize::from(reverse && families.first() == Some(&Family::V6));
            assert_eq!(r.into_targets(), listed, "{node} reverse={reverse}");
        }
    }
    assert!(out_of_order > 0, "some run answered A before AAAA");
}
