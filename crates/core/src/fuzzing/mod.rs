//! Fuzzing entry points: each function takes arbitrary bytes and panics on a broken invariant.
//! Hidden from the docs; used by `fuzz/` and by the corpus-replay tests.
pub mod connect;
