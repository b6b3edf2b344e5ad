//! Fuzz target `unpack_sockaddr`: the checks live in `anysock_core::fuzzing::unpack_sockaddr_check`, which
//! `crates/core/tests/fuzz_corpus.rs` also runs on the seed corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    anysock_core::fuzzing::unpack_sockaddr_check(data);
});
