//! The resolver: the core's resolve planner and DNS query machines driven over real sockets, with the
//! system configuration files (or explicit settings).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use anysock_core::dns::{DnsAnswer, DnsErrorKind, DnsEvent, DnsQuery, RecordData, RecordType};
use anysock_core::resolv_conf::DnsConfig;
use anysock_core::{
    Family, FamilyPreference, HostsFile, HostsPolicy, InetAton, InetAtonEvent, Query, QueryFailure,
    QueryId, QueryOutcome, QueryType, ResolvConf, Resolve, ResolveConfig, ResolveError,
    ResolveEvent, ResolveRequest, SockType, SrvRecord, Target,
};
use anysock_sys::{ConfigFile, Watched};

use crate::clock::now;
use crate::dns::DnsDriver;
use crate::error::Error;
use crate::reactor::Reactor;

#[derive(Debug)]
enum DnsSource {
    Fixed(DnsConfig),
    File(Watched<ResolvConf>),
}

#[derive(Debug)]
enum HostsSource {
    None,
    Fixed(Arc<HostsFile>),
    File(Watched<HostsFile>),
}

#[derive(Debug)]
struct Inner {
    dns: DnsSource,
    hosts: HostsSource,
    hosts_policy: HostsPolicy,
    family: FamilyPreference,
}

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
    inner: Arc<Inner>,
}

/// Settings for a [`Resolver`].
#[derive(Debug)]
pub struct ResolverBuilder {
    dns: Result<DnsSource, Error>,
    hosts: HostsSource,
    hosts_policy: HostsPolicy,
    family: FamilyPreference,
}

impl ResolverBuilder {
    /// Nameservers with their ports, with the default timeout (5 s), attempts (2) and no search list.
    pub fn nameservers(mut self, servers: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.dns = DnsConfig::builder()
            .nameservers(servers)
            .build()
            .map(DnsSource::Fixed)
            .map_err(|e| Error::Config(e.to_string()));
        self
    }

    /// Explicit DNS settings: nameservers with ports, search list, ndots, timeout, attempts.
    pub fn dns_config(mut self, config: DnsConfig) -> Self {
        self.dns = Ok(DnsSource::Fixed(config));
        self
    }

    /// DNS settings from a resolv.conf-format file, read on first use and whenever it changes.
    pub fn resolv_conf(mut self, path: impl Into<PathBuf>) -> Self {
        self.dns = Ok(DnsSource::File(Watched::new(path)));
        self
    }

    /// A hosts-format file, read on first use and whenever its modification time changes.
    pub fn hosts_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.hosts = HostsSource::File(Watched::new(path));
        self
    }

    /// A hosts table given as parsed data.
    pub fn hosts(mut self, hosts: HostsFile) -> Self {
        self.hosts = HostsSource::Fixed(Arc::new(hosts));
        self
    }

    /// No hosts file at all.
    pub fn no_hosts(mut self) -> Self {
        self.hosts = HostsSource::None;
        self
    }

    /// When the hosts file is consulted (default [`HostsPolicy::First`]; AnyEvent:
    /// [`HostsPolicy::Fallback`]).
    pub fn hosts_policy(mut self, policy: HostsPolicy) -> Self {
        self.hosts_policy = policy;
        self
    }

    /// Which address families, in which order (default [`FamilyPreference::PreferV6`]).
    pub fn family_preference(mut self, family: FamilyPreference) -> Self {
        self.family = family;
        self
    }

    /// The resolver. Fails only if explicit nameserver settings are invalid (none, or too many).
    pub fn build(self) -> io::Result<Resolver> {
        Ok(Resolver {
            inner: Arc::new(Inner {
                dns: self.dns?,
                hosts: self.hosts,
                hosts_policy: self.hosts_policy,
                family: self.family,
            }),
        })
    }
}

/// A planner's DNS questions in flight: driver token to the planner's query id.
#[derive(Debug, Default)]
pub(crate) struct PlannerQueries {
    next: u64,
    pending: HashMap<u64, (QueryId, QueryType)>,
}

