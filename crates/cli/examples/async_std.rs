//! anysock on async-std: `tcp_server` and `tcp_connect` from anysock-async-std.
//! Run: `cargo run -p anysock-cli --example async_std`.
use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// Serves one greeting on 127.0.0.1 and reads it back with a Happy Eyeballs connect.
pub async fn run() -> std::io::Result<String> {
    let server = anysock_async_std::tcp_server(Some("127.0.0.1"), "0", |mut s, host, port| {
        async_std::task::spawn(async move {
            let text = format!("The internet is full, {host}:{port}. Go away!");
            let _ = s.write_all(text.as_bytes()).await;
        });
    })?;
    let port = server
        .local_addr()
        .as_inet()
        .expect("an IP listener")
        .port();
    let mut c = anysock_async_std::tcp_connect("127.0.0.1", &port.to_string()).await?;
    let mut text = String::new();
    c.stream.read_to_string(&mut text).await?;
    Ok(text)
}

#[cfg_attr(test, allow(dead_code))]
fn main() -> std::io::Result<()> {
    println!("{}", async_std::task::block_on(run())?);
    Ok(())
}

#[test]
fn greets() {
    let text = async_std::task::block_on(run()).unwrap();
    assert!(text.starts_with("The internet is full, 127.0.0.1:"));
}
