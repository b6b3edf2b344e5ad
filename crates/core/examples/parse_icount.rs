//! Parses and formats the address benchmark's inputs in a loop, for instruction counts that do not depend
//! on machine load (criterion's wall-clock ratios moved by up to 2x on a busy 2-core machine):
//!
//! ```sh
//! cargo build --release -p anysock-core --example parse_icount
//! for m in none v4any v4std v6any v6std f6any f6std; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/parse_icount $m 2>&1 | grep Collected
//! done
//! ```
//!
//! Subtract `none` (the loop alone) from each; `f6*` include a std parse, so subtract `v6std` from them.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The inputs of `benches/addr.rs`.
const V4: [&str; 8] = [
    "127.0.0.1",
    "10.0.0.1",
    "192.168.100.200",
    "9.8.7.6",
    "255.255.255.255",
    "0.0.0.0",
    "203.0.113.45",
    "172.16.254.1",
];
const V6: [&str; 8] = [
    "::1",
    "2001:db8::1",
    "fe80::1ff:fe23:4567:890a",
    "2001:db8:85a3:8d3:1319:8a2e:370:7348",
    "::ffff:192.0.2.128",
    "64:ff9b::c000:221",
    "ff02::fb",
    "2a00:1450:4001:81c::200e",
];

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let mut acc = 0u64;
    for _ in 0..200_000 {
        for (s4, s6) in black_box(V4).into_iter().zip(black_box(V6)) {
            acc += match mode.as_str() {
                "none" => (s4.len() + s6.len()) as u64,
                "v4any" => anysock_core::parse_ipv4(s4).map_or(0, |a| u64::from(a.to_bits())),
                "v4std" => s4.parse::<Ipv4Addr>().map_or(0, |a| u64::from(a.to_bits())),
                "v6any" => anysock_core::parse_ipv6(s6).map_or(0, |a| a.to_bits() as u64),
                "v6std" => s6.parse::<Ipv6Addr>().map_or(0, |a| a.to_bits() as u64),
                "f6any" => s6
                    .parse::<Ipv6Addr>()
                    .map_or(0, |a| anysock_core::format_ipv6(black_box(a)).len() as u64),
                "f6std" => s6
                    .parse::<Ipv6Addr>()
                    .map_or(0, |a| black_box(a).to_string().len() as u64),
                other => {
                    eprintln!("unknown mode {other:?}: none v4any v4std v6any v6std f6any f6std");
                    std::process::exit(2);
                }
            };
        }
    }
    println!("{acc}");
}
