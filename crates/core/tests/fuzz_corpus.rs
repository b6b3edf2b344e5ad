//! Replays the cargo-fuzz seed corpus (`fuzz/corpus/<target>/`) through the same checks the fuzz
//! targets run (`anysock_core::fuzzing`), so that `cargo test` covers them without a fuzzer.

use std::path::PathBuf;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut n = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} fails its check",
            path.display()
        );
        n += 1;
    }
    assert!(
        n >= 20,
        "{target}: only {n} corpus files in {}",
        dir.display()
    );
}

#[test]
fn parse_address_corpus() {
    replay("parse_address", anysock_core::fuzzing::parse_address_check);
}

#[test]
fn parse_hostport_corpus() {
    replay(
        "parse_hostport",
        anysock_core::fuzzing::parse_hostport_check,
    );
}

#[test]
fn unpack_sockaddr_corpus() {
    replay(
        "unpack_sockaddr",
        anysock_core::fuzzing::unpack_sockaddr_check,
    );
}

#[test]
fn resolve_script_corpus() {
    replay(
        "resolve_script",
        anysock_core::fuzzing::resolve_script_check,
    );
}
