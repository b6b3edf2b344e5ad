//! `tcp_connect` and the [`Connector`] builder: the core's [`Dial`] machine (resolve planner, DNS
//! machines and Happy Eyeballs connect machine joined), driven inside one future on async-io's reactor.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anysock_core::connect::{AttemptId, AttemptRecord, ConnectConfig, Mode};
use anysock_core::dial::{Dial, DialConfig, DialOutput, TraceEvent};
use anysock_core::resolution::QueryRecord;
use anysock_core::rfc6724::Source;
use anysock_core::{Family, FamilyPreference, SockAddr, Target};
use anysock_sys::ConnectProgress;
use anysock_sys::socket2::Socket;
use async_io::{Async, Timer};

use crate::clock::now;
use crate::dns::QuerySockets;
use crate::error::Error;
use crate::resolver::Resolver;
use crate::stream::Stream;

/// The prepare hook: called with each attempt's socket (created, non-blocking, not yet connecting) and
/// its target. It may bind a local address or set options, and returns that attempt's own timeout
/// (`None`: no timeout of its own), like AnyEvent's `$prepare_cb`. An error fails that attempt (the
/// next target is tried).
pub type PrepareHook = Arc<dyn Fn(&Socket, &Target) -> io::Result<Option<Duration>> + Send + Sync>;

/// The accept hook: called with each connected stream and its target before it is returned. `false`
/// rejects it (the stream is closed) and the connect goes on with the next target, like AnyEvent's
/// `$retry` was meant to (B27 fixed).
pub type AcceptHook = Arc<dyn Fn(&Stream, &Target) -> bool + Send + Sync>;

/// A successful connect: the stream, whom it is connected to, and every attempt made.
#[derive(Debug)]
pub struct Connection {
    /// The connected stream (registered with async-io's reactor).
    pub stream: Stream,
    /// The target that won.
    pub target: Target,
    /// Every attempt, in the order started (the winner included), with its timing and outcome.
    pub attempts: Vec<AttemptRecord>,
    /// The DNS queries that ended before the connection was made, with their timing and result
    /// (queries still running when it was made are closed and not listed).
    pub queries: Vec<QueryRecord>,
}

impl Connection {
    /// The peer's address.
    pub fn peer_addr(&self) -> SockAddr {
        self.target.addr
    }
}

/// Resolves `host` and `service` with the system resolver and connects with Happy Eyeballs v2 (RFC
/// 8305): AnyEvent's `tcp_connect`. See [`Connector::connect`] for the arguments and errors, and
/// [`Connector`] for settings. Dropping the future cancels everything.
///
/// ```
/// use futures_lite::AsyncWriteExt;
///
/// # async_io::block_on(async {
/// let server = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let port = server.local_addr()?.port().to_string();
/// let mut c = anysock_async_std::tcp_connect("127.0.0.1", &port).await?;
/// c.stream.write_all(b"hello").await?;
/// assert_eq!(c.peer_addr().to_string(), server.local_addr()?.to_string());
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub fn tcp_connect(host: &str, service: &str) -> Connect {
    Connector::new().connect(host, service)
}

/// Settings for a connect: the resolver, Happy Eyeballs or serial mode, timeouts and hooks.
///
/// ```
/// use std::time::Duration;
/// use anysock_async_std::Connector;
///
/// # async_io::block_on(async {
/// let server = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let target = server.local_addr()?;
/// let c = Connector::new()
///     .timeout(Duration::from_secs(5))
///     .prepare(|_sock, _target| Ok(Some(Duration::from_secs(1))))
///     .connect_addrs([target])
///     .await?;
/// assert_eq!(c.peer_addr().to_string(), target.to_string());
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
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
    /// `tcp_connect`, with Happy Eyeballs by default). The future owns every socket it opens: dropping
    /// it closes them all and stops the DNS queries.
    ///
    /// `host`: a name, an IP literal (any AnyEvent form) or `unix/`. `service`: a port, a service name
    /// (SRV records are asked first), `name=port`, or an absolute socket path for `unix/`.
    ///
    /// Errors carry an [`Error`] inside: `NotFound` for a name that does not resolve, `TimedOut`,
    /// `ConnectionRefused` (the last attempt's error), `InvalidInput` for a malformed host or service.
    pub fn connect(&self, host: &str, service: &str) -> Connect {
        Connect::start(self, host.to_owned(), |dial_config| {
            let resolver = self.resolver.clone().unwrap_or_else(Resolver::system);
            resolver.dial(host, service, self.family, dial_config, now())
        })
    }

    /// Connects to the first of these socket addresses that answers (TCP, or unix for unix
    /// addresses; Happy Eyeballs sorting and interleaving apply in the default mode), without any name
    /// resolution.
    pub fn connect_addrs<A: Into<SockAddr>>(&self, addrs: impl IntoIterator<Item = A>) -> Connect {
        let targets = addrs.into_iter().map(|a| {
            let a = a.into();
            let proto = if a.family() == Family::Unix { 0 } else { 6 };
            Target::new(anysock_core::SockType::Stream, proto, a)
        });
        self.connect_targets(targets)
    }

    /// Connects to the first of these targets that answers, without any name resolution.
    pub fn connect_targets(&self, targets: impl IntoIterator<Item = Target>) -> Connect {
        // No host name: an error names the first target tried, formatted only then.
        Connect::start(self, String::new(), |dial_config| {
            Ok(Dial::with_targets(targets, dial_config, now()))
        })
    }
}

