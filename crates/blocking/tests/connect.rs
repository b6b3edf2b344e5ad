//! tcp_connect machinery on real loopback sockets: Happy Eyeballs against an unresponsive IPv6
//! listener, serial mode, refusals, hooks.

mod common;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Mutex;
use std::time::Duration;

use anysock_blocking::Connector;
use anysock_core::connect::AttemptOutcome;
use anysock_core::{SockAddr, SockType};
use anysock_sys::socket2::Socket;

/// A listener on [::1] whose accept queue is full (listen(0) plus one pending connection): the kernel
/// drops further SYNs, so a connect to it neither succeeds nor fails for a long time.
struct Blackhole {
    addr: SocketAddr,
    _listener: anysock_sys::Listener,
    _pending: Vec<Socket>,
}

fn blackhole_v6() -> Option<Blackhole> {
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
    // Fill the queue: connect until one connect stays in progress.
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
    let l = TcpListener::bind((ip, 0)).unwrap();
    l.local_addr().unwrap()
}

#[test]
fn connects_and_reports_the_trace() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let mut c = Connector::new().connect_addrs([addr]).unwrap();
    assert_eq!(c.peer_addr(), SockAddr::Inet(addr));
    assert_eq!(c.attempts.len(), 1);
    assert_eq!(c.attempts[0].outcome, Some(AttemptOutcome::Connected));
    let (mut s, _) = l.accept().unwrap();
    c.stream.write_all(b"hi").unwrap();
    let mut b = [0; 2];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"hi");
}

#[test]
fn happy_eyeballs_falls_back_to_ipv4_after_the_attempt_delay() {
    let Some(hole) = blackhole_v6() else { return };
    let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = Connector::new()
        .attempt_delay(Duration::from_millis(100))
        .timeout(Duration::from_secs(10))
        .connect_addrs([hole.addr, v4.local_addr().unwrap()])
        .unwrap();
    assert_eq!(c.peer_addr(), SockAddr::Inet(v4.local_addr().unwrap()));
    assert_eq!(c.attempts.len(), 2, "{:?}", c.attempts);
    let (first, second) = (&c.attempts[0], &c.attempts[1]);
    assert_eq!(first.target.addr, SockAddr::Inet(hole.addr), "IPv6 first");
    assert_eq!(first.outcome, Some(AttemptOutcome::Cancelled));
    assert!(
        second.started.duration_since(first.started) >= Duration::from_millis(100),
        "the IPv4 attempt starts one attempt delay after the IPv6 one"
    );
    assert_eq!(second.outcome, Some(AttemptOutcome::Connected));
}

#[test]
fn serial_mode_waits_for_the_attempt_timeout_first() {
    let Some(hole) = blackhole_v6() else { return };
    let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = Connector::new()
        .serial()
        .attempt_timeout(Duration::from_millis(300))
        .connect_addrs([hole.addr, v4.local_addr().unwrap()])
        .unwrap();
    assert_eq!(c.attempts.len(), 2);
    let (first, second) = (&c.attempts[0], &c.attempts[1]);
    assert_eq!(first.outcome, Some(AttemptOutcome::TimedOut));
    assert!(first.elapsed().unwrap() >= Duration::from_millis(300));
    assert!(second.started >= first.ended.unwrap());
    assert_eq!(second.outcome, Some(AttemptOutcome::Connected));
}

#[test]
fn prepare_hook_timeout_applies_per_attempt() {
    let Some(hole) = blackhole_v6() else { return };
    let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = Connector::new()
        .serial()
        .prepare(|_, _| Ok(Some(Duration::from_millis(200))))
        .connect_addrs([hole.addr, v4.local_addr().unwrap()])
        .unwrap();
    assert_eq!(
        c.attempts[0].outcome,
        Some(AttemptOutcome::Failed(io::ErrorKind::TimedOut))
    );
    assert_eq!(c.attempts[1].outcome, Some(AttemptOutcome::Connected));
}

#[test]
fn prepare_hook_zero_timeout_means_none() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = Connector::new()
        .prepare(|_, _| Ok(Some(Duration::ZERO)))
        .connect_addrs([l.local_addr().unwrap()])
        .unwrap();
    assert_eq!(c.attempts[0].outcome, Some(AttemptOutcome::Connected));
}

