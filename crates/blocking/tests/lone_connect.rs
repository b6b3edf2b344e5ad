//! A connect with one target, no deadline, no DNS question and no prepare hook runs as std's does: a
//! blocking `connect(2)` and nothing else. Whatever path it takes, the caller gets the same blocking
//! stream, the same errors and the same attempt list.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anysock_blocking::Connector;
use anysock_core::connect::{AttemptOutcome, ConnectConfig};

fn nonblocking(fd: i32) -> bool {
    // SAFETY: F_GETFL on a descriptor the caller owns.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    assert!(flags >= 0);
    flags & libc::O_NONBLOCK != 0
}

/// A loopback port with nothing listening on it.
fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    drop(l);
    a
}

#[test]
fn a_lone_connect_gives_a_blocking_stream_that_works() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.write_all(b"hello").unwrap();
    });
    for c in [
        Connector::new().connect_addrs([addr]).unwrap(),
        Connector::new()
            .connect("127.0.0.1", &addr.port().to_string())
            .unwrap(),
    ] {
        assert!(!nonblocking(c.stream.as_raw_fd()), "handed back blocking");
        assert_eq!(c.attempts.len(), 1);
        assert_eq!(c.attempts[0].outcome, Some(AttemptOutcome::Connected));
    }
    server.join().unwrap();
    // The listener is gone with the server thread: refused.
    let err = Connector::new().connect_addrs([addr]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn refused_lone_connects_fail_as_before() {
    let addr = closed_port();
    let err = Connector::new().connect_addrs([addr]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    let serial = Connector::new()
        .config(ConnectConfig::serial())
        .connect_addrs([addr, closed_port()])
        .unwrap_err();
    assert_eq!(serial.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn a_prepare_hook_still_gets_a_nonblocking_socket() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let saw_nonblocking = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&saw_nonblocking);
    let c = Connector::new()
        .prepare(move |sock, _| {
            seen.store(nonblocking(sock.as_raw_fd()), Ordering::SeqCst);
            Ok(None)
        })
        .connect_addrs([addr])
        .unwrap();
    assert!(
        saw_nonblocking.load(Ordering::SeqCst),
        "the hook's contract"
    );
    assert!(!nonblocking(c.stream.as_raw_fd()), "handed back blocking");
    let (mut s, _) = l.accept().unwrap();
    s.write_all(b"x").unwrap();
    let mut b = [0u8; 1];
    let mut stream = c.stream;
    stream
        .as_tcp()
        .unwrap()
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"x");
}
