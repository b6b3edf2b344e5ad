//! No file descriptor leaks: every socket, poller and DNS socket is closed after connects (won, lost,
//! refused, timed out, rejected), lookups, servers and listeners. Its own test binary (process), so that
//! no other test opens descriptors meanwhile.

mod common;

use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use anysock_blocking::{Connector, Resolver, tcp_bind, tcp_server};
use anysock_core::dns::RecordType;
use anysock_core::resolv_conf::DnsConfig;
use common::{DnsServer, Rr, open_fds};

#[test]
fn nothing_leaks() {
    // Things that stay open for the whole test are made first.
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
    let d = common::tempdir("fdleak");
    let hosts = d.join("hosts");
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
    // Warm up lazily opened process-wide state (system databases, IPv6 probe).
    let _ = Connector::new()
        .connect_addrs([live.local_addr().unwrap()])
        .unwrap();
    let _ = live.accept().unwrap();
    let _ = anysock_sys::ipv6_available();

    let before = open_fds();
    for _ in 0..3 {
        // Connect: success, refusal, rejection by the accept hook, by name via DNS and hosts.
        let c = Connector::new()
            .connect_addrs([live.local_addr().unwrap()])
            .unwrap();
        drop(c);
        let _ = live.accept().unwrap();
        assert!(Connector::new().connect_addrs([dead]).is_err());
        assert!(
            Connector::new()
                .accept(|_, _| false)
                .connect_addrs([live.local_addr().unwrap()])
                .is_err()
        );
        let _ = live.accept().unwrap();
        let port = live.local_addr().unwrap().port().to_string();
        drop(
            Connector::new()
                .resolver(resolver.clone())
                .connect("app.test", &port)
                .unwrap(),
        );
        let _ = live.accept().unwrap();
        drop(
            Connector::new()
                .resolver(resolver.clone())
                .connect("h.internal", &port)
                .unwrap(),
        );
        let _ = live.accept().unwrap();
        // DNS: a silent server first, TCP fallback, NXDOMAIN.
        assert_eq!(
            resolver
                .lookup("many.test.", RecordType::A)
                .unwrap()
                .records
                .len(),
            40
        );
        assert!(resolver.lookup("nosuch.test.", RecordType::A).is_err());
        // Servers and listeners.
        let server = tcp_server(Some("127.0.0.1"), "0", |_, _, _| {}).unwrap();
        let sp = server.local_addr().as_inet().unwrap().port();
        drop(TcpStream::connect(("127.0.0.1", sp)).unwrap());
        drop(server);
        let l = tcp_bind(Some("unix/"), d.join("s.sock").to_str().unwrap()).unwrap();
        drop(l);
    }
    assert_eq!(open_fds(), before, "descriptors leaked");
}