#[test]
fn all_refused_lists_every_attempt() {
    let mut addrs = vec![closed_port("127.0.0.1"), closed_port("127.0.0.1")];
    if anysock_sys::ipv6_available() {
        addrs.push(closed_port("::1"));
    }
    let e = Connector::new().connect_addrs(addrs.clone()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
    let msg = e.to_string();
    for a in &addrs {
        assert!(msg.contains(&a.to_string()), "{a} missing from {msg}");
    }
    let inner = e
        .get_ref()
        .unwrap()
        .downcast_ref::<anysock_blocking::Error>();
    match inner {
        Some(anysock_blocking::Error::Connect { error, .. }) => {
            assert_eq!(error.attempts.len(), addrs.len());
            assert!(error.attempts.iter().all(
                |a| a.outcome == Some(AttemptOutcome::Failed(io::ErrorKind::ConnectionRefused))
            ));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_targets_is_not_found() {
    let e = Connector::new()
        .connect_addrs(Vec::<SocketAddr>::new())
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
}

#[test]
fn prepare_hook_binds_a_local_address() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let local: SocketAddr = "127.0.0.7:0".parse().unwrap();
    let c = Connector::new()
        .prepare(move |sock, _| {
            sock.bind(&local.into())?;
            Ok(None)
        })
        .connect_addrs([l.local_addr().unwrap()])
        .unwrap();
    let (_, peer) = l.accept().unwrap();
    assert_eq!(peer.ip().to_string(), "127.0.0.7");
    assert_eq!(
        c.stream
            .local_addr()
            .unwrap()
            .unwrap()
            .as_inet()
            .unwrap()
            .ip(),
        peer.ip()
    );
}

#[test]
fn prepare_hook_error_fails_that_attempt_only() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let first = closed_port("127.0.0.1");
    let c = Connector::new()
        .serial()
        .prepare(move |_, t| {
            if t.addr == SockAddr::Inet(first) {
                return Err(io::Error::new(io::ErrorKind::PermissionDenied, "no"));
            }
            Ok(None)
        })
        .connect_addrs([first, l.local_addr().unwrap()])
        .unwrap();
    assert_eq!(
        c.attempts[0].outcome,
        Some(AttemptOutcome::Failed(io::ErrorKind::PermissionDenied))
    );
    assert_eq!(c.attempts[1].outcome, Some(AttemptOutcome::Connected));
}

#[test]
fn accept_hook_rejects_the_first_target_and_the_second_is_used() {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let s2 = std::sync::Arc::clone(&seen);
    let first = a.local_addr().unwrap();
    let c = Connector::new()
        .serial()
        .accept(move |_, t| {
            s2.lock().unwrap().push(t.addr);
            t.addr != SockAddr::Inet(first)
        })
        .connect_addrs([first, b.local_addr().unwrap()])
        .unwrap();
    assert_eq!(c.peer_addr(), SockAddr::Inet(b.local_addr().unwrap()));
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(c.attempts[0].outcome, Some(AttemptOutcome::Rejected));
    assert_eq!(c.attempts[1].outcome, Some(AttemptOutcome::Connected));
    // The rejected connection was closed: the first server sees EOF.
    let (mut s, _) = a.accept().unwrap();
    let mut buf = [0; 1];
    assert_eq!(s.read(&mut buf).unwrap(), 0);
}

#[test]
fn unix_targets_connect() {
    let d = common::tempdir("connect-unix");
    let p = d.join("s.sock");
    let l = std::os::unix::net::UnixListener::bind(&p).unwrap();
    let ua = anysock_core::UnixAddr::pathname(p.as_os_str().as_encoded_bytes()).unwrap();
    let mut c = Connector::new().connect_addrs([ua]).unwrap();
    assert!(c.stream.as_unix().is_some());
    let (mut s, _) = l.accept().unwrap();
    s.write_all(b"u").unwrap();
    let mut b = [0];
    c.stream.read_exact(&mut b).unwrap();
    let e = Connector::new()
        .connect_addrs([anysock_core::UnixAddr::pathname(b"/nonexistent/anysock.sock").unwrap()])
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
}

#[test]
fn overall_timeout_ends_a_stalled_connect() {
    let Some(hole) = blackhole_v6() else { return };
    let e = Connector::new()
        .timeout(Duration::from_millis(300))
        .connect_addrs([hole.addr])
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    assert!(e.to_string().contains(&hole.addr.to_string()), "{e}");
}

#[test]
fn socket_options_on_a_connected_stream() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = Connector::new()
        .connect_addrs([l.local_addr().unwrap()])
        .unwrap();
    anysock_blocking::tcp_nodelay(&c.stream, true).unwrap();
    assert!(anysock_blocking::tcp_nodelay_enabled(&c.stream).unwrap());
    assert!(c.stream.as_tcp().unwrap().nodelay().unwrap());
    anysock_blocking::tcp_congestion(&c.stream, "reno").unwrap();
    assert_eq!(
        anysock_blocking::tcp_congestion_name(&c.stream).unwrap(),
        "reno"
    );
    let e = anysock_blocking::tcp_congestion(&c.stream, "nosuchalgo").unwrap_err();
    assert!(e.to_string().contains("nosuchalgo"), "{e}");
    // The returned stream is blocking: O_NONBLOCK (0o4000) is clear in /proc/self/fdinfo.
    use std::os::fd::AsRawFd;
    let info =
        std::fs::read_to_string(format!("/proc/self/fdinfo/{}", c.stream.as_raw_fd())).unwrap();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .map(|v| u32::from_str_radix(v.trim(), 8).unwrap())
        .unwrap();
    assert_eq!(flags & 0o4000, 0, "flags {flags:o}");
}
