//! tcp_connect on tokio against real loopback sockets: the trace, Happy Eyeballs against an
//! unresponsive IPv6 listener, serial mode, refusals, hooks, unix sockets, 1,000 concurrent connects.

mod common;

use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anysock_core::connect::{AttemptOutcome, FailReason};
use anysock_core::{SockAddr, SockType};
use anysock_sys::socket2::Socket;
use anysock_tokio::{Connector, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A listener on [::1] whose accept queue is full (listen(0) plus pending connections): the kernel
/// drops further SYNs, so a connect to it neither succeeds nor fails for a long time.
#[allow(missing_debug_implementations)]
pub struct Blackhole {
    pub addr: SocketAddr,
    _listener: anysock_sys::Listener,
    _pending: Vec<Socket>,
}

pub fn blackhole_v6() -> Option<Blackhole> {
    if !anysock_sys::ipv6_available() {
        return None;
    }
    let l = anysock_sys::listen(
        &SockAddr::Inet("[::1]:0".parse().unwrap()),
        SockType::Stream,
        0,
    )
    .ok()?;
    let addr = l.local_addr().as_inet().unwrap();
    let mut pending = Vec::new();
    for _ in 0..4 {
        let s = anysock_sys::new_socket(anysock_core::Family::V6, SockType::Stream, 6).unwrap();
        let _ = anysock_sys::start_connect(&s, &SockAddr::Inet(addr));
        pending.push(s);
    }
    std::thread::sleep(Duration::from_millis(50));
    Some(Blackhole {
        addr,
        _listener: l,
        _pending: pending,
    })
}

fn closed_port(ip: &str) -> SocketAddr {
    let l = std::net::TcpListener::bind((ip, 0)).unwrap();
    l.local_addr().unwrap()
}

#[allow(clippy::disallowed_methods)]
fn clock() -> Instant {
    Instant::now()
}

#[tokio::test]
async fn connects_and_reports_the_trace() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let mut c = Connector::new().connect_addrs([addr]).await.unwrap();
    assert_eq!(c.peer_addr(), SockAddr::Inet(addr));
    assert_eq!(c.peer().host, "127.0.0.1");
    assert_eq!(c.attempts.len(), 1);
    assert_eq!(c.attempts[0].outcome, Some(AttemptOutcome::Connected));
    let (mut s, _) = l.accept().await.unwrap();
    c.stream.write_all(b"hi").await.unwrap();
    let mut b = [0; 2];
    s.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"hi");
}

#[tokio::test]
async fn happy_eyeballs_falls_back_to_ipv4_after_the_attempt_delay() {
    let Some(bh) = blackhole_v6() else {
        eprintln!("no IPv6 loopback: skipped");
        return;
    };
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let v4 = l.local_addr().unwrap();
    let t0 = clock();
    let c = Connector::new()
        .attempt_delay(Duration::from_millis(150))
        .connect_addrs([bh.addr, v4])
        .await
        .unwrap();
    let took = t0.elapsed();
    assert_eq!(c.peer_addr(), SockAddr::Inet(v4));
    assert!(took >= Duration::from_millis(150), "{took:?}");
    assert!(took < Duration::from_millis(600), "{took:?}");
    assert_eq!(c.attempts.len(), 2);
    assert_eq!(c.attempts[0].target.addr, SockAddr::Inet(bh.addr));
    assert_eq!(c.attempts[0].outcome, Some(AttemptOutcome::Cancelled));
}

#[tokio::test]
async fn serial_mode_waits_for_the_attempt_timeout_first() {
    let Some(bh) = blackhole_v6() else { return };
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let v4 = l.local_addr().unwrap();
    let t0 = clock();
    let c = Connector::new()
        .serial()
        .attempt_timeout(Duration::from_millis(300))
        .connect_addrs([bh.addr, v4])
        .await
        .unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(c.peer_addr(), SockAddr::Inet(v4));
    assert_eq!(c.attempts[0].outcome, Some(AttemptOutcome::TimedOut));
}

