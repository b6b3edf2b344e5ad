//! resolve_sockaddr, inet_aton and tcp_connect by name: hosts files and a real DNS server on loopback.

mod common;

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use anysock_blocking::{Connector, Resolver};
use anysock_core::connect::AttemptOutcome;
use anysock_core::resolv_conf::DnsConfig;
use anysock_core::{Family, FamilyPreference, HostsPolicy, SockAddr, SockType};
use common::{DnsServer, Rr};

fn hosts_file(tag: &str, text: &str) -> PathBuf {
    let d = common::tempdir(tag);
    let p = d.join("hosts");
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

#[test]
fn tcp_connect_literals_and_ports() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut c = anysock_blocking::tcp_connect("127.0.0.1", &port.to_string()).unwrap();
    c.stream.write_all(b"x").unwrap();
    let (mut s, _) = l.accept().unwrap();
    let mut b = [0];
    s.read_exact(&mut b).unwrap();
    // AnyEvent forms: 127.1, name=port.
    let c = anysock_blocking::tcp_connect("127.1", &format!("anysock={port}")).unwrap();
    assert_eq!(c.peer_addr().to_string(), format!("127.0.0.1:{port}"));
    // Bad input is a typed error, before anything is sent.
    let e = anysock_blocking::tcp_connect("127.0.0.1", "99999").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("127.0.0.1"), "{e}");
    // A refused port.
    drop(l);
    let e = anysock_blocking::tcp_connect("127.0.0.1", &port.to_string()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
}

#[test]
fn tcp_connect_unix_path() {
    let d = common::tempdir("tcp-connect-unix");
    let p = d.join("s.sock");
    let _l = std::os::unix::net::UnixListener::bind(&p).unwrap();
    let c = anysock_blocking::tcp_connect("unix/", p.to_str().unwrap()).unwrap();
    assert!(c.stream.as_unix().is_some());
    // Relative paths are refused for connecting (AnyEvent semantics 5.1).
    let e = anysock_blocking::tcp_connect("unix/", "relative.sock").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
}

#[test]
fn hosts_file_names_resolve_without_dns() {
    let p = hosts_file(
        "resolve-hosts",
        "127.0.0.1 db.internal\n::1 db.internal\n127.0.0.5 only4.internal\n",
    );
    let (r, _silent) = hosts_only(&p);
    let t = r
        .resolve_sockaddr("db.internal", Some("5432"), "tcp", None, None)
        .unwrap();
    let addrs: Vec<String> = t.iter().map(|t| t.addr.to_string()).collect();
    assert_eq!(addrs, ["[::1]:5432", "127.0.0.1:5432"]);
    assert!(
        t.iter()
            .all(|t| t.socktype == SockType::Stream && t.protocol == 6)
    );
    let t = r
        .resolve_sockaddr("db.internal", Some("53"), "udp", Some(Family::V4), None)
        .unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].socktype, SockType::Datagram);
    assert_eq!(
        r.inet_aton("only4.internal").unwrap(),
        [IpAddr::V4(Ipv4Addr::new(127, 0, 0, 5))]
    );
    // localhost never needs DNS (RFC 6761).
    assert!(!r.inet_aton("LOCALHOST.").unwrap().is_empty());
}

#[test]
fn hosts_file_is_reloaded_when_it_changes() {
    let p = hosts_file("resolve-reload", "127.0.0.1 moving.internal\n");
    let (r, _silent) = hosts_only(&p);
    assert_eq!(
        r.inet_aton("moving.internal").unwrap(),
        ["127.0.0.1".parse::<IpAddr>().unwrap()]
    );
    let tmp = p.with_extension("new");
    std::fs::write(&tmp, "127.0.0.9 moving.internal\n").unwrap();
    std::fs::rename(&tmp, &p).unwrap();
    assert_eq!(
        r.inet_aton("moving.internal").unwrap(),
        ["127.0.0.9".parse::<IpAddr>().unwrap()]
    );
}

