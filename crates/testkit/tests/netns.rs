//! The namespace harness works: inside it, /etc/resolv.conf and /etc/hosts are the harness's files,
//! dnsmasq answers getaddrinfo for a DNS-only name, and the hosts file's order is what getaddrinfo
//! returns. `harness = false`: the namespace must be entered while the process has one thread, so this
//! is a plain `main` (skipped with a message without root, dnsmasq or namespaces).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

use anysock_testkit::netns::{NetNs, NetNsConfig, RESOLV_CONF};

fn main() {
    let v4 = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 53));
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let config = NetNsConfig::new()
        .record("probe.bench", &[v4, v6])
        .hosts_line(v6, "dual.bench")
        .hosts_line(IpAddr::V4(Ipv4Addr::LOCALHOST), "dual.bench");
    let _ns = match NetNs::enter(&config) {
        Ok(ns) => ns,
        // What a developer machine may lack (root, dnsmasq, namespaces in a container) skips the test;
        // CI has all three, so there anything else fails it.
        Err(e)
            if ["not root", "dnsmasq not installed", "unshare("]
                .iter()
                .any(|p| e.0.starts_with(p)) =>
        {
            println!("netns: skipped ({e})");
            return;
        }
        Err(e) => panic!("namespace harness: {e}"),
    };
    // The resolver file is ours before any getaddrinfo call (enter checked it too).
    assert_eq!(
        std::fs::read_to_string("/etc/resolv.conf").unwrap(),
        RESOLV_CONF
    );

    // Served by dnsmasq only (not in the hosts file): A and AAAA.
    let mut got: Vec<IpAddr> = ("probe.bench", 80)
        .to_socket_addrs()
        .expect("getaddrinfo through the namespace's dnsmasq")
        .map(|a| a.ip())
        .collect();
    got.sort();
    got.dedup();
    assert_eq!(got, [v4, v6], "probe.bench via dnsmasq");

    // A name dnsmasq does not know fails (NXDOMAIN), quickly.
    assert!(("nosuch.bench", 80).to_socket_addrs().is_err());

    // The hosts file: ::1 first (RFC 6724 order as glibc sorts it).
    let dual: Vec<IpAddr> = ("dual.bench", 80)
        .to_socket_addrs()
        .unwrap()
        .map(|a| a.ip())
        .collect();
    assert_eq!(dual.first(), Some(&v6), "{dual:?}");
    assert!(dual.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)), "{dual:?}");

    println!("netns: 1 passed, 0 failed");
}