#[tokio::test]
async fn prepare_hook_timeout_applies_per_attempt() {
    let Some(bh) = blackhole_v6() else { return };
    let t0 = clock();
    let e = Connector::new()
        .prepare(|_, _| Ok(Some(Duration::from_millis(200))))
        .connect_addrs([bh.addr])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(1000),
        "{took:?}"
    );
}

#[tokio::test]
async fn all_refused_lists_every_attempt() {
    let a = closed_port("127.0.0.1");
    let b = closed_port("127.0.0.1");
    let e = Connector::new().connect_addrs([a, b]).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    let inner = e.get_ref().unwrap().downcast_ref::<Error>().unwrap();
    match inner {
        Error::Connect { error, .. } => {
            assert_eq!(error.connect.attempts.len(), 2);
            assert!(matches!(error.connect.reason, FailReason::AllFailed(_)));
            assert!(error.connect.attempts.iter().all(
                |a| a.outcome == Some(AttemptOutcome::Failed(io::ErrorKind::ConnectionRefused))
            ));
        }
        other => panic!("{other:?}"),
    }
    let text = e.to_string();
    assert!(
        text.contains(&a.to_string()) && text.contains(&b.to_string()),
        "{text}"
    );
}

#[tokio::test]
async fn no_targets_is_not_found() {
    let e = Connector::new()
        .connect_addrs(Vec::<SocketAddr>::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
}

#[tokio::test]
async fn prepare_hook_binds_a_local_address() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let c = Connector::new()
        .prepare(|s, _| {
            s.bind(&"127.0.0.3:0".parse::<SocketAddr>().unwrap().into())?;
            Ok(None)
        })
        .connect_addrs([addr])
        .await
        .unwrap();
    let local = c.stream.local_addr().unwrap().unwrap();
    assert_eq!(local.as_inet().unwrap().ip().to_string(), "127.0.0.3");
}

#[tokio::test]
async fn prepare_hook_error_fails_that_attempt_only() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let good = l.local_addr().unwrap();
    let bad = closed_port("127.0.0.2");
    let c = Connector::new()
        .serial()
        .prepare(move |_, t| {
            if t.addr == SockAddr::Inet(bad) {
                Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "not this one",
                ))
            } else {
                Ok(None)
            }
        })
        .connect_addrs([bad, good])
        .await
        .unwrap();
    assert_eq!(c.peer_addr(), SockAddr::Inet(good));
    assert_eq!(
        c.attempts[0].outcome,
        Some(AttemptOutcome::Failed(io::ErrorKind::PermissionDenied))
    );
}

#[tokio::test]
async fn accept_hook_rejects_the_first_target_and_the_second_is_used() {
    let l1 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let l2 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (a1, a2) = (l1.local_addr().unwrap(), l2.local_addr().unwrap());
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let s2 = std::sync::Arc::clone(&seen);
    let c = Connector::new()
        .serial()
        .accept(move |_, t| {
            s2.lock().unwrap().push(t.addr);
            t.addr != SockAddr::Inet(a1)
        })
        .connect_addrs([a1, a2])
        .await
        .unwrap();
    assert_eq!(c.peer_addr(), SockAddr::Inet(a2));
    assert_eq!(
        *seen.lock().unwrap(),
        [SockAddr::Inet(a1), SockAddr::Inet(a2)]
    );
    assert_eq!(c.attempts[0].outcome, Some(AttemptOutcome::Rejected));
}

#[tokio::test]
async fn unix_targets_connect() {
    let dir = common::tempdir("unix-connect");
    let path = dir.join("s.sock");
    let l = tokio::net::UnixListener::bind(&path).unwrap();
    let mut c = anysock_tokio::tcp_connect("unix/", path.to_str().unwrap())
        .await
        .unwrap();
    let (mut s, _) = l.accept().await.unwrap();
    c.stream.write_all(b"u").await.unwrap();
    let mut b = [0; 1];
    s.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"u");
    assert!(c.stream.as_unix().is_some());
}

