//! tcp_server, tcp_bind, unix socket path rules and socket options, each test run under async-std's
//! executor and under smol's.

mod common;

use std::fs;
use std::future::Future;
use std::io::{self, Read};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::mpsc;
use std::time::Duration;

use anysock_async_std::{Bind, Connector, Stream, tcp_bind, tcp_server};
use anysock_core::SockAddr;
use futures_lite::{AsyncReadExt, AsyncWriteExt};

type Spawn = fn(Pin<Box<dyn Future<Output = ()> + Send>>);

fn spawn_async_std(f: Pin<Box<dyn Future<Output = ()> + Send>>) {
    async_std::task::spawn(f);
}

fn spawn_smol(f: Pin<Box<dyn Future<Output = ()> + Send>>) {
    smol::spawn(f).detach();
}

fn port_of(a: SockAddr) -> u16 {
    a.as_inet().unwrap().port()
}

both_executors!(
    dropping_the_server_stops_it_and_frees_the_port,
    dual_stack_default_host_reports_ipv4_peers_as_ipv4,
    bind_prepare_hook_and_bad_input,
    tcp_bind_accepts_async,
    unix_server_path_rules,
    abstract_unix_server,
    stream_options,
);

mod handler_spawns_on_the_callers_runtime {
    #[test]
    fn async_std() {
        async_std::task::block_on(super::handler_spawns_on_the_callers_runtime(
            super::spawn_async_std,
        ))
    }
    #[test]
    fn smol() {
        smol::block_on(super::handler_spawns_on_the_callers_runtime(
            super::spawn_smol,
        ))
    }
}

/// The documented pattern: the handler hands each connection to a task of the caller's runtime.
async fn handler_spawns_on_the_callers_runtime(spawn: Spawn) {
    let server = tcp_server(Some("127.0.0.1"), "0", move |mut s, host, port| {
        spawn(Box::pin(async move {
            let mut name = [0u8; 5];
            s.read_exact(&mut name).await.unwrap();
            let reply = format!(
                "hello {} from {host}:{port}",
                String::from_utf8_lossy(&name)
            );
            s.write_all(reply.as_bytes()).await.unwrap();
        }));
    })
    .unwrap();
    let addr = server.local_addr();
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(Connector::new().connect_addrs([addr]).await.unwrap());
    }
    for c in &mut clients {
        c.stream.write_all(b"world").await.unwrap();
    }
    for c in clients {
        let local = c.stream.local_addr().unwrap().unwrap();
        let mut s = c.stream;
        let mut got = String::new();
        s.read_to_string(&mut got).await.unwrap();
        assert_eq!(
            got,
            format!("hello world from 127.0.0.1:{}", port_of(local))
        );
    }
    assert_eq!(server.accepted(), 5);
    assert_eq!(server.accept_errors(), 0);
}

async fn dropping_the_server_stops_it_and_frees_the_port() {
    let server = tcp_server(Some("127.0.0.1"), "0", |_, _, _| {}).unwrap();
    let port = port_of(server.local_addr());
    let c = Connector::new()
        .connect_addrs([server.local_addr()])
        .await
        .unwrap();
    drop(c);
    drop(server);
    let e = anysock_async_std::tcp_connect("127.0.0.1", &port.to_string())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
    let again = tcp_bind(Some("127.0.0.1"), &port.to_string()).unwrap();
    assert_eq!(port_of(again.local_addr()), port);
}

async fn dual_stack_default_host_reports_ipv4_peers_as_ipv4() {
    let (tx, rx) = mpsc::channel();
    let server = tcp_server(None, "0", move |_, host, _| tx.send(host).unwrap()).unwrap();
    let port = port_of(server.local_addr());
    let _c = anysock_async_std::tcp_connect("127.0.0.1", &port.to_string())
        .await
        .unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        "127.0.0.1"
    );
    if anysock_sys::ipv6_available() {
        assert!(server.local_addr().as_inet().unwrap().is_ipv6());
        let _c6 = anysock_async_std::tcp_connect("::1", &port.to_string())
            .await
            .unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "::1");
    }
}

async fn bind_prepare_hook_and_bad_input() {
    let (tx, rx) = mpsc::channel();
    let l = Bind::new(Some("127.0.0.1"), "0")
        .prepare(move |sock, addr| {
            tx.send((sock.reuse_address().unwrap(), addr)).unwrap();
            Some(1)
        })
        .listen()
        .unwrap();
    let (reuse, addr) = rx.recv().unwrap();
    assert!(reuse, "SO_REUSEADDR is set before the hook runs");
    assert_eq!(addr, l.local_addr());
    let l = tcp_bind(Some("127.0.0.1"), "x=0").unwrap();
    assert_ne!(port_of(l.local_addr()), 0);
    let e = tcp_bind(Some("localhost"), "0").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("\"localhost\""), "{e}");
    let e = tcp_bind(Some("127.0.0.1"), "65536").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("65536"), "{e}");
    let e = tcp_bind(Some("127.0.0.1"), "nosuchservice").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    let e = tcp_server(Some("unix/"), "", |_, _, _| {}).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
}

