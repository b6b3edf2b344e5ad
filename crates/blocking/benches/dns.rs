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
//! `dns_interleaved` (printed, not a criterion group) alternates one lookup of each side, 5000 times,
//! so that load from other processes hits both alike, and prints the medians and the process CPU
//! time per lookup (dnsmasq's CPU is not counted).
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

/// The CPU time this process has used (every thread).
fn process_cpu() -> std::time::Duration {
    // SAFETY: clock_gettime writes a timespec; the clock id is valid.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// See the module docs.
#[allow(clippy::disallowed_methods)] // a benchmark reads the clock
fn dns_interleaved() {
    use std::time::{Duration, Instant};
    const ROUNDS: usize = 5000;
    let resolver = Resolver::builder()
        .nameservers([NAMESERVER])
        .no_hosts()
        .build()
        .unwrap();
    let timed = |f: &dyn Fn() -> usize| {
        let (t, c) = (Instant::now(), process_cpu());
        assert_eq!(f(), 2);
        (t.elapsed(), process_cpu() - c)
    };
    let any = || {
        resolver
            .resolve_sockaddr(NAME, Some("80"), "tcp", None, None)
            .unwrap()
            .len()
    };
    let std = || (NAME, 80).to_socket_addrs().unwrap().count();
    let (mut wa, mut ws) = (Vec::new(), Vec::new());
    let (mut ca, mut cs) = (Duration::ZERO, Duration::ZERO);
    for i in 0..ROUNDS {
        let order: [bool; 2] = if i % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_any in order {
            if is_any {
                let (w, c) = timed(&any);
                wa.push(w);
                ca += c;
            } else {
                let (w, c) = timed(&std);
                ws.push(w);
                cs += c;
            }
        }
    }
    wa.sort();
    ws.sort();
    let (ma, ms) = (wa[ROUNDS / 2], ws[ROUNDS / 2]);
    println!(
        "dns_interleaved: {ROUNDS} rounds; median anysock {:.1} us ({:.1} K lookups/s), getaddrinfo \
         {:.1} us ({:.1} K lookups/s), anysock speedup {:.2}x; CPU per lookup anysock {:.1} us, \
         getaddrinfo {:.1} us ({:.2}x)",
        ma.as_secs_f64() * 1e6,
        1e-3 / ma.as_secs_f64(),
        ms.as_secs_f64() * 1e6,
        1e-3 / ms.as_secs_f64(),
        ms.as_secs_f64() / ma.as_secs_f64(),
        ca.as_secs_f64() * 1e6 / ROUNDS as f64,
        cs.as_secs_f64() * 1e6 / ROUNDS as f64,
        cs.as_secs_f64() / ca.as_secs_f64(),
    );
}

fn main() {
    // First, while this is the only thread.
    let ns = NetNs::enter(&NetNsConfig::bench());
    let mut c = Criterion::default().configure_from_args();
    match &ns {
        Ok(_) => {
            dns_lookup_sequential(&mut c);
            dns_interleaved();
        }
        Err(e) => eprintln!("dns_lookup_sequential: skipped: {e}"),
    }
    c.final_summary();
}