#[tokio::test]
async fn literals_and_service_names() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let c = anysock_tokio::tcp_connect("127.1", &port.to_string())
        .await
        .unwrap();
    assert_eq!(c.peer().port, port);
    let c = anysock_tokio::tcp_connect("127.0.0.1", &format!("nosuch={port}"))
        .await
        .unwrap();
    assert_eq!(c.peer().port, port);
    let e = anysock_tokio::tcp_connect("127.0.0.1", "99999")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_connects_all_succeed() {
    let server = anysock_tokio::Bind::new(Some("127.0.0.1"), "0")
        .prepare(|_, _| Some(2048))
        .serve(|mut s, _| async move {
            let _ = s.write_all(b"k").await;
        })
        .unwrap();
    let addr = server.local_addr().as_inet().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        tasks.push(tokio::spawn(async move {
            let mut c = Connector::new().connect_addrs([addr]).await?;
            let mut b = [0; 1];
            c.stream.read_exact(&mut b).await?;
            Ok::<_, io::Error>(b[0])
        }));
    }
    let mut ok = 0;
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), b'k');
        ok += 1;
    }
    assert_eq!(ok, 1000);
    assert_eq!(server.accepted(), 1000);
}

/// [::1]:P with a full accept queue, and a working 127.0.0.1:P (the same port).
#[allow(clippy::type_complexity)]
fn blackhole_pair() -> Option<(anysock_sys::Listener, Vec<Socket>, std::net::TcpListener)> {
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
                let s =
                    anysock_sys::new_socket(anysock_core::Family::V6, SockType::Stream, 6).unwrap();
                let _ = anysock_sys::start_connect(&s, &addr);
                s
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        return Some((hole, pending, v4));
    }
    None
}

#[tokio::test]
async fn happy_eyeballs_by_name_connects_over_ipv4_in_about_the_attempt_delay() {
    let Some((hole, _pending, _v4)) = blackhole_pair() else {
        eprintln!("no IPv6 loopback: skipped");
        return;
    };
    let port = hole.local_addr().as_inet().unwrap().port().to_string();
    let d = common::tempdir("he-by-name");
    let hosts = d.join("hosts");
    std::fs::write(&hosts, "::1 dual.internal\n127.0.0.1 dual.internal\n").unwrap();
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = anysock_tokio::Resolver::builder()
        .nameservers([silent.local_addr().unwrap()])
        .hosts_file(&hosts)
        .build()
        .unwrap();
    let t0 = clock();
    let c = Connector::new()
        .resolver(r)
        .connect("dual.internal", &port)
        .await
        .unwrap();
    let took = t0.elapsed();
    assert_eq!(c.target.family(), anysock_core::Family::V4);
    assert_eq!(c.attempts.len(), 2);
    assert_eq!(c.attempts[0].target.family(), anysock_core::Family::V6);
    assert_eq!(c.attempts[0].outcome, Some(AttemptOutcome::Cancelled));
    let gap = c.attempts[1].started - c.attempts[0].started;
    assert!(gap >= Duration::from_millis(250), "attempt delay: {gap:?}");
    // About the attempt delay: 250 ms plus a loopback connect, with generous slack for a busy CI.
    assert!(took < Duration::from_millis(750), "{took:?}");
    assert!(c.queries.is_empty(), "a hosts-file name needs no DNS");
}

#[tokio::test]
async fn overall_timeout_ends_a_hanging_connect() {
    let Some(bh) = blackhole_v6() else { return };
    let t0 = clock();
    let e = Connector::new()
        .timeout(Duration::from_millis(200))
        .connect_addrs([bh.addr])
        .await
        .unwrap_err();
    let took = t0.elapsed();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(800),
        "{took:?}"
    );
    match e.get_ref().unwrap().downcast_ref::<Error>().unwrap() {
        Error::Connect { error, .. } => {
            assert_eq!(error.connect.reason, FailReason::TimedOut);
            assert_eq!(error.connect.attempts.len(), 1);
        }
        other => panic!("{other:?}"),
    }
}