/// The future of a connect ([`tcp_connect`], [`Connector::connect`]). Dropping it cancels the connect:
/// every attempt's socket and every DNS socket is closed at once.
#[must_use = "a connect does nothing unless awaited"]
pub struct Connect {
    state: ConnectState,
}

enum ConnectState {
    Running(Box<Driver>),
    Failed(io::Error),
    Done,
}

impl fmt::Debug for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Connect");
        match &self.state {
            ConnectState::Running(driver) => d
                .field("attempts", &driver.dial.attempts())
                .field("in_flight", &driver.attempts.len()),
            ConnectState::Failed(e) => d.field("error", e),
            ConnectState::Done => d.field("done", &true),
        };
        d.finish()
    }
}

impl Connect {
    fn start(
        connector: &Connector,
        node: String,
        dial: impl FnOnce(DialConfig) -> io::Result<Dial>,
    ) -> Connect {
        let state = match dial(DialConfig::new().connect(connector.config)) {
            Ok(dial) => ConnectState::Running(Box::new(Driver {
                prepare: connector.prepare.clone(),
                accept: connector.accept.clone(),
                node,
                dial,
                dns: QuerySockets::default(),
                queries: Vec::new(),
                attempts: Vec::new(),
                timer: Timer::never(),
                armed: None,
            })),
            Err(e) => ConnectState::Failed(e),
        };
        Connect { state }
    }

    /// The attempts made so far (empty once the future has completed).
    pub fn attempts(&self) -> &[AttemptRecord] {
        match &self.state {
            ConnectState::Running(d) => d.dial.attempts(),
            _ => &[],
        }
    }
}

impl Future for Connect {
    type Output = io::Result<Connection>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let result = match &mut this.state {
            ConnectState::Running(d) => match d.poll(cx) {
                Poll::Ready(r) => r,
                Poll::Pending => return Poll::Pending,
            },
            ConnectState::Failed(_) => {
                let ConnectState::Failed(e) =
                    std::mem::replace(&mut this.state, ConnectState::Done)
                else {
                    unreachable!("matched above")
                };
                return Poll::Ready(Err(e));
            }
            ConnectState::Done => {
                return Poll::Ready(Err(io::Error::other(
                    "connect future polled after completion",
                )));
            }
        };
        // Drop the driver (every remaining socket) now rather than with the future.
        this.state = ConnectState::Done;
        Poll::Ready(result)
    }
}

/// An attempt's socket, registered with the reactor from the start so that a winner needs no second
/// registration.
#[derive(Debug)]
enum AttemptSock {
    Tcp(Async<TcpStream>),
    Unix(Async<UnixStream>),
}

impl AttemptSock {
    fn new(sock: Socket, unix: bool) -> io::Result<AttemptSock> {
        Ok(if unix {
            AttemptSock::Unix(Async::new_nonblocking(UnixStream::from(sock))?)
        } else {
            AttemptSock::Tcp(Async::new_nonblocking(TcpStream::from(sock))?)
        })
    }

    fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            AttemptSock::Tcp(s) => s.poll_writable(cx),
            AttemptSock::Unix(s) => s.poll_writable(cx),
        }
    }

    fn finish_connect(&self) -> io::Result<ConnectProgress> {
        match self {
            AttemptSock::Tcp(s) => anysock_sys::finish_connect(s.get_ref()),
            AttemptSock::Unix(s) => anysock_sys::finish_connect(s.get_ref()),
        }
    }

    fn into_stream(self) -> Stream {
        match self {
            AttemptSock::Tcp(s) => Stream::Tcp(s),
            AttemptSock::Unix(s) => Stream::Unix(s),
        }
    }
}

