//! tcp_server and tcp_bind on tokio: the handler, peers, the guard (drop and shutdown), unix path
//! rules, bad input.

mod common;

use std::io;
use std::time::Duration;

use anysock_core::SockAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn port_of(a: SockAddr) -> u16 {
    a.as_inet().unwrap().port()
}

#[tokio::test]
async fn server_handler_gets_the_right_peer() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = anysock_tokio::tcp_server(Some("127.0.0.1"), "0", move |mut s, peer| {
        let tx = tx.clone();
        async move {
            let _ = s.write_all(b"hello").await;
            let _ = tx.send(peer);
        }
    })
    .unwrap();
    let mut c = TcpStream::connect(("127.0.0.1", port_of(server.local_addr())))
        .await
        .unwrap();
    let mut buf = String::new();
    c.read_to_string(&mut buf).await.unwrap();
    assert_eq!(buf, "hello");
    let peer = rx.recv().await.unwrap();
    assert_eq!(peer.host, "127.0.0.1");
    assert_eq!(peer.port, c.local_addr().unwrap().port());
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn dropped_guard_stops_accepting_but_established_connections_stay_open() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = anysock_tokio::tcp_server(Some("127.0.0.1"), "0", move |mut s, _| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(());
            // Echo until the client closes.
            let mut b = [0u8; 64];
            while let Ok(n) = s.read(&mut b).await {
                if n == 0 || s.write_all(&b[..n]).await.is_err() {
                    break;
                }
            }
        }
    })
    .unwrap();
    let port = port_of(server.local_addr());
    let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    rx.recv().await.unwrap();
    drop(server);
    tokio::time::sleep(Duration::from_millis(50)).await;
    // No new connections: the listener is gone.
    let e = TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    // The established one still works.
    c.write_all(b"ping").await.unwrap();
    let mut b = [0u8; 4];
    c.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"ping");
}

#[tokio::test]
async fn shutdown_waits_and_frees_the_port() {
    let server = anysock_tokio::tcp_server(Some("127.0.0.1"), "0", |_, _| async {}).unwrap();
    let port = port_of(server.local_addr());
    server.shutdown().await;
    // The port can be bound again at once.
    let l = anysock_tokio::tcp_bind(Some("127.0.0.1"), &port.to_string()).unwrap();
    assert_eq!(port_of(l.local_addr()), port);
}

#[tokio::test]
async fn tcp_bind_accepts_and_rejects_bad_input() {
    let l = anysock_tokio::tcp_bind(Some("127.0.0.1"), "").unwrap();
    let port = port_of(l.local_addr());
    assert_ne!(port, 0);
    let _c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (s, peer) = l.accept().await.unwrap();
    assert_eq!(peer.host, "127.0.0.1");
    assert!(s.as_tcp().is_some());
    assert!(l.as_tcp().is_some());
    let e = anysock_tokio::tcp_bind(Some("localhost"), "0").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    let e = anysock_tokio::tcp_bind(Some("127.0.0.1"), "70000").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    let e = anysock_tokio::tcp_bind(Some("127.0.0.1"), "nosuchservice").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    let l = anysock_tokio::tcp_bind(Some("127.0.0.1"), "http=0").unwrap();
    assert_ne!(port_of(l.local_addr()), 0);
}

#[tokio::test]
async fn unix_server_removes_its_path_and_never_a_regular_file() {
    let d = common::tempdir("unix-server");
    let path = d.join("srv.sock");
    let p = path.to_str().unwrap().to_owned();
    let server = anysock_tokio::tcp_server(Some("unix/"), &p, |mut s, peer| async move {
        assert_eq!(peer.host, "unix/");
        let _ = s.write_all(b"u").await;
    })
    .unwrap();
    assert!(path.exists());
    let mut c = anysock_tokio::tcp_connect("unix/", &p).await.unwrap();
    let mut b = [0u8; 1];
    c.stream.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"u");
    server.shutdown().await;
    assert!(!path.exists(), "the socket path is removed");
    // A regular file in the way is never replaced.
    std::fs::write(&path, "data").unwrap();
    assert!(anysock_tokio::tcp_bind(Some("unix/"), &p).is_err());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "data");
}

#[tokio::test]
async fn bind_prepare_hook_sees_the_socket_and_sets_the_backlog() {
    let (tx, rx) = std::sync::mpsc::channel();
    let l = anysock_tokio::Bind::new(Some("127.0.0.1"), "0")
        .prepare(move |sock, addr| {
            let _ = tx.send((sock.local_addr().unwrap().as_socket().unwrap(), addr));
            Some(4)
        })
        .listen()
        .unwrap();
    let (sa, addr) = rx.recv().unwrap();
    assert_eq!(SockAddr::Inet(sa), addr);
    assert_eq!(addr, l.local_addr());
}

#[tokio::test]
async fn dual_stack_default_host_reports_ipv4_peers_as_ipv4() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = anysock_tokio::tcp_server(None, "0", move |_, peer| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(peer.host);
        }
    })
    .unwrap();
    let port = port_of(server.local_addr());
    let _c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(rx.recv().await.unwrap(), "127.0.0.1");
    if anysock_sys::ipv6_available() {
        assert!(server.local_addr().as_inet().unwrap().is_ipv6());
        let _c6 = TcpStream::connect(("::1", port)).await.unwrap();
        assert_eq!(rx.recv().await.unwrap(), "::1");
    }
}

#[tokio::test]
async fn abstract_unix_server() {
    let name = format!("\0anysock-tokio-{}", std::process::id());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = anysock_tokio::tcp_server(Some("unix/"), &name, move |_, peer| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(peer.host);
        }
    })
    .unwrap();
    assert!(server.local_addr().as_unix().unwrap().is_abstract());
    use std::os::linux::net::SocketAddrExt;
    let sa = std::os::unix::net::SocketAddr::from_abstract_name(&name.as_bytes()[1..]).unwrap();
    let _c = std::os::unix::net::UnixStream::connect_addr(&sa).unwrap();
    assert_eq!(rx.recv().await.unwrap(), "unix/");
}
