//! The resolver: the core's [`Resolution`] machine (resolve planner and DNS query machines) driven
//! over real sockets in the calling thread, with the system configuration files (or explicit
//! settings).

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anysock_core::dns::{DnsAnswer, RecordType};
use anysock_core::resolution::{LookupError, Resolution, ResolutionEvent};
use anysock_core::resolv_conf::DnsConfig;
use anysock_core::{ConfigNeeds, Dial, DialConfig};
use anysock_core::{
    Family, FamilyPreference, InetAton, Resolve, ResolveConfig, ResolveError, ResolveRequest,
    SockType, Target,
};
use anysock_sys::{PlanError, ResolverSettings};
use std::time::Instant;

use crate::clock::now;
use crate::dns::QuerySockets;
use crate::error::Error;
use crate::reactor::Reactor;

/// A DNS stub resolver with a hosts file: AnyEvent's `resolve_sockaddr`, `inet_aton` and
/// AnyEvent::DNS's record lookups. Cheap to clone (clones share their configuration and file caches).
///
/// By default ([`Resolver::system`]) it reads `/etc/resolv.conf` and `/etc/hosts` (or the files named by
/// `ANYSOCK_RESOLV_CONF` and `ANYSOCK_HOSTS`) on first use and again whenever they change, consults the
/// hosts file before DNS and prefers IPv6. [`Resolver::builder`] sets everything explicitly.
///
/// ```
/// use anysock_blocking::Resolver;
///
/// let dir = std::env::temp_dir().join(format!("anysock-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let hosts = dir.join("hosts");
/// std::fs::write(&hosts, "127.0.0.1 db.internal\n::1 db.internal\n")?;
/// let silent = std::net::UdpSocket::bind("127.0.0.1:0")?; // no DNS is needed for this name
/// let resolver = Resolver::builder()
///     .nameservers([silent.local_addr()?])
///     .hosts_file(&hosts)
///     .build()?;
/// let targets = resolver.resolve_sockaddr("db.internal", Some("5432"), "tcp", None, None)?;
/// let addrs: Vec<String> = targets.iter().map(|t| t.addr.to_string()).collect();
/// assert_eq!(addrs, ["[::1]:5432", "127.0.0.1:5432"]);
/// assert_eq!(resolver.inet_aton("127.1")?, ["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Resolver {
    settings: Arc<ResolverSettings>,
}

/// Settings for a [`Resolver`]: [`Resolver::builder`] starts one from the system configuration files.
pub type ResolverBuilder = anysock_sys::ResolverBuilder<Resolver>;

impl From<Arc<ResolverSettings>> for Resolver {
    /// A resolver with these settings (what [`ResolverBuilder::build`] returns).
    fn from(settings: Arc<ResolverSettings>) -> Self {
        Resolver { settings }
    }
}

/// The `io::ErrorKind` of a resolution failure.
pub(crate) fn resolve_error_kind(e: ResolveError) -> io::ErrorKind {
    anysock_core::resolution::resolve_error_kind(e)
}

impl Resolver {
    /// The system resolver, shared by the whole process: nameservers, search list and options from
    /// `/etc/resolv.conf` (`ANYSOCK_RESOLV_CONF`), names from `/etc/hosts` (`ANYSOCK_HOSTS`), both read
    /// on first use and again whenever they change; hosts file first, IPv6 preferred.
    pub fn system() -> Resolver {
        Resolver::from(ResolverSettings::system())
    }

    /// A builder starting from the system configuration files (see [`Resolver::system`]).
    pub fn builder() -> ResolverBuilder {
        ResolverBuilder::new()
    }

    /// A resolver configured from a resolv.conf-format file (and the system hosts file).
    pub fn from_resolv_conf(path: impl Into<PathBuf>) -> Resolver {
        Resolver::builder()
            .resolv_conf(path)
            .build()
            .expect("a file source cannot be invalid")
    }

    /// A resolver with explicit DNS settings (and the system hosts file).
    pub fn with_dns_config(config: DnsConfig) -> Resolver {
        Resolver::builder()
            .dns_config(config)
            .build()
            .expect("a parsed configuration cannot be invalid")
    }

    /// The DNS settings in force now (for a file-backed resolver: as of the file's current version).
    pub fn dns_config(&self) -> io::Result<DnsConfig> {
        self.settings.dns_config()
    }

