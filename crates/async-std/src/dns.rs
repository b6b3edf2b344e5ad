//! The sockets of DNS queries on async-io's reactor: UDP sockets and TCP connections keyed by the
//! query they belong to (a core [`QueryToken`] for [`Dial`] and [`Resolution`]).
//!
//! This only moves bytes: transmits become `send_to` or a TCP connection, received datagrams and stream
//! bytes go back into the machine with the time ([`DnsInput`]). Retransmission, server choice,
//! truncation and everything else DNS is the machines'. It is polled from the future that owns it,
//! which also owns its timer: dropping that future closes every socket here.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::task::{Context, Poll};

use anysock_core::dns::{Transmit, Transport};
use anysock_core::resolution::{DnsInput, QueryToken};
use anysock_core::{Family, SockAddr, SockType};
use anysock_sys::{ConnectProgress, DnsUdpExchange};
use async_io::Async;

use crate::clock::now;

#[derive(Debug)]
enum TcpState {
    Connecting,
    Writing { off: usize },
    Reading,
}

#[derive(Debug)]
struct TcpConn {
    to: SocketAddr,
    sock: Async<TcpStream>,
    payload: Vec<u8>,
    state: TcpState,
}

/// A query's UDP socket for one family and kind of nameserver, with what the query did on it
/// (`DnsUdpExchange` decides whether it can be reused).
#[derive(Debug)]
struct UdpSlot {
    sock: Async<UdpSocket>,
    exchange: DnsUdpExchange,
}

