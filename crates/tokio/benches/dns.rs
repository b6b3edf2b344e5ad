//! DNS lookups per second, 64 at once, against a loopback dnsmasq: anysock_tokio's
//! `Resolver::resolve_sockaddr` vs hickory-resolver's `lookup_ip` vs `tokio::net::lookup_host`
//! (glibc getaddrinfo on tokio's blocking pool), side by side in one run (target: anysock at least
//! 1.5x hickory-resolver and 3x `lookup_host`).
//!
//! Everything runs inside the private network and mount namespace of [`anysock_testkit::netns`]:
//! dnsmasq on 127.0.0.1:53 serves `h0.bench` .. `h63.bench` (A 127.0.1.N and AAAA ::1, TTL 0), and the
//! namespace's `/etc/resolv.conf` names only that dnsmasq (the harness reads it back before any
//! getaddrinfo call; without root, or if any step fails, the group is skipped with the reason and
//! getaddrinfo is never called).
//!
//! One iteration spawns 64 tasks on a 2-worker multi-thread runtime, one per name, and joins them
//! all (`Throughput::Elements(64)`: criterion shows lookups per second). Each task looks up a
//! different name, so that no resolver can answer one lookup from another's in-flight query or
//! from a cache: 64 lookups are 64 A+AAAA pairs on the wire, as for 64 different hosts. Every side
//! asks A and AAAA and gets both addresses (checked in every iteration):
//! - anysock: `resolve_sockaddr(name, Some("80"), "tcp", None, None)` with
//!   `.nameservers([127.0.0.1:53])` and no hosts file (no SRV for a numeric port);
//! - hickory-resolver 0.26: `ResolverConfig` with only `NameServerConfig::udp(127.0.0.1)` (port 53),
//!   no search list, no hosts file, no system configuration, `cache_size` 0 and maximum TTLs 0 (no
//!   caching), `LookupIpStrategy::Ipv6AndIpv4` (its default: both queries in parallel);
//! - `tokio::net::lookup_host((name, 80))`: getaddrinfo on the blocking pool, reading the
//!   namespace's hosts file then asking dnsmasq for A and AAAA at once.
//!
//! `dns_interleaved` (printed, not a criterion group) runs the same three rounds of 64 lookups in
//! turn, 300 times, rotating which side goes first, so that load from other processes hits all
//! three alike; it prints each side's median wall time per round and process CPU time per lookup
//! (CPU of this process, including tokio's blocking pool; dnsmasq's CPU is not counted).
//!
//! `dns_block_interleaved` then runs the four sides in blocks instead: one unmeasured round and 10
//! measured ones per side, sides in turn, 30 blocks each. It keeps the protection against load drift
//! but lets each side run warm for a block, as a steady stream of lookups would: it is the
//! lookups-per-second figure (docs/performance.md). The per-round schedule measures bursts started
//! cold right after another resolver's round; both are reported.
//!
//! Both runs include a fourth side, `raw UDP`: not a resolver but the ceiling for any resolver on tokio
//! here. Each of the 64 tasks sends two prebuilt queries (A and AAAA) from its own UDP socket,
//! created, connected and registered once before the rounds, and waits for the two replies, checking
//! only that each is a response with one answer: no name handling, no parsing, no timer, no socket
//! set-up. Its ratio to `lookup_host` bounds what a resolver's ratio can be on this machine.
//!
//! Run: `cargo bench -p anysock-tokio --bench dns -- --warm-up-time 1 --measurement-time 3`.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use anysock_testkit::netns::{BENCH_NAMES, NAMESERVER, NetNs, NetNsConfig, bench_name};
use anysock_tokio::Resolver;
use criterion::{Criterion, Throughput};
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

type Hickory = hickory_resolver::Resolver<TokioRuntimeProvider>;

fn hickory(rt: &Runtime) -> Hickory {
    let _guard = rt.enter();
    let config = ResolverConfig::from_parts(
        None,
        vec![],
        vec![NameServerConfig::udp(IpAddr::V4(Ipv4Addr::LOCALHOST))],
    );
    let mut opts = ResolverOpts::default();
    opts.cache_size = 0;
    opts.positive_max_ttl = Some(Duration::ZERO);
    opts.negative_max_ttl = Some(Duration::ZERO);
    opts.use_hosts_file = ResolveHosts::Never;
    opts.ip_strategy = LookupIpStrategy::Ipv6AndIpv4;
    Hickory::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()
        .unwrap()
}

