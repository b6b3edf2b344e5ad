//! Moving bytes for the core machines on tokio sockets: DNS transmits per query token (UDP from a
//! fresh socket per token, TCP connections), and the one timer. No protocol decision is made here.

use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use anysock_core::dns::{Transmit, Transport};
use anysock_core::resolution::{DnsInput, QueryToken};
use anysock_core::{Family, SockAddr, SockType};
use anysock_sys::socket2;
use anysock_sys::{ConnectProgress, DnsUdpExchange};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Sleep;

use crate::udp_pool;

#[derive(Debug)]
enum TcpState {
    Connecting,
    Writing { off: usize },
    Reading,
}

#[derive(Debug)]
struct TcpQuery {
    to: SocketAddr,
    stream: TcpStream,
    payload: Vec<u8>,
    state: TcpState,
}

/// A query's UDP socket for one family and kind of nameserver, with what the query did on it
/// (`DnsUdpExchange` decides whether it can be reused).
#[derive(Debug)]
struct UdpSlot {
    sock: UdpSocket,
    exchange: DnsUdpExchange,
    /// For a loopback nameserver, the runtime the socket is registered with: it goes back to that
    /// runtime's pool (see `udp_pool`). `None`: closed after the query.
    pooled: Option<tokio::runtime::Id>,
}

impl UdpSlot {
    fn close(self) {
        if let Some(runtime) = self.pooled
            && self.exchange.reusable()
        {
            udp_pool::put(runtime, self.exchange.peer(), self.sock);
        }
    }
}

/// Poll a socket at most this many times in one pass (errors only: a datagram ends the pass for its
/// socket); then yield, waking ourselves.
const MAX_READS_PER_PASS: usize = 64;

/// The sockets of every running DNS query, with their tokens: a query has at most one UDP socket per
/// family and kind of nameserver (loopback or not), and its TCP connections. Flat lists: a resolution
/// runs a handful of queries, and a scan is cheaper than a map (and allocates once, not per query).
#[derive(Debug, Default)]
pub(crate) struct DnsIo {
    udp: Vec<(QueryToken, UdpSlot)>,
    tcp: Vec<(QueryToken, TcpQuery)>,
}

impl DnsIo {
    /// Sends one transmit for `token`. A TCP connection that cannot even be started is reported to
    /// the machine at once (it moves on); a failed UDP send is left to the query's timer.
    pub(crate) fn send(
        &mut self,
        sink: &mut dyn DnsInput,
        now: Instant,
        token: QueryToken,
        t: Transmit,
    ) {
        match t.transport {
            Transport::Udp => {
                let found = self
                    .udp
                    .iter()
                    .position(|(k, u)| *k == token && u.exchange.serves(t.to));
                let i = match found {
                    Some(i) => i,
                    None => {
                        // A fresh socket (kernel-chosen ephemeral port) per query (RFC 5452 §9.2), or
                        // for a loopback nameserver a reused one, still registered with this runtime
                        // (see `udp_pool`); created non-blocking by anysock-sys (no extra `ioctl`).
                        let pooled = if t.to.ip().is_loopback() {
                            udp_pool::current_runtime()
                        } else {
                            None
                        };
                        let sock = match pooled {
                            Some(runtime) => udp_pool::take(runtime, t.to),
                            None => anysock_sys::dns_udp_socket(t.to).and_then(UdpSocket::from_std),
                        };
                        match sock {
                            Ok(sock) => {
                                if self.udp.capacity() == 0 {
                                    // A resolution's usual two queries (A and AAAA).
                                    self.udp.reserve_exact(2);
                                }
                                self.udp.push((
                                    token,
                                    UdpSlot {
                                        sock,
                                        exchange: DnsUdpExchange::new(t.to),
                                        pooled,
                                    },
                                ));
                            }
                            Err(_) => return,
                        }
                        self.udp.len() - 1
                    }
                };
                let u = &mut self.udp[i].1;
                // Straight to the kernel: tokio's `try_send_to` refuses (WouldBlock) until the
                // reactor has seen the new socket writable, which would drop the first query.
                // WouldBlock (a full buffer) or an error: the try times out in the machine.
                let _ = socket2::SockRef::from(&u.sock).send_to(&t.payload, &t.to.into());
                u.exchange.sent_to(t.to);
            }
            _ => match start_tcp(t.to) {
                Ok((stream, connected)) => self.tcp.push((
                    token,
                    TcpQuery {
                        to: t.to,
                        stream,
                        payload: t.payload,
                        state: if connected {
                            TcpState::Writing { off: 0 }
                        } else {
                            TcpState::Connecting
                        },
                    },
                )),
                Err(_) => sink.stream_error(now, token, t.to),
            },
        }
    }

