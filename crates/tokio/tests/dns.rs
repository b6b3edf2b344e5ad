//! The tokio resolver against a real DNS server on a loopback port (hickory-proto built replies),
//! and tcp_connect by name.

mod common;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anysock_core::dns::{RecordData, RecordType};
use anysock_core::resolv_conf::DnsConfig;
use anysock_core::{Family, FamilyPreference};
use anysock_tokio::{Connector, Resolver};
use common::{DnsServer, Rr};
use tokio::net::TcpListener;

fn dns_config(servers: &[std::net::SocketAddr]) -> DnsConfig {
    DnsConfig::builder()
        .nameservers(servers.iter().copied())
        .timeout(Duration::from_millis(300))
        .attempts(2)
        .build()
        .unwrap()
}

fn resolver(servers: &[std::net::SocketAddr]) -> Resolver {
    Resolver::builder()
        .dns_config(dns_config(servers))
        .no_hosts()
        .build()
        .unwrap()
}

fn zone() -> Vec<Rr> {
    let mut z = vec![
        Rr::A("www.test", Ipv4Addr::new(127, 0, 0, 1)),
        Rr::A("www.test", Ipv4Addr::new(127, 0, 0, 2)),
        Rr::Aaaa("www.test", Ipv6Addr::LOCALHOST),
        Rr::Cname("alias.test", "www.test"),
        Rr::Srv("_http._tcp.svc.test", 10, 5, 8080, "www.test"),
        Rr::Srv("_http._tcp.svc.test", 20, 0, 8081, "v4.test"),
        Rr::A("v4.test", Ipv4Addr::new(127, 0, 0, 3)),
        Rr::Txt("txt.test", "hello".into()),
    ];
    for i in 0..40 {
        z.push(Rr::A("many.test", Ipv4Addr::new(127, 0, 1, i)));
    }
    z
}

