//! End-to-end tests of `anysock resolve`: a test DNS server on loopback and hosts files. The machine's
//! nameservers are never asked: every run names a loopback nameserver.

mod common;

use common::{DnsServer, Rr, anysock, tempdir};
use serde_json::Value;

fn zone() -> Vec<Rr> {
    vec![
        Rr::A("www.test", "127.0.0.10".parse().unwrap()),
        Rr::Aaaa("www.test", "2001:db8::10".parse().unwrap()),
        Rr::A("v4only.test", "127.0.0.11".parse().unwrap()),
        Rr::Srv("_xmpp-client._tcp.chat.test", 10, 0, 5222, "a.chat.test"),
        Rr::Srv("_xmpp-client._tcp.chat.test", 20, 0, 5223, "b.chat.test"),
        Rr::A("a.chat.test", "127.0.0.21".parse().unwrap()),
        Rr::A("b.chat.test", "127.0.0.22".parse().unwrap()),
    ]
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

#[test]
fn dns_names_in_order_ipv6_first() {
    let dns = DnsServer::start(zone(), usize::MAX);
    let ns = dns.addr.to_string();
    let dir = tempdir("resolve-dns");
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "").unwrap();
    let h = hosts.to_str().unwrap();
    let r = anysock(&[
        "resolve",
        "--nameserver",
        &ns,
        "--hosts",
        h,
        "www.test",
        "80",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "ipv6  stream tcp  [2001:db8::10]:80",
            "ipv4  stream tcp  127.0.0.10:80"
        ]
    );

    let r = anysock(&[
        "resolve",
        "--json",
        "--prefer",
        "4",
        "--proto",
        "udp",
        "--nameserver",
        &ns,
        "--hosts",
        h,
        "www.test",
        "53",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let v = json_lines(&r.stdout);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["address"], "127.0.0.10:53");
    assert_eq!(v[0]["type"], "dgram");
    assert_eq!(v[0]["protocol"], "udp");
    assert_eq!(v[1]["address"], "[2001:db8::10]:53");

    let r = anysock(&[
        "resolve",
        "--json",
        "--family",
        "6",
        "--nameserver",
        &ns,
        "--hosts",
        h,
        "www.test",
        "80",
    ]);
    let v = json_lines(&r.stdout);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["family"], "ipv6");
}

#[test]
fn srv_records_give_targets_by_priority() {
    let dns = DnsServer::start(zone(), usize::MAX);
    let dir = tempdir("resolve-srv");
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "").unwrap();
    let r = anysock(&[
        "resolve",
        "--json",
        "--nameserver",
        &dns.addr.to_string(),
        "--hosts",
        hosts.to_str().unwrap(),
        "chat.test",
        "xmpp-client=5222",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let v = json_lines(&r.stdout);
    let addrs: Vec<&str> = v.iter().map(|o| o["address"].as_str().unwrap()).collect();
    assert_eq!(addrs, ["127.0.0.21:5222", "127.0.0.22:5223"]);
    assert_eq!(v[0]["srv_priority"], 10);
}

#[test]
fn hosts_file_first_and_fallback() {
    let dns = DnsServer::start(zone(), usize::MAX);
    let ns = dns.addr.to_string();
    let dir = tempdir("resolve-hosts");
    let hosts = dir.join("hosts");
    std::fs::write(
        &hosts,
        "127.0.0.99 www.test\n::1 v4only.test\n127.0.0.98 local.test\n",
    )
    .unwrap();
    let h = hosts.to_str().unwrap();

    // Hosts first (the default): the hosts file answers www.test, DNS is not asked.
    let r = anysock(&[
        "resolve",
        "--nameserver",
        &ns,
        "--hosts",
        h,
        "www.test",
        "80",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "ipv4  stream tcp  127.0.0.99:80");

    // Fallback (AnyEvent): DNS first, the hosts file only for a family DNS had nothing for.
    let r = anysock(&[
        "resolve",
        "--hosts-fallback",
        "--nameserver",
        &ns,
        "--hosts",
        h,
        "v4only.test",
        "80",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "ipv6  stream tcp  [::1]:80",
            "ipv4  stream tcp  127.0.0.11:80"
        ]
    );

    // A name only in the hosts file, with a silent nameserver: no DNS needed.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let r = anysock(&[
        "resolve",
        "--nameserver",
        &silent.local_addr().unwrap().to_string(),
        "--hosts",
        h,
        "local.test",
        "http",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "ipv4  stream tcp  127.0.0.98:80");
}

#[test]
fn not_found_is_status_3_with_a_sentence() {
    let dns = DnsServer::start(zone(), usize::MAX);
    let dir = tempdir("resolve-nx");
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "").unwrap();
    let r = anysock(&[
        "resolve",
        "--nameserver",
        &dns.addr.to_string(),
        "--hosts",
        hosts.to_str().unwrap(),
        "nx.test",
        "80",
    ]);
    assert_eq!(r.status, 3, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr
            .starts_with("anysock: cannot resolve nx.test (service 80, tcp): "),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("Resolve {"),
        "no debug dump: {}",
        r.stderr
    );
}

#[test]
fn bad_arguments() {
    let r = anysock(&["resolve", "--nameserver", "dns.example", "a", "80"]);
    assert_eq!(r.status, 2);
    assert!(
        r.stderr.contains("not a nameserver address"),
        "{}",
        r.stderr
    );
    let r = anysock(&[
        "resolve",
        "--nameserver",
        "127.0.0.1:9",
        "127.0.0.1",
        "no-such-service",
    ]);
    assert_eq!(r.status, 3, "{}", r.stderr);
}

#[test]
fn help_documents_exit_statuses() {
    for cmd in ["resolve", "connect", "serve"] {
        let r = anysock(&[cmd, "--help"]);
        assert_eq!(r.status, 0);
        for line in [
            "3  name not found",
            "4  all attempts failed",
            "5  timed out",
        ] {
            assert!(r.stdout.contains(line), "{cmd} --help lacks {line:?}");
        }
    }
}