fn dns_lookup_64_concurrent(c: &mut Criterion) {
    let rt = runtime();
    let names: Vec<Arc<str>> = (0..BENCH_NAMES).map(|i| bench_name(i).into()).collect();
    let anysock = Resolver::builder()
        .nameservers([NAMESERVER])
        .no_hosts()
        .build()
        .unwrap();
    let hickory = hickory(&rt);

    let mut g = c.benchmark_group("dns_lookup_64_concurrent");
    g.throughput(Throughput::Elements(BENCH_NAMES as u64));
    g.bench_function("anysock Resolver::resolve_sockaddr", |b| {
        b.to_async(&rt).iter(|| async {
            let mut set = JoinSet::new();
            for name in &names {
                let (r, name) = (anysock.clone(), Arc::clone(name));
                set.spawn(async move {
                    r.resolve_sockaddr(&name, Some("80"), "tcp", None, None)
                        .await
                        .unwrap()
                        .len()
                });
            }
            while let Some(n) = set.join_next().await {
                assert_eq!(n.unwrap(), 2);
            }
        });
    });
    g.bench_function("hickory-resolver lookup_ip (cache off)", |b| {
        b.to_async(&rt).iter(|| async {
            let mut set = JoinSet::new();
            for name in &names {
                let (r, name) = (hickory.clone(), Arc::clone(name));
                set.spawn(async move { r.lookup_ip(&*name).await.unwrap().iter().count() });
            }
            while let Some(n) = set.join_next().await {
                assert_eq!(n.unwrap(), 2);
            }
        });
    });
    g.bench_function("tokio::net::lookup_host (getaddrinfo)", |b| {
        b.to_async(&rt).iter(|| async {
            let mut set = JoinSet::new();
            for name in &names {
                let name = Arc::clone(name);
                set.spawn(
                    async move { tokio::net::lookup_host((&*name, 80)).await.unwrap().count() },
                );
            }
            while let Some(n) = set.join_next().await {
                assert_eq!(n.unwrap(), 2);
            }
        });
    });
    g.finish();
}

/// The raw-UDP side's client for one name: its socket and its two queries.
type RawClient = (Arc<tokio::net::UdpSocket>, Arc<[Vec<u8>; 2]>);

/// A recursive query for `name` (A = 1, AAAA = 28), written out by hand for the raw-UDP side.
fn raw_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    q
}

/// The raw-UDP side's lookup: both queries out, both replies in (each a response, one answer).
async fn raw_exchange(sock: &tokio::net::UdpSocket, queries: &[Vec<u8>; 2]) -> usize {
    for q in queries {
        sock.send(q).await.unwrap();
    }
    let mut buf = [0u8; 512];
    for _ in 0..2 {
        let n = sock.recv(&mut buf).await.unwrap();
        assert!(
            n > 12 && buf[2] & 0x80 != 0 && buf[7] == 1,
            "a reply with one answer"
        );
    }
    2
}

