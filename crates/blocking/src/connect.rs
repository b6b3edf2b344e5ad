//! `tcp_connect` and the [`Connector`] builder: the core's resolve planner, DNS machines and Happy
//! Eyeballs connect machine, driven together in the calling thread on one poller.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anysock_core::connect::{AttemptId, AttemptRecord, Connect, ConnectConfig, Mode, Step};
use anysock_core::resolv_conf::DnsConfig;
use anysock_core::rfc6724::Source;
use anysock_core::{
    Family, FamilyPreference, QueryFailure, QueryOutcome, Resolve, ResolveEvent, ResolveRequest,
    SockAddr, Target,
};
use anysock_sys::ConnectProgress;
use anysock_sys::socket2::Socket;

use crate::clock::now;
use crate::dns::DnsDriver;
use crate::error::Error;
use crate::reactor::{Interest, Reactor, Registered};
use crate::resolver::{PlannerQueries, Resolver};
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
    pub fn connect(&self, host: &str, service: &str) -> io::Result<Connection> {
        let resolver = self.resolver.clone().unwrap_or_else(Resolver::system);
        let config = resolver.resolve_config(self.family)?;
        let plan = Resolve::new(
            ResolveRequest::new(host, Some(service)),
            &config,
            anysock_sys::random_u64(),
        )
        .map_err(|e| Error::resolve(host, e))?;
        Driver::new(
            self,
            Plan::Planned {
                plan: Box::new(plan),
                resolver,
                dns_config: None,
                queries: PlannerQueries::default(),
                node: host.to_owned(),
            },
        )?
        .run()
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
        let mut by_family: Vec<(Family, Vec<Target>)> = Vec::new();
        for t in targets {
            match by_family.iter_mut().find(|(f, _)| *f == t.family()) {
                Some((_, v)) => v.push(t),
                None => by_family.push((t.family(), vec![t])),
            }
        }
        let mut events: VecDeque<PlanEvent> = by_family
            .into_iter()
            .map(|(family, targets)| PlanEvent::Targets { family, targets })
            .collect();
        events.push_back(PlanEvent::Done(Ok(())));
        Driver::new(self, Plan::Fixed(events))?.run()
    }
}

/// What the resolution side produced.
#[derive(Debug)]
pub(crate) enum PlanEvent {
    Targets {
        family: Family,
        targets: Vec<Target>,
    },
    Done(Result<(), Error>),
}

/// Where targets come from.
#[derive(Debug)]
pub(crate) enum Plan {
    /// Known in advance.
    Fixed(VecDeque<PlanEvent>),
    /// The core's resolve planner, with its DNS queries run by the driver.
    Planned {
        plan: Box<Resolve>,
        /// Where DNS settings come from; read when the first question is asked (a literal needs none).
        resolver: Resolver,
        dns_config: Option<DnsConfig>,
        queries: PlannerQueries,
        node: String,
    },
}

/// An attempt's socket: registered with the poller while connecting, plain once connected at once.
#[derive(Debug)]
enum AttemptSocket {
    Connecting(Registered<Socket>),
    Connected(Socket),
}

impl AttemptSocket {
    fn into_socket(self) -> Socket {
        match self {
            AttemptSocket::Connecting(r) => r.into_inner(),
            AttemptSocket::Connected(s) => s,
        }
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

/// Runs one connect: the plan's targets into the machine, the machine's steps into syscalls.
pub(crate) struct Driver<'c> {
    connector: &'c Connector,
    dns: DnsDriver,
    plan: Plan,
    plan_error: Option<Error>,
    machine: Connect,
    attempts: HashMap<usize, Attempt>,
    /// Targets handed to the machine so far.
    targets_seen: usize,
    /// Keys for attempts that need no poller registration, counting down from `usize::MAX` so that
    /// they never meet the reactor's keys.
    next_plain_key: usize,
    /// Declared last: dropped after every registration, so that it can go back to the thread's spare.
    reactor: Reactor,
}

impl<'c> Driver<'c> {
    pub(crate) fn new(connector: &'c Connector, plan: Plan) -> io::Result<Self> {
        Ok(Driver {
            connector,
            dns: DnsDriver::default(),
            plan,
            plan_error: None,
            machine: Connect::new(connector.config, now()),
            attempts: HashMap::new(),
            targets_seen: 0,
            next_plain_key: usize::MAX,
            reactor: Reactor::new()?,
        })
    }

