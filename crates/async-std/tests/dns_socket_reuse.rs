//! DNS UDP sockets to a loopback nameserver are reused after a complete exchange (one datagram sent,
//! its answer taken) and closed otherwise. Its own test binary (process) with one test that runs the
//! body under async-std's executor and then under smol's: the socket pool is process-wide, and no
//! other test may take from it or open descriptors meanwhile.

mod common;

use anysock_async_std::Resolver;
use common::{DnsServer, Rr, open_fds};

include!("../../testkit/include/dns_socket_reuse_async.rs");

#[test]
fn loopback_sockets_are_reused_only_after_a_complete_exchange() {
    async_std::task::block_on(reuse_only_after_a_complete_exchange());
    smol::block_on(reuse_only_after_a_complete_exchange());
}
