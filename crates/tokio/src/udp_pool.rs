//! Loopback DNS sockets kept registered with their tokio runtime between queries.
//!
//! `anysock_sys::dns_udp_socket` reuses the operating-system socket of a query to a loopback
//! nameserver (see its module docs for why only there). On tokio that alone still costs two
//! `epoll_ctl` calls and tokio's registration bookkeeping per query, about a tenth of a lookup's
//! CPU. So the tokio adapter keeps such sockets *registered*: a socket belongs to the runtime that
//! registered it, so idle sockets are kept per runtime ([`tokio::runtime::Id`]) and only handed out
//! again on that runtime.
//!
//! A runtime that has shut down leaves its idle sockets behind; they are found and closed when
//! another runtime starts pooling (a shut-down runtime's socket reports an error when polled), and
//! at most [`RUNTIMES_MAX`] runtimes keep idle sockets at once, each at most
//! [`anysock_sys::DNS_UDP_POOL_MAX`] per family.

use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::runtime::{Handle, Id};

/// Runtimes whose idle sockets are kept at once; the one pooled longest ago is dropped first.
pub(crate) const RUNTIMES_MAX: usize = 8;

#[derive(Debug)]
struct Idle {
    runtime: Id,
    v4: Vec<UdpSocket>,
    v6: Vec<UdpSocket>,
}

impl Idle {
    fn list(&mut self, peer: SocketAddr) -> &mut Vec<UdpSocket> {
        if peer.is_ipv4() {
            &mut self.v4
        } else {
            &mut self.v6
        }
    }
}

static IDLE: Mutex<Vec<Idle>> = Mutex::new(Vec::new());

/// False once the runtime that registered `s` has shut down (its reactor answers with an error).
/// Polled outside tokio's cooperative budget, which would otherwise answer `Pending` when the calling
/// task's budget is spent, whatever the reactor's state.
fn registered(s: &UdpSocket) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    let ready = tokio::task::unconstrained(std::future::poll_fn(|cx| s.poll_recv_ready(cx)));
    !matches!(pin!(ready).poll(&mut cx), Poll::Ready(Err(_)))
}

/// The runtime this code runs on, if any.
pub(crate) fn current_runtime() -> Option<Id> {
    Handle::try_current().ok().map(|h| h.id())
}

/// A registered socket for a query to the loopback nameserver `peer` on `runtime`: an idle one from
/// the pool, else a socket from `anysock_sys::dns_udp_socket` registered now.
pub(crate) fn take(runtime: Id, peer: SocketAddr) -> io::Result<UdpSocket> {
    let mut stale = Vec::new();
    let found = {
        let mut idle = IDLE.lock().unwrap_or_else(PoisonError::into_inner);
        let mut found = None;
        if let Some(e) = idle.iter_mut().find(|e| e.runtime == runtime) {
            let list = e.list(peer);
            while let Some(s) = list.pop() {
                if registered(&s) {
                    found = Some(s);
                    break;
                }
                // A runtime id can be given again once its runtime has ended.
                stale.push(s);
            }
        }
        found
    };
    drop(stale); // closed outside the lock
    match found {
        Some(s) => Ok(s),
        None => anysock_sys::dns_udp_socket(peer).and_then(UdpSocket::from_std),
    }
}

/// Keeps `sock`, registered with `runtime`, for the next query to a loopback nameserver of the same
/// family as `peer`. Only for a socket whose exchange is complete (`DnsUdpExchange::reusable`).
pub(crate) fn put(runtime: Id, peer: SocketAddr, sock: UdpSocket) {
    // The answer was taken without reading on to `WouldBlock`, so tokio still thinks the socket
    // readable. Clear that here (no system call): else the next query's first read would be a
    // `recvfrom` that finds nothing. Anything that did arrive since makes the socket ready again.
    let _ = sock.try_io(Interest::READABLE, || {
        Err::<(), _>(io::ErrorKind::WouldBlock.into())
    });
    let mut dropped = Vec::new();
    let mut surplus = Some(sock);
    {
        let mut idle = IDLE.lock().unwrap_or_else(PoisonError::into_inner);
        let i = match idle.iter().position(|e| e.runtime == runtime) {
            Some(i) => i,
            None => {
                // A runtime pools for the first time: forget those that have shut down (and those
                // with nothing idle), then the oldest beyond the limit.
                let (keep, gone): (Vec<Idle>, Vec<Idle>) = std::mem::take(&mut *idle)
                    .into_iter()
                    .partition(|e| e.v4.iter().chain(&e.v6).next().is_some_and(registered));
                *idle = keep;
                dropped.extend(gone);
                if idle.len() >= RUNTIMES_MAX {
                    dropped.push(idle.remove(0));
                }
                idle.push(Idle {
                    runtime,
                    v4: Vec::new(),
                    v6: Vec::new(),
                });
                idle.len() - 1
            }
        };
        let list = idle[i].list(peer);
        if list.len() < anysock_sys::DNS_UDP_POOL_MAX {
            list.extend(surplus.take());
        }
    }
    drop((dropped, surplus)); // closed outside the lock
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle_count(runtime: Id) -> usize {
        let idle = IDLE.lock().unwrap();
        idle.iter()
            .filter(|e| e.runtime == runtime)
            .map(|e| e.v4.len() + e.v6.len())
            .sum()
    }

    #[test]
    fn a_full_pool_closes_the_surplus() {
        let peer: SocketAddr = "[::1]:53".parse().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        rt.block_on(async {
            let id = current_runtime().unwrap();
            let max = anysock_sys::DNS_UDP_POOL_MAX;
            let socks: Vec<UdpSocket> = (0..=max).map(|_| take(id, peer).unwrap()).collect();
            let last = socks[max].local_addr().unwrap();
            for s in socks {
                put(id, peer, s);
            }
            assert_eq!(idle_count(id), max);
            // The one over the limit is closed: its port can be bound again.
            std::net::UdpSocket::bind(last).expect("the surplus socket is closed");
        });
    }

    #[test]
    fn sockets_are_pooled_per_runtime_and_dropped_with_it() {
        let peer: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let rt1 = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        let (id1, local) = rt1.block_on(async {
            let id = current_runtime().unwrap();
            let s = take(id, peer).unwrap();
            let local = s.local_addr().unwrap();
            put(id, peer, s);
            assert_eq!(idle_count(id), 1);
            // Taken again on the same runtime: the same socket.
            let again = take(id, peer).unwrap();
            assert_eq!(again.local_addr().unwrap(), local);
            put(id, peer, again);
            (id, local)
        });
        let rt2 = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        rt2.block_on(async {
            let id2 = current_runtime().unwrap();
            assert_ne!(id1, id2);
            // Another runtime never gets the first one's socket.
            let s = take(id2, peer).unwrap();
            assert_ne!(s.local_addr().unwrap(), local);
            assert_eq!(idle_count(id1), 1);
            drop(s);
        });
        drop(rt1);
        rt2.block_on(async {
            // Pooling on a new runtime sweeps out the shut-down runtime's sockets.
            let id2 = current_runtime().unwrap();
            let s = take(id2, peer).unwrap();
            put(id2, peer, s);
            assert_eq!(idle_count(id1), 0, "the ended runtime's socket is closed");
            assert_eq!(idle_count(id2), 1);
        });
    }
}