async fn tcp_bind_accepts_async() {
    let l = match tcp_bind(Some("[::1]"), "0") {
        Ok(l) => l,
        Err(_) if !anysock_sys::ipv6_available() => tcp_bind(Some("127.0.0.1"), "0").unwrap(),
        Err(e) => panic!("{e}"),
    };
    let a = l.local_addr().as_inet().unwrap();
    let accept = l.accept();
    let connect = Connector::new().connect_addrs([a]);
    let (accepted, connected) = futures_lite::future::zip(accept, connect).await;
    let (mut s, peer) = accepted.unwrap();
    let mut c = connected.unwrap();
    assert_eq!(peer.host, a.ip().to_string());
    assert_eq!(
        Some(SockAddr::Inet(std::net::SocketAddr::new(a.ip(), peer.port))),
        c.stream.local_addr().unwrap()
    );
    s.write_all(b"x").await.unwrap();
    let mut b = [0];
    c.stream.read_exact(&mut b).await.unwrap();
    assert!(s.as_tcp().is_some());
    // Guard drop: the listener closes.
    drop(l);
    assert!(TcpStream::connect(a).is_err());
}

async fn unix_server_path_rules() {
    let d = common::tempdir("unix-server");
    let p = d.join("srv.sock");
    let ps = p.to_str().unwrap();
    let (tx, rx) = mpsc::channel();
    let server = tcp_server(Some("unix/"), ps, move |mut s, host, port| {
        async_io::block_on(s.write_all(b"u")).unwrap();
        tx.send((host, port, s.as_unix().is_some())).unwrap();
    })
    .unwrap();
    let mut c = anysock_async_std::tcp_connect("unix/", ps).await.unwrap();
    let mut b = [0];
    c.stream.read_exact(&mut b).await.unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        ("unix/".to_string(), 0, true)
    );
    drop(server);
    assert!(!p.exists(), "the server removes its socket path");

    // A stale socket (its server gone without cleanup) is replaced.
    let stale = d.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let l = tcp_bind(Some("unix/"), stale.to_str().unwrap()).unwrap();
    drop(l);
    assert!(!stale.exists());

    // A regular file is never replaced (AnyEvent B30).
    let f = d.join("victim.txt");
    fs::write(&f, "precious").unwrap();
    let e = tcp_server(Some("unix/"), f.to_str().unwrap(), |_, _, _| {}).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(fs::read_to_string(&f).unwrap(), "precious");

    // tcp_bind on a unix path: same guard semantics, async accept.
    let q = d.join("bound.sock");
    let l = tcp_bind(Some("unix/"), q.to_str().unwrap()).unwrap();
    assert!(q.exists());
    let mut c = UnixStream::connect(&q).unwrap();
    let (mut s, peer) = l.accept().await.unwrap();
    assert_eq!(peer.host, "unix/");
    s.write_all(b"v").await.unwrap();
    c.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"v");
    drop(l);
    assert!(!q.exists());
}

async fn abstract_unix_server() {
    let name = format!(
        "\0anysock-as-{}-{}",
        std::process::id(),
        common::tempdir("abs").display()
    );
    let (tx, rx) = mpsc::channel();
    let server = tcp_server(Some("unix/"), &name, move |_, host, _| {
        tx.send(host).unwrap()
    })
    .unwrap();
    assert!(server.local_addr().as_unix().unwrap().is_abstract());
    let c = Connector::new()
        .connect_addrs([server.local_addr()])
        .await
        .unwrap();
    assert!(c.stream.as_unix().is_some());
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "unix/");
}

async fn stream_options() {
    let l = tcp_bind(Some("127.0.0.1"), "0").unwrap();
    let c = Connector::new()
        .connect_addrs([l.local_addr()])
        .await
        .unwrap();
    let s: Stream = c.stream;
    s.set_nodelay(true).unwrap();
    assert!(s.nodelay().unwrap());
    s.set_nodelay(false).unwrap();
    assert!(!s.nodelay().unwrap());
    let cc = s.congestion().unwrap();
    assert!(!cc.is_empty());
    s.set_congestion(&cc).unwrap();
    let e = s.set_congestion("no-such-algorithm").unwrap_err();
    assert_ne!(e.kind(), io::ErrorKind::Other, "{e}");
    // Unix streams have no TCP options: a typed error, not a panic.
    let (a, _b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let u = Stream::Unix(async_io::Async::new(a).unwrap());
    assert!(u.set_nodelay(true).is_err());
    // The conversions the crate docs promise.
    let t = s.into_tcp().unwrap();
    let mut smol_stream = smol::net::TcpStream::from(t);
    let (mut acc, _) = l.accept().await.unwrap();
    smol_stream.write_all(b"s").await.unwrap();
    let mut b = [0];
    acc.read_exact(&mut b).await.unwrap();
    let c = Connector::new()
        .connect_addrs([l.local_addr()])
        .await
        .unwrap();
    let mut as_stream = async_std::net::TcpStream::from(c.stream.into_std_tcp().unwrap());
    let (mut acc, _) = l.accept().await.unwrap();
    as_stream.write_all(b"a").await.unwrap();
    acc.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"a");
    assert!(u.into_std_tcp().is_err());
}
