//! Where a resolver's settings come from, shared by the three adapters' `Resolver` types: DNS settings
//! (fixed, or a resolv.conf-format file watched for changes), the hosts table (none, fixed, or a watched
//! file), the hosts policy and the family preference; and the one builder that sets them.
//!
//! Each adapter's `ResolverBuilder` is [`ResolverBuilder`] building that adapter's `Resolver`.

use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use anysock_core::resolv_conf::{DnsConfig, DnsConfigError};
use anysock_core::{
    ConfigNeeds, Dial, DialConfig, FamilyPreference, HostsFile, HostsPolicy, ResolvConf, Resolve,
    ResolveConfig, ResolveError, ResolveRequest,
};

use crate::config::{ConfigFile, Watched};

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

/// A resolver's settings and the caches of the files they name. Shared (`Arc`) by an adapter's
/// `Resolver` and its clones.
#[derive(Debug)]
pub struct ResolverSettings {
    dns: DnsSource,
    hosts: HostsSource,
    hosts_policy: HostsPolicy,
    family: FamilyPreference,
}

impl ResolverSettings {
    /// The system settings, one instance per process: `/etc/resolv.conf` (`ANYSOCK_RESOLV_CONF`) and
    /// `/etc/hosts` (`ANYSOCK_HOSTS`), read on first use and whenever they change; hosts file first,
    /// IPv6 preferred.
    pub fn system() -> Arc<ResolverSettings> {
        static SYSTEM: OnceLock<Arc<ResolverSettings>> = OnceLock::new();
        Arc::clone(SYSTEM.get_or_init(|| Arc::new(ResolverSettings::system_files())))
    }

    fn system_files() -> ResolverSettings {
        ResolverSettings {
            dns: DnsSource::File(Watched::system(ConfigFile::ResolvConf)),
            hosts: HostsSource::File(Watched::system(ConfigFile::Hosts)),
            hosts_policy: HostsPolicy::First,
            family: FamilyPreference::PreferV6,
        }
    }

    /// The DNS settings in force now (for a file: as of its current version; one `stat` per call).
    pub fn dns_config(&self) -> io::Result<DnsConfig> {
        match &self.dns {
            DnsSource::Fixed(c) => Ok(c.clone()),
            DnsSource::File(w) => Ok(w.get(ResolvConf::parse)?.config().clone()),
        }
    }

    /// The family preference.
    pub fn family_preference(&self) -> FamilyPreference {
        self.family
    }

    /// The planner configuration for a request that reads `needs` (see
    /// [`ResolveRequest::config_needs`](anysock_core::ResolveRequest::config_needs)): the hosts file
    /// (re-read if changed), the services and protocols databases, the policies. Parts the request does
    /// not read are left at their defaults and their files are not even checked, so that an IP literal
    /// with a numeric port costs no system call here.
    pub fn resolve_config(
        &self,
        family: Option<FamilyPreference>,
        needs: ConfigNeeds,
    ) -> io::Result<ResolveConfig> {
        let mut c = ResolveConfig::new()
            .with_hosts_policy(self.hosts_policy)
            .with_family_preference(family.unwrap_or(self.family));
        match &self.hosts {
            HostsSource::None => c = c.with_hosts_policy(HostsPolicy::Ignore),
            HostsSource::Fixed(h) => c.hosts = Arc::clone(h),
            HostsSource::File(w) if needs.hosts => c.hosts = w.get(HostsFile::parse)?,
            HostsSource::File(_) => {}
        }
        if needs.services {
            c.services = crate::sysdb::services();
        }
        if needs.protocols {
            c.protocols = crate::sysdb::protocols();
        }
        Ok(c)
    }

    /// The [`Dial`] machine for a `tcp_connect` to `host` and `service`: an IP literal with a port
    /// goes straight to the connect machine; anything else is planned with the configuration parts
    /// the request needs, and the DNS settings are read only when a question will be asked (`unix/` or
    /// a name the hosts file answers is planned in full already). `now` is the adapter's clock.
    pub fn dial(
        &self,
        host: &str,
        service: &str,
        family: Option<FamilyPreference>,
        config: DialConfig,
        now: Instant,
    ) -> Result<Dial, PlanError> {
        let request = ResolveRequest::new(host, Some(service));
        let rc = self
            .resolve_config(family, request.config_needs())
            .map_err(PlanError::Config)?;
        // The hot path: an IP literal with a port is its own one target; the planner would give
        // the same (a property test in anysock-core checks it) at several times the cost.
        if let Some(target) = request.literal_target(&rc) {
            return Ok(Dial::with_targets([target], config, now));
        }
        let plan = Resolve::new(request, &rc, crate::random_u64()).map_err(PlanError::Resolve)?;
        let dns = if plan.is_finished() {
            DnsConfig::default()
        } else {
            self.dns_config().map_err(PlanError::Config)?
        };
        Ok(Dial::new(plan, &dns, config, now, crate::random_u64()))
    }
}

/// Why [`ResolverSettings::dial`] could not start.
#[derive(Debug)]
pub enum PlanError {
    /// A configuration file could not be read.
    Config(io::Error),
    /// The request is bad (unknown service or protocol, malformed name or path, ...).
    Resolve(ResolveError),
}

/// Settings for an adapter's resolver `R` (each adapter names this type `ResolverBuilder`). Starts from
/// the system configuration files; every setter replaces one part.
#[derive(Debug)]
pub struct ResolverBuilder<R> {
    dns: Result<DnsSource, DnsConfigError>,
    hosts: HostsSource,
    hosts_policy: HostsPolicy,
    family: FamilyPreference,
    resolver: PhantomData<fn() -> R>,
}

