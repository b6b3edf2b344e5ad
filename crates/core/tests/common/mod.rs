//! Shared helpers for the scenario tests. Each test binary uses a different subset.
#![allow(dead_code)]

pub mod connect_script;
