//! DNS UDP sockets to a loopback nameserver are reused after a complete exchange (one datagram sent,
//! its answer taken) and closed otherwise. Its own test binary (process): the socket pool is
//! process-wide, and no other test may take from it or open descriptors meanwhile.

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anysock_blocking::Resolver;
use anysock_core::dns::RecordType;
use anysock_core::resolv_conf::DnsConfig;
use common::{DnsServer, Rr, open_fds};

#[test]
fn loopback_sockets_are_reused_only_after_a_complete_exchange() {
    let srv = DnsServer::start(vec![Rr::A("www.test", Ipv4Addr::LOCALHOST)], 16);
    let r = Resolver::with_dns_config(
        DnsConfig::builder()
            .nameserver(srv.addr)
            .timeout(Duration::from_millis(200))
            .attempts(2)
            .build()
            .unwrap(),
    );
    let lookup = || {
        let a = r.lookup("www.test.", RecordType::A).unwrap();
        assert_eq!(a.records.len(), 1);
    };

    // Warm-up: the thread's spare poller and one pooled socket are the steady state.
    lookup();
    let first = srv.udp_ports_since(0);
    assert_eq!(first.len(), 1);
    let fds = open_fds();

    // Sequential lookups all go out from the one pooled socket, and open no descriptor.
    let mark = srv.udp_query_count();
    for _ in 0..50 {
        lookup();
    }
    let ports: BTreeSet<u16> = srv.udp_ports_since(mark).into_iter().collect();
    assert_eq!(ports, BTreeSet::from([first[0]]), "one socket, reused");
    assert_eq!(open_fds(), fds, "no descriptor more than the steady state");

    // A retransmitted query (the first datagram is ignored) takes the pooled socket and sends twice
    // from it: that socket is closed, not pooled again, so the next lookup has a new one.
    srv.ignore_udp.store(1, Ordering::SeqCst);
    let mark = srv.udp_query_count();
    lookup();
    let retransmitted = srv.udp_ports_since(mark);
    assert_eq!(
        retransmitted,
        [first[0], first[0]],
        "one socket, sent twice"
    );
    // That socket is closed: its port can be bound again. Holding it also keeps the kernel from
    // giving it to the next lookup's socket, so the check below cannot pass or fail by chance.
    let held = UdpSocket::bind((Ipv4Addr::LOCALHOST, first[0]))
        .expect("the retransmitted query's socket is closed (its port is free)");
    let mark = srv.udp_query_count();
    lookup();
    let next = srv.udp_ports_since(mark);
    assert_eq!(next.len(), 1);
    assert_ne!(
        next[0], first[0],
        "the retransmitted query's socket is not reused"
    );
    assert_eq!(
        open_fds(),
        fds + 1,
        "the retransmitted query's socket is closed (the +1 is the port held above)"
    );
    drop(held);

    // Concurrent lookups: the pool grows to the concurrency, then stays there.
    let many = vec![("www.test.", RecordType::A); 8];
    assert!(r.lookup_many(&many).iter().all(Result::is_ok));
    let fds = open_fds();
    let mark = srv.udp_query_count();
    for _ in 0..20 {
        assert!(r.lookup_many(&many).iter().all(Result::is_ok));
    }
    assert_eq!(open_fds(), fds, "the pool stays at its steady state");
    let ports: BTreeSet<u16> = srv.udp_ports_since(mark).into_iter().collect();
    assert!(
        ports.len() <= 8,
        "{} ports for 8 concurrent queries",
        ports.len()
    );

    // An unanswered query (sent once, timed out) does not give its socket back either.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let unanswered = Resolver::with_dns_config(
        DnsConfig::builder()
            .nameserver(silent.local_addr().unwrap())
            .timeout(Duration::from_millis(100))
            .attempts(1)
            .build()
            .unwrap(),
    );
    let fds = open_fds();
    assert!(unanswered.lookup("www.test.", RecordType::A).is_err());
    let (_, from) = silent.recv_from(&mut [0u8; 512]).unwrap();
    let held =
        UdpSocket::bind(from).expect("the unanswered query's socket is closed (its port is free)");
    let mark = srv.udp_query_count();
    lookup();
    assert_ne!(
        srv.udp_ports_since(mark),
        [from.port()],
        "the unanswered query's socket is not reused"
    );
    drop(held);
    assert!(open_fds() <= fds, "no descriptor left open");
}
