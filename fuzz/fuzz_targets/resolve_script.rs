//! Fuzz target `resolve_script`: the `resolve_sockaddr` planner driven by an arbitrary request and answer
//! script. The checks live in `anysock_core::fuzzing::resolve_script_check`, which
//! `crates/core/tests/fuzz_corpus.rs` also runs on the seed corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    anysock_core::fuzzing::resolve_script_check(data);
});
