//! Checks shared by the cargo-fuzz targets in `fuzz/` and the corpus replay tests. Not a public API:
//! each function takes arbitrary input and panics when an invariant breaks, which is what a fuzzer
//! looks for.

pub mod addr;
pub mod connect;

pub use addr::{parse_address_check, parse_hostport_check, unpack_sockaddr_check};
