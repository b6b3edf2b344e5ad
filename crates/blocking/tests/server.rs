//! tcp_bind and tcp_server on real loopback sockets.

use std::fs;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use anysock_blocking::{Bind, tcp_bind, tcp_server};
use anysock_core::SockAddr;

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("anysock-blk-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn port_of(a: SockAddr) -> u16 {
    a.as_inet().unwrap().port()
}

#[test]
fn server_handler_gets_the_right_peer() {
    let (tx, rx) = mpsc::channel();
    let server = tcp_server(Some("127.0.0.1"), "0", move |mut s, host, port| {
        s.write_all(b"welcome").unwrap();
        tx.send((host, port)).unwrap();
    })
    .unwrap();
    let port = port_of(server.local_addr());
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut got = String::new();
    c.read_to_string(&mut got).unwrap();
    assert_eq!(got, "welcome");
    let (host, peer_port) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(host, "127.0.0.1");
    assert_eq!(peer_port, c.local_addr().unwrap().port());
    assert_eq!(server.accepted(), 1);
}

#[test]
fn dropping_the_server_stops_it_and_frees_the_port() {
    let server = tcp_server(Some("127.0.0.1"), "0", |_, _, _| {}).unwrap();
    let port = port_of(server.local_addr());
    drop(server);
    let err = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    // The port can be bound again at once.
    let again = tcp_bind(Some("127.0.0.1"), &port.to_string()).unwrap();
    assert_eq!(port_of(again.local_addr()), port);
}

#[test]
fn dual_stack_default_host_reports_ipv4_peers_as_ipv4() {
    let (tx, rx) = mpsc::channel();
    let server = tcp_server(None, "0", move |_, host, _| tx.send(host).unwrap()).unwrap();
    let port = port_of(server.local_addr());
    let _c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        "127.0.0.1"
    );
    if anysock_sys::ipv6_available() {
        assert!(server.local_addr().as_inet().unwrap().is_ipv6());
        let _c6 = TcpStream::connect(("::1", port)).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "::1");
    }
}

#[test]
fn bind_prepare_hook_sees_the_socket_and_sets_the_backlog() {
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
}

#[test]
fn bind_accepts_name_equals_port_and_rejects_bad_input() {
    let l = tcp_bind(Some("127.0.0.1"), "x=0").unwrap();
    assert_ne!(port_of(l.local_addr()), 0);
    let e = tcp_bind(Some("localhost"), "0").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("\"localhost\""), "{e}");
    let e = tcp_bind(Some("127.0.0.1"), "65536").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("65536"), "{e}");
}

#[test]
fn tcp_bind_listener_accepts_blocking() {
    let l = tcp_bind(Some("[::1]"), "0");
    let l = match l {
        Ok(l) => l,
        Err(_) if !anysock_sys::ipv6_available() => return,
        Err(e) => panic!("{e}"),
    };
    let port = port_of(l.local_addr());
    let mut c = TcpStream::connect(("::1", port)).unwrap();
    let (mut s, peer) = l.accept().unwrap();
    assert_eq!(peer.host, "::1");
    assert_eq!(peer.port, c.local_addr().unwrap().port());
    s.write_all(b"x").unwrap();
    let mut b = [0];
    c.read_exact(&mut b).unwrap();
    assert!(s.as_tcp().is_some());
}

#[test]
fn unix_server_path_rules() {
    let d = tempdir("unix-server");
    let p = d.join("srv.sock");
    let ps = p.to_str().unwrap();
    let (tx, rx) = mpsc::channel();
    let server = tcp_server(Some("unix/"), ps, move |mut s, host, port| {
        s.write_all(b"u").unwrap();
        tx.send((host, port, s.as_unix().is_some())).unwrap();
    })
    .unwrap();
    let mut c = UnixStream::connect(&p).unwrap();
    let mut b = [0];
    c.read_exact(&mut b).unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        ("unix/".to_string(), 0, true)
    );
    drop(server);
    assert!(!p.exists(), "the server removes its socket path");

    // A regular file is never replaced (AnyEvent B30).
    let f = d.join("victim.txt");
    fs::write(&f, "precious").unwrap();
    let e = tcp_server(Some("unix/"), f.to_str().unwrap(), |_, _, _| {}).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(fs::read_to_string(&f).unwrap(), "precious");

    // tcp_bind on a unix path: same guard semantics.
    let q = d.join("bound.sock");
    let l = tcp_bind(Some("unix/"), q.to_str().unwrap()).unwrap();
    assert!(q.exists());
    drop(l);
    assert!(!q.exists());
}

#[test]
fn abstract_unix_server() {
    let name = format!("\0anysock-blk-{}", std::process::id());
    let (tx, rx) = mpsc::channel();
    let server = tcp_server(Some("unix/"), &name, move |_, host, _| {
        tx.send(host).unwrap()
    })
    .unwrap();
    assert!(server.local_addr().as_unix().unwrap().is_abstract());
    use std::os::linux::net::SocketAddrExt;
    let sa = std::os::unix::net::SocketAddr::from_abstract_name(&name.as_bytes()[1..]).unwrap();
    let _c = UnixStream::connect_addr(&sa).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "unix/");
}

#[test]
fn a_panicking_handler_ends_the_server_cleanly() {
    let server = tcp_server(Some("127.0.0.1"), "0", |_, _, _| panic!("handler bug")).unwrap();
    let port = port_of(server.local_addr());
    let _c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // The accept thread dies with the handler; dropping the guard still returns and frees the port.
    for _ in 0..500 {
        if server.accepted() == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(server);
    let again = tcp_bind(Some("127.0.0.1"), &port.to_string()).unwrap();
    assert_eq!(port_of(again.local_addr()), port);
}