    /// The family preference.
    pub fn family_preference(&self) -> FamilyPreference {
        self.settings.family_preference()
    }

    /// The planner configuration in force now, with the parts `needs` names: hosts file (re-read if
    /// changed), services and protocols databases; and the policies.
    pub(crate) fn resolve_config(
        &self,
        family: Option<FamilyPreference>,
        needs: ConfigNeeds,
    ) -> io::Result<ResolveConfig> {
        self.settings.resolve_config(family, needs)
    }

    /// The [`Dial`] machine for a connect to `host` and `service` (see [`ResolverSettings::dial`]).
    pub(crate) fn dial(
        &self,
        host: &str,
        service: &str,
        family: Option<FamilyPreference>,
        config: DialConfig,
        now: Instant,
    ) -> io::Result<Dial> {
        self.settings
            .dial(host, service, family, config, now)
            .map_err(|e| match e {
                PlanError::Config(e) => e,
                PlanError::Resolve(e) => Error::resolve(host, e).into(),
            })
    }

    /// AnyEvent's `resolve_sockaddr`: the connection targets for `node` and `service`, in the order to
    /// try them.
    ///
    /// `node`: a host name, an IP literal, or `unix/`. `service`: a port, a service name (SRV is asked
    /// first), `name=port`, or an absolute path for `unix/`; `None` for addresses only. `proto`: `tcp`,
    /// `udp`, ... (`""`: tcp). `family`: one family only, or `None`. `socktype`: `None` derives it from
    /// the protocol.
    ///
    /// Errors: `NotFound` when nothing resolves (the inner error says why), `TimedOut` when DNS did not
    /// answer, `InvalidInput` for a bad name, service or path.
    pub fn resolve_sockaddr(
        &self,
        node: &str,
        service: Option<&str>,
        proto: &str,
        family: Option<Family>,
        socktype: Option<SockType>,
    ) -> io::Result<Vec<Target>> {
        let request = ResolveRequest::new(node, service)
            .protocol(proto)
            .family(family)
            .socktype(socktype);
        let config = self.resolve_config(None, request.config_needs())?;
        // The whole list is read at the end: no per-family batches.
        let plan = Resolve::new(request, &config, anysock_sys::random_u64())
            .map_err(|error| Error::resolve(node, error))?
            .without_target_events();
        let dns = self.dns_config()?;
        let plan_done = plan.is_finished();
        let mut r = Resolution::new(plan, &dns, now(), dns_seed(plan_done));
        match run(&mut r, |_| {})? {
            Ok(()) => Ok(r.into_targets()),
            Err(e) => Err(Error::resolve(node, e).into()),
        }
    }

    /// `inet_aton`: the addresses of `name` (an IP literal in any AnyEvent form, `localhost`, a hosts
    /// file name or a DNS name), preferred family first. Unlike AnyEvent, the hosts file is used (B35).
    pub fn inet_aton(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        let needs = ResolveRequest::new(name, None).config_needs();
        let config = self.resolve_config(None, needs)?;
        let plan = InetAton::new(name, &config).map_err(|error| Error::resolve(name, error))?;
        let dns = self.dns_config()?;
        let plan_done = plan.is_finished();
        let mut r = Resolution::inet_aton(plan, &dns, now(), dns_seed(plan_done));
        match run(&mut r, |_| {})? {
            Ok(()) => Ok(r.addresses()),
            Err(e) => Err(Error::resolve(name, e).into()),
        }
    }

