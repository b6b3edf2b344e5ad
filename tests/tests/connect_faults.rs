//! Connect faults on every adapter (blocking, tokio, async-std), on loopback: refused, reset right
//! after the handshake, an unresponsive peer, a prepare hook that fails and an accept (retry) hook
//! that rejects everything. Every failure is a typed error listing every attempt.
// These suites measure elapsed wall-clock time (the sans-IO clock rule is for anysock-core).
#![allow(clippy::disallowed_methods)]

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use anysock_core::{AttemptOutcome, AttemptRecord, FailReason};
use anysock_tests::{FullQueueListener, connect_error};

const MARGIN: Duration = Duration::from_millis(1500);

#[derive(Clone, Copy, Debug)]
enum Adapter {
    Blocking,
    Tokio,
    AsyncStd,
}

const ADAPTERS: [Adapter; 3] = [Adapter::Blocking, Adapter::Tokio, Adapter::AsyncStd];

#[derive(Clone, Copy, Debug, Default)]
struct Opts {
    timeout: Option<Duration>,
    attempt_delay: Option<Duration>,
    prepare_fails: bool,
    reject_all: bool,
    /// After connecting, read once and report what the read gave.
    read_after: bool,
}

struct Connected {
    attempts: Vec<AttemptRecord>,
    read: Option<io::Result<usize>>,
}

fn hook_error() -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, "prepare hook says no")
}

fn connect(adapter: Adapter, addrs: &[SocketAddr], o: Opts) -> (io::Result<Connected>, Duration) {
    let start = Instant::now();
    let r = match adapter {
        Adapter::Blocking => {
            use std::io::Read;
            let mut c = anysock_blocking::Connector::new();
            if let Some(t) = o.timeout {
                c = c.timeout(t);
            }
            if let Some(d) = o.attempt_delay {
                c = c.attempt_delay(d);
            }
            if o.prepare_fails {
                c = c.prepare(|_, _| Err(hook_error()));
            }
            if o.reject_all {
                c = c.accept(|_, _| false);
            }
            c.connect_addrs(addrs.iter().copied()).map(|mut conn| {
                let read = o.read_after.then(|| {
                    let mut b = [0u8; 16];
                    conn.stream.read(&mut b)
                });
                Connected {
                    attempts: conn.attempts,
                    read,
                }
            })
        }
        Adapter::Tokio => {
            use tokio::io::AsyncReadExt;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut c = anysock_tokio::Connector::new();
                if let Some(t) = o.timeout {
                    c = c.timeout(t);
                }
                if let Some(d) = o.attempt_delay {
                    c = c.attempt_delay(d);
                }
                if o.prepare_fails {
                    c = c.prepare(|_, _| Err(hook_error()));
                }
                if o.reject_all {
                    c = c.accept(|_, _| false);
                }
                let mut conn = c.connect_addrs(addrs.iter().copied()).await?;
                let read = if o.read_after {
                    let mut b = [0u8; 16];
                    Some(conn.stream.read(&mut b).await)
                } else {
                    None
                };
                Ok(Connected {
                    attempts: conn.attempts,
                    read,
                })
            })
        }
        Adapter::AsyncStd => {
            use futures_lite::AsyncReadExt;
            async_std::task::block_on(async {
                let mut c = anysock_async_std::Connector::new();
                if let Some(t) = o.timeout {
                    c = c.timeout(t);
                }
                if let Some(d) = o.attempt_delay {
                    c = c.attempt_delay(d);
                }
                if o.prepare_fails {
                    c = c.prepare(|_, _| Err(hook_error()));
                }
                if o.reject_all {
                    c = c.accept(|_, _| false);
                }
                let mut conn = c.connect_addrs(addrs.iter().copied()).await?;
                let read = if o.read_after {
                    let mut b = [0u8; 16];
                    Some(conn.stream.read(&mut b).await)
                } else {
                    None
                };
                Ok(Connected {
                    attempts: conn.attempts,
                    read,
                })
            })
        }
    };
    (r, start.elapsed())
}

/// A port on `ip` where nothing listens.
fn closed_port(ip: &str) -> SocketAddr {
    let l = TcpListener::bind((ip, 0)).expect("bind");
    l.local_addr().expect("addr")
}

fn attempt_addrs(attempts: &[AttemptRecord]) -> Vec<SocketAddr> {
    attempts
        .iter()
        .filter_map(|a| a.target.addr.as_inet())
        .collect()
}

#[test]
fn refused_everywhere_lists_every_attempt() {
    for adapter in ADAPTERS {
        let addrs = [closed_port("127.0.0.1"), closed_port("127.0.0.2")];
        let (r, took) = connect(adapter, &addrs, Opts::default());
        let e = r.err().expect("refused: an error");
        assert_eq!(
            e.kind(),
            io::ErrorKind::ConnectionRefused,
            "{adapter:?}: {e}"
        );
        let ce =
            connect_error(&e).unwrap_or_else(|| panic!("{adapter:?}: no attempt list in {e:?}"));
        assert_eq!(attempt_addrs(&ce.attempts), addrs.to_vec(), "{adapter:?}");
        assert!(
            ce.attempts.iter().all(
                |a| a.outcome == Some(AttemptOutcome::Failed(io::ErrorKind::ConnectionRefused))
            ),
            "{adapter:?}: {:?}",
            ce.attempts
        );
        assert!(matches!(ce.reason, FailReason::AllFailed(_)));
        assert!(
            took < MARGIN,
            "{adapter:?}: refusals are immediate, took {took:?}"
        );
    }
}

