//! tcp_connect, the Connector and the Resolver on real loopback sockets, each test run under
//! async-std's executor and under smol's.

// Wall-clock bounds on real sockets (generous, not performance targets).
#![allow(clippy::disallowed_methods)]

mod common;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anysock_async_std::{Connector, Resolver, Stream};
use anysock_core::connect::AttemptOutcome;
use anysock_core::dns::{RecordData, RecordType};
use anysock_core::resolv_conf::DnsConfig;
use anysock_core::{Family, FamilyPreference, SockAddr, SockType};
use common::{DnsServer, Rr, blackhole_pair, join_all};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

fn hosts_file(tag: &str, text: &str) -> PathBuf {
    let p = common::tempdir(tag).join("hosts");
    std::fs::write(&p, text).unwrap();
    p
}

fn dns_config(servers: &[SocketAddr]) -> DnsConfig {
    DnsConfig::builder()
        .nameservers(servers.iter().copied())
        .timeout(Duration::from_millis(300))
        .attempts(2)
        .build()
        .unwrap()
}

/// A resolver that must not need DNS: its only nameserver never answers.
fn hosts_only(hosts: &std::path::Path) -> (Resolver, std::net::UdpSocket) {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = Resolver::builder()
        .dns_config(dns_config(&[silent.local_addr().unwrap()]))
        .hosts_file(hosts)
        .build()
        .unwrap();
    (r, silent)
}

fn closed_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

both_executors!(
    connect_by_literal,
    connect_unix_path,
    happy_eyeballs_by_hosts_name,
    happy_eyeballs_connect_addrs_timing,
    serial_mode,
    all_refused_lists_every_attempt,
    prepare_and_accept_hooks,
    dns_resolution_against_loopback_responder,
    dns_tcp_fallback_and_lookups,
    drop_mid_race_cancels,
    thousand_concurrent_connects,
);

async fn connect_by_literal() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut c = anysock_async_std::tcp_connect("127.0.0.1", &port.to_string())
        .await
        .unwrap();
    assert_eq!(c.attempts.len(), 1);
    assert_eq!(c.attempts[0].outcome, Some(AttemptOutcome::Connected));
    c.stream.write_all(b"ping").await.unwrap();
    let (mut s, _) = l.accept().unwrap();
    let mut b = [0; 4];
    std::io::Read::read_exact(&mut s, &mut b).unwrap();
    assert_eq!(&b, b"ping");
    std::io::Write::write_all(&mut s, b"pong").unwrap();
    c.stream.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"pong");
    assert_eq!(
        c.stream.local_addr().unwrap().unwrap(),
        SockAddr::Inet(s.peer_addr().unwrap())
    );
    // AnyEvent forms: 127.1, name=port.
    let c = anysock_async_std::tcp_connect("127.1", &format!("anysock={port}"))
        .await
        .unwrap();
    assert_eq!(c.peer_addr().to_string(), format!("127.0.0.1:{port}"));
    // Bad input is a typed error, before anything is sent.
    let e = anysock_async_std::tcp_connect("127.0.0.1", "99999")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("127.0.0.1"), "{e}");
    // A refused port.
    drop(l);
    let e = anysock_async_std::tcp_connect("127.0.0.1", &port.to_string())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
    let inner = e
        .get_ref()
        .unwrap()
        .downcast_ref::<anysock_async_std::Error>();
    assert!(
        matches!(inner, Some(anysock_async_std::Error::Connect { .. })),
        "{inner:?}"
    );
}

