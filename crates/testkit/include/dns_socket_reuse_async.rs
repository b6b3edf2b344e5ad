// The body of the async adapters' DNS socket-reuse test (`crates/tokio/tests/dns_socket_reuse.rs`,
// `crates/async-std/tests/dns_socket_reuse.rs`), `include!`d by both: the including file names the
// adapter's `Resolver` and provides `common::{DnsServer, Rr, open_fds}`; each runs it on its runtimes.
// Not a module of anysock-testkit, which cannot depend on the adapters.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::atomic::Ordering;
use std::time::Duration;

use anysock_core::dns::RecordType;
use anysock_core::resolv_conf::DnsConfig;

async fn lookup(r: &Resolver) {
    let a = r.lookup("www.test.", RecordType::A).await.unwrap();
    assert_eq!(a.records.len(), 1);
}

async fn reuse_only_after_a_complete_exchange() {
    let srv = DnsServer::start(vec![Rr::A("www.test", Ipv4Addr::LOCALHOST)], 16);
    let r = Resolver::builder()
        .dns_config(
            DnsConfig::builder()
                .nameserver(srv.addr)
                .timeout(Duration::from_millis(200))
                .attempts(2)
                .build()
                .unwrap(),
        )
        .no_hosts()
        .build()
        .unwrap();

    // Warm-up: the runtime's descriptors and one pooled socket (more if an earlier run left some)
    // are the steady state.
    lookup(&r).await;
    let first = srv.udp_ports_since(0);
    assert_eq!(first.len(), 1);
    let fds = open_fds();

    // Sequential lookups all go out from the one pooled socket, and open no descriptor.
    let mark = srv.udp_query_count();
    for _ in 0..50 {
        lookup(&r).await;
    }
    let ports: BTreeSet<u16> = srv.udp_ports_since(mark).into_iter().collect();
    assert_eq!(ports, BTreeSet::from([first[0]]), "one socket, reused");
    assert_eq!(open_fds(), fds, "no descriptor more than the steady state");

    // A retransmitted query (the first datagram is ignored) takes the pooled socket and sends twice
    // from it: that socket is closed, not pooled again, so the next lookup has another one.
    srv.ignore_udp.store(1, Ordering::SeqCst);
    let mark = srv.udp_query_count();
    lookup(&r).await;
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
    lookup(&r).await;
    let next = srv.udp_ports_since(mark);
    assert_eq!(next.len(), 1);
    assert_ne!(
        next[0], first[0],
        "the retransmitted query's socket is not reused"
    );
    // Equal if the next lookup made a fresh socket, one less if it took another pooled one.
    assert!(
        open_fds() <= fds + 1,
        "the retransmitted query's socket is closed (the +1 is the port held above)"
    );
    drop(held);

    // Concurrent lookups: the pool grows to the concurrency, then stays there.
    let many = vec![("www.test.", RecordType::A); 8];
    assert!(r.lookup_many(&many).await.iter().all(Result::is_ok));
    let fds = open_fds();
    let mark = srv.udp_query_count();
    for _ in 0..20 {
        assert!(r.lookup_many(&many).await.iter().all(Result::is_ok));
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
    let unanswered = Resolver::builder()
        .dns_config(
            DnsConfig::builder()
                .nameserver(silent.local_addr().unwrap())
                .timeout(Duration::from_millis(100))
                .attempts(1)
                .build()
                .unwrap(),
        )
        .no_hosts()
        .build()
        .unwrap();
    let fds = open_fds();
    assert!(unanswered.lookup("www.test.", RecordType::A).await.is_err());
    let (_, from) = silent.recv_from(&mut [0u8; 512]).unwrap();
    let held =
        UdpSocket::bind(from).expect("the unanswered query's socket is closed (its port is free)");
    let mark = srv.udp_query_count();
    lookup(&r).await;
    assert_ne!(
        srv.udp_ports_since(mark),
        [from.port()],
        "the unanswered query's socket is not reused"
    );
    drop(held);
    assert!(open_fds() <= fds, "no descriptor left open");
}
