//! `tcp_connect` and the [`Connector`] builder: the core's [`Dial`] machine (resolution feeding Happy
//! Eyeballs) driven on tokio sockets and one tokio timer. Dropping the future cancels every attempt and
//! every DNS query at once (AnyEvent's guard): all their sockets are owned by the future.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anysock_core::connect::{AttemptId, AttemptRecord, ConnectConfig, Mode};
use anysock_core::dial::{Dial, DialConfig, DialOutput, TraceEvent};
use anysock_core::resolution::QueryRecord;
use anysock_core::rfc6724::Source;
use anysock_core::{Family, FamilyPreference, SockAddr, SockType, Target};
use anysock_sys::ConnectProgress;
use anysock_sys::socket2::Socket;
use tokio::io::Interest;
use tokio::net::{TcpStream, UnixStream};

use crate::clock::now;
use crate::error::Error;
use crate::io::{DnsIo, Timer, poll_connected};
use crate::resolver::Resolver;
use crate::stream::{Peer, Stream};

/// The prepare hook: called with each attempt's socket (created, non-blocking, not yet connecting) and
/// its target. It may bind a local address or set options, and returns that attempt's own timeout
/// (`None`: no timeout of its own), like AnyEvent's `$prepare_cb`. An error fails that attempt (the
/// next target is tried).
pub type PrepareHook = Arc<dyn Fn(&Socket, &Target) -> io::Result<Option<Duration>> + Send + Sync>;

/// The accept hook: called with each connected stream and its target before it is returned. `false`
/// rejects it (the stream is closed) and the connect goes on with the next target, like AnyEvent's
/// `$retry` was meant to (B27 fixed).
pub type AcceptHook = Arc<dyn Fn(&Stream, &Target) -> bool + Send + Sync>;

/// A successful connect: the stream, whom it is connected to, and the trace.
#[derive(Debug)]
pub struct Connection {
    /// The connected stream.
    pub stream: Stream,
    /// The target that won.
    pub target: Target,
    /// Every attempt, in the order started (the winner included), with its timing and outcome.
    pub attempts: Vec<AttemptRecord>,
    /// Every DNS query made, with its timing and result.
    pub queries: Vec<QueryRecord>,
}

impl Connection {
    /// The peer's address.
    pub fn peer_addr(&self) -> SockAddr {
        self.target.addr
    }

    /// The peer as AnyEvent reports it (host text and port).
    pub fn peer(&self) -> Peer {
        Peer::from_addr(Some(self.target.addr))
    }
}

/// Resolves `host` and `service` with the system resolver and connects with Happy Eyeballs v2 (RFC
/// 8305): AnyEvent's `tcp_connect`. See [`Connector::connect`] for the arguments and errors.
///
/// ```
/// use tokio::io::AsyncWriteExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let server = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let port = server.local_addr()?.port().to_string();
/// let mut c = anysock_tokio::tcp_connect("127.0.0.1", &port).await?;
/// c.stream.write_all(b"hello").await?;
/// assert_eq!(c.peer_addr().to_string(), server.local_addr()?.to_string());
/// # Ok(())
/// # }
/// ```
pub async fn tcp_connect(host: &str, service: &str) -> io::Result<Connection> {
    Connector::new().connect(host, service).await
}

/// Settings for a connect: the resolver, Happy Eyeballs or serial mode, timeouts and hooks.
#[derive(Clone)]
pub struct Connector {
    resolver: Option<Resolver>,
    family: Option<FamilyPreference>,
    config: ConnectConfig,
    prepare: Option<PrepareHook>,
    accept: Option<AcceptHook>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("resolver", &self.resolver)
            .field("family", &self.family)
            .field("config", &self.config)
            .field("prepare", &self.prepare.is_some())
            .field("accept", &self.accept.is_some())
            .finish()
    }
}

impl Default for Connector {
    fn default() -> Self {
        Connector::new()
    }
}

impl Connector {
    /// Happy Eyeballs v2 with RFC 8305's delays, no timeouts (the kernel's bound applies, as in
    /// AnyEvent), no hooks.
    pub fn new() -> Self {
        Connector {
            resolver: None,
            family: None,
            config: ConnectConfig::default(),
            prepare: None,
            accept: None,
        }
    }

