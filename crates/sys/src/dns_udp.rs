//! UDP sockets for DNS queries, and the reuse of those that talk to a nameserver on loopback.
//!
//! Each query to a remote nameserver gets a fresh socket on a kernel-chosen ephemeral port (RFC 5452
//! §9.2: an unpredictable source port per query is half of the defence against off-path spoofing).
//! Creating, binding, registering and closing that socket costs about a third of a lookup's CPU.
//!
//! For a nameserver on loopback (a local dnsmasq, unbound or systemd-resolved, the common stub-resolver
//! set-up) nobody off the host can inject a datagram: Linux drops packets with a loopback source
//! arriving on any other interface, and these sockets are bound to the loopback address, so nothing
//! from the network reaches them at all. There the source port protects nothing and the socket is
//! reused: [`dns_udp_socket`] takes one from a small process-wide pool and [`recycle_dns_udp_socket`]
//! puts it back once its exchange is complete (one datagram sent, its answer taken, so nothing is
//! still due to arrive on it).

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::{Mutex, PoisonError};

use crate::socket::bound_udp;

/// Idle loopback sockets kept per family; more are closed.
pub const DNS_UDP_POOL_MAX: usize = 128;

static POOL_V4: Mutex<Vec<UdpSocket>> = Mutex::new(Vec::new());
static POOL_V6: Mutex<Vec<UdpSocket>> = Mutex::new(Vec::new());

fn pool(peer: &SocketAddr) -> &'static Mutex<Vec<UdpSocket>> {
    if peer.is_ipv4() { &POOL_V4 } else { &POOL_V6 }
}

/// A non-blocking, close-on-exec UDP socket for a DNS query to `peer` (not connected: answers are
/// read with `recv_from` and their source checked by the query machine).
///
/// - `peer` on loopback: a socket bound to the loopback address, reused from the pool when one is
///   idle (see the [module docs](self)).
/// - any other `peer`: a fresh socket bound to the unspecified address on an ephemeral port.
pub fn dns_udp_socket(peer: SocketAddr) -> io::Result<UdpSocket> {
    if peer.ip().is_loopback() {
        if let Some(s) = pool(&peer)
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
        {
            return Ok(s);
        }
        let local = if peer.is_ipv4() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        };
        return bound_udp(SocketAddr::new(local, 0));
    }
    crate::udp_socket_for(peer)
}

/// Hands back a socket from [`dns_udp_socket`] whose exchange with `peer` is complete: exactly one
/// query sent and its answer taken. A loopback socket goes back to the pool (unless it is full); any
/// other socket is closed. Callers close sockets whose exchange was not complete instead (a
/// retransmitted or unanswered query may still get a datagram).
///
/// `sock` must be the socket [`dns_udp_socket`] gave for a nameserver of the same family and kind
/// (loopback or not) as `peer`: only then is it bound to the loopback address.
pub fn recycle_dns_udp_socket(peer: SocketAddr, sock: UdpSocket) {
    if peer.ip().is_loopback() {
        let mut idle = pool(&peer).lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < DNS_UDP_POOL_MAX {
            idle.push(sock);
        }
    }
}

/// The largest DNS datagram: a UDP payload can hold 65,507 bytes, and a reply can be as large as a
/// server chooses, whatever EDNS size the query advertised.
pub const DNS_READ_BUF_LEN: usize = 65536;

/// Runs `f` with this thread's DNS read buffer, [`DNS_READ_BUF_LEN`] bytes, zeroed once when the
/// thread first asks and reused after that: neither a 64 KiB `memset` per read (a stack array) nor a
/// 64 KiB `malloc`/`free` per resolution (which also makes glibc consolidate its free lists every time).
/// The bytes are whatever the last read left; `f` must only look at what it reads into it. A nested
/// call on the same thread gets a fresh buffer.
pub fn with_dns_read_buf<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    thread_local! {
        static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    BUF.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < DNS_READ_BUF_LEN {
                buf.resize(DNS_READ_BUF_LEN, 0);
            }
            f(&mut buf)
        }
        Err(_) => f(&mut vec![0; DNS_READ_BUF_LEN]),
    })
}

/// One query's use of one DNS UDP socket from [`dns_udp_socket`]: the kind of nameserver it talks to,
/// how many datagrams went out, whether an answer was taken. It decides the reuse rule for every
/// adapter: a socket serves one family and one kind of nameserver (loopback or not: a loopback-bound
/// socket cannot reach other hosts), and it is reusable only after a complete exchange, exactly one
/// datagram sent and its answer taken, so that nothing is still due to arrive on it.
#[derive(Clone, Copy, Debug)]
pub struct DnsUdpExchange {
    /// The nameserver of the last datagram sent.
    peer: SocketAddr,
    sent: u32,
    answered: bool,
}

