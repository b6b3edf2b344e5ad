//! Interop with a real DNS server: dnsmasq, started by the test on a loopback port with a configuration
//! the test writes. Run with `cargo test -p anysock-blocking --features dnsmasq-interop --test
//! interop_dnsmasq` (needs the `dnsmasq` binary, package dnsmasq-base).
#![cfg(feature = "dnsmasq-interop")]

mod common;

use std::fmt::Write as _;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anysock_blocking::{Connector, Resolver};
use anysock_core::connect::AttemptOutcome;
use anysock_core::dns::{RecordData, RecordType};
use anysock_core::resolv_conf::DnsConfig;

struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    // A port free for both UDP and TCP at the moment of the check.
    loop {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn start_dnsmasq() -> Dnsmasq {
    start_dnsmasq_with("")
}

fn start_dnsmasq_with(extra: &str) -> Dnsmasq {
    let dir = common::tempdir("dnsmasq");
    let conf = dir.join("dnsmasq.conf");
    let mut c = String::new();
    c.push_str("no-resolv\nno-hosts\nlocal=/test/\nedns-packet-max=512\n");
    c.push_str("host-record=www.test,127.0.0.1,::1\n");
    c.push_str("host-record=v4.test,127.0.0.2\n");
    c.push_str("cname=alias.test,www.test\n");
    c.push_str("srv-host=_http._tcp.svc.test,www.test,8080,10,5\n");
    c.push_str("srv-host=_http._tcp.svc.test,v4.test,8081,20,0\n");
    for i in 0..60 {
        writeln!(c, "host-record=many.test,127.0.1.{i}").unwrap();
    }
    for i in 0..20 {
        writeln!(
            c,
            "txt-record=txt.test,\"record number {i} with some padding text\""
        )
        .unwrap();
    }
    c.push_str(extra);
    std::fs::write(&conf, c).unwrap();
    for _ in 0..5 {
        let port = free_udp_port();
        let child = Command::new("dnsmasq")
            .arg(format!("--conf-file={}", conf.display()))
            .arg(format!("--port={port}"))
            .args([
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--keep-in-foreground",
                "--pid-file=",
                "--no-resolv",
                "--user=root",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dnsmasq is installed (package dnsmasq-base)");
        let mut d = Dnsmasq {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        };
        // Ready when it answers a query.
        let r = resolver(&[d.addr], Duration::from_millis(100), 1);
        for _ in 0..50 {
            if r.lookup("www.test.", RecordType::A).is_ok() {
                return d;
            }
            if let Ok(Some(_)) = d.child.try_wait() {
                break; // port raced away: try another
            }
        }
        let _ = d.child.kill();
    }
    panic!("dnsmasq did not start");
}

fn resolver(servers: &[SocketAddr], timeout: Duration, attempts: u8) -> Resolver {
    Resolver::with_dns_config(
        DnsConfig::builder()
            .nameservers(servers.iter().copied())
            .timeout(timeout)
            .attempts(attempts)
            .build()
            .unwrap(),
    )
}

#[test]
fn dnsmasq_records() {
    let d = start_dnsmasq();
    let r = resolver(&[d.addr], Duration::from_millis(500), 2);

    let a = r.lookup("www.test.", RecordType::A).unwrap();
    assert_eq!(a.records[0].data, RecordData::A(Ipv4Addr::LOCALHOST));
    let aaaa = r.lookup("www.test.", RecordType::Aaaa).unwrap();
    assert_eq!(aaaa.records[0].data, RecordData::Aaaa(Ipv6Addr::LOCALHOST));

    let c = r.lookup("alias.test.", RecordType::A).unwrap();
    assert_eq!(c.canonical_name, "www.test");
    assert_eq!(c.cname_chain.len(), 1);
    assert_eq!(c.records[0].data, RecordData::A(Ipv4Addr::LOCALHOST));

    let s = r.lookup("_http._tcp.svc.test.", RecordType::Srv).unwrap();
    let mut srv: Vec<_> = s
        .records
        .iter()
        .map(|r| match &r.data {
            RecordData::Srv {
                priority,
                weight,
                port,
                target,
            } => (*priority, *weight, *port, target.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    srv.sort();
    assert_eq!(
        srv,
        [
            (10, 5, 8080, "www.test".to_string()),
            (20, 0, 8081, "v4.test".to_string())
        ]
    );

    let e = r.lookup("nosuch.test.", RecordType::A).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    let e = r.lookup("v4.test.", RecordType::Aaaa).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "no AAAA: {e}");
}

#[test]
fn dnsmasq_truncation_falls_back_to_tcp() {
    let d = start_dnsmasq();
    let r = resolver(&[d.addr], Duration::from_millis(500), 2);
    let many = r.lookup("many.test.", RecordType::A).unwrap();
    assert_eq!(many.records.len(), 60);
    let txt = r.lookup("txt.test.", RecordType::Txt).unwrap();
    assert_eq!(txt.records.len(), 20);
}

#[test]
fn dnsmasq_behind_a_silent_server() {
    let d = start_dnsmasq();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = resolver(
        &[silent.local_addr().unwrap(), d.addr],
        Duration::from_millis(200),
        2,
    );
    let a = r.lookup("www.test.", RecordType::A).unwrap();
    assert_eq!(a.records[0].data, RecordData::A(Ipv4Addr::LOCALHOST));
}

#[test]
fn dnsmasq_srv_connect_skips_a_refusing_target() {
    let live = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let port = live.local_addr().unwrap().port();
    // Priority 5 points at a refusing port, priority 10 at the live one.
    let d = start_dnsmasq_with(&format!(
        "host-record=first.test,127.0.0.1\n\
         srv-host=_app._tcp.svc2.test,first.test,{dead},5,0\n\
         srv-host=_app._tcp.svc2.test,v4.test,{port},10,0\n"
    ));
    // v4.test is 127.0.0.2: listen there on the same port.
    let l2 = std::net::TcpListener::bind(("127.0.0.2", port)).unwrap();
    let r = Resolver::builder()
        .dns_config(
            DnsConfig::builder()
                .nameserver(d.addr)
                .timeout(Duration::from_millis(500))
                .build()
                .unwrap(),
        )
        .no_hosts()
        .build()
        .unwrap();
    let targets = r
        .resolve_sockaddr("svc2.test", Some("app=1"), "tcp", None, None)
        .unwrap();
    let addrs: Vec<String> = targets.iter().map(|t| t.addr.to_string()).collect();
    assert_eq!(
        addrs,
        [format!("127.0.0.1:{dead}"), format!("127.0.0.2:{port}")]
    );
    let c = Connector::new()
        .resolver(r)
        .connect("svc2.test", "app=1")
        .unwrap();
    assert_eq!(c.peer_addr().to_string(), format!("127.0.0.2:{port}"));
    assert_eq!(
        c.attempts[0].outcome,
        Some(AttemptOutcome::Failed(io::ErrorKind::ConnectionRefused))
    );
    l2.accept().unwrap();
}