#[test]
fn dns_names_srv_and_errors() {
    let srv = DnsServer::start(
        vec![
            Rr::A("www.test", Ipv4Addr::new(127, 0, 0, 1)),
            Rr::Aaaa("www.test", std::net::Ipv6Addr::LOCALHOST),
            Rr::A("v4.test", Ipv4Addr::new(127, 0, 0, 2)),
            Rr::Srv("_http._tcp.svc.test", 20, 0, 8081, "v4.test"),
            Rr::Srv("_http._tcp.svc.test", 10, 0, 8080, "www.test"),
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
        .unwrap();
    let addrs: Vec<String> = t.iter().map(|t| t.addr.to_string()).collect();
    // SRV priority first (B18 fixed), then the family preference within one priority.
    assert_eq!(
        addrs,
        ["127.0.0.1:8080", "[::1]:8080", "127.0.0.2:8081"],
        "{t:?}"
    );
    assert_eq!(t[0].meta.srv_priority, Some(10));
    let e = r
        .resolve_sockaddr("nosuch.test", Some("80"), "tcp", None, None)
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("nosuch.test"), "{e}");
    let e = r.inet_aton("nosuch.test").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    assert_eq!(
        r.inet_aton("www.test").unwrap(),
        [
            "127.0.0.1".parse::<IpAddr>().unwrap(),
            "::1".parse::<IpAddr>().unwrap()
        ]
    );
}

#[test]
fn connect_by_dns_name() {
    let srv = DnsServer::start(vec![Rr::A("app.test", Ipv4Addr::LOCALHOST)], 16);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let r = Resolver::builder()
        .dns_config(dns_config(&[srv.addr]))
        .no_hosts()
        .build()
        .unwrap();
    let c = Connector::new()
        .resolver(r.clone())
        .connect("app.test", &port.to_string())
        .unwrap();
    assert_eq!(c.peer_addr().to_string(), format!("127.0.0.1:{port}"));
    let e = Connector::new()
        .resolver(r)
        .connect("gone.test", &port.to_string())
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
}

/// A listener on [::1]:P whose accept queue is full, and a working one on 127.0.0.1:P (same port).
fn blackhole_pair() -> Option<(
    anysock_sys::Listener,
    Vec<anysock_sys::socket2::Socket>,
    TcpListener,
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
        let Ok(v4) = TcpListener::bind(("127.0.0.1", addr.as_inet().unwrap().port())) else {
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

#[test]
fn happy_eyeballs_by_name_from_a_hosts_file() {
    let Some((hole, _pending, v4)) = blackhole_pair() else {
        return;
    };
    let port = hole.local_addr().as_inet().unwrap().port();
    let p = hosts_file("he-hosts", "::1 dual.internal\n127.0.0.1 dual.internal\n");
    let (r, _silent) = hosts_only(&p);
    let c = Connector::new()
        .resolver(r.clone())
        .connect("dual.internal", &port.to_string())
        .unwrap();
    assert_eq!(c.peer_addr().to_string(), format!("127.0.0.1:{port}"));
    assert_eq!(c.attempts.len(), 2);
    assert_eq!(c.attempts[0].target.family(), Family::V6);
    assert_eq!(c.attempts[0].outcome, Some(AttemptOutcome::Cancelled));
    let gap = c.attempts[1].started - c.attempts[0].started;
    assert!(gap >= Duration::from_millis(250), "attempt delay: {gap:?}");
    v4.accept().unwrap();

    // Serial mode (AnyEvent's behaviour) waits for the attempt timeout on IPv6 first.
    let c = Connector::new()
        .resolver(r)
        .serial()
        .attempt_timeout(Duration::from_millis(400))
        .connect("dual.internal", &port.to_string())
        .unwrap();
    assert_eq!(c.attempts[0].outcome, Some(AttemptOutcome::TimedOut));
    assert!(c.attempts[0].elapsed().unwrap() >= Duration::from_millis(400));
    assert_eq!(c.attempts[1].outcome, Some(AttemptOutcome::Connected));
}

#[test]
fn anyevent_hosts_policy_and_v4_only() {
    let p = hosts_file("policy", "127.0.0.1 both.internal\n::1 both.internal\n");
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = Resolver::builder()
        .dns_config(
            DnsConfig::builder()
                .nameserver(silent.local_addr().unwrap())
                .timeout(Duration::from_millis(50))
                .attempts(1)
                .build()
                .unwrap(),
        )
        .hosts_file(&p)
        .hosts_policy(HostsPolicy::Fallback)
        .family_preference(FamilyPreference::V4Only)
        .build()
        .unwrap();
    // DNS times out, then the hosts file is used (AnyEvent's order), IPv4 only.
    let t = r
        .resolve_sockaddr("both.internal", Some("80"), "tcp", None, None)
        .unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].addr.to_string(), "127.0.0.1:80");
}
