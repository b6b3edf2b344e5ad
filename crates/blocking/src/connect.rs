//! `tcp_connect` and the [`Connector`] builder: the core's [`Dial`] machine (resolve planner, DNS
//! machines and Happy Eyeballs connect machine joined), driven in the calling thread on one poller.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anysock_core::connect::{AttemptId, AttemptRecord, ConnectConfig, Mode};
use anysock_core::dial::{Dial, DialConfig, DialOutput, TraceEvent};
use anysock_core::rfc6724::Source;
use anysock_core::{Family, FamilyPreference, SockAddr, Target};
use anysock_sys::ConnectProgress;
use anysock_sys::socket2::Socket;

use crate::clock::now;
use crate::dns::QuerySockets;
use crate::error::Error;
use crate::reactor::{Interest, Reactor, Registered};
use crate::resolver::Resolver;
use crate::stream::Stream;

/// The prepare hook: called with each attempt's socket (created, non-blocking, not yet connecting) and
/// its target. It may bind a local address or set options, and returns that attempt's own timeout
/// (`None` or zero: no timeout of its own), like AnyEvent's `$prepare_cb`. An error fails that attempt (the
/// next target is tried).
pub type PrepareHook = Arc<dyn Fn(&Socket, &Target) -> io::Result<Option<Duration>> + Send + Sync>;

/// The accept hook: called with each connected stream and its target before it is returned. `false`
/// rejects it (the stream is closed) and the connect goes on with the next target, like AnyEvent's
/// `$retry` was meant to (B27 fixed).
pub type AcceptHook = Arc<dyn Fn(&Stream, &Target) -> bool + Send + Sync>;

/// The trace hook: called in the connecting thread as each DNS query and each attempt starts and ends,
/// with the core machine's record of it (times are the adapter's clock readings). For live logs such as
/// `anysock connect --trace`; the same attempt records come back in [`Connection::attempts`] and in the
/// error of a failed connect.
pub type TraceHook = Arc<dyn Fn(&TraceEvent) + Send + Sync>;

/// A successful connect: the stream, whom it is connected to, and every attempt made.
#[derive(Debug)]
pub struct Connection {
    /// The connected stream (blocking mode).
    pub stream: Stream,
    /// The target that won.
    pub target: Target,
    /// Every attempt, in the order started (the winner included), with its timing and outcome.
    pub attempts: Vec<AttemptRecord>,
}

impl Connection {
    /// The peer's address.
    pub fn peer_addr(&self) -> SockAddr {
        self.target.addr
    }
}

/// Resolves `host` and `service` with the system resolver and connects with Happy Eyeballs v2 (RFC
/// 8305): AnyEvent's `tcp_connect`. See [`Connector::connect`] for the arguments and errors, and
/// [`Connector`] for settings.
///
/// ```
/// use std::io::Write;
///
/// let server = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let port = server.local_addr()?.port().to_string();
/// let mut c = anysock_blocking::tcp_connect("127.0.0.1", &port)?;
/// c.stream.write_all(b"hello")?;
/// assert_eq!(c.peer_addr().to_string(), server.local_addr()?.to_string());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn tcp_connect(host: &str, service: &str) -> io::Result<Connection> {
    Connector::new().connect(host, service)
}

