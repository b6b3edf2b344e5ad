//! Fuzz checks for the `resolve_sockaddr` planner: arbitrary requests driven by arbitrary answer scripts.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::hosts::HostsFile;
use crate::resolve::{
    FamilyPreference, HostsPolicy, MAX_SRV_TARGETS, Query, QueryFailure, QueryOutcome, QueryType,
    Resolve, ResolveConfig, ResolveEvent, ResolveRequest, SrvRecord,
};
use crate::sockaddr::SockAddr;
use crate::target::{Family, SockType, Target};

/// Reads fuzz input one decision at a time; zeros once exhausted.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn pick<'t, T>(&mut self, from: &'t [T]) -> &'t T {
        &from[usize::from(self.u8()) % from.len()]
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
}

const NODES: &[&str] = &[
    "a.test",
    "b.test.",
    "A.Test",
    "hosts.test",
    "localhost",
    "x.localhost.",
    "127.1",
    "::1",
    "::ffff:192.0.2.1",
    "unix/",
    "bücher.test",
    "256.1.1.1",
    "a..b",
    "",
];
const SERVICES: &[Option<&str>] = &[
    Some("http"),
    Some("80"),
    Some("https=8443"),
    Some("/run/s.sock"),
    Some("domain"),
    Some("70000"),
    Some("nosuch"),
    Some(""),
    None,
];
const PROTOCOLS: &[&str] = &["tcp", "udp", "sctp", "TCP", "ip", "nope", ""];
const TARGET_NAMES: &[&str] = &[
    "a.test",
    "b.test.",
    "hosts.test",
    ".",
    "",
    "localhost",
    "c.test",
];
const HOSTS: &str =
    "192.0.2.10 hosts.test b.test\n2001:db8::10 hosts.test\n::ffff:192.0.2.11 a.test\n";

/// Target `resolve_script`: builds a request and configuration from the input, then answers the
/// planner's queries in an input-chosen order with input-chosen outcomes (including unknown ids and
/// repeated answers). Checks: `Done` comes exactly once and last; it comes as soon as every query is
/// answered; no query after `Done`; the number of queries is bounded; no target is emitted twice;
/// every batch holds targets of its family, with the request's port rules; `targets()` is the
/// streamed targets, per family in the same order; `Done(Ok)` exactly when something was emitted.
pub fn resolve_script_check(data: &[u8]) {
    let mut b = Bytes(data);
    let node = *b.pick(NODES);
    let service = *b.pick(SERVICES);
    let protocol = *b.pick(PROTOCOLS);
    let family = *b.pick(&[None, Some(Family::V4), Some(Family::V6), Some(Family::Unix)]);
    let socktype = *b.pick(&[None, Some(SockType::Stream), Some(SockType::Datagram)]);
    let pref = *b.pick(&[
        FamilyPreference::PreferV6,
        FamilyPreference::PreferV4,
        FamilyPreference::V4Only,
        FamilyPreference::V6Only,
    ]);
    let policy = *b.pick(&[
        HostsPolicy::First,
        HostsPolicy::Fallback,
        HostsPolicy::Ignore,
    ]);
    let seed = u64::from(b.u16());
    let config = ResolveConfig::default()
        .with_hosts(HostsFile::parse(HOSTS))
        .with_hosts_policy(policy)
        .with_family_preference(pref);
    let request = ResolveRequest::new(node, service)
        .protocol(protocol)
        .family(family)
        .socktype(socktype);
    let Ok(mut r) = Resolve::new(request, &config, seed) else {
        return;
    };

    let mut pending: Vec<Query> = Vec::new();
    let mut answered: Vec<Query> = Vec::new();
    let mut streamed: Vec<Target> = Vec::new();
    let mut seen: HashSet<SockAddr> = HashSet::new();
    let mut done: Option<bool> = None;
    let mut total_queries = 0usize;
    let max_queries = 1 + 2 * (MAX_SRV_TARGETS + 1);

    for _round in 0..10_000 {
        while let Some(q) = r.poll_query() {
            assert!(done.is_none(), "query after Done: {q:?}");
            total_queries += 1;
            assert!(total_queries <= max_queries, "too many queries");
            pending.push(q);
        }
        while let Some(ev) = r.poll_event() {
            assert!(done.is_none(), "event after Done: {ev:?}");
            match ev {
                ResolveEvent::Targets { family: f, targets } => {
                    assert!(!targets.is_empty(), "empty batch");
                    for t in targets {
                        assert_eq!(t.family(), f, "batch family");
                        if let Some(want) = family {
                            assert_eq!(t.family(), want, "family filter");
                        }
                        assert!(seen.insert(t.addr), "target emitted twice: {t:?}");
                        streamed.push(t);
                    }
                }
                ResolveEvent::Done(res) => done = Some(res.is_ok()),
            }
        }
        assert_eq!(
            r.is_finished(),
            done.is_some(),
            "is_finished agrees with Done"
        );
        if done.is_some() {
            break;
        }
        assert!(
            !pending.is_empty(),
            "no query outstanding and no Done: the planner is stuck"
        );
        // Sometimes answer an id that was already answered (ignored by the planner); never once the
        // input is used up, so that every script ends.
        if !b.0.is_empty() && b.u8() % 8 == 7 {
            if let Some(q) = answered.first() {
                let outcome = outcome(&mut b, q.qtype);
                r.handle_answer(q.id, outcome);
                continue;
            }
        }
        let i = usize::from(b.u8()) % pending.len();
        let q = pending.swap_remove(i);
        let outcome = outcome(&mut b, q.qtype);
        r.handle_answer(q.id, outcome);
        answered.push(q);
    }
    let ok = done.expect("the planner terminates");
    assert_eq!(
        ok,
        !streamed.is_empty(),
        "Done(Ok) iff something was emitted"
    );

    let all = r.targets();
    assert_eq!(all.len(), streamed.len(), "targets() is what was streamed");
    for f in [Family::V4, Family::V6, Family::Unix] {
        let a: Vec<_> = all.iter().filter(|t| t.family() == f).collect();
        let s: Vec<_> = streamed.iter().filter(|t| t.family() == f).collect();
        assert_eq!(a, s, "per-family order of targets() and of the stream");
    }
    // SRV priorities never decrease, in the final order and in the stream across both families: no
    // target is handed out while a better priority level is still being resolved (B18 fix).
    for list in [&all, &streamed] {
        let prios: Vec<u16> = list.iter().filter_map(|t| t.meta.srv_priority).collect();
        assert!(
            prios.windows(2).all(|w| w[0] <= w[1]),
            "SRV priority order: {prios:?}"
        );
    }
}

