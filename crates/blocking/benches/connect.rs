//! Connect benchmarks for the blocking adapter.
//!
//! - `loopback`: one connect to a listening 127.0.0.1 port, anysock vs `std::net::TcpStream::connect`
//!   (target: anysock at most 1.2x std). Clients close with `SO_LINGER 0` so that no TIME_WAIT state
//!   piles up over thousands of iterations (the same for both).
//! - `ipv6_blackholed`: `localhost` where [::1]:P has a full accept queue (SYNs are dropped) and
//!   127.0.0.1:P works. anysock (Happy Eyeballs) vs std trying the same addresses in RFC 6724 order
//!   ([::1] first) with `connect_timeout` capped at 3 s each (without the cap std waits for the
//!   kernel's SYN retries, about 127 s). This machine's /etc/hosts has no `::1 localhost` line, so std's
//!   getaddrinfo would return IPv4 only: the std side is given the dual-stack list explicitly.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use anysock_blocking::{Connector, Resolver};
use anysock_core::{Family, SockAddr, SockType};
use anysock_sys::socket2::SockRef;
use criterion::{Criterion, criterion_group, criterion_main};

fn accept_forever(l: TcpListener) {
    std::thread::spawn(move || {
        for s in l.incoming() {
            drop(s);
        }
    });
}

fn abortive_close<S: std::os::fd::AsFd>(s: &S) {
    SockRef::from(s).set_linger(Some(Duration::ZERO)).unwrap();
}

fn loopback(c: &mut Criterion) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let port = addr.port().to_string();
    accept_forever(l);
    let mut g = c.benchmark_group("loopback");
    g.bench_function("std::net::TcpStream::connect", |b| {
        b.iter(|| {
            let s = TcpStream::connect(addr).unwrap();
            abortive_close(&s);
        })
    });
    let connector = Connector::new();
    g.bench_function("anysock Connector::connect_addrs", |b| {
        b.iter(|| {
            let c = connector.connect_addrs([addr]).unwrap();
            abortive_close(&c.stream);
        })
    });
    g.bench_function("anysock tcp_connect(\"127.0.0.1\", port)", |b| {
        b.iter(|| {
            let c = anysock_blocking::tcp_connect("127.0.0.1", &port).unwrap();
            abortive_close(&c.stream);
        })
    });
    g.finish();
}

/// The same comparison, interleaved: each round times one std connect and one anysock connect back to
/// back, so that load from other processes hits both alike. Prints the medians and their ratio.
#[allow(clippy::disallowed_methods)] // a benchmark reads the clock
fn loopback_interleaved(_: &mut Criterion) {
    use std::time::Instant;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    accept_forever(l);
    let connector = Connector::new();
    let port = addr.port().to_string();
    let (mut std_t, mut any_t, mut tcp_t) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..3000 {
        let run_tcp = || {
            let t = Instant::now();
            let c = anysock_blocking::tcp_connect("127.0.0.1", &port).unwrap();
            let d = t.elapsed();
            abortive_close(&c.stream);
            d
        };
        let run_std = || {
            let t = Instant::now();
            let s = TcpStream::connect(addr).unwrap();
            let d = t.elapsed();
            abortive_close(&s);
            d
        };
        let run_any = || {
            let t = Instant::now();
            let c = connector.connect_addrs([addr]).unwrap();
            let d = t.elapsed();
            abortive_close(&c.stream);
            d
        };
        if round % 2 == 0 {
            std_t.push(run_std());
            any_t.push(run_any());
            tcp_t.push(run_tcp());
        } else {
            tcp_t.push(run_tcp());
            any_t.push(run_any());
            std_t.push(run_std());
        }
    }
    let median = |v: &mut Vec<std::time::Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (ms, ma, mt) = (median(&mut std_t), median(&mut any_t), median(&mut tcp_t));
    println!(
        "loopback_interleaved: 3000 rounds; median std {:.1} us, anysock connect_addrs {:.1} us \
         (ratio {:.2}), anysock tcp_connect {:.1} us (ratio {:.2})",
        ms * 1e6,
        ma * 1e6,
        ma / ms,
        mt * 1e6,
        mt / ms
    );
}

fn ipv6_blackholed(c: &mut Criterion) {
    if !anysock_sys::ipv6_available() {
        eprintln!("ipv6_blackholed: no IPv6 here, skipped");
        return;
    }
    // [::1]:P with listen(0) and a pending connection: further SYNs are dropped.
    let (hole, v4) = loop {
        let hole = anysock_sys::listen(
            &SockAddr::Inet("[::1]:0".parse().unwrap()),
            SockType::Stream,
            0,
        )
        .unwrap();
        let p = hole.local_addr().as_inet().unwrap().port();
        if let Ok(v4) = TcpListener::bind(("127.0.0.1", p)) {
            break (hole, v4);
        }
    };
    let hole_addr = hole.local_addr();
    let pending: Vec<_> = (0..4)
        .map(|_| {
            let s = anysock_sys::new_socket(Family::V6, SockType::Stream, 6).unwrap();
            let _ = anysock_sys::start_connect(&s, &hole_addr);
            s
        })
        .collect();
    let port = hole_addr.as_inet().unwrap().port();
    accept_forever(v4);
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = Resolver::builder()
        .nameservers([silent.local_addr().unwrap()])
        .no_hosts()
        .build()
        .unwrap();
    let connector = Connector::new().resolver(resolver);
    let dual: [SocketAddr; 2] = [
        format!("[::1]:{port}").parse().unwrap(),
        format!("127.0.0.1:{port}").parse().unwrap(),
    ];

    let mut g = c.benchmark_group("ipv6_blackholed");
    g.sample_size(10);
    g.bench_function("anysock Connector::connect(\"localhost\", port)", |b| {
        b.iter(|| {
            let c = connector.connect("localhost", &port.to_string()).unwrap();
            assert_eq!(c.target.family(), Family::V4);
        })
    });
    g.bench_function("std connect_timeout(3 s) over [::1, 127.0.0.1]", |b| {
        b.iter(|| {
            let mut ok = None;
            for a in &dual {
                if let Ok(s) = TcpStream::connect_timeout(a, Duration::from_secs(3)) {
                    ok = Some(s);
                    break;
                }
            }
            assert!(ok.unwrap().peer_addr().unwrap().is_ipv4());
        })
    });
    g.finish();
    drop((hole, pending));
}

criterion_group!(benches, loopback, loopback_interleaved, ipv6_blackholed);
criterion_main!(benches);
