//! The shared loopback DNS responder (`anysock-testkit`), for the command's tests and the examples' tests.
#![allow(unused_imports)]

pub use anysock_testkit::{DnsServer, Rr};