/// One connection attempt in flight.
#[derive(Debug)]
struct Attempt {
    id: AttemptId,
    sock: AttemptSock,
    /// Known connected (a connect that completed at once); waiting for the machine's verdict.
    connected: bool,
    /// The prepare hook's own timeout for this attempt, enforced here.
    own_deadline: Option<Instant>,
}

/// Runs one connect: carries out the [`Dial`] machine's outputs and feeds back what the sockets say.
struct Driver {
    prepare: Option<PrepareHook>,
    accept: Option<AcceptHook>,
    /// The host being connected to, for error messages (empty for given targets: the first
    /// attempt's address is named instead).
    node: String,
    dial: Dial,
    dns: QuerySockets,
    /// The DNS queries that ended, for the trace.
    queries: Vec<QueryRecord>,
    attempts: Vec<Attempt>,
    /// One timer, re-armed at the earliest deadline (absolute instants: no drift).
    timer: Timer,
    /// The deadline the timer is armed for.
    armed: Option<Instant>,
}

impl Driver {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Connection>> {
        loop {
            if let Some(result) = self.drain() {
                return Poll::Ready(result);
            }
            let mut progressed = self.dns.poll_io(&mut self.dial, cx);
            progressed |= self.poll_attempts(cx);
            let t = now();
            progressed |= self.expire_own_deadlines(t);
            if self.dial.poll_timeout().is_some_and(|d| d <= t) {
                self.dial.handle_timeout(t);
                progressed = true;
            }
            if progressed {
                continue;
            }
            let own = self.attempts.iter().filter_map(|a| a.own_deadline).min();
            let deadline = [self.dial.poll_timeout(), own].into_iter().flatten().min();
            if deadline != self.armed {
                // Re-armed only when the deadline changes: each arming is a reactor operation.
                match deadline {
                    Some(d) => self.timer.set_at(d),
                    None => self.timer = Timer::never(),
                }
                self.armed = deadline;
            }
            if deadline.is_some() && Pin::new(&mut self.timer).poll(cx).is_ready() {
                self.armed = None;
                self.timer = Timer::never();
                continue;
            }
            return Poll::Pending;
        }
    }

    /// Carries out the machine's outputs. Returns the final result once there is one.
    fn drain(&mut self) -> Option<io::Result<Connection>> {
        while let Some(out) = self.dial.poll_output() {
            match out {
                DialOutput::Transmit { token, transmit } => {
                    self.dns.transmit(&mut self.dial, token, &transmit);
                }
                DialOutput::CloseQuery(token) => self.dns.close(token),
                DialOutput::NeedSources { batch, targets } => {
                    let sources: Vec<Source> = targets.iter().map(source_of).collect();
                    self.dial.handle_sources(now(), batch, sources);
                }
                DialOutput::StartAttempt { id, target, .. } => self.start_attempt(id, target),
                DialOutput::CancelAttempt { id } => self.attempts.retain(|a| a.id != id),
                DialOutput::Connected { id, target } => {
                    let Some(pos) = self.attempts.iter().position(|a| a.id == id) else {
                        // Cannot happen: a winner is always an attempt we hold.
                        return Some(Err(io::Error::other(format!(
                            "connect machine won unknown attempt {id}"
                        ))));
                    };
                    let a = self.attempts.swap_remove(pos);
                    let stream = a.sock.into_stream();
                    if self.accept.as_ref().is_none_or(|f| f(&stream, &target)) {
                        trace_debug!("connected to {} (attempt {})", target.addr, id);
                        return Some(Ok(Connection {
                            stream,
                            target,
                            attempts: self.dial.attempts().to_vec(),
                            queries: std::mem::take(&mut self.queries),
                        }));
                    }
                    trace_debug!("connection to {} rejected by the accept hook", target.addr);
                    drop(stream);
                    self.dial.handle_reject(now(), id);
                }
                DialOutput::Failed(error) => {
                    trace_debug!("connect failed: {}", error);
                    self.attempts.clear();
                    let err = Error::Connect {
                        node: match self.dial.attempts().first() {
                            Some(a) if self.node.is_empty() => a.target.addr.to_string(),
                            _ => std::mem::take(&mut self.node),
                        },
                        error,
                    };
                    return Some(Err(err.into()));
                }
                DialOutput::Trace(ev) => self.trace(ev),
                _ => {}
            }
        }
        None
    }