impl PlannerQueries {
    /// Starts a DNS query for a planner question. A name the DNS layer cannot ask is answered at once
    /// as "no such name".
    pub(crate) fn start(
        &mut self,
        reactor: &mut Reactor,
        dns: &mut DnsDriver,
        config: &DnsConfig,
        q: Query,
    ) -> Option<(QueryId, QueryOutcome)> {
        let rtype = match q.qtype {
            QueryType::A => RecordType::A,
            QueryType::Aaaa => RecordType::Aaaa,
            _ => RecordType::Srv,
        };
        match DnsQuery::new(config, &q.name, rtype, now(), anysock_sys::random_u64()) {
            Ok(query) => {
                let token = self.next;
                self.next += 1;
                self.pending.insert(token, (q.id, q.qtype));
                dns.start(reactor, token, query);
                None
            }
            Err(_) => Some((q.id, QueryOutcome::Failed(QueryFailure::NxDomain))),
        }
    }

    /// Turns a finished DNS query into the planner's answer.
    pub(crate) fn finish(&mut self, token: u64, ev: DnsEvent) -> Option<(QueryId, QueryOutcome)> {
        let (id, qtype) = self.pending.remove(&token)?;
        Some((id, outcome(qtype, ev)))
    }
}

/// A DNS outcome in the planner's terms.
fn outcome(qtype: QueryType, ev: DnsEvent) -> QueryOutcome {
    match ev {
        DnsEvent::Answer(a) => match qtype {
            QueryType::Srv => QueryOutcome::Srv(
                a.records
                    .into_iter()
                    .filter_map(|r| match r.data {
                        RecordData::Srv {
                            priority,
                            weight,
                            port,
                            target,
                        } => Some(SrvRecord {
                            priority,
                            weight,
                            port,
                            target,
                        }),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => QueryOutcome::Addresses(
                a.records
                    .into_iter()
                    .filter_map(|r| match r.data {
                        RecordData::A(ip) => Some(IpAddr::V4(ip)),
                        RecordData::Aaaa(ip) => Some(IpAddr::V6(ip)),
                        _ => None,
                    })
                    .collect(),
            ),
        },
        DnsEvent::Failed(e) => QueryOutcome::Failed(match e.kind {
            DnsErrorKind::NxDomain => QueryFailure::NxDomain,
            DnsErrorKind::NoData => QueryFailure::NoData,
            DnsErrorKind::ServerFailure => QueryFailure::ServerFailure,
            DnsErrorKind::Refused => QueryFailure::Refused,
            DnsErrorKind::TimedOut => QueryFailure::TimedOut,
            _ => QueryFailure::Malformed,
        }),
        _ => QueryOutcome::Failed(QueryFailure::Malformed),
    }
}

/// The `io::ErrorKind` of a DNS failure.
pub(crate) fn dns_error_kind(kind: DnsErrorKind) -> io::ErrorKind {
    match kind {
        DnsErrorKind::NxDomain | DnsErrorKind::NoData => io::ErrorKind::NotFound,
        DnsErrorKind::TimedOut => io::ErrorKind::TimedOut,
        DnsErrorKind::Malformed => io::ErrorKind::InvalidData,
        _ => io::ErrorKind::Other,
    }
}

/// The `io::ErrorKind` of a resolution failure.
pub(crate) fn resolve_error_kind(e: ResolveError) -> io::ErrorKind {
    match e {
        ResolveError::NotFound
        | ResolveError::NoAddresses
        | ResolveError::UnknownService
        | ResolveError::UnknownProtocol
        | ResolveError::ServiceNotOffered => io::ErrorKind::NotFound,
        ResolveError::Lookup(QueryFailure::TimedOut) => io::ErrorKind::TimedOut,
        ResolveError::Lookup(_) => io::ErrorKind::Other,
        _ => io::ErrorKind::InvalidInput,
    }
}

impl Resolver {
    /// The system resolver, shared by the whole process: nameservers, search list and options from
    /// `/etc/resolv.conf` (`ANYSOCK_RESOLV_CONF`), names from `/etc/hosts` (`ANYSOCK_HOSTS`), both read
    /// on first use and again whenever they change; hosts file first, IPv6 preferred.
    pub fn system() -> Resolver {
        static SYSTEM: OnceLock<Resolver> = OnceLock::new();
        SYSTEM
            .get_or_init(|| Resolver {
                inner: Arc::new(Inner {
                    dns: DnsSource::File(Watched::system(ConfigFile::ResolvConf)),
                    hosts: HostsSource::File(Watched::system(ConfigFile::Hosts)),
                    hosts_policy: HostsPolicy::First,
                    family: FamilyPreference::PreferV6,
                }),
            })
            .clone()
    }

    /// A builder starting from the system configuration files (see [`Resolver::system`]).
    pub fn builder() -> ResolverBuilder {
        ResolverBuilder {
            dns: Ok(DnsSource::File(Watched::system(ConfigFile::ResolvConf))),
            hosts: HostsSource::File(Watched::system(ConfigFile::Hosts)),
            hosts_policy: HostsPolicy::First,
            family: FamilyPreference::PreferV6,
        }
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
        match &self.inner.dns {
            DnsSource::Fixed(c) => Ok(c.clone()),
            DnsSource::File(w) => Ok(w.get(ResolvConf::parse)?.config().clone()),
        }
    }

    /// The family preference.
    pub fn family_preference(&self) -> FamilyPreference {
        self.inner.family
    }

    /// The planner configuration in force now: hosts file (re-read if changed), policies, services and
    /// protocols databases.
    pub(crate) fn resolve_config(
        &self,
        family: Option<FamilyPreference>,
    ) -> io::Result<ResolveConfig> {
        let mut c = ResolveConfig::new()
            .with_hosts_policy(self.inner.hosts_policy)
            .with_family_preference(family.unwrap_or(self.inner.family));
        match &self.inner.hosts {
            HostsSource::None => c = c.with_hosts_policy(HostsPolicy::Ignore),
            HostsSource::Fixed(h) => c.hosts = Arc::clone(h),
            HostsSource::File(w) => c.hosts = w.get(HostsFile::parse)?,
        }
        c.services = crate::sysdb::services();
        c.protocols = crate::sysdb::protocols();
        Ok(c)
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
        let config = self.resolve_config(None)?;
        let plan = Resolve::new(request, &config, anysock_sys::random_u64())
            .map_err(|error| Error::resolve(node, error))?;
        let mut p = ResolvePlan { plan, result: None };
        run_planner(&self.dns_config()?, &mut p)?;
        match p.result.expect("the planner finished") {
            Ok(()) => Ok(p.plan.targets()),
            Err(e) => Err(Error::resolve(node, e).into()),
        }
    }

    /// `inet_aton`: the addresses of `name` (an IP literal in any AnyEvent form, `localhost`, a hosts
    /// file name or a DNS name), preferred family first. Unlike AnyEvent, the hosts file is used (B35).
    pub fn inet_aton(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        let config = self.resolve_config(None)?;
        let plan = InetAton::new(name, &config).map_err(|error| Error::resolve(name, error))?;
        let mut p = AtonPlan { plan, result: None };
        run_planner(&self.dns_config()?, &mut p)?;
        match p.result.expect("the planner finished") {
            Ok(()) => Ok(p.plan.addresses()),
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
        let mut reactor = match Reactor::new() {
            Ok(r) => r,
            Err(e) => return all_fail(&e),
        };
        let mut results: Vec<Option<io::Result<DnsAnswer>>> =
            questions.iter().map(|_| None).collect();
        let mut driver = DnsDriver::default();
        let start = now();
        for (i, (name, rtype)) in questions.iter().enumerate() {
            match DnsQuery::new(&config, name, *rtype, start, anysock_sys::random_u64()) {
                Ok(q) => driver.start(&mut reactor, i as u64, q),
                Err(e) => results[i] = Some(Err(io::Error::new(io::ErrorKind::InvalidInput, e))),
            }
        }
        let outcome = drive(
            &mut reactor,
            &mut driver,
            &mut |driver: &mut DnsDriver, _| {
                while let Some((token, ev)) = driver.poll_done() {
                    results[token as usize] = Some(event_result(ev));
                }
                driver.is_idle()
            },
        );
        if let Err(e) = outcome {
            for r in results.iter_mut().filter(|r| r.is_none()) {
                *r = Some(Err(io::Error::new(e.kind(), e.to_string())));
            }
        }
        results
            .into_iter()
            .map(|r| r.expect("every query ends with an event"))
            .collect()
    }
}

/// A planner machine as the DNS loop sees it.
trait Planner {
    fn poll_query(&mut self) -> Option<Query>;
    fn handle_answer(&mut self, id: QueryId, outcome: QueryOutcome);
    /// Drains the planner's events; true once it is done.
    fn drain(&mut self) -> bool;
}

struct ResolvePlan {
    plan: Resolve,
    result: Option<Result<(), ResolveError>>,
}

impl Planner for ResolvePlan {
    fn poll_query(&mut self) -> Option<Query> {
        self.plan.poll_query()
    }
    fn handle_answer(&mut self, id: QueryId, outcome: QueryOutcome) {
        self.plan.handle_answer(id, outcome);
    }
    fn drain(&mut self) -> bool {
        while let Some(ev) = self.plan.poll_event() {
            if let ResolveEvent::Done(r) = ev {
                self.result = Some(r);
            }
        }
        self.result.is_some()
    }
}

struct AtonPlan {
    plan: InetAton,
    result: Option<Result<(), ResolveError>>,
}

impl Planner for AtonPlan {
    fn poll_query(&mut self) -> Option<Query> {
        self.plan.poll_query()
    }
    fn handle_answer(&mut self, id: QueryId, outcome: QueryOutcome) {
        self.plan.handle_answer(id, outcome);
    }
    fn drain(&mut self) -> bool {
        while let Some(ev) = self.plan.poll_event() {
            if let InetAtonEvent::Done(r) = ev {
                self.result = Some(r);
            }
        }
        self.result.is_some()
    }
}

/// Runs a planner with its DNS queries until it finishes.
fn run_planner(dns_config: &DnsConfig, p: &mut dyn Planner) -> io::Result<()> {
    let mut reactor = Reactor::new()?;
    let mut driver = DnsDriver::default();
    let mut queries = PlannerQueries::default();
    drive(&mut reactor, &mut driver, &mut |driver, reactor| loop {
        let mut progressed = false;
        while let Some(q) = p.poll_query() {
            progressed = true;
            if let Some((id, o)) = queries.start(reactor, driver, dns_config, q) {
                p.handle_answer(id, o);
            }
        }
        while let Some((token, ev)) = driver.poll_done() {
            progressed = true;
            if let Some((id, o)) = queries.finish(token, ev) {
                p.handle_answer(id, o);
            }
        }
        if p.drain() {
            return true;
        }
        if !progressed {
            return false;
        }
    })
}

/// The event loop for DNS-only work: `step` is called after every input and says when to stop.
fn drive(
    reactor: &mut Reactor,
    driver: &mut DnsDriver,
    step: &mut dyn FnMut(&mut DnsDriver, &mut Reactor) -> bool,
) -> io::Result<()> {
    loop {
        if step(driver, reactor) {
            return Ok(());
        }
        if driver.is_idle() {
            return Err(io::Error::other(
                "resolution stalled with no query in flight",
            ));
        }
        let deadline = driver.poll_timeout();
        if deadline.is_none_or(|d| d > now()) {
            for ready in reactor.wait(deadline)? {
                driver.handle_ready(reactor, ready.key, now());
            }
        }
        let t = now();
        if driver.poll_timeout().is_some_and(|d| d <= t) {
            driver.handle_timeout(reactor, t);
        }
    }
}

fn event_result(ev: DnsEvent) -> io::Result<DnsAnswer> {
    match ev {
        DnsEvent::Answer(a) => Ok(a),
        DnsEvent::Failed(e) => Err(io::Error::new(dns_error_kind(e.kind), e)),
        other => Err(io::Error::other(format!("unexpected DNS event {other:?}"))),
    }
}
