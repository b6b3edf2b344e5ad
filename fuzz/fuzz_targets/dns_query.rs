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
    // The virtual clock's origin; the machine never reads the clock itself.
    static T0: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let t0 = *T0.get_or_init(std::time::Instant::now);
    anysock_core::fuzzing::dns::dns_query(t0, data);
});