/// The CPU time this process has used (every thread).
fn process_cpu() -> Duration {
    // SAFETY: clock_gettime writes a timespec; the clock id is valid.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// See the module docs.
#[allow(clippy::disallowed_methods)] // a benchmark reads the clock
fn dns_interleaved() {
    use std::time::Instant;
    const ROUNDS: usize = 300;
    const SIDES: usize = 4;
    const BLOCK: usize = 10;
    let rt = runtime();
    let names: Vec<Arc<str>> = (0..BENCH_NAMES).map(|i| bench_name(i).into()).collect();
    let anysock = Resolver::builder()
        .nameservers([NAMESERVER])
        .no_hosts()
        .build()
        .unwrap();
    let hickory = hickory(&rt);
    let raw: Vec<RawClient> = rt.block_on(async {
        let mut v = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let s = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .unwrap();
            s.connect(NAMESERVER).await.unwrap();
            let id = i as u16 * 2;
            let queries = [raw_query(id, name, 1), raw_query(id + 1, name, 28)];
            v.push((Arc::new(s), Arc::new(queries)));
        }
        v
    });
    let round = |side: usize| -> (Duration, Duration) {
        let (t, cpu) = (Instant::now(), process_cpu());
        rt.block_on(async {
            let mut set = JoinSet::new();
            for name in &names {
                let name = Arc::clone(name);
                match side {
                    0 => {
                        let r = anysock.clone();
                        set.spawn(async move {
                            r.resolve_sockaddr(&name, Some("80"), "tcp", None, None)
                                .await
                                .unwrap()
                                .len()
                        })
                    }
                    1 => {
                        let r = hickory.clone();
                        set.spawn(async move { r.lookup_ip(&*name).await.unwrap().iter().count() })
                    }
                    3 => {
                        let i = names.iter().position(|n| Arc::ptr_eq(n, &name)).unwrap();
                        let (sock, queries) = (Arc::clone(&raw[i].0), Arc::clone(&raw[i].1));
                        set.spawn(async move { raw_exchange(&sock, &queries).await })
                    }
                    _ => set.spawn(async move {
                        tokio::net::lookup_host((&*name, 80)).await.unwrap().count()
                    }),
                };
            }
            while let Some(n) = set.join_next().await {
                assert_eq!(n.unwrap(), 2);
            }
        });
        (t.elapsed(), process_cpu() - cpu)
    };
    for side in 0..SIDES {
        round(side); // warm-up
    }
    // Schedule 1: one round per side in turn.
    let mut wall: [Vec<Duration>; SIDES] = Default::default();
    let mut cpu = [Duration::ZERO; SIDES];
    for i in 0..ROUNDS {
        for k in 0..SIDES {
            let side = (i + k) % SIDES;
            let (w, c) = round(side);
            wall[side].push(w);
            cpu[side] += c;
        }
    }
    report(
        &format!(
            "dns_interleaved: {ROUNDS} rounds of {BENCH_NAMES} concurrent lookups, one round per side in turn;"
        ),
        wall,
        cpu,
    );
    // Schedule 2: blocks of rounds per side in turn (an unmeasured round, then BLOCK measured ones).
    let mut wall: [Vec<Duration>; SIDES] = Default::default();
    let mut cpu = [Duration::ZERO; SIDES];
    for i in 0..ROUNDS / BLOCK {
        for k in 0..SIDES {
            let side = (i + k) % SIDES;
            round(side);
            for _ in 0..BLOCK {
                let (w, c) = round(side);
                wall[side].push(w);
                cpu[side] += c;
            }
        }
    }
    report(
        &format!(
            "dns_block_interleaved: {} blocks of {BLOCK} rounds of {BENCH_NAMES} concurrent lookups per side, in turn;",
            ROUNDS / BLOCK
        ),
        wall,
        cpu,
    );
}

/// Prints one interleaved schedule's line: each side's median wall time per round and CPU per
/// lookup, and the ratios.
fn report(head: &str, mut wall: [Vec<Duration>; 4], cpu: [Duration; 4]) {
    let med = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let lookups = (wall[0].len() * BENCH_NAMES) as f64;
    let names = [
        "anysock",
        "hickory-resolver",
        "lookup_host",
        "raw UDP (ceiling)",
    ];
    let mut line = head.to_owned();
    let m: Vec<Duration> = wall.iter_mut().map(med).collect();
    for side in 0..names.len() {
        line += &format!(
            " {}: median {:.2} ms/round ({:.1} K lookups/s), CPU {:.1} us/lookup;",
            names[side],
            m[side].as_secs_f64() * 1e3,
            BENCH_NAMES as f64 / m[side].as_secs_f64() / 1e3,
            cpu[side].as_secs_f64() * 1e6 / lookups,
        );
    }
    line += &format!(
        " anysock speedup (wall) {:.2}x hickory, {:.2}x lookup_host; (CPU) {:.2}x, {:.2}x",
        m[1].as_secs_f64() / m[0].as_secs_f64(),
        m[2].as_secs_f64() / m[0].as_secs_f64(),
        cpu[1].as_secs_f64() / cpu[0].as_secs_f64(),
        cpu[2].as_secs_f64() / cpu[0].as_secs_f64(),
    );
    line += &format!(
        "; raw UDP ceiling (wall) {:.2}x lookup_host, anysock at {:.0}% of it",
        m[2].as_secs_f64() / m[3].as_secs_f64(),
        100.0 * m[3].as_secs_f64() / m[0].as_secs_f64(),
    );
    println!("{line}");
}

fn main() {
    // First, while this is the only thread.
    let ns = NetNs::enter(&NetNsConfig::bench());
    let mut c = Criterion::default().configure_from_args();
    match &ns {
        Ok(_) => {
            dns_lookup_64_concurrent(&mut c);
            dns_interleaved();
        }
        Err(e) => eprintln!("dns_lookup_64_concurrent: skipped: {e}"),
    }
    c.final_summary();
}