    /// The resolver to use (default: [`Resolver::system`]).
    pub fn resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Which address families to use and which first, overriding the resolver's preference.
    pub fn family(mut self, family: FamilyPreference) -> Self {
        self.family = Some(family);
        self
    }

    /// The connect machine's whole configuration (mode, delays, concurrency, timeouts).
    pub fn config(mut self, config: ConnectConfig) -> Self {
        self.config = config;
        self
    }

    /// AnyEvent's behaviour: one attempt at a time, in the resolver's order.
    pub fn serial(mut self) -> Self {
        self.config = self.config.with_mode(Mode::Serial);
        self
    }

    /// Happy Eyeballs v2 (the default).
    pub fn happy_eyeballs(mut self) -> Self {
        self.config = self.config.with_mode(Mode::HappyEyeballs);
        self
    }

    /// The Connection Attempt Delay between staggered attempts (RFC 8305 §5; default 250 ms).
    pub fn attempt_delay(mut self, d: Duration) -> Self {
        self.config = self.config.with_attempt_delay(d);
        self
    }

    /// A timeout for each attempt (a prepare hook's timeout, when given, applies as well).
    pub fn attempt_timeout(mut self, t: Duration) -> Self {
        self.config = self.config.with_attempt_timeout(Some(t));
        self
    }

    /// A deadline for the whole connect, resolution included.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.config = self.config.with_overall_timeout(Some(t));
        self
    }

    /// Sets the prepare hook (see [`PrepareHook`]).
    pub fn prepare(
        mut self,
        f: impl Fn(&Socket, &Target) -> io::Result<Option<Duration>> + Send + Sync + 'static,
    ) -> Self {
        self.prepare = Some(Arc::new(f));
        self
    }

    /// Sets the accept (retry) hook (see [`AcceptHook`]).
    pub fn accept(mut self, f: impl Fn(&Stream, &Target) -> bool + Send + Sync + 'static) -> Self {
        self.accept = Some(Arc::new(f));
        self
    }

    /// Resolves `host` and `service` and connects to the first target that answers (AnyEvent's
    /// `tcp_connect`, with Happy Eyeballs by default).
    ///
    /// `host`: a name, an IP literal (any AnyEvent form) or `unix/`. `service`: a port, a service name
    /// (SRV records are asked first), `name=port`, or an absolute socket path for `unix/`.
    ///
    /// Errors carry an [`Error`] inside: `NotFound` for a name that does not resolve, `TimedOut`,
    /// `ConnectionRefused` (the last attempt's error), `InvalidInput` for a malformed host or service.
    /// Dropping the future cancels every attempt and DNS query and closes their sockets.
    pub async fn connect(&self, host: &str, service: &str) -> io::Result<Connection> {
        let resolver = self.resolver.clone().unwrap_or_else(Resolver::system);
        let dial = resolver.dial(host, service, self.family, self.dial_config(), now())?;
        self.run(dial, host).await
    }

    /// Connects to the first of these socket addresses that answers (TCP; Happy Eyeballs sorting and
    /// interleaving apply in the default mode), without any name resolution.
    pub async fn connect_addrs<A: Into<SockAddr>>(
        &self,
        addrs: impl IntoIterator<Item = A>,
    ) -> io::Result<Connection> {
        let targets = addrs.into_iter().map(|a| {
            let a = a.into();
            let proto = if a.family() == Family::Unix { 0 } else { 6 };
            Target::new(SockType::Stream, proto, a)
        });
        self.connect_targets(targets).await
    }

    /// Connects to the first of these targets that answers, without any name resolution.
    pub async fn connect_targets(
        &self,
        targets: impl IntoIterator<Item = Target>,
    ) -> io::Result<Connection> {
        // No host name: an error names the first target tried, formatted only then.
        let dial = Dial::with_targets(targets, self.dial_config(), now());
        self.run(dial, "").await
    }

    fn dial_config(&self) -> DialConfig {
        DialConfig::new().connect(self.config)
    }

    async fn run(&self, dial: Dial, node: &str) -> io::Result<Connection> {
        let mut d = Driver {
            connector: self,
            node,
            dial,
            dns: DnsIo::default(),
            attempts: Vec::new(),
            timer: Timer::default(),
            queries: Vec::new(),
        };
        poll_fn(|cx| d.poll(cx)).await
    }
}

