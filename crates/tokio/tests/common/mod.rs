//! Test support: the shared loopback DNS responder and helpers (`anysock-testkit`).
#![allow(unused_imports)]

pub use anysock_testkit::*;
