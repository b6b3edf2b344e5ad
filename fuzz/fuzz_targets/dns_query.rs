//! Fuzz the DNS query machine: arbitrary replies, TCP bytes, stream errors and timeouts fed into a
//! running `DnsQuery`; checks no panic, at most one event, transmits only to configured servers, and
//! that the machine always ends once only timeouts follow.
//!
//! The fuzz crate's Cargo.toml needs this entry (the `fuzz/` crate is created on branch `addr`):
//!
//! ```toml
//! [[bin]]
//! name = "dns_query"
//! path = "fuzz_targets/dns_query.rs"
//! test = false
//! doc = false
//! bench = false
//! ```
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    anysock_core::fuzzing::dns::dns_query(data);
});
