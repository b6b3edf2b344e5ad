//! Hosts file parsing and lookup, and whole planner runs (literal, hosts hit, plain name, SRV) with
//! scripted answers.

use std::hint::black_box;
use std::net::IpAddr;

use anysock_core::hosts::HostsFile;
use anysock_core::resolve::{
    HostsPolicy, QueryOutcome, QueryType, Resolve, ResolveConfig, ResolveEvent, ResolveRequest,
    SrvRecord,
};
use criterion::{Criterion, criterion_group, criterion_main};

/// A hosts file of `n` lines with two names each, CRLF and comments mixed in.
fn hosts_text(n: usize) -> String {
    let mut s = String::from("127.0.0.1 localhost\n::1 localhost ip6-localhost\n");
    for i in 0..n {
        let (a, b) = (i / 256, i % 256);
        s.push_str(&format!(
            "10.{a}.{b}.1 host{i}.example.test host{i} # entry {i}\r\n"
        ));
    }
    s
}

fn run(r: &mut Resolve, v4: IpAddr, v6: IpAddr) -> usize {
    let mut n = 0;
    loop {
        while let Some(ev) = r.poll_event() {
            match ev {
                ResolveEvent::Targets { targets, .. } => n += targets.len(),
                ResolveEvent::Done(_) => return n,
                _ => {}
            }
        }
        let Some(q) = r.poll_query() else { return n };
        let outcome = match q.qtype {
            QueryType::A => QueryOutcome::Addresses(vec![v4]),
            QueryType::Aaaa => QueryOutcome::Addresses(vec![v6]),
            _ => QueryOutcome::Srv(vec![
                SrvRecord {
                    priority: 10,
                    weight: 60,
                    port: 5060,
                    target: "a.sip.test".into(),
                },
                SrvRecord {
                    priority: 10,
                    weight: 40,
                    port: 5060,
                    target: "b.sip.test".into(),
                },
                SrvRecord {
                    priority: 20,
                    weight: 0,
                    port: 5061,
                    target: "c.sip.test".into(),
                },
            ]),
        };
        r.handle_answer(q.id, outcome);
    }
}

fn benches(c: &mut Criterion) {
    let text = hosts_text(10_000);
    c.bench_function("hosts/parse_10k_lines", |b| {
        b.iter(|| HostsFile::parse(black_box(&text)))
    });
    let hosts = HostsFile::parse(&text);
    c.bench_function("hosts/lookup_hit_mixed_case", |b| {
        b.iter(|| hosts.lookup(black_box("HOST5000.Example.Test.")))
    });
    c.bench_function("hosts/lookup_miss", |b| {
        b.iter(|| hosts.lookup(black_box("nothere.example.test")))
    });

    let v4: IpAddr = "203.0.113.1".parse().unwrap();
    let v6: IpAddr = "2001:db8::1".parse().unwrap();
    let config = ResolveConfig::default().with_hosts(hosts.clone());
    let fallback = config.clone().with_hosts_policy(HostsPolicy::Fallback);
    c.bench_function("resolve/literal", |b| {
        b.iter(|| {
            let mut r = Resolve::new(
                ResolveRequest::new(black_box("127.0.0.1"), Some("80")),
                &config,
                1,
            )
            .unwrap();
            run(&mut r, v4, v6)
        })
    });
    c.bench_function("resolve/hosts_first_hit", |b| {
        b.iter(|| {
            let mut r = Resolve::new(
                ResolveRequest::new(black_box("host77"), Some("http")),
                &config,
                1,
            )
            .unwrap();
            run(&mut r, v4, v6)
        })
    });
    c.bench_function("resolve/name_a_aaaa", |b| {
        b.iter(|| {
            let mut r = Resolve::new(
                ResolveRequest::new(black_box("www.example.test"), Some("443")),
                &fallback,
                1,
            )
            .unwrap();
            run(&mut r, v4, v6)
        })
    });
    c.bench_function("resolve/srv_three_targets", |b| {
        b.iter(|| {
            let mut r = Resolve::new(
                ResolveRequest::new(black_box("sip.test"), Some("sip")),
                &fallback,
                1,
            )
            .unwrap();
            run(&mut r, v4, v6)
        })
    });
}

criterion_group!(resolve, benches);
criterion_main!(resolve);
