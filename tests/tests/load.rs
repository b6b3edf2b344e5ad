//! Load on every adapter (heavy; `--features heavy`): a `tcp_server` answers 10,000 client
//! connections (50 in flight) without an error, then holds N connections to measure its memory per
//! held connection; and 1,000 concurrent `tcp_connect` calls to a name whose IPv6 address is
//! unresponsive all connect over IPv4 within the Happy Eyeballs attempt delay plus a margin.
#![cfg(feature = "heavy")]
// These suites measure elapsed wall-clock time (the sans-IO clock rule is for anysock-core).
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anysock_tests::{dual_family_same_port, raise_nofile, rss_kib, write_hosts};

/// The suites here measure process-wide RSS and descriptors: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const CONNECTIONS: usize = 10_000;
const IN_FLIGHT: usize = 50;
const HELD: usize = 2_000;

#[derive(Clone, Copy, Debug)]
enum Adapter {
    Blocking,
    Tokio,
    AsyncStd,
}

/// What every server handler shares: whether to keep the stream, and the kept streams.
#[derive(Clone, Default)]
struct Shared {
    hold: Arc<std::sync::atomic::AtomicBool>,
    held: Arc<Mutex<Vec<Box<dyn Send>>>>,
    answered: Arc<AtomicUsize>,
}

/// Starts a `tcp_server` that writes `pong\n` to each connection, then drops it (or keeps it when
/// holding). Returns the port and a guard that keeps the server (and its runtime) alive.
fn start_server(adapter: Adapter, sh: Shared) -> (u16, Box<dyn Send>) {
    match adapter {
        Adapter::Blocking => {
            let server =
                anysock_blocking::tcp_server(Some("127.0.0.1"), "0", move |mut s, _, _| {
                    if s.write_all(b"pong\n").is_ok() {
                        sh.answered.fetch_add(1, Ordering::SeqCst);
                    }
                    if sh.hold.load(Ordering::SeqCst) {
                        sh.held.lock().unwrap().push(Box::new(s));
                    }
                })
                .expect("blocking tcp_server");
            let port = server.local_addr().as_inet().expect("inet").port();
            (port, Box::new(server))
        }
        Adapter::Tokio => {
            use tokio::io::AsyncWriteExt;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let server = {
                let _g = rt.enter();
                anysock_tokio::tcp_server(Some("127.0.0.1"), "0", move |mut s, _| {
                    let sh = sh.clone();
                    async move {
                        if s.write_all(b"pong\n").await.is_ok() {
                            sh.answered.fetch_add(1, Ordering::SeqCst);
                        }
                        if sh.hold.load(Ordering::SeqCst) {
                            sh.held.lock().unwrap().push(Box::new(s));
                        }
                    }
                })
                .expect("tokio tcp_server")
            };
            let port = server.local_addr().as_inet().expect("inet").port();
            // Drop order: the server first, then its runtime.
            (port, Box::new((server, rt)))
        }
        Adapter::AsyncStd => {
            use futures_lite::AsyncWriteExt;
            let server =
                anysock_async_std::tcp_server(Some("127.0.0.1"), "0", move |mut s, _, _| {
                    let sh = sh.clone();
                    async_std::task::spawn(async move {
                        if s.write_all(b"pong\n").await.is_ok() {
                            sh.answered.fetch_add(1, Ordering::SeqCst);
                        }
                        if sh.hold.load(Ordering::SeqCst) {
                            sh.held.lock().unwrap().push(Box::new(s));
                        }
                    });
                })
                .expect("async-std tcp_server");
            let port = server.local_addr().as_inet().expect("inet").port();
            (port, Box::new(server))
        }
    }
}

