//! Driving [`DnsQuery`] machines over UDP and TCP sockets on the reactor.
//!
//! The driver only moves bytes: transmits become `send_to` or a TCP connection, received datagrams and
//! stream bytes go back into the machine with the time. Retransmission, server choice, truncation and
//! everything else DNS is the machine's.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Instant;

use anysock_core::dns::{DnsEvent, DnsQuery, Transmit, Transport};
use anysock_core::{Family, SockAddr, SockType};
use anysock_sys::ConnectProgress;

use crate::reactor::{Interest, Reactor, Registered};

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
    sock: Registered<TcpStream>,
    payload: Vec<u8>,
    state: TcpState,
}

#[derive(Debug)]
struct Slot {
    query: DnsQuery,
    udp4: Option<Registered<UdpSocket>>,
    udp6: Option<Registered<UdpSocket>>,
    tcp: Vec<TcpConn>,
}

#[derive(Clone, Copy, Debug)]
enum Source {
    Udp,
    Tcp,
}

/// Runs any number of DNS queries at once on one reactor.
#[derive(Debug, Default)]
pub(crate) struct DnsDriver {
    slots: HashMap<Token, Slot>,
    keys: HashMap<usize, (Token, Source)>,
    done: VecDeque<(Token, DnsEvent)>,
}

impl DnsDriver {
    /// Takes a new machine and sends its first query.
    pub(crate) fn start(&mut self, r: &mut Reactor, token: Token, query: DnsQuery) {
        let slot = Slot {
            query,
            udp4: None,
            udp6: None,
            tcp: Vec::new(),
        };
        self.slots.insert(token, slot);
        self.pump(r, token);
    }

    /// True while queries are running.
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

    /// Advances every query's timers.
    pub(crate) fn handle_timeout(&mut self, r: &mut Reactor, now: Instant) {
        let tokens: Vec<Token> = self.slots.keys().copied().collect();
        for t in tokens {
            if let Some(s) = self.slots.get_mut(&t) {
                s.query.handle_timeout(now);
            }
            self.pump(r, t);
        }
    }

    /// Handles a readiness report if `key` is one of the driver's sockets; returns whether it was.
    pub(crate) fn handle_ready(&mut self, r: &mut Reactor, key: usize, now: Instant) -> bool {
        let Some(&(token, source)) = self.keys.get(&key) else {
            return false;
        };
        let Some(slot) = self.slots.get_mut(&token) else {
            self.keys.remove(&key);
            return true;
        };
        match source {
            Source::Udp => slot.read_udp(key, now),
            Source::Tcp => {
                if let Some(i) = slot.tcp.iter().position(|c| c.sock.key() == key) {
                    let keep = slot.drive_tcp(i, now);
                    if !keep {
                        let c = slot.tcp.swap_remove(i);
                        self.keys.remove(&c.sock.key());
                    }
                }
            }
        }
        self.pump(r, token);
        true
    }

    /// Drops a query and its sockets without an outcome.
    #[allow(dead_code)] // used by the connect driver
    pub(crate) fn cancel(&mut self, token: Token) {
        if let Some(slot) = self.slots.remove(&token) {
            self.forget_keys(&slot);
        }
    }

    fn forget_keys(&mut self, slot: &Slot) {
        for k in slot
            .udp4
            .iter()
            .chain(slot.udp6.iter())
            .map(|u| u.key())
            .chain(slot.tcp.iter().map(|c| c.sock.key()))
        {
            self.keys.remove(&k);
        }
    }

    /// Sends what the machine wants sent and collects its outcome.
    fn pump(&mut self, r: &mut Reactor, token: Token) {
        let Some(slot) = self.slots.get_mut(&token) else {
            return;
        };
        let now = crate::clock::now();
        while let Some(t) = slot.query.poll_transmit() {
            match slot.send(r, &t) {
                Ok(Some((key, source))) => {
                    self.keys.insert(key, (token, source));
                }
                Ok(None) => {}
                Err(_) if t.transport == Transport::Tcp => {
                    // The connection could not even be started: the machine moves on at once.
                    slot.query.handle_stream_error(now, t.to);
                }
                // A UDP send error (no route, no socket): the try times out in the machine.
                Err(_) => {}
            }
        }
        if let Some(ev) = slot.query.poll_event() {
            let slot = self.slots.remove(&token).expect("present");
            self.forget_keys(&slot);
            self.done.push_back((token, ev));
        }
    }
}

impl Slot {
    /// Sends one transmit; returns a newly registered socket's key, if one was made.
    fn send(&mut self, r: &mut Reactor, t: &Transmit) -> io::Result<Option<(usize, Source)>> {
        match t.transport {
            Transport::Udp => {
                let mut new_key = None;
                let sock = if t.to.is_ipv4() {
                    &mut self.udp4
                } else {
                    &mut self.udp6
                };
                if sock.is_none() {
                    // A fresh socket on a kernel-chosen ephemeral port for each query (RFC 5452 §9.2).
                    let u = anysock_sys::udp_socket_for(t.to)?;
                    let reg = r.register(u, Interest::Read)?;
                    new_key = Some((reg.key(), Source::Udp));
                    *sock = Some(reg);
                }
                let s = sock.as_ref().expect("just set");
                s.get().send_to(&t.payload, t.to)?;
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
                Ok(Some((key, Source::Tcp)))
            }
            _ => Ok(None),
        }
    }

    fn read_udp(&mut self, key: usize, now: Instant) {
        let sock = [self.udp4.as_ref(), self.udp6.as_ref()]
            .into_iter()
            .flatten()
            .find(|u| u.key() == key);
        let Some(sock) = sock else { return };
        let mut buf = [0u8; 65536];
        loop {
            match sock.get().recv_from(&mut buf) {
                Ok((n, from)) => {
                    self.query.handle_datagram(now, from, &buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // ICMP errors (port unreachable) surface here on some systems: nothing to feed.
                Err(_) => break,
            }
        }
        let _ = sock.arm(Interest::Read);
    }

    /// Moves a TCP connection along; false when it is finished (closed, failed or answered).
    fn drive_tcp(&mut self, i: usize, now: Instant) -> bool {
        let c = &mut self.tcp[i];
        loop {
            match c.state {
                TcpState::Connecting => match anysock_sys::finish_connect(c.sock.get()) {
                    Ok(ConnectProgress::Connected) => c.state = TcpState::Writing { off: 0 },
                    Ok(_) => return c.sock.arm(Interest::Write).is_ok(),
                    Err(_) => {
                        self.query.handle_stream_error(now, c.to);
                        return false;
                    }
                },
                TcpState::Writing { off } => match c.sock.get_mut().write(&c.payload[off..]) {
                    Ok(n) if off + n == c.payload.len() => c.state = TcpState::Reading,
                    Ok(n) => c.state = TcpState::Writing { off: off + n },
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return c.sock.arm(Interest::Write).is_ok();
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        self.query.handle_stream_error(now, c.to);
                        return false;
                    }
                },
                TcpState::Reading => {
                    let mut buf = [0u8; 16384];
                    match c.sock.get_mut().read(&mut buf) {
                        Ok(0) => {
                            self.query.handle_stream_error(now, c.to);
                            return false;
                        }
                        Ok(n) => {
                            if !self.query.handle_stream(now, c.to, &buf[..n]) {
                                // Not waited for any more (answered, or the machine moved on).
                                return false;
                            }
                            if self.query.is_done() {
                                return false;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            return c.sock.arm(Interest::Read).is_ok();
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => {
                            self.query.handle_stream_error(now, c.to);
                            return false;
                        }
                    }
                }
            }
        }
    }
}