#[test]
fn reset_right_after_handshake_counts_as_connected() {
    // The listener accepts and closes with SO_LINGER 0, i.e. sends RST. The three-way handshake had
    // already completed in the kernel, so at the TCP level the connect succeeded. What the caller
    // observes depends on whether the RST lands before the adapter reads the socket's pending error
    // (SO_ERROR) on writability: either the attempt fails with ConnectionReset (listed in the error),
    // or the connect returns a stream whose first read fails with ECONNRESET (or sees EOF). Both
    // are accepted; nothing else is.
    for adapter in ADAPTERS {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let killer = std::thread::spawn(move || {
            let (s, _) = listener.accept().expect("accept");
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .expect("linger 0");
            drop(s);
        });
        let (r, _) = connect(
            adapter,
            &[addr],
            Opts {
                read_after: true,
                ..Opts::default()
            },
        );
        killer.join().expect("killer thread");
        match r {
            Ok(c) => {
                assert_eq!(c.attempts.len(), 1);
                match c.read.expect("read requested") {
                    Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{adapter:?}"),
                    Ok(n) => assert_eq!(n, 0, "{adapter:?}: no data was sent"),
                }
                eprintln!("{adapter:?}: connected, then the read saw the reset");
            }
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{adapter:?}: {e}");
                let ce = connect_error(&e).expect("attempt list");
                assert_eq!(attempt_addrs(&ce.attempts), vec![addr]);
                assert_eq!(
                    ce.attempts[0].outcome,
                    Some(AttemptOutcome::Failed(io::ErrorKind::ConnectionReset))
                );
                eprintln!("{adapter:?}: the attempt failed with ConnectionReset");
            }
        }
    }
}

#[test]
fn unresponsive_peer_times_out_with_the_attempt_listed() {
    let dead = FullQueueListener::v6().expect("full-queue listener on ::1");
    for adapter in ADAPTERS {
        let timeout = Duration::from_millis(300);
        let (r, took) = connect(
            adapter,
            &[dead.addr],
            Opts {
                timeout: Some(timeout),
                ..Opts::default()
            },
        );
        let e = r.err().expect("unresponsive: an error");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{adapter:?}: {e}");
        let ce = connect_error(&e).expect("attempt list");
        assert_eq!(ce.reason, FailReason::TimedOut);
        assert_eq!(attempt_addrs(&ce.attempts), vec![dead.addr], "{adapter:?}");
        assert!(
            took >= timeout - Duration::from_millis(5),
            "{adapter:?}: early, {took:?}"
        );
        assert!(took < timeout + MARGIN, "{adapter:?}: took {took:?}");
    }
}

#[test]
fn failing_prepare_hook_fails_every_attempt() {
    let l1 = TcpListener::bind("127.0.0.1:0").expect("bind");
    let l2 = TcpListener::bind("127.0.0.2:0").expect("bind");
    let addrs = [
        l1.local_addr().expect("addr"),
        l2.local_addr().expect("addr"),
    ];
    for adapter in ADAPTERS {
        let (r, took) = connect(
            adapter,
            &addrs,
            Opts {
                prepare_fails: true,
                ..Opts::default()
            },
        );
        let e = r.err().expect("prepare hook fails: an error");
        assert_eq!(
            e.kind(),
            io::ErrorKind::PermissionDenied,
            "{adapter:?}: {e}"
        );
        let ce = connect_error(&e).expect("attempt list");
        assert_eq!(attempt_addrs(&ce.attempts), addrs.to_vec(), "{adapter:?}");
        assert!(
            ce.attempts.iter().all(
                |a| a.outcome == Some(AttemptOutcome::Failed(io::ErrorKind::PermissionDenied))
            ),
            "{adapter:?}: {:?}",
            ce.attempts
        );
        assert!(took < MARGIN, "{adapter:?}: took {took:?}");
    }
}

#[test]
fn accept_hook_rejecting_everything_lists_every_attempt() {
    let l1 = TcpListener::bind("127.0.0.1:0").expect("bind");
    let l2 = TcpListener::bind("127.0.0.2:0").expect("bind");
    let addrs = [
        l1.local_addr().expect("addr"),
        l2.local_addr().expect("addr"),
    ];
    for adapter in ADAPTERS {
        let (r, took) = connect(
            adapter,
            &addrs,
            Opts {
                reject_all: true,
                ..Opts::default()
            },
        );
        let e = r.err().expect("every connection rejected: an error");
        let ce = connect_error(&e).expect("attempt list");
        assert_eq!(attempt_addrs(&ce.attempts), addrs.to_vec(), "{adapter:?}");
        assert!(
            ce.attempts
                .iter()
                .all(|a| a.outcome == Some(AttemptOutcome::Rejected)),
            "{adapter:?}: {:?}",
            ce.attempts
        );
        assert_eq!(
            e.kind(),
            io::ErrorKind::ConnectionAborted,
            "{adapter:?}: {e}"
        );
        assert!(took < MARGIN, "{adapter:?}: took {took:?}");
    }
}
