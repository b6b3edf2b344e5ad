//! Driving [`DnsQuery`] machines over UDP and TCP sockets registered with async-io's reactor.
//!
//! The driver only moves bytes: transmits become `send_to` or a TCP connection, received datagrams and
//! stream bytes go back into the machine with the time. Retransmission, server choice, truncation and
//! everything else DNS is the machine's. It is polled from the future that owns it, which also owns
//! its timer: dropping that future drops every socket here.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::task::{Context, Poll};
use std::time::Instant;

use anysock_core::dns::{DnsEvent, DnsQuery, Transmit, Transport};
use anysock_core::{Family, SockAddr, SockType};
use anysock_sys::ConnectProgress;
use async_io::Async;

use crate::clock::now;

/// Identifies a query to the driver's user.
pub(crate) type Token = u64;

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

#[derive(Debug)]
struct Slot {
    query: DnsQuery,
    udp4: Option<Async<UdpSocket>>,
    udp6: Option<Async<UdpSocket>>,
    tcp: Vec<TcpConn>,
}

/// Runs any number of DNS queries at once.
#[derive(Debug, Default)]
pub(crate) struct DnsDriver {
    slots: HashMap<Token, Slot>,
    done: VecDeque<(Token, DnsEvent)>,
}

impl DnsDriver {
    /// Takes a new machine and sends its first query.
    pub(crate) fn start(&mut self, token: Token, query: DnsQuery) {
        trace_debug!("dns query {} started", token);
        self.slots.insert(
            token,
            Slot {
                query,
                udp4: None,
                udp6: None,
                tcp: Vec::new(),
            },
        );
        self.pump(token);
    }

    /// True when no query is running.
    pub(crate) fn is_idle(&self) -> bool {
        self.slots.is_empty()
    }

    /// The earliest deadline of the running queries.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .values()
            .filter_map(|s| s.query.poll_timeout())
            .min()
    }

    /// A finished query's outcome.
    pub(crate) fn poll_done(&mut self) -> Option<(Token, DnsEvent)> {
        self.done.pop_front()
    }

    /// Advances the timers of the queries whose deadline has come.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<Token> = self
            .slots
            .iter()
            .filter(|(_, s)| s.query.poll_timeout().is_some_and(|d| d <= now))
            .map(|(t, _)| *t)
            .collect();
        for t in due {
            if let Some(s) = self.slots.get_mut(&t) {
                s.query.handle_timeout(now);
            }
            self.pump(t);
        }
    }

    /// Reads and writes whatever the sockets allow, registering `cx` for the rest. Returns whether
    /// anything was fed into a machine.
    pub(crate) fn poll_io(&mut self, cx: &mut Context<'_>) -> bool {
        let mut fed = false;
        let tokens: Vec<Token> = self.slots.keys().copied().collect();
        for token in tokens {
            let Some(slot) = self.slots.get_mut(&token) else {
                continue;
            };
            fed |= slot.read_udp(cx);
            let mut i = 0;
            while i < slot.tcp.len() {
                let (keep, f) = slot.drive_tcp(i, cx);
                fed |= f;
                if keep {
                    i += 1;
                } else {
                    slot.tcp.swap_remove(i);
                }
            }
            self.pump(token);
        }
        fed
    }

    /// Sends what the machine wants sent and collects its outcome.
    fn pump(&mut self, token: Token) {
        let Some(slot) = self.slots.get_mut(&token) else {
            return;
        };
        while let Some(t) = slot.query.poll_transmit() {
            if let Err(_e) = slot.send(&t) {
                trace_debug!("dns query {} send to {} failed: {}", token, t.to, _e);
                if t.transport == Transport::Tcp {
                    // The connection could not even be started: the machine moves on at once.
                    slot.query.handle_stream_error(now(), t.to);
                }
                // A UDP send error (no route, no socket): the try times out in the machine.
            }
        }
        if let Some(ev) = slot.query.poll_event() {
            trace_debug!("dns query {} done", token);
            self.slots.remove(&token);
            self.done.push_back((token, ev));
        }
    }
}

impl Slot {
    fn send(&mut self, t: &Transmit) -> io::Result<()> {
        match t.transport {
            Transport::Udp => {
                let sock = if t.to.is_ipv4() {
                    &mut self.udp4
                } else {
                    &mut self.udp6
                };
                if sock.is_none() {
                    // A fresh socket on a kernel-chosen ephemeral port for each query (RFC 5452 §9.2).
                    *sock = Some(Async::new_nonblocking(anysock_sys::udp_socket_for(t.to)?)?);
                }
                let s = sock.as_ref().expect("just set");
                s.get_ref().send_to(&t.payload, t.to)?;
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
    fn read_udp(&mut self, cx: &mut Context<'_>) -> bool {
        let mut fed = false;
        let mut buf = [0u8; 65536];
        for sock in [self.udp4.as_ref(), self.udp6.as_ref()]
            .into_iter()
            .flatten()
        {
            loop {
                match sock.get_ref().recv_from(&mut buf) {
                    Ok((n, from)) => {
                        self.query.handle_datagram(now(), from, &buf[..n]);
                        fed = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        match sock.poll_readable(cx) {
                            Poll::Ready(Ok(())) => continue,
                            // A reactor error: the try times out in the machine.
                            Poll::Ready(Err(_)) | Poll::Pending => break,
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // ICMP errors (port unreachable) surface here on some systems: nothing to feed,
                    // but the socket stays usable.
                    Err(_) => {}
                }
            }
        }
        fed
    }

    /// Moves a TCP connection along: (keep it, something was fed).
    fn drive_tcp(&mut self, i: usize, cx: &mut Context<'_>) -> (bool, bool) {
        let c = &mut self.tcp[i];
        loop {
            let wait = match c.state {
                TcpState::Connecting => match anysock_sys::finish_connect(c.sock.get_ref()) {
                    Ok(ConnectProgress::Connected) => {
                        c.state = TcpState::Writing { off: 0 };
                        continue;
                    }
                    Ok(_) => c.sock.poll_writable(cx),
                    Err(_) => {
                        self.query.handle_stream_error(now(), c.to);
                        return (false, true);
                    }
                },
                TcpState::Writing { off } => {
                    // `Write for &TcpStream`: the socket is non-blocking.
                    match (&mut c.sock.get_ref()).write(&c.payload[off..]) {
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
                            self.query.handle_stream_error(now(), c.to);
                            return (false, true);
                        }
                    }
                }
                TcpState::Reading => {
                    let mut buf = [0u8; 16384];
                    match (&mut c.sock.get_ref()).read(&mut buf) {
                        Ok(0) => {
                            self.query.handle_stream_error(now(), c.to);
                            return (false, true);
                        }
                        Ok(n) => {
                            if !self.query.handle_stream(now(), c.to, &buf[..n])
                                || self.query.is_done()
                            {
                                // Not waited for any more (answered, or the machine moved on).
                                return (false, true);
                            }
                            continue;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => c.sock.poll_readable(cx),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => {
                            self.query.handle_stream_error(now(), c.to);
                            return (false, true);
                        }
                    }
                }
            };
            match wait {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => {
                    self.query.handle_stream_error(now(), c.to);
                    return (false, true);
                }
                Poll::Pending => return (true, false),
            }
        }
    }
}
