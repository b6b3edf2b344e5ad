//! anysock on plain threads: `tcp_server` and `tcp_connect` from anysock-blocking.
//! Run: `cargo run -p anysock-cli --example blocking`.
use std::io::{Read, Write};

/// Serves one greeting on 127.0.0.1 and reads it back with a Happy Eyeballs connect.
pub fn run() -> std::io::Result<String> {
    let server = anysock_blocking::tcp_server(Some("127.0.0.1"), "0", |mut s, host, port| {
        let _ = write!(s, "The internet is full, {host}:{port}. Go away!");
    })?;
    let port = server
        .local_addr()
        .as_inet()
        .expect("an IP listener")
        .port();
    let mut c = anysock_blocking::tcp_connect("127.0.0.1", &port.to_string())?;
    let mut text = String::new();
    c.stream.read_to_string(&mut text)?;
    Ok(text)
}

#[cfg_attr(test, allow(dead_code))]
fn main() -> std::io::Result<()> {
    println!("{}", run()?);
    Ok(())
}

#[test]
fn greets() {
    assert!(
        run()
            .unwrap()
            .starts_with("The internet is full, 127.0.0.1:")
    );
}