async fn connect_unix_path() {
    let d = common::tempdir("connect-unix");
    let p = d.join("s.sock");
    let l = std::os::unix::net::UnixListener::bind(&p).unwrap();
    let mut c = anysock_async_std::tcp_connect("unix/", p.to_str().unwrap())
        .await
        .unwrap();
    assert!(c.stream.as_unix().is_some());
    c.stream.write_all(b"u").await.unwrap();
    let (mut s, _) = l.accept().unwrap();
    let mut b = [0];
    std::io::Read::read_exact(&mut s, &mut b).unwrap();
    assert_eq!(&b, b"u");
    // Relative paths are refused for connecting (AnyEvent semantics 5.1).
    let e = anysock_async_std::tcp_connect("unix/", "relative.sock")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    // A path with no socket.
    let e = anysock_async_std::tcp_connect("unix/", d.join("none.sock").to_str().unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
}

async fn happy_eyeballs_by_hosts_name() {
    let Some((hole, _pending, v4)) = blackhole_pair() else {
        return;
    };
    let port = hole.local_addr().as_inet().unwrap().port();
    let p = hosts_file("he-hosts", "::1 dual.internal\n127.0.0.1 dual.internal\n");
    let (r, _silent) = hosts_only(&p);
    let t0 = Instant::now();
    let c = Connector::new()
        .resolver(r.clone())
        .connect("dual.internal", &port.to_string())
        .await
        .unwrap();
    let took = t0.elapsed();
    assert_eq!(c.peer_addr().to_string(), format!("127.0.0.1:{port}"));
    assert_eq!(c.attempts.len(), 2, "{:?}", c.attempts);
    assert_eq!(c.attempts[0].target.family(), Family::V6);
    assert_eq!(c.attempts[0].outcome, Some(AttemptOutcome::Cancelled));
    assert_eq!(c.attempts[1].outcome, Some(AttemptOutcome::Connected));
    let gap = c.attempts[1].started - c.attempts[0].started;
    assert!(gap >= Duration::from_millis(250), "attempt delay: {gap:?}");
    // Over IPv4 in about the attempt delay (generous bound: the machine is shared).
    assert!(took < Duration::from_secs(2), "took {took:?}");
    v4.accept().unwrap();
}

async fn happy_eyeballs_connect_addrs_timing() {
    let Some((hole, _pending, v4)) = blackhole_pair() else {
        return;
    };
    let c = Connector::new()
        .attempt_delay(Duration::from_millis(100))
        .timeout(Duration::from_secs(10))
        .connect_addrs([
            hole.local_addr().as_inet().unwrap(),
            v4.local_addr().unwrap(),
        ])
        .await
        .unwrap();
    assert_eq!(c.peer_addr(), SockAddr::Inet(v4.local_addr().unwrap()));
    let (first, second) = (&c.attempts[0], &c.attempts[1]);
    assert_eq!(first.outcome, Some(AttemptOutcome::Cancelled));
    let gap = second.started.duration_since(first.started);
    assert!(gap >= Duration::from_millis(100), "{gap:?}");
    assert_eq!(second.outcome, Some(AttemptOutcome::Connected));
}

async fn serial_mode() {
    let Some((hole, _pending, v4)) = blackhole_pair() else {
        return;
    };
    let port = hole.local_addr().as_inet().unwrap().port();
    let p = hosts_file(
        "serial-hosts",
        "::1 dual.internal\n127.0.0.1 dual.internal\n",
    );
    let (r, _silent) = hosts_only(&p);
    // AnyEvent's behaviour: the IPv6 attempt must time out before IPv4 is tried.
    let c = Connector::new()
        .resolver(r)
        .serial()
        .attempt_timeout(Duration::from_millis(300))
        .connect("dual.internal", &port.to_string())
        .await
        .unwrap();
    assert_eq!(c.attempts.len(), 2);
    let (first, second) = (&c.attempts[0], &c.attempts[1]);
    assert_eq!(first.outcome, Some(AttemptOutcome::TimedOut));
    assert!(first.elapsed().unwrap() >= Duration::from_millis(300));
    assert!(second.started >= first.ended.unwrap());
    assert_eq!(second.outcome, Some(AttemptOutcome::Connected));
    drop(v4);
}

async fn all_refused_lists_every_attempt() {
    let dead: Vec<SocketAddr> = (0..3).map(|_| closed_port()).collect();
    let e = Connector::new()
        .attempt_delay(Duration::from_millis(10))
        .connect_addrs(dead.clone())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
    let Some(anysock_async_std::Error::Connect { error, node }) = e
        .get_ref()
        .and_then(|e| e.downcast_ref::<anysock_async_std::Error>())
    else {
        panic!("{e:?}");
    };
    assert!(error.resolution.is_none());
    assert_eq!(node, &dead[0].to_string());
    assert_eq!(error.connect.attempts.len(), 3, "{error:?}");
    for (a, d) in error.connect.attempts.iter().zip(&dead) {
        assert_eq!(a.target.addr, SockAddr::Inet(*d));
        assert_eq!(
            a.outcome,
            Some(AttemptOutcome::Failed(io::ErrorKind::ConnectionRefused))
        );
    }
    // The message names every address.
    let msg = e.to_string();
    for d in &dead {
        assert!(msg.contains(&d.to_string()), "{msg}");
    }
}

async fn prepare_and_accept_hooks() {
    let Some((hole, _pending, v4)) = blackhole_pair() else {
        return;
    };
    // The prepare hook's own timeout fails the blackholed attempt.
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let c = Connector::new()
        .serial()
        .prepare(move |sock, target| {
            s2.lock().unwrap().push(target.addr);
            sock.set_tcp_nodelay(true)?;
            Ok(Some(Duration::from_millis(200)))
        })
        .connect_addrs([
            hole.local_addr().as_inet().unwrap(),
            v4.local_addr().unwrap(),
        ])
        .await
        .unwrap();
    assert_eq!(
        c.attempts[0].outcome,
        Some(AttemptOutcome::Failed(io::ErrorKind::TimedOut))
    );
    assert!(c.attempts[0].elapsed().unwrap() >= Duration::from_millis(200));
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert!(c.stream.nodelay().unwrap(), "options set in prepare stay");
    // A failing prepare hook fails that attempt only.
    let c = Connector::new()
        .prepare(|_, t| {
            if t.family() == Family::V6 {
                Err(io::Error::new(io::ErrorKind::PermissionDenied, "no v6"))
            } else {
                Ok(None)
            }
        })
        .connect_addrs([
            hole.local_addr().as_inet().unwrap(),
            v4.local_addr().unwrap(),
        ])
        .await
        .unwrap();
    assert_eq!(
        c.attempts[0].outcome,
        Some(AttemptOutcome::Failed(io::ErrorKind::PermissionDenied))
    );
    assert_eq!(c.peer_addr(), SockAddr::Inet(v4.local_addr().unwrap()));
    // The accept (retry) hook rejects the first connection; the next target is used (B27 fixed).
    let l2 = TcpListener::bind("127.0.0.2:0").unwrap();
    let first = v4.local_addr().unwrap();
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let c2 = calls.clone();
    let c = Connector::new()
        .serial()
        .accept(move |s: &Stream, t| {
            c2.fetch_add(1, Ordering::SeqCst);
            assert!(s.as_tcp().is_some());
            t.addr != SockAddr::Inet(first)
        })
        .connect_addrs([first, l2.local_addr().unwrap()])
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(c.peer_addr(), SockAddr::Inet(l2.local_addr().unwrap()));
    assert_eq!(c.attempts[0].outcome, Some(AttemptOutcome::Rejected));
    // Rejecting everything fails with every attempt listed.
    let e = Connector::new()
        .accept(|_, _| false)
        .connect_addrs([l2.local_addr().unwrap()])
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains(&l2.local_addr().unwrap().to_string()),
        "{e}"
    );
}