    pub(crate) fn run(mut self) -> io::Result<Connection> {
        loop {
            self.pump_plan();
            if let Some(result) = self.pump_machine()? {
                return result;
            }
            let deadline = self.next_deadline();
            let t = now();
            if deadline.is_none_or(|d| d > t) {
                for ready in self.reactor.wait(deadline)? {
                    let t = now();
                    if !self.dns.handle_ready(&mut self.reactor, ready.key, t) {
                        self.attempt_ready(ready.key, t);
                    }
                }
            }
            let t = now();
            self.expire_own_deadlines(t);
            if self.dns.poll_timeout().is_some_and(|d| d <= t) {
                self.dns.handle_timeout(&mut self.reactor, t);
            }
            self.machine.handle_timeout(t);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        [
            self.machine.poll_timeout(),
            self.dns.poll_timeout(),
            self.attempts.values().filter_map(|a| a.own_deadline).min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the planner's DNS questions and moves its targets and its end into the connect machine.
    fn pump_plan(&mut self) {
        let mut events = Vec::new();
        match &mut self.plan {
            Plan::Fixed(q) => events.extend(q.drain(..)),
            Plan::Planned {
                plan,
                resolver,
                dns_config,
                queries,
                node,
            } => loop {
                let mut progressed = false;
                while let Some(q) = plan.poll_query() {
                    progressed = true;
                    if dns_config.is_none() {
                        match resolver.dns_config() {
                            Ok(c) => *dns_config = Some(c),
                            Err(_) => {
                                // Without DNS settings (an unreadable resolv.conf) no question
                                // can be asked: it fails as unanswered.
                                plan.handle_answer(
                                    q.id,
                                    QueryOutcome::Failed(QueryFailure::TimedOut),
                                );
                                continue;
                            }
                        }
                    }
                    let config = dns_config.as_ref().expect("set above");
                    if let Some((id, o)) =
                        queries.start(&mut self.reactor, &mut self.dns, config, q)
                    {
                        plan.handle_answer(id, o);
                    }
                }
                while let Some((token, ev)) = self.dns.poll_done() {
                    progressed = true;
                    if let Some((id, o)) = queries.finish(token, ev) {
                        plan.handle_answer(id, o);
                    }
                }
                while let Some(ev) = plan.poll_event() {
                    progressed = true;
                    events.push(match ev {
                        ResolveEvent::Targets { family, targets } => {
                            PlanEvent::Targets { family, targets }
                        }
                        ResolveEvent::Done(r) => {
                            PlanEvent::Done(r.map_err(|e| Error::resolve(node, e)))
                        }
                        _ => continue,
                    });
                }
                if !progressed {
                    break;
                }
            },
        }
        // Source addresses only matter for ordering several targets: when resolution ended in this
        // batch with a single target overall, the lookup (five system calls) is skipped.
        let new_targets: usize = events
            .iter()
            .map(|e| match e {
                PlanEvent::Targets { targets, .. } => targets.len(),
                PlanEvent::Done(_) => 0,
            })
            .sum();
        self.targets_seen += new_targets;
        let complete = events.iter().any(|e| matches!(e, PlanEvent::Done(_)));
        let lookup_sources = !(complete && self.targets_seen <= 1);
        for ev in events {
            let t = now();
            match ev {
                PlanEvent::Targets { family, targets } => {
                    let with_sources: Vec<(Target, Source)> = targets
                        .into_iter()
                        .map(|t| {
                            let src = if lookup_sources {
                                source_of(&t)
                            } else {
                                Source::Unknown
                            };
                            (t, src)
                        })
                        .collect();
                    self.machine
                        .handle_targets_with_sources(t, family, with_sources);
                }
                PlanEvent::Done(result) => {
                    let r = match result {
                        Ok(()) => Ok(()),
                        Err(e) => {
                            let k = e.kind();
                            self.plan_error = Some(e);
                            Err(k)
                        }
                    };
                    self.machine.handle_resolution_done(t, None, r);
                }
            }
        }
    }

    /// Carries out the machine's steps. Returns the final result once there is one.
    fn pump_machine(&mut self) -> io::Result<Option<io::Result<Connection>>> {
        while let Some(step) = self.machine.poll_step() {
            match step {
                Step::StartAttempt { id, target, .. } => self.start_attempt(id, target),
                Step::CancelAttempt { id } => {
                    self.attempts.retain(|_, a| a.id != id);
                }
                Step::Connected { id, target } => {
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
                    let sock = a.sock.into_socket();
                    let stream =
                        Stream::from_nonblocking_socket(sock, target.family() == Family::Unix)?;
                    let accepted = self
                        .connector
                        .accept
                        .as_ref()
                        .is_none_or(|f| f(&stream, &target));
                    if accepted {
                        return Ok(Some(Ok(Connection {
                            stream,
                            target,
                            attempts: self.machine.attempts().to_vec(),
                        })));
                    }
                    drop(stream);
                    self.machine.handle_reject(now(), id);
                }
                Step::Failed(e) => {
                    let err = Error::Connect {
                        error: e,
                        resolution: self.plan_error.take().map(Box::new),
                    };
                    return Ok(Some(Err(err.into())));
                }
                _ => {}
            }
        }
        Ok(None)
    }

    fn start_attempt(&mut self, id: AttemptId, target: Target) {
        let t = now();
        let sock = match anysock_sys::socket_for(&target) {
            Ok(s) => s,
            Err(e) => return self.machine.handle_attempt(t, id, Err(e.kind())),
        };
        let own_timeout = match self.connector.prepare.as_ref().map(|p| p(&sock, &target)) {
            None => None,
            // AnyEvent: a timeout of 0 means none.
            Some(Ok(timeout)) => timeout.filter(|d| !d.is_zero()),
            Some(Err(e)) => return self.machine.handle_attempt(t, id, Err(e.kind())),
        };
        // A connect in progress is checked once at once before waiting: on loopback and other local
        // paths the handshake is usually complete already, and the check (two system calls) is cheaper
        // than a round through the poller.
        let progress = match anysock_sys::start_connect(&sock, &target.addr) {
            Ok(ConnectProgress::InProgress) => anysock_sys::finish_connect(&sock),
            other => other,
        };
        match progress {
            Ok(ConnectProgress::InProgress) => {}
            Ok(_) => {
                // Connected at once (unix sockets, sometimes loopback): hold it for the Connected step.
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
                self.machine.handle_attempt(t, id, Ok(()));
                return;
            }
            Err(e) => return self.machine.handle_attempt(t, id, Err(e.kind())),
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
            Err(e) => self.machine.handle_attempt(t, id, Err(e.kind())),
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
                    self.machine.handle_attempt(t, id, Err(e.kind()));
                }
            }
            Ok(_) => self.machine.handle_attempt(t, id, Ok(())),
            Err(e) => {
                self.attempts.remove(&key);
                self.machine.handle_attempt(t, id, Err(e.kind()));
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
            self.machine
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