impl DnsUdpExchange {
    /// A socket just taken for `peer`; nothing sent yet.
    pub fn new(peer: SocketAddr) -> Self {
        DnsUdpExchange {
            peer,
            sent: 0,
            answered: false,
        }
    }

    /// Whether this socket can be used for `peer`: same family and same kind of nameserver.
    pub fn serves(&self, peer: SocketAddr) -> bool {
        self.peer.is_ipv4() == peer.is_ipv4()
            && self.peer.ip().is_loopback() == peer.ip().is_loopback()
    }

    /// The nameserver of the last datagram sent (before any, the one the socket was taken for).
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// A datagram went out to `peer`.
    pub fn sent_to(&mut self, peer: SocketAddr) {
        self.sent += 1;
        self.peer = peer;
    }

    /// The query machine took a datagram from this socket as its answer.
    pub fn answer_taken(&mut self) {
        self.answered = true;
    }

    /// True after a complete exchange: exactly one datagram sent and its answer taken.
    pub fn reusable(&self) -> bool {
        self.sent == 1 && self.answered
    }

    /// Hands the socket back with [`recycle_dns_udp_socket`] if the exchange is complete; else closes it.
    pub fn finish(self, sock: UdpSocket) {
        if self.reusable() {
            recycle_dns_udp_socket(self.peer, sock);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_buffer_is_reused_and_nested_calls_get_their_own() {
        let first = with_dns_read_buf(|b| {
            assert_eq!(b.len(), DNS_READ_BUF_LEN);
            b[0] = 7;
            b.as_ptr() as usize
        });
        let (again, nested) = with_dns_read_buf(|b| {
            assert_eq!(b[0], 7, "the same buffer, not zeroed again");
            let nested = with_dns_read_buf(|n| {
                assert_eq!(n.len(), DNS_READ_BUF_LEN);
                n.as_ptr() as usize
            });
            (b.as_ptr() as usize, nested)
        });
        assert_eq!(first, again);
        assert_ne!(again, nested);
    }

    #[test]
    fn loopback_sockets_are_bound_to_loopback_and_reused() {
        let peer: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let s = dns_udp_socket(peer).unwrap();
        let local = s.local_addr().unwrap();
        assert_eq!(local.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_ne!(local.port(), 0);
        recycle_dns_udp_socket(peer, s);
        // Other tests may take from the same pool; look for ours among a few.
        let taken: Vec<UdpSocket> = (0..4).map(|_| dns_udp_socket(peer).unwrap()).collect();
        assert!(taken.iter().any(|t| t.local_addr().unwrap() == local));
    }

    #[test]
    fn other_nameservers_get_a_fresh_unspecified_socket_each_time() {
        // Only chooses the kind of socket: no datagram is sent anywhere.
        let peer: SocketAddr = "10.255.255.1:53".parse().unwrap();
        let a = dns_udp_socket(peer).unwrap();
        assert!(a.local_addr().unwrap().ip().is_unspecified());
        let port = a.local_addr().unwrap().port();
        // Handed back with its own (remote) nameserver: closed.
        recycle_dns_udp_socket(peer, a); // closed, not pooled
        for _ in 0..3 {
            let b = dns_udp_socket(peer).unwrap();
            assert!(b.local_addr().unwrap().ip().is_unspecified());
            drop(b);
        }
        assert!(
            POOL_V4
                .lock()
                .unwrap()
                .iter()
                .all(|s| s.local_addr().unwrap().port() != port)
        );
    }

    #[test]
    fn an_exchange_is_reusable_only_when_complete() {
        let lo: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let mut x = DnsUdpExchange::new(lo);
        assert!(!x.reusable(), "nothing sent");
        x.sent_to(lo);
        assert!(!x.reusable(), "no answer yet");
        x.answer_taken();
        assert!(x.reusable());
        x.sent_to(lo);
        assert!(!x.reusable(), "sent twice: a late datagram may still come");
        assert!(x.serves("127.0.0.2:53".parse().unwrap()));
        assert!(!x.serves("[::1]:53".parse().unwrap()), "another family");
        assert!(
            !x.serves("10.255.255.1:53".parse().unwrap()),
            "another kind of nameserver"
        );
    }

    #[test]
    fn the_pool_is_bounded() {
        let peer: SocketAddr = "[::1]:53".parse().unwrap();
        let Ok(probe) = dns_udp_socket(peer) else {
            return; // no IPv6 loopback here
        };
        drop(probe);
        let many: Vec<UdpSocket> = (0..DNS_UDP_POOL_MAX + 8)
            .map(|_| dns_udp_socket(peer).unwrap())
            .collect();
        for s in many {
            recycle_dns_udp_socket(peer, s);
        }
        assert!(POOL_V6.lock().unwrap().len() <= DNS_UDP_POOL_MAX);
    }
}
