//! The tokio adapter against plain tokio, in one run (ratios are what matter):
//! - connect to 127.0.0.1:port: `anysock_tokio::tcp_connect` (planner + Dial machine) and
//!   `Connector::connect_addrs` vs `tokio::net::TcpStream::connect` (target <= 1.1x);
//! - IPv6 unresponsive (full accept queue on [::1]:P), IPv4 working (127.0.0.1:P): both by the name
//!   `dual.bench` inside the private namespace of [`anysock_testkit::netns`], whose `/etc/hosts` lists
//!   `::1` then `127.0.0.1` for it and whose resolv.conf names only a loopback dnsmasq: anysock
//!   `Connector::new()` (system resolver: those files) vs `TcpStream::connect(("dual.bench", P))`
//!   (getaddrinfo on the blocking pool, [::1] first: checked before timing; then the addresses in
//!   order), capped at 3 s (target: within 30 ms of the 250 ms attempt delay). Skipped, with the
//!   reason, if the namespace cannot be set up (not root);
//! - accept loop: 200 connections per iteration (100 concurrent clients twice) to `tcp_server` vs a
//!   hand-written tokio accept loop (target >= 0.95x the connections per second).
//!
//! The whole bench runs in that namespace (entered first thing in `main`, while it is the only
//! thread).

use std::net::SocketAddr;
use std::time::Duration;

use anysock_core::{Family, SockAddr, SockType};
use anysock_testkit::netns::{NetNs, NetNsConfig};
use anysock_tokio::Connector;
use criterion::{Criterion, SamplingMode, Throughput};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A loopback listener that accepts and drops connections, on the runtime.
fn drop_server(rt: &Runtime) -> SocketAddr {
    rt.block_on(async {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                drop(s);
            }
        });
        addr
    })
}

fn connect_loopback(c: &mut Criterion) {
    let rt = runtime();
    let addr = drop_server(&rt);
    let port = addr.port().to_string();
    let connector = Connector::new();
    let mut g = c.benchmark_group("connect_127.0.0.1");
    // Short runs: every connect leaves a TIME_WAIT socket, and the kernel's ephemeral port search
    // slows as they pile up, which penalises whichever variant runs last. tokio's own connect runs
    // last here, so the comparison does not favour anysock.
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    g.bench_function("anysock tcp_connect(literal)", |b| {
        b.to_async(&rt).iter(|| async {
            anysock_tokio::tcp_connect("127.0.0.1", &port)
                .await
                .unwrap()
        });
    });
    g.bench_function("anysock Connector::connect_addrs", |b| {
        b.to_async(&rt)
            .iter(|| async { connector.connect_addrs([addr]).await.unwrap() });
    });
    g.bench_function("tokio TcpStream::connect", |b| {
        b.to_async(&rt)
            .iter(|| async { TcpStream::connect(addr).await.unwrap() });
    });
    g.finish();
}