    /// Closes every socket of `token`.
    pub(crate) fn close(&mut self, token: QueryToken) {
        let mut i = 0;
        while i < self.udp.len() {
            if self.udp[i].0 == token {
                self.udp.swap_remove(i).1.close();
            } else {
                i += 1;
            }
        }
        self.tcp.retain(|(k, _)| *k != token);
    }

    /// Reads and writes what is ready on every socket and feeds the machine. Returns true if any
    /// input was fed (the machine may have outputs). Registers for wake-ups on everything pending.
    pub(crate) fn poll(
        &mut self,
        cx: &mut Context<'_>,
        sink: &mut dyn DnsInput,
        now: Instant,
    ) -> bool {
        if self.udp.is_empty() && self.tcp.is_empty() {
            return false;
        }
        // Each datagram is fed as soon as it is read, from this thread's reused read buffer.
        anysock_sys::with_dns_read_buf(|buf| {
            let mut fed = false;
            for (token, slot) in &mut self.udp {
                // One datagram per socket per pass: the answer usually finishes the query, which
                // closes the socket; reading on until `WouldBlock` would cost one more `recvfrom` per
                // query. A socket that stays open is read again in the next pass (the driver loops
                // while inputs are fed): tokio keeps its readiness until a read returns `WouldBlock`.
                let mut n = 0;
                loop {
                    n += 1;
                    if n > MAX_READS_PER_PASS {
                        cx.waker().wake_by_ref();
                        break;
                    }
                    let mut rb = ReadBuf::new(buf);
                    match slot.sock.poll_recv_from(cx, &mut rb) {
                        Poll::Ready(Ok(from)) => {
                            fed = true;
                            if sink.datagram(now, *token, from, rb.filled()) {
                                slot.exchange.answer_taken();
                            }
                            break;
                        }
                        // The socket's reactor has shut down (tokio's error is `Other`): nothing
                        // will arrive; the query's timer decides. Reading on would spin.
                        Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Other => break,
                        // An ICMP error queued on the socket: nothing to feed; read on.
                        Poll::Ready(Err(_)) => {}
                        Poll::Pending => break,
                    }
                }
            }
            self.tcp
                .retain_mut(|(token, c)| match drive_tcp(cx, c, buf) {
                    Ok(bytes) if bytes.is_empty() => true,
                    // `false`: answered or superseded, this connection is done.
                    Ok(bytes) => {
                        fed = true;
                        sink.stream(now, *token, c.to, &bytes)
                    }
                    Err(()) => {
                        fed = true;
                        sink.stream_error(now, *token, c.to);
                        false
                    }
                });
            fed
        })
    }
}

/// Starts a non-blocking TCP connect; true if it connected at once.
fn start_tcp(to: SocketAddr) -> io::Result<(TcpStream, bool)> {
    let fam = if to.is_ipv4() { Family::V4 } else { Family::V6 };
    let sock = anysock_sys::new_socket(fam, SockType::Stream, 6)?;
    let progress = anysock_sys::start_connect(&sock, &SockAddr::Inet(to))?;
    sock.set_nonblocking(true)?;
    let std: std::net::TcpStream = sock.into();
    Ok((
        TcpStream::from_std(std)?,
        progress != ConnectProgress::InProgress,
    ))
}

