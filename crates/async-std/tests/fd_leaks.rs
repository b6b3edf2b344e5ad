//! No file descriptor leaks: every socket and DNS socket is closed after connects (won, lost, refused,
//! timed out, rejected, and dropped mid-race or mid-resolution), lookups, servers and listeners. Its
//! own test binary (process), so that no other test opens descriptors meanwhile; the async-std and smol
//! runs are one after the other in one test for the same reason.

mod common;

use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::time::Duration;

use anysock_async_std::{Connector, Resolver, tcp_bind, tcp_server};
use anysock_core::dns::RecordType;
use anysock_core::resolv_conf::DnsConfig;
use common::{DnsServer, Rr, blackhole_pair, open_fds};
use futures_lite::future::poll_once;

struct Fixture {
    live: TcpListener,
    dead: std::net::SocketAddr,
    resolver: Resolver,
    silent_resolver: Resolver,
    dir: std::path::PathBuf,
}

async fn round(f: &Fixture, hole: Option<std::net::SocketAddr>) {
    let live = f.live.local_addr().unwrap();
    let port = live.port().to_string();
    // Success, refusal, rejection by the accept hook, by name via DNS and via the hosts file.
    drop(Connector::new().connect_addrs([live]).await.unwrap());
    let _ = f.live.accept().unwrap();
    assert!(Connector::new().connect_addrs([f.dead]).await.is_err());
    assert!(
        Connector::new()
            .accept(|_, _| false)
            .connect_addrs([live])
            .await
            .is_err()
    );
    let _ = f.live.accept().unwrap();
    let r = f.resolver.clone();
    drop(
        Connector::new()
            .resolver(r.clone())
            .connect("app.test", &port)
            .await
            .unwrap(),
    );
    let _ = f.live.accept().unwrap();
    drop(
        Connector::new()
            .resolver(r.clone())
            .connect("h.internal", &port)
            .await
            .unwrap(),
    );
    let _ = f.live.accept().unwrap();
    // Dropped mid-race: attempts to a blackhole in flight.
    if let Some(hole) = hole {
        let mut fut = Box::pin(
            Connector::new()
                .attempt_delay(Duration::from_millis(5))
                .connect_addrs([hole]),
        );
        assert!(poll_once(&mut fut).await.is_none());
        async_io::Timer::after(Duration::from_millis(30)).await;
        assert!(poll_once(&mut fut).await.is_none());
        assert_eq!(fut.attempts().len(), 1, "{:?}", fut.attempts());
        drop(fut);
        // Timed out.
        assert!(
            Connector::new()
                .timeout(Duration::from_millis(30))
                .connect_addrs([hole])
                .await
                .is_err()
        );
    }
    // Dropped mid-resolution: DNS queries to a silent server in flight.
    let mut fut = Box::pin(
        Connector::new()
            .resolver(f.silent_resolver.clone())
            .connect("slow.test", &port),
    );
    assert!(poll_once(&mut fut).await.is_none());
    drop(fut);
    let lookup = f.silent_resolver.lookup("slow.test.", RecordType::A);
    let mut lookup = Box::pin(lookup);
    assert!(poll_once(&mut lookup).await.is_none());
    drop(lookup);
    // DNS: a silent server first, TCP fallback, NXDOMAIN.
    assert_eq!(
        r.lookup("many.test.", RecordType::A)
            .await
            .unwrap()
            .records
            .len(),
        40
    );
    assert!(r.lookup("nosuch.test.", RecordType::A).await.is_err());
    // Servers and listeners.
    let server = tcp_server(Some("127.0.0.1"), "0", |_, _, _| {}).unwrap();
    drop(
        Connector::new()
            .connect_addrs([server.local_addr()])
            .await
            .unwrap(),
    );
    drop(server);
    let l = tcp_bind(Some("unix/"), f.dir.join("s.sock").to_str().unwrap()).unwrap();
    drop(l);
}

#[test]
fn nothing_leaks_under_either_executor() {
    let live = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let srv = DnsServer::start(
        {
            let mut z = vec![Rr::A("app.test", Ipv4Addr::LOCALHOST)];
            for i in 0..40 {
                z.push(Rr::A("many.test", Ipv4Addr::new(127, 0, 1, i)));
            }
            z
        },
        16,
    );
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = common::tempdir("fdleak");
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 h.internal\n").unwrap();
    let resolver = Resolver::builder()
        .dns_config(
            DnsConfig::builder()
                .nameservers([silent.local_addr().unwrap(), srv.addr])
                .timeout(Duration::from_millis(100))
                .attempts(1)
                .build()
                .unwrap(),
        )
        .hosts_file(&hosts)
        .build()
        .unwrap();
    let silent_resolver = Resolver::builder()
        .nameservers([silent.local_addr().unwrap()])
        .no_hosts()
        .build()
        .unwrap();
    let hole = blackhole_pair();
    let f = Fixture {
        live,
        dead,
        resolver,
        silent_resolver,
        dir,
    };
    let hole_addr = hole
        .as_ref()
        .map(|(h, _, _)| h.local_addr().as_inet().unwrap());
    // Warm up process-wide state: both runtimes, the async-io reactor, the system databases.
    async_std::task::block_on(round(&f, hole_addr));
    smol::block_on(round(&f, hole_addr));

    let before = open_fds();
    for _ in 0..2 {
        async_std::task::block_on(round(&f, hole_addr));
        smol::block_on(round(&f, hole_addr));
    }
    assert_eq!(open_fds(), before, "descriptors leaked");
}