async fn dns_resolution_against_loopback_responder() {
    let srv = DnsServer::start(
        vec![
            Rr::A("www.test", Ipv4Addr::new(127, 0, 0, 1)),
            Rr::Aaaa("www.test", std::net::Ipv6Addr::LOCALHOST),
            Rr::A("v4.test", Ipv4Addr::new(127, 0, 0, 2)),
            Rr::Srv("_http._tcp.svc.test", 20, 0, 8081, "v4.test"),
            Rr::Srv("_http._tcp.svc.test", 10, 0, 8080, "www.test"),
            Rr::A("app.test", Ipv4Addr::LOCALHOST),
        ],
        16,
    );
    let r = Resolver::builder()
        .dns_config(dns_config(&[srv.addr]))
        .no_hosts()
        .family_preference(FamilyPreference::PreferV4)
        .build()
        .unwrap();
    let t = r
        .resolve_sockaddr("svc.test", Some("http"), "tcp", None, None)
        .await
        .unwrap();
    let addrs: Vec<String> = t.iter().map(|t| t.addr.to_string()).collect();
    // SRV priority first (B18 fixed), then the family preference within one priority.
    assert_eq!(addrs, ["127.0.0.1:8080", "[::1]:8080", "127.0.0.2:8081"]);
    assert_eq!(t[0].meta.srv_priority, Some(10));
    assert!(t.iter().all(|t| t.socktype == SockType::Stream));
    let e = r
        .resolve_sockaddr("nosuch.test", Some("80"), "tcp", None, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("nosuch.test"), "{e}");
    assert_eq!(
        r.inet_aton("www.test").await.unwrap(),
        [
            "127.0.0.1".parse::<IpAddr>().unwrap(),
            "::1".parse::<IpAddr>().unwrap()
        ]
    );
    // Connect by a DNS name.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let c = Connector::new()
        .resolver(r.clone())
        .connect("app.test", &port)
        .await
        .unwrap();
    assert_eq!(c.peer_addr(), SockAddr::Inet(l.local_addr().unwrap()));
    // The trace lists the DNS queries that ended (at least the A query that gave the target).
    assert!(
        c.queries
            .iter()
            .any(|q| q.name.starts_with("app.test") && q.result == Some(Ok(1))),
        "{:?}",
        c.queries
    );
    let e = Connector::new()
        .resolver(r)
        .connect("gone.test", &port)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    assert!(srv.udp_queries.load(Ordering::SeqCst) > 0);
}