#[tokio::test]
async fn a_aaaa_cname_srv_txt_over_udp() {
    let srv = DnsServer::start(zone(), 16);
    let r = resolver(&[srv.addr]);
    let a = r.lookup("www.test.", RecordType::A).await.unwrap();
    assert_eq!(
        a.records.iter().map(|r| r.data.clone()).collect::<Vec<_>>(),
        vec![
            RecordData::A(Ipv4Addr::new(127, 0, 0, 1)),
            RecordData::A(Ipv4Addr::new(127, 0, 0, 2))
        ]
    );
    let aaaa = r.lookup("www.test.", RecordType::Aaaa).await.unwrap();
    assert_eq!(aaaa.records[0].data, RecordData::Aaaa(Ipv6Addr::LOCALHOST));
    let c = r.lookup("alias.test.", RecordType::A).await.unwrap();
    assert_eq!(c.canonical_name, "www.test");
    let s = r
        .lookup("_http._tcp.svc.test.", RecordType::Srv)
        .await
        .unwrap();
    assert_eq!(s.records.len(), 2);
    let t = r.lookup("txt.test.", RecordType::Txt).await.unwrap();
    assert_eq!(t.records.len(), 1);
    assert_eq!(srv.tcp_queries.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn nxdomain_is_not_found() {
    let srv = DnsServer::start(zone(), 16);
    let e = resolver(&[srv.addr])
        .lookup("nosuch.test.", RecordType::A)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    assert!(
        e.get_ref().unwrap().to_string().contains("nosuch.test"),
        "{e}"
    );
}

#[tokio::test]
async fn truncated_answer_falls_back_to_tcp() {
    let srv = DnsServer::start(zone(), 16);
    let a = resolver(&[srv.addr])
        .lookup("many.test.", RecordType::A)
        .await
        .unwrap();
    assert_eq!(a.records.len(), 40);
    assert_eq!(srv.tcp_queries.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn silent_first_server_then_working_second() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let srv = DnsServer::start(zone(), 16);
    let r = resolver(&[silent.local_addr().unwrap(), srv.addr]);
    assert_eq!(
        r.lookup("www.test.", RecordType::A)
            .await
            .unwrap()
            .records
            .len(),
        2
    );
}

#[tokio::test]
async fn nobody_answers_times_out() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = Resolver::builder()
        .dns_config(
            DnsConfig::builder()
                .nameserver(silent.local_addr().unwrap())
                .timeout(Duration::from_millis(100))
                .attempts(2)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let e = r.lookup("www.test.", RecordType::A).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
}

#[tokio::test]
async fn many_lookups_run_concurrently() {
    let srv = DnsServer::start(zone(), 16);
    let r = resolver(&[srv.addr]);
    let res = r
        .lookup_many(&[
            ("www.test.", RecordType::A),
            ("www.test.", RecordType::Aaaa),
            ("nosuch.test.", RecordType::A),
            ("bad..name", RecordType::A),
        ])
        .await;
    assert!(res[0].is_ok() && res[1].is_ok());
    assert_eq!(res[2].as_ref().unwrap_err().kind(), io::ErrorKind::NotFound);
    assert_eq!(
        res[3].as_ref().unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resolver_calls_do_not_serialise() {
    // Each lookup against a silent first server waits its 300 ms timeout before the second server
    // answers; 20 of them in parallel must take about one timeout, not twenty.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let srv = DnsServer::start(zone(), 16);
    let r = resolver(&[silent.local_addr().unwrap(), srv.addr]);
    #[allow(clippy::disallowed_methods)]
    let t0 = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let r = r.clone();
        tasks.push(tokio::spawn(async move { r.inet_aton("www.test.").await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().len(), 3);
    }
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
}

#[tokio::test]
async fn resolve_sockaddr_srv_order_and_errors() {
    let srv = DnsServer::start(zone(), 16);
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
    assert_eq!(
        addrs,
        [
            "127.0.0.1:8080",
            "127.0.0.2:8080",
            "[::1]:8080",
            "127.0.0.3:8081"
        ],
        "{t:?}"
    );
    let v6 = r
        .resolve_sockaddr("www.test", Some("80"), "tcp", Some(Family::V6), None)
        .await
        .unwrap();
    assert_eq!(v6.len(), 1);
    let e = r
        .resolve_sockaddr("nosuch.test", Some("80"), "tcp", None, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("nosuch.test"), "{e}");
    assert_eq!(
        r.inet_aton("www.test").await.unwrap(),
        ["127.0.0.1", "127.0.0.2", "::1"].map(|s| s.parse::<IpAddr>().unwrap())
    );
    assert_eq!(
        r.inet_aton("127.1").await.unwrap(),
        ["127.0.0.1".parse::<IpAddr>().unwrap()]
    );
}

#[tokio::test]
async fn hosts_file_names_resolve_without_dns() {
    let d = common::tempdir("hosts");
    let p = d.join("hosts");
    std::fs::write(&p, "::1 db.internal\n127.0.0.1 db.internal\n").unwrap();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = Resolver::builder()
        .nameservers([silent.local_addr().unwrap()])
        .hosts_file(&p)
        .build()
        .unwrap();
    let t = r
        .resolve_sockaddr("db.internal", Some("5432"), "tcp", None, None)
        .await
        .unwrap();
    let addrs: Vec<String> = t.iter().map(|t| t.addr.to_string()).collect();
    assert_eq!(addrs, ["[::1]:5432", "127.0.0.1:5432"]);
}

#[tokio::test]
async fn connect_by_dns_name_and_nxdomain_names_the_resolution_error() {
    let srv = DnsServer::start(vec![Rr::A("app.test", Ipv4Addr::LOCALHOST)], 16);
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let r = resolver(&[srv.addr]);
    let c = Connector::new()
        .resolver(r.clone())
        .connect("app.test", &port.to_string())
        .await
        .unwrap();
    assert_eq!(c.peer_addr().to_string(), format!("127.0.0.1:{port}"));
    assert_eq!(c.queries.len(), 2, "A and AAAA traced: {:?}", c.queries);
    let e = Connector::new()
        .resolver(r)
        .connect("gone.test", &port.to_string())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("host not found"), "{e}");
}

#[tokio::test]
async fn anyevent_hosts_policy_and_v4_only() {
    let d = common::tempdir("policy");
    let p = d.join("hosts");
    std::fs::write(&p, "127.0.0.1 both.internal\n::1 both.internal\n").unwrap();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
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
        .hosts_policy(anysock_core::HostsPolicy::Fallback)
        .family_preference(FamilyPreference::V4Only)
        .build()
        .unwrap();
    // DNS times out, then the hosts file is used (AnyEvent's order), IPv4 only.
    let t = r
        .resolve_sockaddr("both.internal", Some("80"), "tcp", None, None)
        .await
        .unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].addr.to_string(), "127.0.0.1:80");
}

#[tokio::test]
async fn resolv_conf_file_is_read_and_reloaded() {
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
    assert_eq!(r.dns_config().unwrap().search(), ["test"]);
    std::fs::write(&p, "nameserver 127.0.0.1\nsearch example\n").unwrap();
    let f = std::fs::File::options().write(true).open(&p).unwrap();
    f.set_modified(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(5))
        .unwrap();
    assert_eq!(r.dns_config().unwrap().search(), ["example"]);
}

#[tokio::test]
async fn first_query_goes_out_at_once() {
    // With a 5 s try timeout, an answer in well under a second proves the first datagram of every
    // query was sent (not lost and retried after the timeout).
    let srv = DnsServer::start(zone(), 16);
    let r = Resolver::builder()
        .dns_config(
            DnsConfig::builder()
                .nameserver(srv.addr)
                .timeout(Duration::from_secs(5))
                .attempts(2)
                .build()
                .unwrap(),
        )
        .no_hosts()
        .build()
        .unwrap();
    #[allow(clippy::disallowed_methods)]
    let t0 = std::time::Instant::now();
    for _ in 0..5 {
        assert_eq!(r.inet_aton("www.test.").await.unwrap().len(), 3);
    }
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert_eq!(
        srv.udp_queries.load(Ordering::SeqCst),
        10,
        "one datagram per query, no retry"
    );
}