    fn trace(&mut self, ev: TraceEvent) {
        match ev {
            TraceEvent::QueryFinished(rec) => {
                trace_debug!("dns {} {} finished: {:?}", rec.token, rec.name, rec.result);
                self.queries.push(rec);
            }
            TraceEvent::QueryStarted(_rec) => {
                trace_debug!("dns {} {} {:?} started", _rec.token, _rec.name, _rec.rtype);
            }
            TraceEvent::AttemptStarted(_rec) => {
                trace_debug!("attempt {} to {} started", _rec.id, _rec.target.addr);
            }
            TraceEvent::AttemptEnded(_rec) => {
                trace_debug!(
                    "attempt {} to {} ended: {:?}",
                    _rec.id,
                    _rec.target.addr,
                    _rec.outcome
                );
            }
            _ => {}
        }
    }

    fn start_attempt(&mut self, id: AttemptId, target: Target) {
        let t = now();
        let sock = match anysock_sys::socket_for(&target) {
            Ok(s) => s,
            Err(e) => return self.dial.handle_attempt(t, id, Err(e.kind())),
        };
        let own_timeout = match self.prepare.as_ref().map(|p| p(&sock, &target)) {
            None => None,
            Some(Ok(timeout)) => timeout,
            Some(Err(e)) => return self.dial.handle_attempt(t, id, Err(e.kind())),
        };
        let connected = match anysock_sys::start_connect(&sock, &target.addr) {
            // Optimistic check: a loopback handshake is usually complete by the time connect
            // returns, and then no wait for readiness (and no timer) is needed at all.
            Ok(ConnectProgress::InProgress) => match anysock_sys::finish_connect(&sock) {
                Ok(ConnectProgress::InProgress) => false,
                Ok(_) => true,
                Err(e) => return self.dial.handle_attempt(t, id, Err(e.kind())),
            },
            Ok(_) => true,
            Err(e) => return self.dial.handle_attempt(t, id, Err(e.kind())),
        };
        let sock = match AttemptSock::new(sock, target.family() == Family::Unix) {
            Ok(s) => s,
            Err(e) => return self.dial.handle_attempt(t, id, Err(e.kind())),
        };
        self.attempts.push(Attempt {
            id,
            sock,
            connected,
            own_deadline: if connected {
                None
            } else {
                own_timeout.and_then(|d| t.checked_add(d))
            },
        });
        if connected {
            // Connected at once (unix sockets, sometimes loopback): held for the Connected output.
            self.dial.handle_attempt(t, id, Ok(()));
        }
    }

    /// Checks every attempt that became writable; returns whether any outcome was fed.
    fn poll_attempts(&mut self, cx: &mut Context<'_>) -> bool {
        let mut fed = false;
        let mut i = 0;
        while i < self.attempts.len() {
            let a = &self.attempts[i];
            if a.connected {
                i += 1;
                continue;
            }
            let outcome = loop {
                match a.sock.poll_writable(cx) {
                    Poll::Pending => break None,
                    Poll::Ready(Err(e)) => break Some(Err(e.kind())),
                    Poll::Ready(Ok(())) => match a.sock.finish_connect() {
                        Ok(ConnectProgress::InProgress) => continue,
                        Ok(_) => break Some(Ok(())),
                        Err(e) => break Some(Err(e.kind())),
                    },
                }
            };
            let id = a.id;
            match outcome {
                None => i += 1,
                Some(Ok(())) => {
                    self.attempts[i].connected = true;
                    fed = true;
                    i += 1;
                    self.dial.handle_attempt(now(), id, Ok(()));
                }
                Some(Err(k)) => {
                    self.attempts.swap_remove(i);
                    fed = true;
                    self.dial.handle_attempt(now(), id, Err(k));
                }
            }
        }
        fed
    }

    fn expire_own_deadlines(&mut self, t: Instant) -> bool {
        let mut fed = false;
        let mut i = 0;
        while i < self.attempts.len() {
            if self.attempts[i].own_deadline.is_some_and(|d| d <= t) {
                let a = self.attempts.swap_remove(i);
                self.dial
                    .handle_attempt(t, a.id, Err(io::ErrorKind::TimedOut));
                fed = true;
            } else {
                i += 1;
            }
        }
        fed
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
