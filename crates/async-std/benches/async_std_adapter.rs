//! Benchmarks of the async-std / smol adapter (see docs/performance.md, "async-std adapter"):
//!
//! - `connect/*`: one loopback connect by the adapter (`Connector::connect_addrs`, and `tcp_connect`
//!   with a literal host and port), against `async_io::Async::<TcpStream>::connect` (target: <= 1.1x).
//! - `he_v6_blackhole/*`: a host with an unresponsive IPv6 address (`::1` behind a full accept queue)
//!   and a working IPv4 one: the adapter by name from a hosts file (Happy Eyeballs, 250 ms attempt
//!   delay) against async-std's `TcpStream::connect` over the same two addresses, capped at 3 s
//!   (target: within 30 ms of the attempt delay).
//! - `accept/*`: 200 connections accepted by `tcp_server` against a hand-written async-io accept loop
//!   (target: >= 0.95x the throughput).
#![allow(clippy::disallowed_methods)] // benchmarks read the clock

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anysock_async_std::{Connector, Resolver};
use anysock_core::{Family, SockAddr, SockType};
use async_io::Async;
use criterion::{Criterion, criterion_group, criterion_main};

/// A loopback listener whose connections are accepted and closed by a thread of its own.
struct Sink {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sink {
    fn start() -> Sink {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        l.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let l = Async::new(l).unwrap();
            async_io::block_on(async {
                // Stopped by the flag and one more connection (see `Drop`).
                while !s.load(Ordering::Relaxed) {
                    let _ = l.accept().await;
                }
            });
        });
        Sink {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(TcpStream::connect(self.addr));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn connect(c: &mut Criterion) {
    let sink = Sink::start();
    let addr = sink.addr;
    let port = addr.port().to_string();
    let mut g = c.benchmark_group("connect");
    g.bench_function("async_io_baseline", |b| {
        b.iter(|| async_io::block_on(Async::<TcpStream>::connect(addr)).unwrap())
    });
    let connector = Connector::new();
    g.bench_function("anysock_connect_addrs", |b| {
        b.iter(|| async_io::block_on(connector.connect_addrs([addr])).unwrap())
    });
    g.bench_function("anysock_tcp_connect_literal", |b| {
        b.iter(|| async_io::block_on(anysock_async_std::tcp_connect("127.0.0.1", &port)).unwrap())
    });
    g.finish();
}

/// `::1:P` behind a full accept queue and `127.0.0.1:P` accepting.
fn blackhole_pair() -> Option<(
    anysock_sys::Listener,
    Vec<anysock_sys::socket2::Socket>,
    Sink,
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
        let port = addr.as_inet().unwrap().port();
        // The sink binds its own port: bind the IPv4 side on the hole's port instead.
        let Ok(v4) = TcpListener::bind(("127.0.0.1", port)) else {
            continue;
        };
        v4.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let l = Async::new(v4).unwrap();
            async_io::block_on(async {
                while !s.load(Ordering::Relaxed) {
                    let accept = l.accept();
                    let tick = async {
                        async_io::Timer::after(Duration::from_millis(50)).await;
                        Err(std::io::Error::other("tick"))
                    };
                    let _ = futures_lite::future::or(accept, tick).await;
                }
            });
        });
        let pending: Vec<_> = (0..4)
            .map(|_| {
                let s = anysock_sys::new_socket(Family::V6, SockType::Stream, 6).unwrap();
                let _ = anysock_sys::start_connect(&s, &addr);
                s
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        let sink = Sink {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            stop,
            thread: Some(thread),
        };
        return Some((hole, pending, sink));
    }
    None
}

fn he_v6_blackhole(c: &mut Criterion) {
    let Some((hole, _pending, sink)) = blackhole_pair() else {
        eprintln!("no IPv6 loopback: he_v6_blackhole skipped");
        return;
    };
    let port = sink.addr.port();
    let dir = std::env::temp_dir().join(format!("anysock-as-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "::1 dual.bench\n127.0.0.1 dual.bench\n").unwrap();
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = Resolver::builder()
        .nameservers([silent.local_addr().unwrap()])
        .hosts_file(&hosts)
        .build()
        .unwrap();
    let connector = Connector::new().resolver(resolver);
    let service = port.to_string();
    let both: [SocketAddr; 2] = [hole.local_addr().as_inet().unwrap(), sink.addr];
    let mut g = c.benchmark_group("he_v6_blackhole");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("anysock_by_name", |b| {
        b.iter(|| {
            let c = async_io::block_on(connector.connect("dual.bench", &service)).unwrap();
            assert_eq!(c.target.family(), Family::V4);
        })
    });
    g.bench_function("async_std_connect_capped_3s", |b| {
        b.iter(|| {
            async_std::task::block_on(async_std::future::timeout(
                Duration::from_secs(3),
                async_std::net::TcpStream::connect(&both[..]),
            ))
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

const ACCEPT_BATCH: u64 = 200;

fn run_clients(addr: SocketAddr, accepted: &AtomicU64) {
    let start = accepted.load(Ordering::SeqCst);
    let clients: Vec<TcpStream> = (0..ACCEPT_BATCH)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    while accepted.load(Ordering::SeqCst) < start + ACCEPT_BATCH {
        std::thread::yield_now();
    }
    drop(clients);
}

fn accept(c: &mut Criterion) {
    let mut g = c.benchmark_group("accept");
    g.throughput(criterion::Throughput::Elements(ACCEPT_BATCH));
    g.sample_size(20);
    {
        let accepted = Arc::new(AtomicU64::new(0));
        let a2 = Arc::clone(&accepted);
        let server = anysock_async_std::Bind::new(Some("127.0.0.1"), "0")
            .prepare(|_, _| Some(1024))
            .serve(move |s, _| {
                drop(s);
                a2.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        let addr = server.local_addr().as_inet().unwrap();
        g.bench_function("anysock_tcp_server", |b| {
            b.iter(|| run_clients(addr, &accepted))
        });
    }
    {
        let accepted = Arc::new(AtomicU64::new(0));
        let a2 = Arc::clone(&accepted);
        // The same backlog as the anysock server above.
        let (sock, _) = anysock_sys::listen(
            &SockAddr::Inet("127.0.0.1:0".parse().unwrap()),
            SockType::Stream,
            1024,
        )
        .unwrap()
        .into_parts();
        let l = TcpListener::from(sock);
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = Arc::clone(&stop);
        let t = std::thread::spawn(move || {
            let l = Async::new(l).unwrap();
            async_io::block_on(async {
                // The plain loop: accept, hand over (here: close), count. Stopped by the flag and
                // one more connection.
                while !s2.load(Ordering::Relaxed) {
                    if let Ok((s, _)) = l.accept().await {
                        drop(s);
                        a2.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        });
        g.bench_function("async_io_hand_written", |b| {
            b.iter(|| run_clients(addr, &accepted))
        });
        stop.store(true, Ordering::Relaxed);
        drop(TcpStream::connect(addr));
        t.join().unwrap();
    }
    g.finish();
}

/// A one-off measurement printed next to the criterion numbers: how far past the attempt delay the
/// Happy Eyeballs connect lands (median of 9).
fn he_overshoot(_c: &mut Criterion) {
    let Some((_hole, _pending, sink)) = blackhole_pair() else {
        return;
    };
    let port = sink.addr.port();
    let dir = std::env::temp_dir().join(format!("anysock-as-bench2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "::1 dual.bench\n127.0.0.1 dual.bench\n").unwrap();
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = Resolver::builder()
        .nameservers([silent.local_addr().unwrap()])
        .hosts_file(&hosts)
        .build()
        .unwrap();
    let connector = Connector::new().resolver(resolver);
    let mut v: Vec<Duration> = (0..9)
        .map(|_| {
            let t0 = Instant::now();
            async_io::block_on(connector.connect("dual.bench", &port.to_string())).unwrap();
            t0.elapsed()
        })
        .collect();
    v.sort();
    eprintln!(
        "he_overshoot: median {:?} (attempt delay 250 ms: +{:?}), min {:?}, max {:?}",
        v[4],
        v[4].saturating_sub(Duration::from_millis(250)),
        v[0],
        v[8]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Process CPU time (every thread: the caller, the accept thread, async-io's reactor).
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a valid timespec.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The connect comparison, interleaved so that the load of the shared machine hits both sides
/// alike: 40 rounds of 50 connects each way; prints the median wall time per connect and the process
/// CPU time per connect of each side, and the ratios.
fn connect_interleaved(_c: &mut Criterion) {
    let sink = Sink::start();
    let addr = sink.addr;
    let connector = Connector::new();
    let (mut wall_a, mut wall_b) = (Vec::new(), Vec::new());
    let (mut cpu_a, mut cpu_b) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..40 {
        let (t0, c0) = (Instant::now(), cpu_time());
        for _ in 0..50 {
            drop(async_io::block_on(Async::<TcpStream>::connect(addr)).unwrap());
        }
        wall_a.push(t0.elapsed() / 50);
        cpu_a += cpu_time() - c0;
        let (t0, c0) = (Instant::now(), cpu_time());
        for _ in 0..50 {
            drop(async_io::block_on(connector.connect_addrs([addr])).unwrap());
        }
        wall_b.push(t0.elapsed() / 50);
        cpu_b += cpu_time() - c0;
    }
    wall_a.sort();
    wall_b.sort();
    let (ma, mb) = (wall_a[20], wall_b[20]);
    let (ca, cb) = (cpu_a / 2000, cpu_b / 2000);
    eprintln!(
        "connect_interleaved: async_io median {ma:?}/connect, cpu {ca:?}; anysock median {mb:?}, cpu {cb:?}; wall ratio {:.3}, cpu ratio {:.3}",
        mb.as_secs_f64() / ma.as_secs_f64(),
        cb.as_secs_f64() / ca.as_secs_f64()
    );
}

criterion_group!(
    benches,
    connect,
    connect_interleaved,
    he_v6_blackhole,
    accept,
    he_overshoot
);
criterion_main!(benches);
