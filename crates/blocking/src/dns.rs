//! The sockets of DNS queries on the reactor: UDP sockets and TCP connections keyed by the core
//! [`QueryToken`] of the query they belong to (for [`Dial`] and [`Resolution`]).
//!
//! This only moves bytes: transmits become `send_to` or a TCP connection, received datagrams and stream
//! bytes go back into the machine with the time ([`DnsInput`]). Retransmission, server choice,
//! truncation and everything else DNS is the machines'. The loop that owns it passes it every readiness
//! report ([`QuerySockets::handle_ready`]); dropping it closes every socket here.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};

use anysock_core::dns::{Transmit, Transport};
use anysock_core::resolution::{DnsInput, QueryToken};
use anysock_core::{Family, SockAddr, SockType};
use anysock_sys::{ConnectProgress, DnsUdpExchange};

use crate::clock::now;
use crate::reactor::{Interest, Reactor, Registered};

#[derive(Debug)]
enum TcpState {
    Connecting,
    Writing { off: usize },
    Reading,
}

#[derive(Debug)]
struct TcpConn {
    to: SocketAddr,
    sock: Registered<TcpStream>,
    payload: Vec<u8>,
    state: TcpState,
}

/// A query's UDP socket for one family and kind of nameserver, with what the query did on it
/// (`DnsUdpExchange` decides whether it can be reused).
#[derive(Debug)]
struct UdpSlot {
    sock: Registered<UdpSocket>,
    exchange: DnsUdpExchange,
}

impl UdpSlot {
    /// Deregisters the socket and hands it back for reuse if its exchange is complete; else closes it.
    fn close(self) {
        if self.exchange.reusable() {
            self.exchange.finish(self.sock.into_inner());
        }
    }
}

/// The sockets of one query.
#[derive(Debug, Default)]
struct Sockets {
    /// At most one socket per family and kind of nameserver (loopback or not).
    udp: Vec<UdpSlot>,
    tcp: Vec<TcpConn>,
}

/// The DNS sockets of any number of queries, registered with one reactor.
#[derive(Debug, Default)]
pub(crate) struct QuerySockets {
    by_token: HashMap<QueryToken, Sockets>,
    /// Reactor key to the query owning that socket.
    keys: HashMap<usize, QueryToken>,
}

impl QuerySockets {
    /// True when no query has a socket open.
    pub(crate) fn is_idle(&self) -> bool {
        self.by_token.is_empty()
    }

    /// Sends a transmit of query `token`. A TCP connection that cannot even be started is reported to
    /// the machine at once; a UDP send error (no route, no socket) is left to the machine's timeout.
    pub(crate) fn transmit(
        &mut self,
        r: &mut Reactor,
        m: &mut impl DnsInput,
        token: QueryToken,
        t: &Transmit,
    ) {
        match self.by_token.entry(token).or_default().send(r, t) {
            Ok(Some(key)) => {
                self.keys.insert(key, token);
            }
            Ok(None) => {}
            Err(_) if t.transport == Transport::Tcp => m.stream_error(now(), token, t.to),
            Err(_) => {}
        }
    }

    /// Closes every socket of query `token` (the query has ended). A UDP socket whose exchange is
    /// complete goes back to anysock-sys for reuse instead (it keeps only those of loopback
    /// nameservers). Dropping `QuerySockets` closes every socket without reuse.
    pub(crate) fn close(&mut self, token: QueryToken) {
        if let Some(s) = self.by_token.remove(&token) {
            for k in s
                .udp
                .iter()
                .map(|u| u.sock.key())
                .chain(s.tcp.iter().map(|c| c.sock.key()))
            {
                self.keys.remove(&k);
            }
            for slot in s.udp {
                slot.close();
            }
        }
    }

    /// Handles a readiness report if `key` is one of these sockets: reads or writes what the socket
    /// allows and feeds the machine. Returns whether the key was one of these sockets.
    pub(crate) fn handle_ready(&mut self, m: &mut impl DnsInput, key: usize) -> bool {
        let Some(&token) = self.keys.get(&key) else {
            return false;
        };
        let Some(socks) = self.by_token.get_mut(&token) else {
            self.keys.remove(&key);
            return true;
        };
        if let Some(i) = socks.tcp.iter().position(|c| c.sock.key() == key) {
            if !drive_tcp(&mut socks.tcp[i], m, token) {
                let c = socks.tcp.swap_remove(i);
                self.keys.remove(&c.sock.key());
            }
        } else {
            socks.read_udp(m, token, key);
        }
        true
    }
}

