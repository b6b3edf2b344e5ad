//! anysock on smol: the async-std adapter runs on async-io, which is smol's reactor, and its streams
//! convert to smol's own types without a system call.
//! Run: `cargo run -p anysock-cli --example smol`.
use smol::io::{AsyncReadExt, AsyncWriteExt};

/// Serves one greeting on 127.0.0.1 and reads it back with a Happy Eyeballs connect, as smol types.
pub async fn run() -> std::io::Result<String> {
    let server = anysock_async_std::tcp_server(Some("127.0.0.1"), "0", |s, host, port| {
        smol::spawn(async move {
            let text = format!("The internet is full, {host}:{port}. Go away!");
            if let Ok(tcp) = s.into_tcp() {
                let _ = smol::net::TcpStream::from(tcp)
                    .write_all(text.as_bytes())
                    .await;
            }
        })
        .detach();
    })?;
    let port = server
        .local_addr()
        .as_inet()
        .expect("an IP listener")
        .port();
    let c = anysock_async_std::tcp_connect("127.0.0.1", &port.to_string()).await?;
    let tcp = c
        .stream
        .into_tcp()
        .map_err(|_| std::io::Error::other("not TCP"))?;
    let mut stream = smol::net::TcpStream::from(tcp);
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    Ok(text)
}

#[cfg_attr(test, allow(dead_code))]
fn main() -> std::io::Result<()> {
    println!("{}", smol::block_on(run())?);
    Ok(())
}

#[test]
fn greets() {
    assert!(
        smol::block_on(run())
            .unwrap()
            .starts_with("The internet is full, 127.0.0.1:")
    );
}
