//! Drives the Happy Eyeballs connect machine with an arbitrary script of inputs decoded from the
//! fuzzer's bytes and checks its invariants (see `anysock_core::fuzzing::connect`).
#![no_main]

use std::sync::OnceLock;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The virtual clock's origin; the machine never reads the clock itself.
    static T0: OnceLock<Instant> = OnceLock::new();
    let t0 = *T0.get_or_init(Instant::now);
    anysock_core::fuzzing::connect::connect_script(t0, data);
});
