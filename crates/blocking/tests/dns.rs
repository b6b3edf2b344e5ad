//! The resolver against a real DNS server on a loopback port.

mod common;

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anysock_blocking::Resolver;
use anysock_core::dns::{RecordData, RecordType};
use anysock_core::resolv_conf::DnsConfig;
use common::{DnsServer, Rr};

fn resolver(servers: &[std::net::SocketAddr]) -> Resolver {
    Resolver::with_dns_config(
        DnsConfig::builder()
            .nameservers(servers.iter().copied())
            .timeout(Duration::from_millis(300))
            .attempts(2)
            .build()
            .unwrap(),
    )
}

fn zone() -> Vec<Rr> {
    let mut z = vec![
        Rr::A("www.test", Ipv4Addr::new(127, 0, 0, 1)),
        Rr::A("www.test", Ipv4Addr::new(127, 0, 0, 2)),
        Rr::Aaaa("www.test", Ipv6Addr::LOCALHOST),
        Rr::Cname("alias.test", "www.test"),
        Rr::Srv("_http._tcp.svc.test", 10, 5, 8080, "www.test"),
        Rr::Srv("_http._tcp.svc.test", 20, 0, 8081, "www.test"),
    ];
    for i in 0..40 {
        z.push(Rr::A("many.test", Ipv4Addr::new(127, 0, 1, i)));
    }
    z
}

#[test]
fn a_aaaa_cname_srv_over_udp() {
    let srv = DnsServer::start(zone(), 16);
    let r = resolver(&[srv.addr]);
    let a = r.lookup("www.test.", RecordType::A).unwrap();
    assert_eq!(
        a.records.iter().map(|r| r.data.clone()).collect::<Vec<_>>(),
        vec![
            RecordData::A(Ipv4Addr::new(127, 0, 0, 1)),
            RecordData::A(Ipv4Addr::new(127, 0, 0, 2))
        ]
    );
    let aaaa = r.lookup("www.test.", RecordType::Aaaa).unwrap();
    assert_eq!(aaaa.records[0].data, RecordData::Aaaa(Ipv6Addr::LOCALHOST));
    let c = r.lookup("alias.test.", RecordType::A).unwrap();
    assert_eq!(c.canonical_name, "www.test");
    assert_eq!(c.records.len(), 2);
    let s = r.lookup("_http._tcp.svc.test.", RecordType::Srv).unwrap();
    assert_eq!(s.records.len(), 2);
    assert!(s.records.iter().any(|r| matches!(
        &r.data,
        RecordData::Srv { priority: 10, weight: 5, port: 8080, target } if target == "www.test"
    )));
    assert_eq!(srv.tcp_queries.load(Ordering::SeqCst), 0);
}

#[test]
fn nxdomain_is_not_found() {
    let srv = DnsServer::start(zone(), 16);
    let e = resolver(&[srv.addr])
        .lookup("nosuch.test.", RecordType::A)
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    let inner = e.get_ref().unwrap().to_string();
    assert!(inner.contains("nosuch.test"), "{inner}");
}

#[test]
fn truncated_answer_falls_back_to_tcp() {
    let srv = DnsServer::start(zone(), 16);
    let a = resolver(&[srv.addr])
        .lookup("many.test.", RecordType::A)
        .unwrap();
    assert_eq!(a.records.len(), 40);
    assert_eq!(srv.tcp_queries.load(Ordering::SeqCst), 1);
}

#[test]
fn silent_first_server_then_working_second() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let srv = DnsServer::start(zone(), 16);
    let r = resolver(&[silent.local_addr().unwrap(), srv.addr]);
    let a = r.lookup("www.test.", RecordType::A).unwrap();
    assert_eq!(a.records.len(), 2);
}

#[test]
fn nobody_answers_times_out() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = Resolver::with_dns_config(
        DnsConfig::builder()
            .nameserver(silent.local_addr().unwrap())
            .timeout(Duration::from_millis(100))
            .attempts(2)
            .build()
            .unwrap(),
    );
    let e = r.lookup("www.test.", RecordType::A).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
}

#[test]
fn many_lookups_run_concurrently() {
    let srv = DnsServer::start(zone(), 16);
    let r = resolver(&[srv.addr]);
    let res = r.lookup_many(&[
        ("www.test.", RecordType::A),
        ("www.test.", RecordType::Aaaa),
        ("nosuch.test.", RecordType::A),
        ("bad..name", RecordType::A),
    ]);
    assert!(res[0].is_ok() && res[1].is_ok());
    assert_eq!(res[2].as_ref().unwrap_err().kind(), io::ErrorKind::NotFound);
    assert_eq!(
        res[3].as_ref().unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
}

#[test]
fn resolv_conf_file_is_read_and_reloaded() {
    let srv = DnsServer::start(zone(), 16);
    let d = common::tempdir("resolvconf");
    let p = d.join("resolv.conf");
    std::fs::write(
        &p,
        format!(
            "nameserver {}\nsearch test\noptions timeout:1 attempts:1\n",
            srv.addr.ip()
        ),
    )
    .unwrap();
    let r = Resolver::from_resolv_conf(&p);
    let c = r.dns_config().unwrap();
    assert_eq!(c.search(), ["test"]);
    // resolv.conf has no port syntax: port 53 there. Rewrite with another search domain and see it.
    std::fs::write(&p, "nameserver 127.0.0.1\nsearch example\n").unwrap();
    let f = std::fs::File::options().write(true).open(&p).unwrap();
    f.set_modified(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(5))
        .unwrap();
    assert_eq!(r.dns_config().unwrap().search(), ["example"]);
}