/// A connection attempt's socket.
#[derive(Debug)]
enum AttemptSock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

#[derive(Debug)]
struct Attempt {
    sock: AttemptSock,
    /// Connected at once (reported already); waiting for the machine's verdict.
    connected: bool,
    /// The prepare hook's own timeout for this attempt, enforced here.
    own_deadline: Option<Instant>,
}

/// What a failed connect names in its error: the host it was given or, for a connect to given
/// targets, the first target it tried.
fn failed_node(node: &str, dial: &Dial) -> String {
    match dial.attempts().first() {
        Some(a) if node.is_empty() => a.target.addr.to_string(),
        _ => node.to_owned(),
    }
}

/// One connect in progress. Owns every socket; dropping it closes them all.
struct Driver<'c> {
    connector: &'c Connector,
    node: &'c str,
    dial: Dial,
    dns: DnsIo,
    /// The attempts in progress (a handful: a linear search beats hashing).
    attempts: Vec<(AttemptId, Attempt)>,
    timer: Timer,
    queries: Vec<QueryRecord>,
}

impl Driver<'_> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Connection>> {
        loop {
            if let Some(done) = self.carry_out() {
                return Poll::Ready(done);
            }
            let t = now();
            let mut fed = self.dns.poll(cx, &mut self.dial, t);
            fed |= self.poll_attempts(cx, t);
            if fed {
                continue;
            }
            let own = self
                .attempts
                .iter()
                .filter_map(|(_, a)| a.own_deadline)
                .min();
            let deadline = match (self.dial.poll_timeout(), own) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let Some(deadline) = deadline else {
                return Poll::Pending;
            };
            if now() >= deadline || self.timer.poll_until(cx, deadline).is_ready() {
                let t = now().max(deadline);
                self.expire_own_deadlines(t);
                self.dial.handle_timeout(t);
                continue;
            }
            return Poll::Pending;
        }
    }

    /// Carries out the machine's outputs; the final result once there is one.
    fn carry_out(&mut self) -> Option<io::Result<Connection>> {
        while let Some(out) = self.dial.poll_output() {
            match out {
                DialOutput::Transmit { token, transmit } => {
                    self.dns.send(&mut self.dial, now(), token, transmit);
                }
                DialOutput::CloseQuery(token) => self.dns.close(token),
                DialOutput::NeedSources { batch, targets } => {
                    let sources: Vec<Source> = targets.iter().map(source_of).collect();
                    self.dial.handle_sources(now(), batch, sources);
                }
                DialOutput::StartAttempt { id, target, .. } => self.start_attempt(id, &target),
                DialOutput::CancelAttempt { id } => {
                    self.take_attempt(id);
                }
                DialOutput::Connected { id, target } => {
                    let Some(a) = self.take_attempt(id) else {
                        return Some(Err(io::Error::other(format!(
                            "connect machine won unknown attempt {id}"
                        ))));
                    };
                    // Every other attempt was cancelled with the win.
                    self.attempts.clear();
                    let stream = match a.sock {
                        AttemptSock::Tcp(s) => Stream::Tcp(s),
                        AttemptSock::Unix(s) => Stream::Unix(s),
                    };
                    let accepted = self
                        .connector
                        .accept
                        .as_ref()
                        .is_none_or(|f| f(&stream, &target));
                    if accepted {
                        return Some(Ok(Connection {
                            stream,
                            target,
                            attempts: self.dial.attempts().to_vec(),
                            queries: std::mem::take(&mut self.queries),
                        }));
                    }
                    drop(stream);
                    self.dial.handle_reject(now(), id);
                }
                DialOutput::Failed(error) => {
                    return Some(Err(Error::Connect {
                        node: failed_node(self.node, &self.dial),
                        error,
                    }
                    .into()));
                }
                DialOutput::Trace(ev) => match ev {
                    TraceEvent::QueryStarted(q) => crate::trace::query_started(&q),
                    TraceEvent::QueryFinished(q) => {
                        crate::trace::query_finished(&q);
                        self.queries.push(q);
                    }
                    TraceEvent::AttemptStarted(a) => crate::trace::attempt_started(&a),
                    TraceEvent::AttemptEnded(a) => crate::trace::attempt_ended(&a),
                    _ => {}
                },
                _ => {}
            }
        }
        None
    }

    fn start_attempt(&mut self, id: AttemptId, target: &Target) {
        let t = now();
        let sock = match anysock_sys::socket_for(target) {
            Ok(s) => s,
            Err(e) => return self.dial.handle_attempt(t, id, Err(e.kind())),
        };
        let own_timeout = match self.connector.prepare.as_ref().map(|p| p(&sock, target)) {
            None => None,
            Some(Ok(timeout)) => timeout,
            Some(Err(e)) => return self.dial.handle_attempt(t, id, Err(e.kind())),
        };
        let progress = match anysock_sys::start_connect(&sock, &target.addr) {
            Ok(p) => p,
            Err(e) => return self.dial.handle_attempt(t, id, Err(e.kind())),
        };
        // anysock-sys sockets are already non-blocking, as tokio needs.
        let registered = if target.family() == Family::Unix {
            let s: std::os::unix::net::UnixStream = sock.into();
            UnixStream::from_std(s).map(AttemptSock::Unix)
        } else {
            let s: std::net::TcpStream = sock.into();
            TcpStream::from_std(s).map(AttemptSock::Tcp)
        };
        let sock = match registered {
            Ok(s) => s,
            Err(e) => return self.dial.handle_attempt(t, id, Err(e.kind())),
        };
        let connected = progress != ConnectProgress::InProgress;
        self.attempts.push((
            id,
            Attempt {
                sock,
                connected,
                own_deadline: if connected {
                    None
                } else {
                    own_timeout.and_then(|d| t.checked_add(d))
                },
            },
        ));
        if connected {
            // Connected at once (unix sockets, sometimes loopback).
            self.dial.handle_attempt(t, id, Ok(()));
        }
    }

    /// Removes attempt `id`, if it is still in progress.
    fn take_attempt(&mut self, id: AttemptId) -> Option<Attempt> {
        let i = self.attempts.iter().position(|(a, _)| *a == id)?;
        Some(self.attempts.swap_remove(i).1)
    }

    /// Checks every attempt in progress; true if a result was fed.
    fn poll_attempts(&mut self, cx: &mut Context<'_>, t: Instant) -> bool {
        let mut fed = false;
        let mut i = 0;
        while let Some((id, a)) = self.attempts.get_mut(i) {
            let id = *id;
            if a.connected {
                i += 1;
                continue;
            }
            let r = match &a.sock {
                AttemptSock::Tcp(s) => poll_connected(
                    cx,
                    |s: &TcpStream, cx| s.poll_write_ready(cx),
                    |s, f| s.try_io(Interest::WRITABLE, f),
                    s,
                ),
                AttemptSock::Unix(s) => poll_connected(
                    cx,
                    |s: &UnixStream, cx| s.poll_write_ready(cx),
                    |s, f| s.try_io(Interest::WRITABLE, f),
                    s,
                ),
            };
            let Poll::Ready(r) = r else {
                i += 1;
                continue;
            };
            fed = true;
            if r.is_ok() {
                a.connected = true;
                a.own_deadline = None;
                i += 1;
            } else {
                // Closed now; the last attempt moves into slot `i`, which is checked next.
                self.attempts.swap_remove(i);
            }
            self.dial.handle_attempt(t, id, r.map_err(|e| e.kind()));
        }
        fed
    }

    fn expire_own_deadlines(&mut self, t: Instant) {
        let expired: Vec<AttemptId> = self
            .attempts
            .iter()
            .filter(|(_, a)| a.own_deadline.is_some_and(|d| d <= t))
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.take_attempt(id);
            self.dial
                .handle_attempt(t, id, Err(io::ErrorKind::TimedOut));
        }
    }
}

/// The source address the kernel would use for a target (RFC 6724 input); no packet is sent.
fn source_of(t: &Target) -> Source {
    match t.addr {
        SockAddr::Inet(sa) => match anysock_sys::source_address(sa) {
            Ok(src) => Source::from(src),
            Err(_) => Source::Unknown,
        },
        SockAddr::Unix(_) => Source::Unknown,
    }
}