    /// Looks up records of one type: A, AAAA, SRV, TXT, PTR or CNAME (AnyEvent::DNS's record lookups).
    /// The search list applies to names without a trailing dot. CNAME chains are followed. The hosts
    /// file is not consulted.
    ///
    /// Errors: `NotFound` when the name does not exist or has no such records, `TimedOut` when no
    /// server answered, `InvalidInput` for a malformed name; the inner error is the detailed
    /// [`anysock_core::dns::DnsError`] with every try.
    ///
    /// ```
    /// use std::time::Duration;
    /// use anysock_blocking::Resolver;
    /// use anysock_core::dns::RecordType;
    /// use anysock_core::resolv_conf::DnsConfig;
    ///
    /// // A nameserver on a loopback port where nobody answers: the lookup times out.
    /// let silent = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let config = DnsConfig::builder()
    ///     .nameserver(silent.local_addr()?)
    ///     .timeout(Duration::from_millis(50))
    ///     .attempts(1)
    ///     .build()
    ///     .unwrap();
    /// let err = Resolver::with_dns_config(config).lookup("example.test.", RecordType::A).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn lookup(&self, name: &str, rtype: RecordType) -> io::Result<DnsAnswer> {
        self.lookup_many(&[(name, rtype)])
            .pop()
            .expect("one result per question")
    }

    /// Several lookups at once, concurrently in the calling thread; the results are in the order of the
    /// questions.
    pub fn lookup_many(&self, questions: &[(&str, RecordType)]) -> Vec<io::Result<DnsAnswer>> {
        let all_fail = |e: &io::Error| {
            questions
                .iter()
                .map(|_| Err(io::Error::new(e.kind(), e.to_string())))
                .collect()
        };
        let config = match self.dns_config() {
            Ok(c) => c,
            Err(e) => return all_fail(&e),
        };
        let mut results: Vec<Option<io::Result<DnsAnswer>>> =
            questions.iter().map(|_| None).collect();
        let mut r = Resolution::lookups(
            questions.iter().copied(),
            &config,
            now(),
            anysock_sys::random_u64(),
        );
        let outcome = run(&mut r, |ev| {
            if let ResolutionEvent::Lookup { index, result } = ev
                && let Some(slot) = results.get_mut(index)
            {
                // The inner error is the name error, or the DNS error with every try.
                *slot = Some(result.map_err(|e| {
                    let kind = e.kind();
                    match e {
                        LookupError::Dns(d) => io::Error::new(kind, d),
                        LookupError::Name(n) => io::Error::new(kind, n),
                        other => io::Error::new(kind, other),
                    }
                }));
            }
        });
        results
            .into_iter()
            .map(|slot| {
                slot.unwrap_or_else(|| {
                    Err(match &outcome {
                        Err(e) => io::Error::new(e.kind(), e.to_string()),
                        Ok(Err(e)) => io::Error::new(resolve_error_kind(*e), *e),
                        Ok(Ok(())) => io::Error::other("query ended without an outcome"),
                    })
                })
            })
            .collect()
    }
}

/// The seed for a resolution's DNS machines: none is drawn (three system calls) when the planner has
/// finished already and no question will be asked.
fn dns_seed(plan_done: bool) -> u64 {
    if plan_done {
        0
    } else {
        anysock_sys::random_u64()
    }
}

/// Runs a [`Resolution`] to its end on a reactor of its own in the calling thread, passing every event
/// other than the final one to `on_event`. The outer error is a reactor failure; the inner result is
/// the resolution's.
fn run(
    r: &mut Resolution,
    mut on_event: impl FnMut(ResolutionEvent),
) -> io::Result<Result<(), ResolveError>> {
    // Declared first, dropped last: after every registration, so that it can go back to the thread's
    // spare.
    let mut reactor = Reactor::new()?;
    let mut socks = QuerySockets::default();
    loop {
        while let Some((token, t)) = r.poll_transmit() {
            socks.transmit(&mut reactor, r, token, &t);
        }
        let mut done = None;
        while let Some(ev) = r.poll_event() {
            match ev {
                ResolutionEvent::QueryFinished(rec) => socks.close(rec.token),
                ResolutionEvent::QueryStarted(_) => {}
                ResolutionEvent::Done(result) => done = Some(result),
                // Never cancelled here (a blocking call runs to its end).
                ResolutionEvent::Cancelled => done = Some(Err(ResolveError::NotFound)),
                ev => on_event(ev),
            }
        }
        if let Some(result) = done {
            return Ok(result);
        }
        let deadline = r.poll_timeout();
        if deadline.is_none() && r.queries_running() == 0 {
            return Err(io::Error::other(
                "resolution stalled with no query in flight",
            ));
        }
        if deadline.is_none_or(|d| d > now()) {
            for ready in reactor.wait(deadline)? {
                socks.handle_ready(r, ready.key);
            }
        }
        let t = now();
        if r.poll_timeout().is_some_and(|d| d <= t) {
            r.handle_timeout(t);
        }
    }
}
