//! End-to-end tests of `anysock parse`.

use std::process::Command;

fn anysock(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_anysock"))
        .args(args)
        .output()
        .expect("run anysock");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf-8 output"),
    )
}

fn json_lines(args: &[&str]) -> Vec<serde_json::Value> {
    let (code, out) = anysock(args);
    assert_eq!(code, 0, "{out}");
    out.lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

#[test]
fn posix_ipv4_forms_and_bytes() {
    let v = json_lines(&["parse", "--json", "127.1", "0x7f.1", "017700000001"]);
    for o in &v {
        assert_eq!(o["address"]["family"], "ipv4");
        assert_eq!(o["address"]["text"], "127.0.0.1");
        assert_eq!(o["address"]["bytes"], "7f000001");
    }
}

#[test]
fn strict_rejects_ambiguous_literals() {
    let (code, out) = anysock(&["parse", "--json", "--strict", "127.1"]);
    assert_eq!(code, 1);
    let o: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(o["address"]["error"].is_string(), "{o}");
}

#[test]
fn hostport_forms_and_sockaddr_bytes() {
    let v = json_lines(&["parse", "--json", "[::1]:80", "unix/:/run/s", "::1 80"]);
    assert_eq!(v[0]["hostport"]["host"], "::1");
    assert_eq!(v[0]["hostport"]["canonical"], "[::1]:80");
    assert_eq!(
        v[0]["hostport"]["sockaddr"],
        "0a000050000000000000000000000000000000000000000100000000"
    );
    assert_eq!(v[1]["hostport"]["service_kind"], "path");
    assert_eq!(v[2]["hostport"]["canonical"], "[::1]:80");
}

#[test]
fn default_service_is_used() {
    let v = json_lines(&["parse", "--json", "--default", "https", "localhost"]);
    assert_eq!(v[0]["hostport"]["host"], "localhost");
    assert_eq!(v[0]["hostport"]["service"], "https");
}

#[test]
fn text_output_names_each_view() {
    let (code, out) = anysock(&["parse", "::ffff:10.0.0.1"]);
    assert_eq!(code, 0);
    assert!(out.contains("address   ipv4  10.0.0.1"), "{out}");
    assert!(out.contains("hostport  not host:port"), "{out}");
}
