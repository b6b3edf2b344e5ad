//! Test support: the shared loopback DNS responder and helpers (`anysock-testkit`), plus what the
//! async-std/smol tests need on top: running each body under both executors, joining futures without a
//! spawner, and an IPv6 listener that never answers next to a working IPv4 one.
#![allow(dead_code, unused_imports)]

use std::net::TcpListener;
use std::time::Duration;

pub use anysock_testkit::*;

/// Runs each named `async fn` test body twice: under async-std's executor and under smol's.
#[macro_export]
macro_rules! both_executors {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn async_std() {
                async_std::task::block_on(super::$name())
            }
            #[test]
            fn smol() {
                smol::block_on(super::$name())
            }
        }
    )*};
}

/// Polls every future until all are done, in one task (no spawner needed); results in input order.
pub async fn join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<std::pin::Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.expect("all done")).collect()
}

/// A listener on [::1]:P whose accept queue is full (listen backlog 0 plus pending connections: the
/// kernel drops further SYNs), and a working listener on 127.0.0.1:P (same port).
pub fn blackhole_pair() -> Option<(
    anysock_sys::Listener,
    Vec<anysock_sys::socket2::Socket>,
    TcpListener,
)> {
    use anysock_core::{Family, SockAddr, SockType};
    if !anysock_sys::ipv6_available() {
        return None;
    }
    for _ in 0..20 {
        let hole = anysock_sys::listen(
            &SockAddr::Inet("[::1]:0".parse().unwrap()),
            SockType::Stream,
            0,
        )
        .ok()?;
        let addr = hole.local_addr();
        let Ok(v4) = TcpListener::bind(("127.0.0.1", addr.as_inet().unwrap().port())) else {
            continue;
        };
        let pending: Vec<_> = (0..4)
            .map(|_| {
                let s = anysock_sys::new_socket(Family::V6, SockType::Stream, 6).unwrap();
                let _ = anysock_sys::start_connect(&s, &addr);
                s
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        return Some((hole, pending, v4));
    }
    None
}
