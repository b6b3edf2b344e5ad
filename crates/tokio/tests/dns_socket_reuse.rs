//! DNS UDP sockets to a loopback nameserver are reused after a complete exchange (one datagram sent,
//! its answer taken) and closed otherwise. Its own test binary (process) with one test, on a
//! current-thread runtime and then on a multi-thread one: the socket pool is process-wide, and no
//! other test may take from it or open descriptors meanwhile.

mod common;

use anysock_tokio::Resolver;
use common::{DnsServer, Rr, open_fds};

include!("../../testkit/include/dns_socket_reuse_async.rs");

#[test]
fn loopback_sockets_are_reused_only_after_a_complete_exchange() {
    for rt in [
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    ] {
        rt.block_on(reuse_only_after_a_complete_exchange());
    }
}
