//! DNS lookups per second, one after another, against a loopback dnsmasq: anysock's blocking
//! `Resolver::resolve_sockaddr` vs `std`'s `ToSocketAddrs` (glibc getaddrinfo), side by side.
//!
//! Both run inside the private network and mount namespace of [`anysock_testkit::netns`]: dnsmasq on
//! 127.0.0.1:53 serves `www.bench` (A 127.0.0.1, AAAA ::1, TTL 0), and the namespace's
//! `/etc/resolv.conf` names only that dnsmasq (the harness reads it back before any getaddrinfo call;
//! without root, or if any step fails, the group is skipped with the reason and getaddrinfo is never
//! called). Each lookup asks A and AAAA on both sides: anysock's `resolve_sockaddr(name, Some("80"),
//! "tcp", None, None)` with `.nameservers([127.0.0.1:53])` and no hosts file (no SRV for a numeric
//! port), and `("www.bench", 80).to_socket_addrs()` (glibc sends both queries at once, after reading
//! the namespace's two-line hosts file). Neither side caches.
//!
//! Run: `cargo bench -p anysock-blocking --bench dns -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::net::ToSocketAddrs;

use anysock_blocking::Resolver;
use anysock_testkit::netns::{NAMESERVER, NetNs, NetNsConfig};
use criterion::{Criterion, Throughput};

const NAME: &str = "www.bench";

fn dns_lookup_sequential(c: &mut Criterion) {
    let resolver = Resolver::builder()
        .nameservers([NAMESERVER])
        .no_hosts()
        .build()
        .unwrap();
    // Both sides see the same answer before anything is timed.
    let mut a: Vec<_> = resolver
        .resolve_sockaddr(NAME, Some("80"), "tcp", None, None)
        .unwrap()
        .iter()
        .map(|t| t.addr.to_string())
        .collect();
    let mut s: Vec<_> = (NAME, 80)
        .to_socket_addrs()
        .unwrap()
        .map(|a| a.to_string())
        .collect();
    a.sort();
    s.sort();
    assert_eq!(a, s, "anysock and getaddrinfo disagree");
    assert_eq!(a.len(), 2, "{a:?}");

    let mut g = c.benchmark_group("dns_lookup_sequential");
    g.throughput(Throughput::Elements(1));
    g.bench_function("anysock Resolver::resolve_sockaddr", |b| {
        b.iter(|| {
            black_box(
                resolver
                    .resolve_sockaddr(NAME, Some("80"), "tcp", None, None)
                    .unwrap(),
            )
        })
    });
    g.bench_function("std ToSocketAddrs (getaddrinfo)", |b| {
        b.iter(|| black_box((NAME, 80).to_socket_addrs().unwrap().count()))
    });
    g.finish();
}

fn main() {
    // First, while this is the only thread.
    let ns = NetNs::enter(&NetNsConfig::bench());
    let mut c = Criterion::default().configure_from_args();
    match &ns {
        Ok(_) => dns_lookup_sequential(&mut c),
        Err(e) => eprintln!("dns_lookup_sequential: skipped: {e}"),
    }
    c.final_summary();
}
