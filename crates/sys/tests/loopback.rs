//! Real sockets on loopback: connect outcomes, bind and listen, dual-stack, abstract names, options.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anysock_core::{SockAddr, SockType, Target, UnixAddr};
use anysock_sys::socket2::Socket;
use anysock_sys::{ConnectProgress, DEFAULT_BACKLOG, SysError};
use polling::{Event, Events, Poller};

/// Waits (up to 5 s) until `sock` is writable and returns the connect outcome.
fn wait_connected(sock: &Socket) -> io::Result<ConnectProgress> {
    let poller = Poller::new()?;
    poller_add(&poller, sock)?;
    let mut events = Events::new();
    loop {
        events.clear();
        let n = poller.wait(&mut events, Some(Duration::from_secs(5)))?;
        if n == 0 {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match anysock_sys::finish_connect(sock)? {
            ConnectProgress::Connected => {
                poller.delete(sock)?;
                return Ok(ConnectProgress::Connected);
            }
            _ => poller.modify(sock, Event::writable(1))?,
        }
    }
}

#[allow(unsafe_code)]
fn poller_add(poller: &Poller, sock: &Socket) -> io::Result<()> {
    // SAFETY: the socket outlives its registration: every caller deletes it or drops the poller first.
    unsafe { poller.add(sock, Event::writable(1)) }
}

fn connect_target(target: &Target) -> io::Result<Socket> {
    let sock = anysock_sys::socket_for(target)?;
    match anysock_sys::start_connect(&sock, &target.addr)? {
        ConnectProgress::Connected => {}
        _ => {
            wait_connected(&sock)?;
        }
    }
    Ok(sock)
}

fn tcp(addr: SockAddr) -> Target {
    Target::new(SockType::Stream, 6, addr)
}

#[test]
fn connect_ok_and_data_flows() {
    let l = anysock_sys::listen(
        &SockAddr::Inet("127.0.0.1:0".parse().unwrap()),
        SockType::Stream,
        DEFAULT_BACKLOG,
    )
    .unwrap();
    assert!(l.socket().reuse_address().unwrap());
    let sock = anysock_sys::socket_for(&tcp(l.local_addr())).unwrap();
    let first = anysock_sys::start_connect(&sock, &l.local_addr()).unwrap();
    if first == ConnectProgress::InProgress {
        assert_eq!(wait_connected(&sock).unwrap(), ConnectProgress::Connected);
    }
    let (mut server, peer) = l.accept().unwrap();
    assert_eq!(
        peer.unwrap().as_inet(),
        sock.local_addr().unwrap().as_socket()
    );
    let mut client = TcpStream::from(sock);
    client.set_nonblocking(false).unwrap();
    client.write_all(b"ping").unwrap();
    let mut buf = [0; 4];
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
}

fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[test]
fn connect_refused_is_reported() {
    let addr = SockAddr::Inet(closed_port());
    let err = connect_target(&tcp(addr)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
}

#[test]
fn nonblocking_connect_outcome_is_read_after_writability() {
    // Start several connects without waiting: each start returns at once.
    let l = anysock_sys::listen(
        &SockAddr::Inet("127.0.0.1:0".parse().unwrap()),
        SockType::Stream,
        DEFAULT_BACKLOG,
    )
    .unwrap();
    let refused = SockAddr::Inet(closed_port());
    let ok_sock = anysock_sys::socket_for(&tcp(l.local_addr())).unwrap();
    let bad_sock = anysock_sys::socket_for(&tcp(refused)).unwrap();
    let ok_start = anysock_sys::start_connect(&ok_sock, &l.local_addr()).unwrap();
    let bad_start = anysock_sys::start_connect(&bad_sock, &refused);
    if ok_start == ConnectProgress::InProgress {
        wait_connected(&ok_sock).unwrap();
    }
    match bad_start {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused),
        Ok(p) => {
            assert_eq!(p, ConnectProgress::InProgress);
            let e = wait_connected(&bad_sock).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        }
    }
    assert!(l.accept().is_ok());
}

#[test]
fn accept_would_block_when_nobody_waits() {
    let l = anysock_sys::listen(
        &SockAddr::Inet("127.0.0.1:0".parse().unwrap()),
        SockType::Stream,
        DEFAULT_BACKLOG,
    )
    .unwrap();
    assert_eq!(
        l.accept().unwrap_err().kind(),
        io::ErrorKind::WouldBlock,
        "listener must be non-blocking"
    );
}

#[test]
fn bind_reports_address_in_use() {
    let l = anysock_sys::listen(
        &SockAddr::Inet("127.0.0.1:0".parse().unwrap()),
        SockType::Stream,
        DEFAULT_BACKLOG,
    )
    .unwrap();
    let err = anysock_sys::listen(&l.local_addr(), SockType::Stream, DEFAULT_BACKLOG).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    assert!(err.to_string().starts_with("bind: "), "{err}");
}

#[test]
fn listen_on_datagram_is_rejected() {
    let err = anysock_sys::listen(
        &SockAddr::Inet("127.0.0.1:0".parse().unwrap()),
        SockType::Datagram,
        1,
    )
    .unwrap_err();
    assert!(matches!(err, SysError::InvalidInput { .. }), "{err}");
}

#[test]
fn unspecified_host_is_dual_stack_when_ipv6_is_available() {
    let addr = anysock_sys::unspecified_listen_addr(0);
    if !anysock_sys::ipv6_available() {
        assert_eq!(addr, "0.0.0.0:0".parse::<SocketAddr>().unwrap());
        return;
    }
    assert_eq!(addr, "[::]:0".parse::<SocketAddr>().unwrap());
    let l = anysock_sys::listen(&SockAddr::Inet(addr), SockType::Stream, DEFAULT_BACKLOG).unwrap();
    assert!(!l.socket().only_v6().unwrap());
    let port = l.local_addr().as_inet().unwrap().port();
    // An IPv4 client reaches the IPv6 listener.
    let _c4 = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _c6 = TcpStream::connect(("::1", port)).unwrap();
    l.socket().set_nonblocking(false).unwrap();
    let (_, p4) = l.accept().unwrap();
    let (_, p6) = l.accept().unwrap();
    let p4 = p4.unwrap().as_inet().unwrap();
    let p6 = p6.unwrap().as_inet().unwrap();
    assert_eq!(p4.ip().to_canonical().to_string(), "127.0.0.1");
    assert!(
        p4.is_ipv6(),
        "an IPv4 peer of a dual-stack socket is IPv4-mapped"
    );
    assert_eq!(p6.ip().to_string(), "::1");
}

#[test]
fn ipv6_loopback_connect() {
    if !anysock_sys::ipv6_available() {
        return;
    }
    let l = anysock_sys::listen(
        &SockAddr::Inet("[::1]:0".parse().unwrap()),
        SockType::Stream,
        DEFAULT_BACKLOG,
    )
    .unwrap();
    connect_target(&tcp(l.local_addr())).unwrap();
}

#[test]
fn abstract_unix_names() {
    let name = format!("anysock-sys-test-{}", std::process::id());
    let addr = SockAddr::Unix(UnixAddr::abstract_name(name.as_bytes()).unwrap());
    let l = anysock_sys::listen(&addr, SockType::Stream, DEFAULT_BACKLOG).unwrap();
    assert_eq!(l.local_addr(), addr);
    let sock = connect_target(&Target::new(SockType::Stream, 0, addr)).unwrap();
    let (_, _peer) = l.accept().unwrap();
    // The peer address of the client side is the abstract name.
    assert_eq!(
        anysock_sys::addr::from_socket2(&sock.peer_addr().unwrap()),
        Some(addr)
    );
    // Nothing was created in the filesystem (the name is not a relative path).
    assert!(!std::path::Path::new(&name).exists());
    // A second bind of the same abstract name is refused.
    let err = anysock_sys::listen(&addr, SockType::Stream, DEFAULT_BACKLOG).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
}

#[test]
fn unix_connect_to_missing_path_is_not_found() {
    let dir = tempdir("missing");
    let path = dir.join("nobody.sock");
    let addr = SockAddr::Unix(UnixAddr::pathname(path.as_os_str().as_encoded_bytes()).unwrap());
    let err = connect_target(&Target::new(SockType::Stream, 0, addr)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
fn unix_connect_with_full_backlog_is_an_error_not_in_progress() {
    let name = format!("anysock-sys-backlog-{}", std::process::id());
    let addr = SockAddr::Unix(UnixAddr::abstract_name(name.as_bytes()).unwrap());
    let _l = anysock_sys::listen(&addr, SockType::Stream, 0).unwrap();
    let mut kept = Vec::new();
    let mut failure = None;
    for _ in 0..8 {
        let s = anysock_sys::new_socket(anysock_core::Family::Unix, SockType::Stream, 0).unwrap();
        match anysock_sys::start_connect(&s, &addr) {
            Ok(p) => {
                assert_eq!(p, ConnectProgress::Connected);
                kept.push(s);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let e = failure.expect("a listen(0) unix socket must refuse some connect");
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e}");
    assert!(!kept.is_empty());
}

#[test]
fn nodelay_is_read_back() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let s = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    anysock_sys::tcp_nodelay(&s, true).unwrap();
    assert!(anysock_sys::tcp_nodelay_enabled(&s).unwrap());
    assert!(s.nodelay().unwrap());
    anysock_sys::tcp_nodelay(&s, false).unwrap();
    assert!(!anysock_sys::tcp_nodelay_enabled(&s).unwrap());
}

#[cfg(target_os = "linux")]
#[test]
fn congestion_reno_is_read_back_and_unknown_names_fail_clearly() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let s = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    anysock_sys::tcp_congestion(&s, "reno").unwrap();
    assert_eq!(anysock_sys::tcp_congestion_name(&s).unwrap(), "reno");
    match anysock_sys::tcp_congestion(&s, "nosuchalgo") {
        Err(SysError::UnknownCongestion { name }) => assert_eq!(name, "nosuchalgo"),
        other => panic!("{other:?}"),
    }
    let e: io::Error = anysock_sys::tcp_congestion(&s, "nosuchalgo")
        .unwrap_err()
        .into();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    assert!(e.to_string().contains("nosuchalgo"), "{e}");
    // The failed call left the previous choice in place.
    assert_eq!(anysock_sys::tcp_congestion_name(&s).unwrap(), "reno");
}

#[test]
fn udp_socket_for_dns_is_nonblocking_and_bound() {
    let u = anysock_sys::udp_socket_for("127.0.0.1:53".parse().unwrap()).unwrap();
    assert_ne!(u.local_addr().unwrap().port(), 0);
    let mut buf = [0; 16];
    assert_eq!(
        u.recv_from(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "anysock-sys-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
