//! Dropping a connect future mid-race closes every socket it opened (attempts and DNS queries) at
//! once: the process's open descriptors go back to the baseline. One test in this binary, so that no
//! other test opens descriptors meanwhile.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use anysock_core::resolv_conf::DnsConfig;
use anysock_core::{SockAddr, SockType};
use anysock_tokio::{Connector, Resolver};

#[tokio::test]
async fn dropping_connect_futures_closes_every_socket() {
    // A black-holed IPv6 listener (full accept queue) if IPv6 is there; else an IPv4 one.
    let v6 = anysock_sys::ipv6_available();
    let host: SocketAddr = if v6 { "[::1]:0" } else { "127.0.0.1:0" }.parse().unwrap();
    let hole = anysock_sys::listen(&SockAddr::Inet(host), SockType::Stream, 0).unwrap();
    let hole_addr = hole.local_addr().as_inet().unwrap();
    let fam = if v6 {
        anysock_core::Family::V6
    } else {
        anysock_core::Family::V4
    };
    let pending: Vec<_> = (0..4)
        .map(|_| {
            let s = anysock_sys::new_socket(fam, SockType::Stream, 6).unwrap();
            let _ = anysock_sys::start_connect(&s, &SockAddr::Inet(hole_addr));
            s
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A DNS server that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = Resolver::builder()
        .dns_config(
            DnsConfig::builder()
                .nameserver(silent.local_addr().unwrap())
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        )
        .no_hosts()
        .build()
        .unwrap();
    // Warm up lazily opened runtime descriptors.
    let _ = tokio::time::timeout(
        Duration::from_millis(20),
        Connector::new().connect_addrs([hole_addr]),
    )
    .await;
    let baseline = common::open_fds();

    // 1. An attempt in flight to the black hole.
    let plain = Connector::new();
    let connect = plain.connect_addrs([hole_addr]);
    let r = tokio::time::timeout(Duration::from_millis(100), connect).await;
    assert!(r.is_err(), "the black hole must not answer");
    assert_eq!(
        common::open_fds(),
        baseline,
        "attempt sockets closed on drop"
    );

    // 2. DNS queries in flight: a name nobody answers; the future holds UDP sockets.
    let by_name = Connector::new().resolver(resolver.clone());
    let connect = by_name.connect("never.test", "80");
    let mut connect = Box::pin(connect);
    let polled = tokio::time::timeout(Duration::from_millis(100), &mut connect).await;
    assert!(polled.is_err());
    assert!(
        common::open_fds() > baseline,
        "the DNS sockets are open while the future lives"
    );
    drop(connect);
    assert_eq!(common::open_fds(), baseline, "DNS sockets closed on drop");

    // 3. A lookup future dropped the same way.
    let lookup = resolver.inet_aton("never.test");
    let r = tokio::time::timeout(Duration::from_millis(50), lookup).await;
    assert!(r.is_err());
    assert_eq!(common::open_fds(), baseline);

    // 4. Many at once.
    let mut futs = Vec::new();
    for _ in 0..50 {
        futs.push(Box::pin(plain.connect_addrs([hole_addr])));
    }
    for f in &mut futs {
        let _ = tokio::time::timeout(Duration::from_millis(1), f).await;
    }
    assert!(common::open_fds() >= baseline + 50);
    drop(futs);
    assert_eq!(common::open_fds(), baseline);
    drop(pending);
}
