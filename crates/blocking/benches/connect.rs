//! Connect benchmarks for the blocking adapter.
//!
//! - `loopback`: one connect to a listening 127.0.0.1 port, anysock vs `std::net::TcpStream::connect`
//!   (target: anysock at most 1.2x std). Clients close with `SO_LINGER 0` so that no TIME_WAIT state
//!   piles up over thousands of iterations (the same for both).
//! - `ipv6_blackholed`: the name `dual.bench`, where [::1]:P has a full accept queue (SYNs are
//!   dropped) and 127.0.0.1:P works. Both sides connect by name inside the private namespace of
//!   [`anysock_testkit::netns`], whose `/etc/hosts` lists `::1 dual.bench` then `127.0.0.1 dual.bench`
//!   (the machine's own hosts file has no `::1` line) and whose resolv.conf names only a loopback
//!   dnsmasq: anysock `Connector::new()` (the system resolver, i.e. those files; Happy Eyeballs) vs
//!   std's `(name, port).to_socket_addrs()` (getaddrinfo, which returns [::1] first: checked before
//!   timing) then `connect_timeout` of 3 s on each address in that order (without the cap std waits for
//!   the kernel's SYN retries, about 127 s). Skipped, with the reason, if the namespace cannot be set
//!   up (not root).
//!
//! The whole bench runs in that namespace (entered first thing in `main`, while it is the only
//! thread), so the loopback groups too.

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anysock_blocking::Connector;
use anysock_core::{Family, SockAddr, SockType};
use anysock_sys::socket2::SockRef;
use anysock_testkit::netns::{NetNs, NetNsConfig};
use criterion::Criterion;

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
    // The system resolver: inside the namespace, its hosts file and its dnsmasq.
    let connector = Connector::new();
    let order: Vec<SocketAddr> = ("dual.bench", port).to_socket_addrs().unwrap().collect();
    eprintln!("ipv6_blackholed: getaddrinfo(\"dual.bench\") returns {order:?}");
    assert!(order[0].is_ipv6(), "getaddrinfo order: {order:?}");

    let mut g = c.benchmark_group("ipv6_blackholed");
    g.sample_size(10);
    g.bench_function("anysock Connector::connect(\"dual.bench\", port)", |b| {
        b.iter(|| {
            let c = connector.connect("dual.bench", &port.to_string()).unwrap();
            assert_eq!(c.target.family(), Family::V4);
        })
    });
    g.bench_function(
        "std getaddrinfo(\"dual.bench\") then connect_timeout(3 s) each",
        |b| {
            b.iter(|| {
                // What `TcpStream::connect((name, port))` does, with a 3 s cap per address.
                let mut ok = None;
                for a in ("dual.bench", port).to_socket_addrs().unwrap() {
                    if let Ok(s) = TcpStream::connect_timeout(&a, Duration::from_secs(3)) {
                        ok = Some(s);
                        break;
                    }
                }
                assert!(ok.unwrap().peer_addr().unwrap().is_ipv4());
            })
        },
    );
    g.finish();
    drop((hole, pending));
}

fn main() {
    // First, while this is the only thread.
    let ns = NetNs::enter(&NetNsConfig::bench());
    let mut c = Criterion::default().configure_from_args();
    loopback(&mut c);
    loopback_interleaved(&mut c);
    match &ns {
        Ok(_) => ipv6_blackholed(&mut c),
        Err(e) => eprintln!("ipv6_blackholed: skipped (needs the bench namespace): {e}"),
    }
    c.final_summary();
}