/// Settings for a connect: the resolver, Happy Eyeballs or serial mode, timeouts and hooks.
///
/// ```
/// use std::time::Duration;
/// use anysock_blocking::Connector;
///
/// let server = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let target = server.local_addr()?;
/// let c = Connector::new()
///     .timeout(Duration::from_secs(5))
///     .prepare(|_sock, _target| Ok(Some(Duration::from_secs(1))))
///     .connect_addrs([target])?;
/// assert_eq!(c.peer_addr().to_string(), target.to_string());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Connector {
    pub(crate) resolver: Option<Resolver>,
    pub(crate) family: Option<FamilyPreference>,
    pub(crate) config: ConnectConfig,
    pub(crate) prepare: Option<PrepareHook>,
    pub(crate) accept: Option<AcceptHook>,
    pub(crate) trace: Option<TraceHook>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("resolver", &self.resolver)
            .field("family", &self.family)
            .field("config", &self.config)
            .field("prepare", &self.prepare.is_some())
            .field("accept", &self.accept.is_some())
            .field("trace", &self.trace.is_some())
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
            trace: None,
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

    /// Sets the trace hook (see [`TraceHook`]).
    pub fn on_trace(mut self, f: impl Fn(&TraceEvent) + Send + Sync + 'static) -> Self {
        self.trace = Some(Arc::new(f));
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
    pub fn connect(&self, host: &str, service: &str) -> io::Result<Connection> {
        let resolver = self.resolver.clone().unwrap_or_else(Resolver::system);
        let dial = resolver.dial(
            host,
            service,
            self.family,
            DialConfig::new().connect(self.config),
            now(),
        )?;
        Driver::new(self, host.to_owned(), dial)?.run()
    }

    /// Connects to the first of these socket addresses that answers (TCP; Happy Eyeballs sorting and
    /// interleaving apply in the default mode), without any name resolution.
    pub fn connect_addrs<A: Into<SockAddr>>(
        &self,
        addrs: impl IntoIterator<Item = A>,
    ) -> io::Result<Connection> {
        let targets = addrs.into_iter().map(|a| {
            let a = a.into();
            let proto = if a.family() == Family::Unix { 0 } else { 6 };
            Target::new(anysock_core::SockType::Stream, proto, a)
        });
        self.connect_targets(targets)
    }

    /// Connects to the first of these targets that answers, without any name resolution.
    pub fn connect_targets(
        &self,
        targets: impl IntoIterator<Item = Target>,
    ) -> io::Result<Connection> {
        let dial = Dial::with_targets(targets, DialConfig::new().connect(self.config), now());
        Driver::new(self, String::new(), dial)?.run()
    }
}

/// An attempt's socket: registered with the poller while connecting, plain once connected at once.
#[derive(Debug)]
enum AttemptSocket {
    Connecting(Registered<Socket>),
    Connected(Socket),
    /// Connected by a blocking `connect(2)` (see `Driver::connect_alone`): already blocking.
    ConnectedBlocking(Socket),
}

impl AttemptSocket {
    /// The connected socket as the blocking stream handed to the caller.
    fn into_stream(self, unix: bool) -> io::Result<Stream> {
        match self {
            AttemptSocket::Connecting(r) => Stream::from_nonblocking_socket(r.into_inner(), unix),
            AttemptSocket::Connected(s) => Stream::from_nonblocking_socket(s, unix),
            AttemptSocket::ConnectedBlocking(s) => Ok(Stream::from_socket(s, unix)),
        }
    }
}

/// The attempts in flight by poller key: a handful at most, so a `Vec` searched in order beats hashing.
#[derive(Debug, Default)]
struct AttemptMap(Vec<(usize, Attempt)>);

impl AttemptMap {
    fn insert(&mut self, key: usize, a: Attempt) {
        self.0.push((key, a));
    }
    fn get(&self, key: &usize) -> Option<&Attempt> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, a)| a)
    }
    fn remove(&mut self, key: &usize) -> Option<Attempt> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.swap_remove(i).1)
    }
    fn retain(&mut self, mut keep: impl FnMut(&usize, &mut Attempt) -> bool) {
        self.0.retain_mut(|(k, a)| keep(k, a));
    }
    fn iter(&self) -> impl Iterator<Item = (&usize, &Attempt)> {
        self.0.iter().map(|(k, a)| (k, a))
    }
    fn values(&self) -> impl Iterator<Item = &Attempt> {
        self.0.iter().map(|(_, a)| a)
    }
    fn clear(&mut self) {
        self.0.clear();
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One connection attempt in flight.
#[derive(Debug)]
struct Attempt {
    id: AttemptId,
    sock: AttemptSocket,
    /// The prepare hook's own timeout for this attempt, enforced here.
    own_deadline: Option<Instant>,
}

/// Runs one connect: carries out the [`Dial`] machine's outputs as syscalls in the calling thread and
/// feeds back what the sockets say.
struct Driver<'c> {
    connector: &'c Connector,
    /// The host being connected to (empty for a connect without resolution), for error messages.
    node: String,
    dial: Dial,
    dns: QuerySockets,
    attempts: AttemptMap,
    /// Keys for attempts that need no poller registration, counting down from `usize::MAX` so that
    /// they never meet the reactor's keys.
    next_plain_key: usize,
    /// Declared last: dropped after every registration, so that it can go back to the thread's spare.
    reactor: Reactor,
}

impl<'c> Driver<'c> {
    fn new(connector: &'c Connector, node: String, dial: Dial) -> io::Result<Self> {
        Ok(Driver {
            connector,
            node,
            dial,
            dns: QuerySockets::default(),
            attempts: AttemptMap::default(),
            next_plain_key: usize::MAX,
            reactor: Reactor::new()?,
        })
    }

