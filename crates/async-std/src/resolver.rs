//! The resolver: the core's [`Resolution`] machine (resolve planner and DNS query machines) driven
//! over real sockets, with the system configuration files (or explicit settings).

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use anysock_core::dns::{DnsAnswer, RecordType};
use anysock_core::resolution::{Resolution, ResolutionEvent};
use anysock_core::resolv_conf::DnsConfig;
use anysock_core::{ConfigNeeds, Dial, DialConfig};
use anysock_core::{
    Family, FamilyPreference, InetAton, Resolve, ResolveConfig, ResolveError, ResolveRequest,
    SockType, Target,
};
use anysock_sys::{PlanError, ResolverSettings};
use async_io::Timer;
use std::time::Instant;

use crate::clock::now;
use crate::dns::QuerySockets;
use crate::error::Error;

/// A DNS stub resolver with a hosts file: AnyEvent's `resolve_sockaddr`, `inet_aton` and
/// AnyEvent::DNS's record lookups. Cheap to clone (clones share their configuration and file caches).
///
/// By default ([`Resolver::system`]) it reads `/etc/resolv.conf` and `/etc/hosts` (or the files named by
/// `ANYSOCK_RESOLV_CONF` and `ANYSOCK_HOSTS`) on first use and again whenever they change, consults the
/// hosts file before DNS and prefers IPv6. [`Resolver::builder`] sets everything explicitly.
///
/// ```
/// use anysock_async_std::Resolver;
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
/// # async_io::block_on(async {
/// let targets = resolver.resolve_sockaddr("db.internal", Some("5432"), "tcp", None, None).await?;
/// let addrs: Vec<String> = targets.iter().map(|t| t.addr.to_string()).collect();
/// assert_eq!(addrs, ["[::1]:5432", "127.0.0.1:5432"]);
/// let ips = resolver.inet_aton("127.1").await?;
/// assert_eq!(ips, ["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
/// # Ok::<(), std::io::Error>(())
/// # })?;
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
    /// answer, `InvalidInput` for a bad name, service or path. Dropping the future stops the queries.
    pub async fn resolve_sockaddr(
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
        let mut r = Resolution::new(plan, &dns, now(), anysock_sys::random_u64());
        match run(&mut r, |_| {}).await {
            Ok(()) => Ok(r.into_targets()),
            Err(e) => Err(Error::resolve(node, e).into()),
        }
    }

    /// `inet_aton`: the addresses of `name` (an IP literal in any AnyEvent form, `localhost`, a hosts
    /// file name or a DNS name), preferred family first. Unlike AnyEvent, the hosts file is used (B35).
    pub async fn inet_aton(&self, name: &str) -> io::Result<Vec<IpAddr>> {
        let needs = ResolveRequest::new(name, None).config_needs();
        let config = self.resolve_config(None, needs)?;
        let plan = InetAton::new(name, &config).map_err(|error| Error::resolve(name, error))?;
        let dns = self.dns_config()?;
        let mut r = Resolution::inet_aton(plan, &dns, now(), anysock_sys::random_u64());
        match run(&mut r, |_| {}).await {
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
    /// [`anysock_core::resolution::LookupError`] (for DNS failures, every try is listed).
    pub async fn lookup(&self, name: &str, rtype: RecordType) -> io::Result<DnsAnswer> {
        self.lookup_many(&[(name, rtype)])
            .await
            .pop()
            .unwrap_or_else(|| Err(io::Error::other("no result")))
    }

    /// Several lookups at once, concurrently in one future; the results are in the order of the
    /// questions.
    pub async fn lookup_many(
        &self,
        questions: &[(&str, RecordType)],
    ) -> Vec<io::Result<DnsAnswer>> {
        let dns = match self.dns_config() {
            Ok(c) => c,
            Err(e) => {
                return questions
                    .iter()
                    .map(|_| Err(io::Error::new(e.kind(), e.to_string())))
                    .collect();
            }
        };
        let mut results: Vec<Option<io::Result<DnsAnswer>>> =
            questions.iter().map(|_| None).collect();
        let mut r = Resolution::lookups(
            questions.iter().copied(),
            &dns,
            now(),
            anysock_sys::random_u64(),
        );
        let outcome = run(&mut r, |ev| {
            if let ResolutionEvent::Lookup { index, result } = ev
                && let Some(slot) = results.get_mut(index)
            {
                *slot = Some(result.map_err(|e| io::Error::new(e.kind(), e)));
            }
        })
        .await;
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(match outcome {
                        Err(e) => io::Error::new(resolve_error_kind(e), e),
                        Ok(()) => io::Error::other("query ended without an outcome"),
                    })
                })
            })
            .collect()
    }
}

/// Runs a [`Resolution`] to its end on async-io's reactor, passing every event other than the final
/// one to `on_event`. Dropping the future closes every DNS socket.
async fn run(
    r: &mut Resolution,
    mut on_event: impl FnMut(ResolutionEvent),
) -> Result<(), ResolveError> {
    let mut socks: QuerySockets = QuerySockets::default();
    let mut timer = Timer::never();
    std::future::poll_fn(|cx| {
        loop {
            while let Some((token, t)) = r.poll_transmit() {
                socks.transmit(r, token, &t);
            }
            let mut done = None;
            while let Some(ev) = r.poll_event() {
                match ev {
                    ResolutionEvent::QueryStarted(_rec) => {
                        trace_debug!("dns {} {} {:?} started", _rec.token, _rec.name, _rec.rtype);
                    }
                    ResolutionEvent::QueryFinished(rec) => {
                        trace_debug!("dns {} finished: {:?}", rec.token, rec.result);
                        socks.close(rec.token);
                    }
                    ResolutionEvent::Done(result) => done = Some(result),
                    // Never cancelled here (dropping the future is how a resolution stops).
                    ResolutionEvent::Cancelled => done = Some(Err(ResolveError::NotFound)),
                    ev => on_event(ev),
                }
            }
            if let Some(result) = done {
                return Poll::Ready(result);
            }
            let mut progressed = socks.poll_io(r, cx);
            let t = now();
            if r.poll_timeout().is_some_and(|d| d <= t) {
                r.handle_timeout(t);
                progressed = true;
            }
            if progressed {
                continue;
            }
            match r.poll_timeout() {
                Some(d) => {
                    timer.set_at(d);
                    if Pin::new(&mut timer).poll(cx).is_ready() {
                        continue;
                    }
                }
                None => timer = Timer::never(),
            }
            return Poll::Pending;
        }
    })
    .await
}