/// Waits for a non-blocking connect on a tokio socket: `Ready(Ok)` connected, `Ready(Err)` failed.
pub(crate) fn poll_connected<S>(
    cx: &mut Context<'_>,
    poll_ready: impl Fn(&S, &mut Context<'_>) -> Poll<io::Result<()>>,
    try_io: impl Fn(&S, &mut dyn FnMut() -> io::Result<()>) -> io::Result<()>,
    sock: &S,
) -> Poll<io::Result<()>>
where
    S: std::os::fd::AsFd,
{
    loop {
        match poll_ready(sock, cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {}
        }
        let r = try_io(sock, &mut || match anysock_sys::finish_connect(sock)? {
            ConnectProgress::InProgress => Err(io::ErrorKind::WouldBlock.into()),
            _ => Ok(()),
        });
        match r {
            Ok(()) => return Poll::Ready(Ok(())),
            // Spurious readiness: it was cleared; wait again.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

fn tcp_poll_ready(s: &TcpStream, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    s.poll_write_ready(cx)
}

fn tcp_try_io(s: &TcpStream, f: &mut dyn FnMut() -> io::Result<()>) -> io::Result<()> {
    s.try_io(Interest::WRITABLE, f)
}

/// Moves a DNS-over-TCP connection along; returns the bytes read (possibly none), or `Err` when the
/// connection failed or closed.
fn drive_tcp(cx: &mut Context<'_>, c: &mut TcpQuery, buf: &mut [u8]) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    loop {
        match c.state {
            TcpState::Connecting => {
                match poll_connected(cx, tcp_poll_ready, tcp_try_io, &c.stream) {
                    Poll::Pending => return Ok(out),
                    Poll::Ready(Ok(())) => c.state = TcpState::Writing { off: 0 },
                    Poll::Ready(Err(_)) => return Err(()),
                }
            }
            TcpState::Writing { off } => {
                match Pin::new(&mut c.stream).poll_write(cx, &c.payload[off..]) {
                    Poll::Pending => return Ok(out),
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Err(()),
                    Poll::Ready(Ok(n)) if off + n >= c.payload.len() => c.state = TcpState::Reading,
                    Poll::Ready(Ok(n)) => c.state = TcpState::Writing { off: off + n },
                }
            }
            TcpState::Reading => {
                let mut rb = ReadBuf::new(buf);
                match Pin::new(&mut c.stream).poll_read(cx, &mut rb) {
                    Poll::Pending => return Ok(out),
                    Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                        // Closed: whatever came before it is still fed first.
                        return if out.is_empty() { Err(()) } else { Ok(out) };
                    }
                    Poll::Ready(Ok(())) => {
                        out.extend_from_slice(rb.filled());
                        if out.len() > 70_000 {
                            // More than one DNS message can hold: let the machine look first.
                            cx.waker().wake_by_ref();
                            return Ok(out);
                        }
                    }
                    Poll::Ready(Err(_)) => return Err(()),
                }
            }
        }
    }
}

/// One timer, reset only when the deadline changes (no drift, no churn).
#[derive(Debug, Default)]
pub(crate) struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
    deadline: Option<Instant>,
}

impl Timer {
    /// Arms the timer for `deadline` and polls it: `Ready` once it has passed.
    pub(crate) fn poll_until(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        let at = tokio::time::Instant::from_std(deadline);
        match &mut self.sleep {
            Some(s) => {
                if self.deadline != Some(deadline) {
                    s.as_mut().reset(at);
                }
            }
            None => self.sleep = Some(Box::pin(tokio::time::sleep_until(at))),
        }
        self.deadline = Some(deadline);
        match &mut self.sleep {
            Some(s) => s.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}