    fn run(mut self) -> io::Result<Connection> {
        loop {
            if let Some(result) = self.drain()? {
                return result;
            }
            let deadline = self.next_deadline();
            if deadline.is_none() && self.attempts.is_empty() && self.dial.queries_running() == 0 {
                // Cannot happen: a machine with nothing in flight and no timer has ended.
                return Err(io::Error::other("connect stalled with nothing in flight"));
            }
            if deadline.is_none_or(|d| d > now()) {
                for ready in self.reactor.wait(deadline)? {
                    if !self.dns.handle_ready(&mut self.dial, ready.key) {
                        self.attempt_ready(ready.key, now());
                    }
                }
            }
            let t = now();
            self.expire_own_deadlines(t);
            self.dial.handle_timeout(t);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let own = self.attempts.values().filter_map(|a| a.own_deadline).min();
        [self.dial.poll_timeout(), own].into_iter().flatten().min()
    }

    /// Carries out the machine's outputs. Returns the final result once there is one.
    fn drain(&mut self) -> io::Result<Option<io::Result<Connection>>> {
        while let Some(out) = self.dial.poll_output() {
            match out {
                DialOutput::Transmit { token, transmit } => {
                    self.dns
                        .transmit(&mut self.reactor, &mut self.dial, token, &transmit);
                }
                DialOutput::CloseQuery(token) => self.dns.close(token),
                DialOutput::NeedSources { batch, targets } => {
                    let sources: Vec<Source> = targets.iter().map(source_of).collect();
                    self.dial.handle_sources(now(), batch, sources);
                }
                DialOutput::StartAttempt { id, target, .. } => self.start_attempt(id, target),
                DialOutput::CancelAttempt { id } => self.attempts.retain(|_, a| a.id != id),
                DialOutput::Connected { id, target } => {
                    let Some(key) = self
                        .attempts
                        .iter()
                        .find_map(|(k, a)| (a.id == id).then_some(*k))
                    else {
                        // Cannot happen: a winner is always an attempt we hold.
                        return Err(io::Error::other(format!(
                            "connect machine won unknown attempt {id}"
                        )));
                    };
                    let a = self.attempts.remove(&key).expect("found above");
                    // Every other attempt was cancelled with the win; drop their sockets.
                    self.attempts.clear();
                    let stream = a.sock.into_stream(target.family() == Family::Unix)?;
                    let accepted = self
                        .connector
                        .accept
                        .as_ref()
                        .is_none_or(|f| f(&stream, &target));
                    if accepted {
                        return Ok(Some(Ok(Connection {
                            stream,
                            target,
                            attempts: self.dial.attempts().to_vec(),
                        })));
                    }
                    drop(stream);
                    self.dial.handle_reject(now(), id);
                }
                DialOutput::Failed(e) => {
                    self.attempts.clear();
                    let node = std::mem::take(&mut self.node);
                    let err = Error::Connect {
                        error: e.connect,
                        resolution: e.resolution.map(|r| Box::new(Error::resolve(&node, r))),
                    };
                    return Ok(Some(Err(err.into())));
                }
                DialOutput::Trace(event) => {
                    if let Some(hook) = &self.connector.trace {
                        hook(&event);
                    }
                }
                _ => {}
            }
        }
        Ok(None)
    }

    fn start_attempt(&mut self, id: AttemptId, target: Target) {
        let t = now();
        // Alone: no other attempt, no DNS question and no deadline anywhere (every DNS query has one),
        // so nothing can happen before this attempt ends; and no prepare hook, which is promised a
        // non-blocking socket. Then a blocking connect is all there is to do, as std makes it.
        if self.attempts.is_empty()
            && self.dns.is_idle()
            && self.connector.prepare.is_none()
            && self.dial.poll_timeout().is_none()
        {
            return self.connect_alone(id, &target, t);
        }
        let sock = match anysock_sys::socket_for(&target) {
            Ok(s) => s,
            Err(e) => return self.dial.handle_attempt(t, id, Err(e.kind())),
        };
        self.connect_started(id, &target, sock, false, t);
    }

    /// Connects a blocking socket for an attempt that runs alone (see `start_attempt`) and feeds the
    /// outcome: `socket` and `connect`, the two system calls of `std::net::TcpStream::connect`, with no
    /// poller and no mode switch. A connect interrupted by a signal goes on in the kernel: the socket
    /// is made non-blocking and waited for on the poller like any other.
    fn connect_alone(&mut self, id: AttemptId, target: &Target, t: Instant) {
        let connected = anysock_sys::blocking_socket_for(target).and_then(|sock| {
            let addr = anysock_sys::addr::to_socket2(&target.addr)?;
            match sock.connect(&addr) {
                Ok(()) => Ok(Ok(sock)),
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted
                        || e.raw_os_error() == Some(libc::EINPROGRESS) =>
                {
                    sock.set_nonblocking(true)?;
                    Ok(Err(sock))
                }
                Err(e) => Err(e),
            }
        });
        match connected {
            Ok(Ok(sock)) => {
                let key = self.next_plain_key;
                self.next_plain_key -= 1;
                self.attempts.insert(
                    key,
                    Attempt {
                        id,
                        sock: AttemptSocket::ConnectedBlocking(sock),
                        own_deadline: None,
                    },
                );
                self.dial.handle_attempt(now(), id, Ok(()));
            }
            Ok(Err(sock)) => self.connect_started(id, target, sock, true, t),
            Err(e) => self.dial.handle_attempt(now(), id, Err(e.kind())),
        }
    }

    /// Runs the prepare hook on a new non-blocking socket and starts its connect (unless `started`:
    /// it is under way already), then holds it: connected at once, or registered with the poller.
    fn connect_started(
        &mut self,
        id: AttemptId,
        target: &Target,
        sock: Socket,
        started: bool,
        t: Instant,
    ) {
        let own_timeout = match self.connector.prepare.as_ref().map(|p| p(&sock, target)) {
            None => None,
            // AnyEvent: a timeout of 0 means none.
            Some(Ok(timeout)) => timeout.filter(|d| !d.is_zero()),
            Some(Err(e)) => return self.dial.handle_attempt(t, id, Err(e.kind())),
        };
        // A connect in progress is checked once at once before waiting: on loopback and other local
        // paths the handshake is usually complete already, and the check (two system calls) is cheaper
        // than a round through the poller.
        let progress = if started {
            anysock_sys::finish_connect(&sock)
        } else {
            match anysock_sys::start_connect(&sock, &target.addr) {
                Ok(ConnectProgress::InProgress) => anysock_sys::finish_connect(&sock),
                other => other,
            }
        };
        match progress {
            Ok(ConnectProgress::InProgress) => {}
            Ok(_) => {
                // Connected at once (unix sockets, sometimes loopback): held for the Connected output.
                let key = self.next_plain_key;
                self.next_plain_key -= 1;
                self.attempts.insert(
                    key,
                    Attempt {
                        id,
                        sock: AttemptSocket::Connected(sock),
                        own_deadline: None,
                    },
                );
                self.dial.handle_attempt(t, id, Ok(()));
                return;
            }
            Err(e) => return self.dial.handle_attempt(t, id, Err(e.kind())),
        }
        match self.reactor.register(sock, Interest::Write) {
            Ok(reg) => {
                self.attempts.insert(
                    reg.key(),
                    Attempt {
                        id,
                        sock: AttemptSocket::Connecting(reg),
                        own_deadline: own_timeout.and_then(|d| t.checked_add(d)),
                    },
                );
            }
            Err(e) => self.dial.handle_attempt(t, id, Err(e.kind())),
        }
    }

    fn attempt_ready(&mut self, key: usize, t: Instant) {
        let Some(a) = self.attempts.get(&key) else {
            return;
        };
        let id = a.id;
        let AttemptSocket::Connecting(reg) = &a.sock else {
            return;
        };
        match anysock_sys::finish_connect(reg.get()) {
            Ok(ConnectProgress::InProgress) => {
                if let Err(e) = reg.arm(Interest::Write) {
                    self.attempts.remove(&key);
                    self.dial.handle_attempt(t, id, Err(e.kind()));
                }
            }
            Ok(_) => self.dial.handle_attempt(t, id, Ok(())),
            Err(e) => {
                self.attempts.remove(&key);
                self.dial.handle_attempt(t, id, Err(e.kind()));
            }
        }
    }

    fn expire_own_deadlines(&mut self, t: Instant) {
        let expired: Vec<usize> = self
            .attempts
            .iter()
            .filter(|(_, a)| a.own_deadline.is_some_and(|d| d <= t))
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            let a = self.attempts.remove(&k).expect("listed above");
            self.dial
                .handle_attempt(t, a.id, Err(io::ErrorKind::TimedOut));
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