fn outcome(b: &mut Bytes<'_>, qtype: QueryType) -> QueryOutcome {
    let failures = [
        QueryFailure::NxDomain,
        QueryFailure::NoData,
        QueryFailure::ServerFailure,
        QueryFailure::Refused,
        QueryFailure::TimedOut,
        QueryFailure::Malformed,
        QueryFailure::CnameChain,
    ];
    match b.u8() % 4 {
        0 => QueryOutcome::Failed(*b.pick(&failures)),
        1 => {
            // Addresses (of either family, whatever was asked).
            let n = b.u8() % 5;
            let list = (0..n)
                .map(|_| {
                    let x = b.u8();
                    if x % 3 == 0 {
                        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(x)))
                    } else {
                        IpAddr::V4(Ipv4Addr::new(203, 0, 113, x))
                    }
                })
                .collect();
            QueryOutcome::Addresses(list)
        }
        2 => {
            let n = usize::from(b.u8()) % (MAX_SRV_TARGETS + 8);
            let recs = (0..n)
                .map(|_| SrvRecord {
                    priority: u16::from(b.u8() % 4),
                    weight: u16::from(b.u8()),
                    port: b.u16(),
                    target: (*b.pick(TARGET_NAMES)).to_owned(),
                })
                .collect();
            QueryOutcome::Srv(recs)
        }
        // The natural answer for the question's type, to get deep into the plan.
        _ => match qtype {
            QueryType::Srv => QueryOutcome::Srv(vec![SrvRecord {
                priority: 1,
                weight: 1,
                port: 8080,
                target: (*b.pick(TARGET_NAMES)).to_owned(),
            }]),
            QueryType::A => {
                QueryOutcome::Addresses(vec![IpAddr::V4(Ipv4Addr::new(198, 51, 100, b.u8()))])
            }
            _ => QueryOutcome::Addresses(vec![IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                1,
                0,
                0,
                0,
                0,
                u16::from(b.u8()),
            ))]),
        },
    }
}