impl Sockets {
    /// Sends one transmit; returns a newly registered socket's key, if one was made.
    fn send(&mut self, r: &mut Reactor, t: &Transmit) -> io::Result<Option<usize>> {
        match t.transport {
            Transport::Udp => {
                let mut new_key = None;
                let i = match self.udp.iter().position(|u| u.exchange.serves(t.to)) {
                    Some(i) => i,
                    None => {
                        // A fresh socket on a kernel-chosen ephemeral port for each query (RFC 5452
                        // §9.2), or for a loopback nameserver a reused one (see
                        // `anysock_sys::dns_udp_socket`).
                        let sock =
                            r.register(anysock_sys::dns_udp_socket(t.to)?, Interest::Read)?;
                        new_key = Some(sock.key());
                        self.udp.push(UdpSlot {
                            sock,
                            exchange: DnsUdpExchange::new(t.to),
                        });
                        self.udp.len() - 1
                    }
                };
                let u = &mut self.udp[i];
                // A send error (no route, a full buffer): the try times out in the machine. The
                // socket is registered either way and its key goes back, so it is read and closed
                // like any other.
                let _ = u.sock.get().send_to(&t.payload, t.to);
                u.exchange.sent_to(t.to);
                Ok(new_key)
            }
            Transport::Tcp => {
                let fam = if t.to.is_ipv4() {
                    Family::V4
                } else {
                    Family::V6
                };
                let sock = anysock_sys::new_socket(fam, SockType::Stream, 6)?;
                let state = match anysock_sys::start_connect(&sock, &SockAddr::Inet(t.to))? {
                    ConnectProgress::Connected => TcpState::Writing { off: 0 },
                    _ => TcpState::Connecting,
                };
                let stream: TcpStream = sock.into();
                let reg = r.register(stream, Interest::Write)?;
                let key = reg.key();
                self.tcp.push(TcpConn {
                    to: t.to,
                    sock: reg,
                    payload: t.payload.clone(),
                    state,
                });
                Ok(Some(key))
            }
            _ => Ok(None),
        }
    }

    /// Reads a waiting datagram of the UDP socket `key` and arms it again.
    fn read_udp(&mut self, m: &mut impl DnsInput, token: QueryToken, key: usize) {
        let Some(slot) = self.udp.iter_mut().find(|u| u.sock.key() == key) else {
            return;
        };
        // This thread's reused read buffer: a fresh `[0u8; 65536]` here cost a 64 KiB memset per
        // readiness event (two per resolution).
        anysock_sys::with_dns_read_buf(|buf| {
            loop {
                match slot.sock.get().recv_from(buf) {
                    // One datagram per readiness event: the answer usually finishes the query (its
                    // socket is then closed) and reading on to `WouldBlock` would cost one more
                    // `recvfrom`; anything still queued makes the re-armed socket ready at once.
                    Ok((n, from)) => {
                        if m.datagram(now(), token, from, &buf[..n]) {
                            slot.exchange.answer_taken();
                        }
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // ICMP errors (port unreachable) surface here on some systems: nothing to feed,
                    // and the error is consumed, so the socket stays usable.
                    Err(_) => {}
                }
            }
        });
        // A poller error: the try times out in the machine.
        let _ = slot.sock.arm(Interest::Read);
    }
}

/// Moves a TCP connection along; false when it is finished (closed, failed or answered).
fn drive_tcp(c: &mut TcpConn, m: &mut impl DnsInput, token: QueryToken) -> bool {
    loop {
        match c.state {
            TcpState::Connecting => match anysock_sys::finish_connect(c.sock.get()) {
                Ok(ConnectProgress::Connected) => c.state = TcpState::Writing { off: 0 },
                Ok(_) => return rearm(c, m, token, Interest::Write),
                Err(_) => {
                    m.stream_error(now(), token, c.to);
                    return false;
                }
            },
            TcpState::Writing { off } => match c.sock.get_mut().write(&c.payload[off..]) {
                Ok(n) if off + n == c.payload.len() => c.state = TcpState::Reading,
                Ok(n) => c.state = TcpState::Writing { off: off + n },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return rearm(c, m, token, Interest::Write);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    m.stream_error(now(), token, c.to);
                    return false;
                }
            },
            TcpState::Reading => {
                let mut buf = [0u8; 16384];
                match c.sock.get_mut().read(&mut buf) {
                    Ok(0) => {
                        m.stream_error(now(), token, c.to);
                        return false;
                    }
                    Ok(n) => {
                        if !m.stream(now(), token, c.to, &buf[..n]) {
                            // Not waited for any more (answered, or the machine moved on).
                            return false;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return rearm(c, m, token, Interest::Read);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        m.stream_error(now(), token, c.to);
                        return false;
                    }
                }
            }
        }
    }
}

/// Waits for the connection again; a poller error fails it.
fn rearm(c: &TcpConn, m: &mut impl DnsInput, token: QueryToken, interest: Interest) -> bool {
    if c.sock.arm(interest).is_ok() {
        return true;
    }
    m.stream_error(now(), token, c.to);
    false
}