async fn dns_tcp_fallback_and_lookups() {
    let mut zone = vec![Rr::Txt("t.test", "hello".into())];
    for i in 0..40 {
        zone.push(Rr::A("many.test", Ipv4Addr::new(127, 0, 1, i)));
    }
    let srv = DnsServer::start(zone, 16);
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // A silent first server, then the real one: the machine moves on after its timeout.
    let r = Resolver::builder()
        .dns_config(
            DnsConfig::builder()
                .nameservers([silent.local_addr().unwrap(), srv.addr])
                .timeout(Duration::from_millis(100))
                .attempts(2)
                .build()
                .unwrap(),
        )
        .no_hosts()
        .build()
        .unwrap();
    let a = r.lookup("many.test.", RecordType::A).await.unwrap();
    assert_eq!(a.records.len(), 40, "truncated over UDP, complete over TCP");
    assert!(srv.tcp_queries.load(Ordering::SeqCst) >= 1);
    let res = r
        .lookup_many(&[
            ("t.test.", RecordType::Txt),
            ("nosuch.test.", RecordType::A),
            ("bad..name", RecordType::A),
        ])
        .await;
    let txt = res[0].as_ref().unwrap();
    assert!(
        matches!(&txt.records[0].data, RecordData::Txt(parts) if parts.concat() == b"hello"),
        "{txt:?}"
    );
    assert_eq!(res[1].as_ref().unwrap_err().kind(), io::ErrorKind::NotFound);
    assert_eq!(
        res[2].as_ref().unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    // A server that never answers: TimedOut.
    let r = Resolver::builder()
        .dns_config(
            DnsConfig::builder()
                .nameserver(silent.local_addr().unwrap())
                .timeout(Duration::from_millis(50))
                .attempts(1)
                .build()
                .unwrap(),
        )
        .no_hosts()
        .build()
        .unwrap();
    let e = r.lookup("x.test.", RecordType::A).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
}

async fn drop_mid_race_cancels() {
    let Some((hole, _pending, _v4)) = blackhole_pair() else {
        return;
    };
    // Only blackholed targets: the race cannot finish; drop it while attempts are in flight.
    let target = hole.local_addr().as_inet().unwrap();
    let mut fut = Box::pin(
        Connector::new()
            .attempt_delay(Duration::from_millis(10))
            .connect_addrs([target]),
    );
    let r = futures_lite::future::poll_once(&mut fut).await;
    assert!(r.is_none());
    async_io::Timer::after(Duration::from_millis(50)).await;
    assert!(futures_lite::future::poll_once(&mut fut).await.is_none());
    assert!(!fut.attempts().is_empty());
    drop(fut);
    // The fd accounting is checked in the fd_leaks test binary; here: a timeout still ends a race.
    let e = Connector::new()
        .timeout(Duration::from_millis(100))
        .connect_addrs([target])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
}

async fn thousand_concurrent_connects() {
    let server = anysock_async_std::Bind::new(Some("127.0.0.1"), "0")
        .prepare(|_, _| Some(2048))
        .serve(|_s, _p| {})
        .unwrap();
    let addr = server.local_addr();
    let conns = join_all(
        (0..1000)
            .map(|_| Connector::new().connect_addrs([addr]))
            .collect(),
    )
    .await;
    let ok = conns.iter().filter(|c| c.is_ok()).count();
    assert_eq!(ok, 1000, "{:?}", conns.iter().find(|c| c.is_err()));
    drop(conns);
    // Every connection reached the accept loop.
    let t0 = Instant::now();
    while server.accepted() < 1000 && t0.elapsed() < Duration::from_secs(10) {
        async_io::Timer::after(Duration::from_millis(5)).await;
    }
    assert_eq!(server.accepted(), 1000);
}