impl UdpSlot {
    /// Takes the socket off the reactor and hands it back for reuse if its exchange is complete;
    /// else closes it.
    fn close(self) {
        if self.exchange.reusable()
            && let Ok(sock) = self.sock.into_inner()
        {
            self.exchange.finish(sock);
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

/// The DNS sockets of any number of queries.
#[derive(Debug, Default)]
pub(crate) struct QuerySockets {
    by_key: HashMap<QueryToken, Sockets>,
}

impl QuerySockets {
    /// Sends a transmit of query `key`. A TCP connection that cannot even be started is reported to
    /// the machine at once; a UDP send error is left to the machine's timeout.
    pub(crate) fn transmit(&mut self, m: &mut impl DnsInput, key: QueryToken, t: &Transmit) {
        if let Err(_e) = self.by_key.entry(key).or_default().send(t) {
            trace_debug!("dns {} send to {} failed: {}", key, t.to, _e);
            if t.transport == Transport::Tcp {
                m.stream_error(now(), key, t.to);
            }
        }
    }

    /// Closes every socket of query `key` (the query has ended). A UDP socket whose exchange is
    /// complete goes back to anysock-sys for reuse instead (it keeps only those of loopback
    /// nameservers). Dropping `QuerySockets` closes every socket without reuse.
    pub(crate) fn close(&mut self, key: QueryToken) {
        if let Some(s) = self.by_key.remove(&key) {
            for slot in s.udp {
                slot.close();
            }
        }
    }

    /// Reads and writes whatever the sockets allow, registering `cx` for the rest. Returns whether
    /// anything was fed into the machine.
    pub(crate) fn poll_io(&mut self, m: &mut impl DnsInput, cx: &mut Context<'_>) -> bool {
        let mut fed = false;
        for (&key, socks) in &mut self.by_key {
            fed |= socks.read_udp(m, key, cx);
            let mut i = 0;
            while i < socks.tcp.len() {
                let (keep, f) = drive_tcp(&mut socks.tcp[i], m, key, cx);
                fed |= f;
                if keep {
                    i += 1;
                } else {
                    socks.tcp.swap_remove(i);
                }
            }
        }
        fed
    }
}

impl Sockets {
    fn send(&mut self, t: &Transmit) -> io::Result<()> {
        match t.transport {
            Transport::Udp => {
                let i = match self.udp.iter().position(|u| u.exchange.serves(t.to)) {
                    Some(i) => i,
                    None => {
                        // A fresh socket on a kernel-chosen ephemeral port for each query (RFC 5452
                        // §9.2), or for a loopback nameserver a reused one (see
                        // `anysock_sys::dns_udp_socket`); non-blocking already.
                        let sock = Async::new_nonblocking(anysock_sys::dns_udp_socket(t.to)?)?;
                        self.udp.push(UdpSlot {
                            sock,
                            exchange: DnsUdpExchange::new(t.to),
                        });
                        self.udp.len() - 1
                    }
                };
                let u = &mut self.udp[i];
                // Counted even if the send fails (the error goes to the caller's trace; the try
                // times out in the machine): such a socket is simply not reused.
                u.exchange.sent_to(t.to);
                u.sock.get_ref().send_to(&t.payload, t.to)?;
                Ok(())
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
                self.tcp.push(TcpConn {
                    to: t.to,
                    sock: Async::new_nonblocking(stream)?,
                    payload: t.payload.clone(),
                    state,
                });
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Reads every waiting datagram; returns whether any was fed.
    fn read_udp(&mut self, m: &mut impl DnsInput, key: QueryToken, cx: &mut Context<'_>) -> bool {
        // This thread's reused read buffer: a `[0u8; 65536]` here cost a 64 KiB memset per poll.
        anysock_sys::with_dns_read_buf(|buf| self.read_udp_into(m, key, cx, buf))
    }

    fn read_udp_into(
        &mut self,
        m: &mut impl DnsInput,
        key: QueryToken,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> bool {
        let mut fed = false;
        for slot in &mut self.udp {
            loop {
                match slot.sock.get_ref().recv_from(buf) {
                    Ok((n, from)) => {
                        if m.datagram(now(), key, from, &buf[..n]) {
                            slot.exchange.answer_taken();
                        }
                        fed = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        match slot.sock.poll_readable(cx) {
                            Poll::Ready(Ok(())) => continue,
                            // A reactor error: the try times out in the machine.
                            Poll::Ready(Err(_)) | Poll::Pending => break,
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // ICMP errors (port unreachable) surface here on some systems: nothing to feed,
                    // and the error is consumed, so the socket stays usable.
                    Err(_) => {}
                }
            }
        }
        fed
    }
}

/// Moves a TCP connection along: (keep it, something was fed).
fn drive_tcp(
    c: &mut TcpConn,
    m: &mut impl DnsInput,
    key: QueryToken,
    cx: &mut Context<'_>,
) -> (bool, bool) {
    let mut fed = false;
    loop {
        let wait = match c.state {
            TcpState::Connecting => match anysock_sys::finish_connect(c.sock.get_ref()) {
                Ok(ConnectProgress::Connected) => {
                    c.state = TcpState::Writing { off: 0 };
                    continue;
                }
                Ok(_) => c.sock.poll_writable(cx),
                Err(_) => {
                    m.stream_error(now(), key, c.to);
                    return (false, true);
                }
            },
            // `Write for &TcpStream` / `Read for &TcpStream`: the socket is non-blocking.
            TcpState::Writing { off } => match (&mut c.sock.get_ref()).write(&c.payload[off..]) {
                Ok(n) if off + n == c.payload.len() => {
                    c.state = TcpState::Reading;
                    continue;
                }
                Ok(n) => {
                    c.state = TcpState::Writing { off: off + n };
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => c.sock.poll_writable(cx),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    m.stream_error(now(), key, c.to);
                    return (false, true);
                }
            },
            TcpState::Reading => {
                let mut buf = [0u8; 16384];
                match (&mut c.sock.get_ref()).read(&mut buf) {
                    Ok(0) => {
                        m.stream_error(now(), key, c.to);
                        return (false, true);
                    }
                    Ok(n) => {
                        fed = true;
                        if !m.stream(now(), key, c.to, &buf[..n]) {
                            // Not waited for any more (answered, or the machine moved on).
                            return (false, true);
                        }
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => c.sock.poll_readable(cx),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        m.stream_error(now(), key, c.to);
                        return (false, true);
                    }
                }
            }
        };
        match wait {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(_)) => {
                m.stream_error(now(), key, c.to);
                return (false, true);
            }
            Poll::Pending => return (true, fed),
        }
    }
}