/// The loopback comparison, interleaved: each round times one tokio connect, one
/// `connect_addrs` and one `tcp_connect` back to back (alternating the order), so that load from
/// other processes and the kernel's TIME_WAIT build-up hit all three alike; clients close with
/// `SO_LINGER 0`, so no TIME_WAIT state piles up at all. Prints the medians and their ratios.
#[allow(clippy::disallowed_methods)] // a benchmark reads the clock
fn connect_loopback_interleaved(_: &mut Criterion) {
    use std::time::Instant;
    fn abortive_close<S: std::os::fd::AsFd>(s: &S) {
        anysock_sys::socket2::SockRef::from(s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    }
    let rt = runtime();
    let addr = drop_server(&rt);
    let port = addr.port().to_string();
    let connector = Connector::new();
    let rounds = 3000;
    let (mut tokio_t, mut addrs_t, mut tcp_t) = (Vec::new(), Vec::new(), Vec::new());
    rt.block_on(async {
        for round in 0..rounds {
            for k in 0..3 {
                let which = if round % 2 == 0 { k } else { 2 - k };
                let t = Instant::now();
                match which {
                    0 => {
                        let s = TcpStream::connect(addr).await.unwrap();
                        tokio_t.push(t.elapsed());
                        abortive_close(&s);
                    }
                    1 => {
                        let c = connector.connect_addrs([addr]).await.unwrap();
                        addrs_t.push(t.elapsed());
                        abortive_close(&c.stream);
                    }
                    _ => {
                        let c = anysock_tokio::tcp_connect("127.0.0.1", &port)
                            .await
                            .unwrap();
                        tcp_t.push(t.elapsed());
                        abortive_close(&c.stream);
                    }
                }
            }
        }
    });
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (mt, ma, mc) = (
        median(&mut tokio_t),
        median(&mut addrs_t),
        median(&mut tcp_t),
    );
    println!(
        "connect_loopback_interleaved: {rounds} rounds; median tokio {:.1} us, anysock \
         connect_addrs {:.1} us (ratio {:.3}), anysock tcp_connect {:.1} us (ratio {:.3})",
        mt * 1e6,
        ma * 1e6,
        ma / mt,
        mc * 1e6,
        mc / mt
    );
}

/// [::1]:P with a full accept queue and a working 127.0.0.1:P.
fn blackhole_pair() -> Option<(
    anysock_sys::Listener,
    Vec<anysock_sys::socket2::Socket>,
    std::net::TcpListener,
)> {
    if !anysock_sys::ipv6_available() {
        return None;
    }
    for _ in 0..20 {
        let hole = anysock_sys::listen(
            &SockAddr::Inet("[::1]:0".parse().unwrap()),
            SockType::Stream,
            0,
        )
        .ok()?;
        let addr = hole.local_addr();
        let Ok(v4) = std::net::TcpListener::bind(("127.0.0.1", addr.as_inet().unwrap().port()))
        else {
            continue;
        };
        let pending: Vec<_> = (0..4)
            .map(|_| {
                let s = anysock_sys::new_socket(Family::V6, SockType::Stream, 6).unwrap();
                let _ = anysock_sys::start_connect(&s, &addr);
                s
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        return Some((hole, pending, v4));
    }
    None
}

fn happy_eyeballs(c: &mut Criterion) {
    let Some((hole, _pending, v4)) = blackhole_pair() else {
        eprintln!("no IPv6 loopback: happy eyeballs bench skipped");
        return;
    };
    let rt = runtime();
    let port = hole.local_addr().as_inet().unwrap().port();
    // Accept and drop on the IPv4 listener so its queue never fills.
    v4.set_nonblocking(true).unwrap();
    rt.spawn(async move {
        let l = TcpListener::from_std(v4).unwrap();
        while let Ok((s, _)) = l.accept().await {
            drop(s);
        }
    });
    // The system resolver: inside the namespace, its hosts file and its dnsmasq.
    let connector = Connector::new();
    let port_s = port.to_string();
    let order: Vec<SocketAddr> = rt
        .block_on(tokio::net::lookup_host(("dual.bench", port)))
        .unwrap()
        .collect();
    eprintln!("v6_blackholed_v4_working: getaddrinfo(\"dual.bench\") returns {order:?}");
    assert!(order[0].is_ipv6(), "getaddrinfo order: {order:?}");
    let mut g = c.benchmark_group("v6_blackholed_v4_working");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("anysock tcp_connect(name) happy eyeballs", |b| {
        b.to_async(&rt).iter(|| async {
            let c = connector.connect("dual.bench", &port_s).await.unwrap();
            assert_eq!(c.target.family(), Family::V4);
        });
    });
    g.measurement_time(Duration::from_secs(31));
    g.bench_function(
        "tokio TcpStream::connect((\"dual.bench\", port)) capped 3s",
        |b| {
            b.to_async(&rt).iter(|| async {
                // Sequential: the first address ([::1]) hangs until the cap.
                let _ = tokio::time::timeout(
                    Duration::from_secs(3),
                    TcpStream::connect(("dual.bench", port)),
                )
                .await;
            });
        },
    );
    g.finish();
}

const CONNS: usize = 200;

async fn hammer(addr: SocketAddr) {
    for _ in 0..CONNS / 100 {
        let mut tasks = Vec::with_capacity(100);
        for _ in 0..100 {
            tasks.push(tokio::spawn(async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                let mut b = [0u8; 1];
                // The server drops the connection: read until EOF.
                let _ = s.read(&mut b).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
}

fn accept_loop(c: &mut Criterion) {
    let rt = runtime();
    let server = rt.block_on(async {
        anysock_tokio::Bind::new(Some("127.0.0.1"), "0")
            .prepare(|_, _| Some(1024))
            .serve(|s, _| async move { drop(s) })
            .unwrap()
    });
    let anysock_addr = server.local_addr().as_inet().unwrap();
    let plain_addr = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let l = sock.listen(1024).unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                match l.accept().await {
                    Ok((s, _)) => {
                        tokio::spawn(async move { drop(s) });
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        });
        addr
    });
    let mut g = c.benchmark_group("accept_loop");
    g.throughput(Throughput::Elements(CONNS as u64));
    g.sample_size(20);
    g.bench_function("hand-written tokio accept loop", |b| {
        b.to_async(&rt).iter(|| hammer(plain_addr));
    });
    g.bench_function("anysock tcp_server", |b| {
        b.to_async(&rt).iter(|| hammer(anysock_addr));
    });
    g.finish();
    drop(server);
}

fn main() {
    // First, while this is the only thread.
    let ns = NetNs::enter(&NetNsConfig::bench());
    let mut c = Criterion::default().configure_from_args();
    connect_loopback(&mut c);
    connect_loopback_interleaved(&mut c);
    match &ns {
        Ok(_) => happy_eyeballs(&mut c),
        Err(e) => eprintln!("v6_blackholed_v4_working: skipped (needs the bench namespace): {e}"),
    }
    accept_loop(&mut c);
    c.final_summary();
}