fn server_load(adapter: Adapter) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    raise_nofile(4 * HELD as u64 + 1024);
    let sh = Shared::default();
    let (port, guard) = start_server(adapter, sh.clone());
    let errors = Arc::new(AtomicU32::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let clients: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let (errors, next) = (Arc::clone(&errors), Arc::clone(&next));
            std::thread::spawn(move || {
                while next.fetch_add(1, Ordering::SeqCst) < CONNECTIONS {
                    let r = TcpStream::connect(("127.0.0.1", port)).and_then(|mut c| {
                        c.set_read_timeout(Some(Duration::from_secs(10)))?;
                        let mut got = Vec::new();
                        c.read_to_end(&mut got)?;
                        Ok(got)
                    });
                    match r {
                        Ok(got) if got == b"pong\n" => {}
                        other => {
                            eprintln!("{adapter:?}: client error {other:?}");
                            errors.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client thread");
    }
    let took = start.elapsed();
    assert_eq!(
        errors.load(Ordering::SeqCst),
        0,
        "{adapter:?}: client errors"
    );
    assert_eq!(
        sh.answered.load(Ordering::SeqCst),
        CONNECTIONS,
        "{adapter:?}: answered"
    );

    // Memory per held connection.
    sh.hold.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(200));
    let before = rss_kib();
    let mut kept = Vec::with_capacity(HELD);
    for _ in 0..HELD {
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("held connect");
        let mut b = [0u8; 5];
        c.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        c.read_exact(&mut b).expect("held pong");
        kept.push(c);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while sh.held.lock().unwrap().len() < HELD && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(sh.held.lock().unwrap().len(), HELD, "{adapter:?}: held");
    let after = rss_kib();
    let per_conn = (after.saturating_sub(before) * 1024) as f64 / HELD as f64;
    println!(
        "RESULT load {adapter:?}: {CONNECTIONS} connections ({IN_FLIGHT} in flight) in {:.2} s ({:.0}/s), 0 errors; \
         RSS {before} KiB -> {after} KiB holding {HELD}: {per_conn:.0} bytes per held connection \
         (server and client sides in one process)",
        took.as_secs_f64(),
        CONNECTIONS as f64 / took.as_secs_f64()
    );
    drop(kept);
    sh.held.lock().unwrap().clear();
    drop(guard);
}

#[test]
fn blocking_server_takes_10000_connections() {
    server_load(Adapter::Blocking);
}

#[test]
fn tokio_server_takes_10000_connections() {
    server_load(Adapter::Tokio);
}

#[test]
fn async_std_server_takes_10000_connections() {
    server_load(Adapter::AsyncStd);
}

const CONCURRENT: usize = 1_000;
/// RFC 8305 default Connection Attempt Delay.
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);
/// Far below any operating-system connect timeout (the first SYN retransmission alone is 1 s).
const MARGIN: Duration = Duration::from_millis(2500);

/// One `tcp_connect` result: elapsed time, peer, whether IPv6 was tried first.
type Outcome = std::io::Result<(Duration, SocketAddr, bool)>;

fn check_concurrent(adapter: Adapter, v4: SocketAddr, results: Vec<Outcome>) {
    assert_eq!(results.len(), CONCURRENT);
    let mut worst = Duration::ZERO;
    let mut v6_first = 0;
    for r in results {
        let (took, peer, tried_v6) = r.unwrap_or_else(|e| panic!("{adapter:?}: {e:?}"));
        assert_eq!(peer, v4, "{adapter:?}: connected over the working family");
        worst = worst.max(took);
        v6_first += usize::from(tried_v6);
    }
    assert!(
        worst < ATTEMPT_DELAY + MARGIN,
        "{adapter:?}: slowest connect took {worst:?}"
    );
    assert_eq!(
        v6_first, CONCURRENT,
        "{adapter:?}: IPv6 is preferred and tried first"
    );
    println!(
        "RESULT dual-family {adapter:?}: {CONCURRENT} concurrent tcp_connect, all over 127.0.0.1, slowest {worst:?}"
    );
}

fn tried_v6_first(attempts: &[anysock_core::AttemptRecord]) -> bool {
    attempts
        .first()
        .and_then(|a| a.target.addr.as_inet())
        .is_some_and(|a| a.is_ipv6())
}

fn dual_setup(
    tag: &str,
) -> (
    anysock_tests::Sink,
    anysock_tests::FullQueueListener,
    std::path::PathBuf,
    UdpSocket,
) {
    raise_nofile(8 * CONCURRENT as u64 + 1024);
    let (v4, v6) = dual_family_same_port();
    let hosts = write_hosts(tag, "::1 dual.test\n127.0.0.1 dual.test\n");
    // A nameserver that is never asked (the hosts file answers first); bound so that nothing else
    // could be reached even if it were.
    let silent = UdpSocket::bind("127.0.0.1:0").expect("silent nameserver");
    (v4, v6, hosts, silent)
}

#[test]
fn blocking_1000_concurrent_connects_dual_family() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (v4, _v6, hosts, silent) = dual_setup("blocking");
    let resolver = anysock_blocking::Resolver::builder()
        .hosts_file(&hosts)
        .nameservers([silent.local_addr().expect("addr")])
        .build()
        .expect("resolver");
    let connector = Arc::new(anysock_blocking::Connector::new().resolver(resolver));
    let port = v4.addr.port().to_string();
    let threads: Vec<_> = (0..CONCURRENT)
        .map(|_| {
            let (c, port) = (Arc::clone(&connector), port.clone());
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || -> Outcome {
                    let t = Instant::now();
                    let conn = c.connect("dual.test", &port)?;
                    let peer = conn.peer_addr().as_inet().expect("inet");
                    Ok((t.elapsed(), peer, tried_v6_first(&conn.attempts)))
                })
                .expect("spawn")
        })
        .collect();
    let results = threads
        .into_iter()
        .map(|t| t.join().expect("join"))
        .collect();
    check_concurrent(Adapter::Blocking, v4.addr, results);
    let _ = std::fs::remove_file(hosts);
}

#[test]
fn tokio_1000_concurrent_connects_dual_family() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (v4, _v6, hosts, silent) = dual_setup("tokio");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let results = rt.block_on(async {
        let resolver = anysock_tokio::Resolver::builder()
            .hosts_file(&hosts)
            .nameservers([silent.local_addr().expect("addr")])
            .build()
            .expect("resolver");
        let connector = Arc::new(anysock_tokio::Connector::new().resolver(resolver));
        let port = v4.addr.port().to_string();
        let tasks: Vec<_> = (0..CONCURRENT)
            .map(|_| {
                let (c, port) = (Arc::clone(&connector), port.clone());
                tokio::spawn(async move {
                    let t = Instant::now();
                    let conn = c.connect("dual.test", &port).await?;
                    let peer = conn.peer_addr().as_inet().expect("inet");
                    Ok((t.elapsed(), peer, tried_v6_first(&conn.attempts)))
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.expect("task"));
        }
        out
    });
    check_concurrent(Adapter::Tokio, v4.addr, results);
    let _ = std::fs::remove_file(hosts);
}

#[test]
fn async_std_1000_concurrent_connects_dual_family() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (v4, _v6, hosts, silent) = dual_setup("asyncstd");
    let results = async_std::task::block_on(async {
        let resolver = anysock_async_std::Resolver::builder()
            .hosts_file(&hosts)
            .nameservers([silent.local_addr().expect("addr")])
            .build()
            .expect("resolver");
        let connector = Arc::new(anysock_async_std::Connector::new().resolver(resolver));
        let port = v4.addr.port().to_string();
        let tasks: Vec<_> = (0..CONCURRENT)
            .map(|_| {
                let (c, port) = (Arc::clone(&connector), port.clone());
                async_std::task::spawn(async move {
                    let t = Instant::now();
                    let conn = c.connect("dual.test", &port).await?;
                    let peer = conn.peer_addr().as_inet().expect("inet");
                    Ok((t.elapsed(), peer, tried_v6_first(&conn.attempts)))
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await);
        }
        out
    });
    check_concurrent(Adapter::AsyncStd, v4.addr, results);
    let _ = std::fs::remove_file(hosts);
}