impl<R: From<Arc<ResolverSettings>>> Default for ResolverBuilder<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: From<Arc<ResolverSettings>>> ResolverBuilder<R> {
    /// A builder starting from the system files (see [`ResolverSettings::system`]).
    pub fn new() -> Self {
        let ResolverSettings {
            dns,
            hosts,
            hosts_policy,
            family,
        } = ResolverSettings::system_files();
        ResolverBuilder {
            dns: Ok(dns),
            hosts,
            hosts_policy,
            family,
            resolver: PhantomData,
        }
    }

    /// Nameservers with their ports, with the default timeout (5 s), attempts (2) and no search list.
    #[must_use]
    pub fn nameservers(mut self, servers: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.dns = DnsConfig::builder()
            .nameservers(servers)
            .build()
            .map(DnsSource::Fixed);
        self
    }

    /// Explicit DNS settings: nameservers with ports, search list, ndots, timeout, attempts.
    #[must_use]
    pub fn dns_config(mut self, config: DnsConfig) -> Self {
        self.dns = Ok(DnsSource::Fixed(config));
        self
    }

    /// DNS settings from a resolv.conf-format file, read on first use and whenever it changes.
    #[must_use]
    pub fn resolv_conf(mut self, path: impl Into<PathBuf>) -> Self {
        self.dns = Ok(DnsSource::File(Watched::new(path)));
        self
    }

    /// A hosts-format file, read on first use and whenever its modification time changes.
    #[must_use]
    pub fn hosts_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.hosts = HostsSource::File(Watched::new(path));
        self
    }

    /// A hosts table given as parsed data.
    #[must_use]
    pub fn hosts(mut self, hosts: HostsFile) -> Self {
        self.hosts = HostsSource::Fixed(Arc::new(hosts));
        self
    }

    /// No hosts file at all.
    #[must_use]
    pub fn no_hosts(mut self) -> Self {
        self.hosts = HostsSource::None;
        self
    }

    /// When the hosts file is consulted (default [`HostsPolicy::First`]; AnyEvent:
    /// [`HostsPolicy::Fallback`]).
    #[must_use]
    pub fn hosts_policy(mut self, policy: HostsPolicy) -> Self {
        self.hosts_policy = policy;
        self
    }

    /// Which address families, in which order (default [`FamilyPreference::PreferV6`]).
    #[must_use]
    pub fn family_preference(mut self, family: FamilyPreference) -> Self {
        self.family = family;
        self
    }

    /// The resolver. Fails (`InvalidInput`, with the [`DnsConfigError`] inside) only if explicit
    /// nameserver settings are invalid (port 0, too many servers, a zero timeout).
    pub fn build(self) -> io::Result<R> {
        let dns = self
            .dns
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(R::from(Arc::new(ResolverSettings {
            dns,
            hosts: self.hosts,
            hosts_policy: self.hosts_policy,
            family: self.family,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Plain(Arc<ResolverSettings>);

    impl From<Arc<ResolverSettings>> for Plain {
        fn from(s: Arc<ResolverSettings>) -> Self {
            Plain(s)
        }
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("anysock-sys-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn unneeded_files_are_not_read() {
        let dir = tempdir("needs");
        let hosts = dir.join("hosts");
        std::fs::write(&hosts, "127.0.0.5 db.internal\n").unwrap();
        let r: Plain = ResolverBuilder::new()
            .nameservers(["127.0.0.1:53".parse().unwrap()])
            .hosts_file(&hosts)
            .build()
            .unwrap();
        let none = r.0.resolve_config(None, ConfigNeeds::NONE).unwrap();
        assert!(none.hosts.is_empty());
        assert!(none.services.is_none() && none.protocols.is_none());
        let all = r.0.resolve_config(None, ConfigNeeds::ALL).unwrap();
        assert_eq!(all.hosts.len(), 1);
        // A hosts file that cannot be read (here: a directory) is an error only when it is needed.
        std::fs::remove_file(&hosts).unwrap();
        std::fs::create_dir(&hosts).unwrap();
        assert!(r.0.resolve_config(None, ConfigNeeds::NONE).is_ok());
        assert!(r.0.resolve_config(None, ConfigNeeds::ALL).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_nameservers_are_invalid_input_with_the_reason_inside() {
        let err = ResolverBuilder::<Plain>::new()
            .nameservers(["127.0.0.1:0".parse().unwrap()])
            .build()
            .err()
            .unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.get_ref().unwrap().is::<DnsConfigError>());
    }

    #[test]
    fn fixed_settings_and_policies_pass_through() {
        let r: Plain = ResolverBuilder::new()
            .hosts(HostsFile::parse("::1 x.internal\n"))
            .hosts_policy(HostsPolicy::Fallback)
            .family_preference(FamilyPreference::V4Only)
            .nameservers(["127.0.0.1:5353".parse().unwrap()])
            .build()
            .unwrap();
        assert_eq!(r.0.family_preference(), FamilyPreference::V4Only);
        let c =
            r.0.resolve_config(Some(FamilyPreference::PreferV4), ConfigNeeds::NONE)
                .unwrap();
        assert_eq!(c.family_preference, FamilyPreference::PreferV4);
        assert_eq!(c.hosts_policy, HostsPolicy::Fallback);
        assert_eq!(c.hosts.len(), 1);
        assert_eq!(
            r.0.dns_config().unwrap().nameservers(),
            ["127.0.0.1:5353".parse().unwrap()]
        );
        let none: Plain = ResolverBuilder::new().no_hosts().build().unwrap();
        let c = none.0.resolve_config(None, ConfigNeeds::ALL).unwrap();
        assert_eq!(c.hosts_policy, HostsPolicy::Ignore);
    }
}
