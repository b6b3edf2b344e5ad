//! Checks shared by the cargo-fuzz targets in `fuzz/` and the corpus replay test
//! (`tests/fuzz_corpus.rs`). Not a public API: each function panics when an invariant breaks, which is
//! what a fuzzer looks for.

pub mod addr;
pub mod connect;
pub mod dns;
pub mod resolve;

pub use addr::{parse_address_check, parse_hostport_check, unpack_sockaddr_check};
pub use resolve::resolve_script_check;
