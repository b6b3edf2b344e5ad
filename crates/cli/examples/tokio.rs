//! anysock on tokio: `tcp_server` and `tcp_connect` from anysock-tokio.
//! Run: `cargo run -p anysock-cli --example tokio`.
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves one greeting on 127.0.0.1 and reads it back with a Happy Eyeballs connect.
pub async fn run() -> std::io::Result<String> {
    let server = anysock_tokio::tcp_server(Some("127.0.0.1"), "0", |mut s, peer| async move {
        let text = format!(
            "The internet is full, {}:{}. Go away!",
            peer.host, peer.port
        );
        let _ = s.write_all(text.as_bytes()).await;
    })?;
    let port = server
        .local_addr()
        .as_inet()
        .expect("an IP listener")
        .port();
    let mut c = anysock_tokio::tcp_connect("127.0.0.1", &port.to_string()).await?;
    let mut text = String::new();
    c.stream.read_to_string(&mut text).await?;
    Ok(text)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

#[cfg_attr(test, allow(dead_code))]
fn main() -> std::io::Result<()> {
    println!("{}", runtime().block_on(run())?);
    Ok(())
}

#[test]
fn greets() {
    assert!(
        runtime()
            .block_on(run())
            .unwrap()
            .starts_with("The internet is full, 127.0.0.1:")
    );
}
