//! Resolver configuration as data: the [`DnsConfig`] every DNS machine takes, its builder, and a
//! `resolv.conf(5)` parser that produces one.
//!
//! Nothing here reads a file or the environment. An adapter reads `/etc/resolv.conf` (and, if it wants
//! glibc's behaviour, `RES_OPTIONS`) and hands the text to [`ResolvConf::parse`]; tests and benchmarks
//! build a [`DnsConfig`] directly with [`DnsConfig::builder`] and explicit loopback nameservers.
//!
//! # Defaults and where they come from
//!
//! | setting | default | source |
//! |---|---|---|
//! | nameservers | `127.0.0.1:53`, `[::1]:53` | glibc uses the local host when none is configured; AnyEvent::DNS adds public resolvers, which we never do |
//! | per-try timeout | 5 s | glibc `RES_TIMEOUT` (resolv.h), also hickory-resolver |
//! | attempts | 2 | glibc `RES_DFLRETRY`, also hickory-resolver |
//! | ndots | 1 | glibc and resolv.conf(5) |
//! | rotate | off | glibc |
//! | EDNS0 | on, 1232-byte UDP payload | DNS Flag Day 2020; glibc needs `options edns0`, we do not (see below) |
//!
//! We take glibc's timeout and attempts rather than AnyEvent::DNS's `[2, 5, 5]` seconds because the
//! `options timeout:` and `attempts:` lines that administrators write are defined in glibc's terms: a
//! file that says `timeout:1 attempts:3` must mean what it means to every other program on the
//! machine. The retransmission schedule built from them is glibc's too (see `docs/dns.md`): round 0
//! gives each server the full timeout, later rounds double it and share it between the servers.
//!
//! EDNS0 is on by default (unlike glibc) because every resolver in service today supports it and a
//! 1232-byte payload avoids most TCP fallbacks without IP fragmentation; a server that answers an
//! EDNS query with FORMERR or NOTIMP is asked again without EDNS (RFC 6891 §7), so the default costs
//! nothing with old servers. [`DnsConfigBuilder::edns0`] turns it off.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::dns::{NameError, name_to_ascii};

/// Default per-try timeout: glibc's `RES_TIMEOUT`, 5 seconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default number of rounds over the nameserver list: glibc's `RES_DFLRETRY`, 2.
pub const DEFAULT_ATTEMPTS: u8 = 2;
/// Default `ndots`: names with at least this many dots are tried as-is before the search list
/// (resolv.conf(5)).
pub const DEFAULT_NDOTS: u8 = 1;
/// EDNS0 UDP payload size we advertise: 1232 bytes, the DNS Flag Day 2020 value (fits a 1280-byte
/// IPv6 minimum MTU with the IPv6 and UDP headers).
pub const EDNS_PAYLOAD: u16 = 1232;
/// The DNS port (RFC 1035 §4.2).
pub const DNS_PORT: u16 = 53;
/// Largest `ndots` resolv.conf accepts; larger values are clamped (glibc `RES_MAXNDOTS`).
pub const MAX_NDOTS: u8 = 15;
/// Largest `timeout` in seconds resolv.conf accepts; larger values are clamped (glibc `RES_MAXRETRANS`).
pub const MAX_TIMEOUT_SECS: u64 = 30;
/// Largest `attempts` resolv.conf accepts; larger values are clamped (glibc `RES_MAXRETRY`).
pub const MAX_ATTEMPTS: u8 = 5;
/// Longest base timeout [`DnsConfigBuilder::build`] accepts (one hour); later rounds are capped at it too.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// Nameservers resolv.conf keeps; later `nameserver` lines are ignored with a warning (glibc `MAXNS`).
pub const MAX_NAMESERVERS: usize = 3;

/// Resolver configuration: nameservers, search list and retransmission settings.
///
/// Build one with [`DnsConfig::builder`] or [`ResolvConf::parse`]; [`DnsConfig::default`] is the
/// local host on port 53 with the defaults in the [module docs](self).
///
/// Cheap to clone: the nameserver and search lists are shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    nameservers: Arc<[SocketAddr]>,
    search: Arc<[String]>,
    ndots: u8,
    timeout: Duration,
    attempts: u8,
    rotate: bool,
    edns0: bool,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            nameservers: default_nameservers(),
            search: no_search(),
            ndots: DEFAULT_NDOTS,
            timeout: DEFAULT_TIMEOUT,
            attempts: DEFAULT_ATTEMPTS,
            rotate: false,
            edns0: true,
        }
    }
}

/// The local host on port 53, shared by every default configuration.
fn default_nameservers() -> Arc<[SocketAddr]> {
    static LOCAL: OnceLock<Arc<[SocketAddr]>> = OnceLock::new();
    Arc::clone(LOCAL.get_or_init(|| {
        Arc::from([
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DNS_PORT),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), DNS_PORT),
        ])
    }))
}

/// The empty search list, shared.
fn no_search() -> Arc<[String]> {
    static EMPTY: OnceLock<Arc<[String]>> = OnceLock::new();
    Arc::clone(EMPTY.get_or_init(|| Arc::from([])))
}

impl DnsConfig {
    /// Starts a builder with the defaults and no nameserver; if none is added, `build` uses the local
    /// host (`127.0.0.1:53`, `[::1]:53`).
    #[must_use]
    pub fn builder() -> DnsConfigBuilder {
        DnsConfigBuilder::default()
    }

    /// The nameservers, in the order they are tried (before rotation).
    #[must_use]
    pub fn nameservers(&self) -> &[SocketAddr] {
        &self.nameservers
    }

    /// The nameservers, shared (each query keeps them without a copy).
    pub(crate) fn nameservers_shared(&self) -> Arc<[SocketAddr]> {
        Arc::clone(&self.nameservers)
    }

    /// The search list, ASCII (IDN-converted), without trailing dots.
    #[must_use]
    pub fn search(&self) -> &[String] {
        &self.search
    }

    /// Names with at least this many dots are tried as-is before the search list.
    #[must_use]
    pub fn ndots(&self) -> u8 {
        self.ndots
    }

    /// The base per-try timeout (round 0); see `docs/dns.md` for later rounds.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How many rounds over the nameserver list each question gets.
    #[must_use]
    pub fn attempts(&self) -> u8 {
        self.attempts
    }

    /// Whether each query starts at a different nameserver (chosen from the machine's randomness).
    #[must_use]
    pub fn rotate(&self) -> bool {
        self.rotate
    }

    /// Whether queries carry an EDNS0 OPT record advertising [`EDNS_PAYLOAD`] bytes.
    #[must_use]
    pub fn edns0(&self) -> bool {
        self.edns0
    }
}

/// Why a [`DnsConfigBuilder`] refused to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsConfigError {
    /// The per-try timeout is zero.
    #[error("DNS timeout must be greater than zero")]
    ZeroTimeout,
    /// The per-try timeout is longer than [`MAX_TIMEOUT`].
    #[error("DNS timeout must be at most one hour")]
    TimeoutTooLong,
    /// `attempts` is zero: no query would ever be sent.
    #[error("DNS attempts must be at least 1")]
    ZeroAttempts,
    /// A nameserver has port 0, which no server listens on.
    #[error("nameserver {0} has port 0")]
    ZeroPort(SocketAddr),
    /// A search domain is not a valid name.
    #[error("search domain #{index} is invalid: {error}")]
    BadSearchDomain {
        /// Position of the domain in the search list, from 0.
        index: usize,
        /// What is wrong with it.
        error: NameError,
    },
}

/// Builder for [`DnsConfig`]; every setting starts at its default.
#[derive(Debug, Clone)]
pub struct DnsConfigBuilder {
    nameservers: Vec<SocketAddr>,
    search: Vec<String>,
    ndots: u8,
    timeout: Duration,
    attempts: u8,
    rotate: bool,
    edns0: bool,
}

impl Default for DnsConfigBuilder {
    fn default() -> Self {
        let d = DnsConfig::default();
        Self {
            nameservers: Vec::new(),
            search: d.search.to_vec(),
            ndots: d.ndots,
            timeout: d.timeout,
            attempts: d.attempts,
            rotate: d.rotate,
            edns0: d.edns0,
        }
    }
}

impl DnsConfigBuilder {
    /// Adds a nameserver (address and port).
    #[must_use]
    pub fn nameserver(mut self, addr: SocketAddr) -> Self {
        self.nameservers.push(addr);
        self
    }

    /// Adds several nameservers.
    #[must_use]
    pub fn nameservers(mut self, addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.nameservers.extend(addrs);
        self
    }

    /// Replaces the search list. Names are IDN-converted and validated by [`build`](Self::build);
    /// one trailing dot is allowed and dropped.
    #[must_use]
    pub fn search<S: AsRef<str>>(mut self, domains: impl IntoIterator<Item = S>) -> Self {
        self.search = domains.into_iter().map(|d| d.as_ref().to_owned()).collect();
        self
    }

    /// Sets `ndots`.
    #[must_use]
    pub fn ndots(mut self, ndots: u8) -> Self {
        self.ndots = ndots;
        self
    }

    /// Sets the base per-try timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the number of rounds over the nameservers.
    #[must_use]
    pub fn attempts(mut self, attempts: u8) -> Self {
        self.attempts = attempts;
        self
    }

    /// Turns rotation on or off.
    #[must_use]
    pub fn rotate(mut self, rotate: bool) -> Self {
        self.rotate = rotate;
        self
    }

    /// Turns EDNS0 on (the default) or off.
    #[must_use]
    pub fn edns0(mut self, edns0: bool) -> Self {
        self.edns0 = edns0;
        self
    }

    /// Validates and builds the configuration.
    ///
    /// # Errors
    /// [`DnsConfigError`] for a zero or over-long timeout, zero attempts, a nameserver on port 0 or an invalid
    /// search domain.
    pub fn build(self) -> Result<DnsConfig, DnsConfigError> {
        if self.timeout.is_zero() {
            return Err(DnsConfigError::ZeroTimeout);
        }
        if self.timeout > MAX_TIMEOUT {
            return Err(DnsConfigError::TimeoutTooLong);
        }
        if self.attempts == 0 {
            return Err(DnsConfigError::ZeroAttempts);
        }
        if let Some(bad) = self.nameservers.iter().find(|a| a.port() == 0) {
            return Err(DnsConfigError::ZeroPort(*bad));
        }
        let mut search = Vec::with_capacity(self.search.len());
        for (index, d) in self.search.iter().enumerate() {
            let mut a = name_to_ascii(d)
                .map_err(|error| DnsConfigError::BadSearchDomain { index, error })?;
            if a.ends_with('.') {
                a.pop();
            }
            search.push(a);
        }
        Ok(DnsConfig {
            nameservers: if self.nameservers.is_empty() {
                default_nameservers()
            } else {
                self.nameservers.into()
            },
            search: search.into(),
            ndots: self.ndots,
            timeout: self.timeout,
            attempts: self.attempts,
            rotate: self.rotate,
            edns0: self.edns0,
        })
    }
}

/// What was wrong with one line of a resolv.conf file. The line was skipped, or the value clamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolvConfWarningKind {
    /// The keyword is not one we know (`nameserver`, `domain`, `search`, `options`, `sortlist`).
    #[error("unknown keyword")]
    UnknownKeyword,
    /// A glibc keyword we do not implement (`sortlist`).
    #[error("unsupported keyword, ignored")]
    UnsupportedKeyword,
    /// The keyword has no argument.
    #[error("missing argument")]
    MissingArgument,
    /// The nameserver address does not parse as IPv4 or IPv6 (with an optional `%scope`).
    #[error("nameserver is not an IP address")]
    BadNameserver,
    /// The nameserver has an interface-name scope (`fe80::1%eth0`) and no lookup function knew it.
    #[error("nameserver scope names an interface that could not be resolved")]
    UnresolvedScope,
    /// More than three nameservers: glibc ignores the rest, and so do we.
    #[error("more than 3 nameservers, ignored")]
    TooManyNameservers,
    /// A `domain` or `search` name is not a valid domain name; that name was skipped.
    #[error("invalid search domain skipped")]
    BadSearchDomain,
    /// An option we do not know or do not implement.
    #[error("unknown or unsupported option ignored")]
    UnknownOption,
    /// An option value is not a number.
    #[error("option value is not a number")]
    BadOptionValue,
    /// An option value was out of range and clamped (ndots > 15, timeout > 30 or 0, attempts > 5 or 0).
    #[error("option value out of range, clamped")]
    ValueClamped,
    /// Extra words after a nameserver address or a domain were ignored.
    #[error("extra arguments ignored")]
    ExtraArguments,
}

/// A warning from [`ResolvConf::parse`]: a line number (from 1) and what was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("resolv.conf line {line}: {kind}")]
pub struct ResolvConfWarning {
    /// Line number, counting from 1.
    pub line: usize,
    /// What was wrong.
    pub kind: ResolvConfWarningKind,
}

/// A parsed resolv.conf: the configuration it describes and the warnings for lines that were skipped.
///
/// ```
/// use anysock_core::resolv_conf::ResolvConf;
/// let rc = ResolvConf::parse("nameserver 127.0.0.53\nsearch corp.example\noptions ndots:2 rotate\nbogus\n");
/// assert_eq!(rc.config().nameservers()[0].to_string(), "127.0.0.53:53");
/// assert_eq!(rc.config().search(), ["corp.example"]);
/// assert_eq!(rc.config().ndots(), 2);
/// assert_eq!(rc.warnings()[0].line, 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    config: DnsConfig,
    warnings: Vec<ResolvConfWarning>,
}

impl ResolvConf {
    /// Parses resolv.conf text. Never fails: bad lines are skipped and reported in
    /// [`warnings`](Self::warnings). Interface-name scopes (`fe80::1%eth0`) cannot be resolved without
    /// the operating system, so those nameservers are skipped with [`ResolvConfWarningKind::UnresolvedScope`];
    /// use [`parse_with_scopes`](Self::parse_with_scopes) to resolve them.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        Self::parse_with_scopes(text, |_| None)
    }

    /// Parses resolv.conf text, resolving interface-name scope ids with `if_index` (an adapter passes
    /// `if_nametoindex`).
    ///
    /// The grammar follows glibc's `res_init`: a keyword at the start of a line, then arguments
    /// separated by spaces or tabs; lines starting with `#` or `;` are comments, and so is anything
    /// from a word starting with `#` or `;`. `domain` and `search` replace each other (the last wins).
    /// `options` accepts `ndots:N`, `timeout:N`, `attempts:N` (clamped as glibc does), `rotate` and
    /// `edns0`. At most 3 nameservers are kept; without any the local host is used.
    #[must_use]
    pub fn parse_with_scopes(text: &str, mut if_index: impl FnMut(&str) -> Option<u32>) -> Self {
        let mut st = Parse::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let mut words = raw
                .split([' ', '\t', '\r'])
                .filter(|w| !w.is_empty())
                .take_while(|w| !w.starts_with('#') && !w.starts_with(';'));
            let Some(keyword) = words.next() else {
                continue;
            };
            let args: Vec<&str> = words.collect();
            st.line(line, keyword, &args, &mut if_index);
        }
        st.finish()
    }

    /// Applies an `options` string, as glibc does with the `RES_OPTIONS` environment variable (the
    /// adapter reads the variable; core reads no environment). Warnings carry line number 0.
    pub fn apply_options(&mut self, options: &str) {
        let mut st = Parse::from_config(&self.config);
        let args: Vec<&str> = options.split_whitespace().collect();
        st.options(0, &args);
        self.config.ndots = st.ndots;
        self.config.timeout = st.timeout;
        self.config.attempts = st.attempts;
        self.config.rotate = st.rotate;
        self.config.edns0 = st.edns0;
        self.warnings.extend(st.warnings);
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &DnsConfig {
        &self.config
    }

    /// Warnings for skipped or clamped lines, in line order.
    #[must_use]
    pub fn warnings(&self) -> &[ResolvConfWarning] {
        &self.warnings
    }

    /// The configuration and the warnings.
    #[must_use]
    pub fn into_parts(self) -> (DnsConfig, Vec<ResolvConfWarning>) {
        (self.config, self.warnings)
    }
}

struct Parse {
    nameservers: Vec<SocketAddr>,
    search: Vec<String>,
    ndots: u8,
    timeout: Duration,
    attempts: u8,
    rotate: bool,
    edns0: bool,
    warnings: Vec<ResolvConfWarning>,
}

impl Default for Parse {
    fn default() -> Self {
        Self::from_config(&DnsConfig {
            nameservers: Arc::from([]),
            ..DnsConfig::default()
        })
    }
}

impl Parse {
    fn from_config(c: &DnsConfig) -> Self {
        Self {
            nameservers: c.nameservers.to_vec(),
            search: c.search.to_vec(),
            ndots: c.ndots,
            timeout: c.timeout,
            attempts: c.attempts,
            rotate: c.rotate,
            edns0: c.edns0,
            warnings: Vec::new(),
        }
    }

    fn warn(&mut self, line: usize, kind: ResolvConfWarningKind) {
        self.warnings.push(ResolvConfWarning { line, kind });
    }

    fn line(
        &mut self,
        line: usize,
        keyword: &str,
        args: &[&str],
        if_index: &mut impl FnMut(&str) -> Option<u32>,
    ) {
        use ResolvConfWarningKind as W;
        match keyword {
            "nameserver" => {
                let Some(addr) = args.first() else {
                    return self.warn(line, W::MissingArgument);
                };
                match parse_nameserver(addr, if_index) {
                    Ok(ip) => {
                        if self.nameservers.len() >= MAX_NAMESERVERS {
                            self.warn(line, W::TooManyNameservers);
                        } else {
                            self.nameservers.push(SocketAddr::new(ip.0, DNS_PORT));
                            if let (IpAddr::V6(_), Some(scope)) = ip {
                                if let Some(SocketAddr::V6(v6)) = self.nameservers.last_mut() {
                                    v6.set_scope_id(scope);
                                }
                            }
                            if args.len() > 1 {
                                self.warn(line, W::ExtraArguments);
                            }
                        }
                    }
                    Err(kind) => self.warn(line, kind),
                }
            }
            "domain" => {
                let Some(d) = args.first() else {
                    return self.warn(line, W::MissingArgument);
                };
                self.search.clear();
                self.push_search(line, d);
                if args.len() > 1 {
                    self.warn(line, W::ExtraArguments);
                }
            }
            "search" => {
                if args.is_empty() {
                    return self.warn(line, W::MissingArgument);
                }
                self.search.clear();
                for d in args {
                    self.push_search(line, d);
                }
            }
            "options" => {
                if args.is_empty() {
                    return self.warn(line, W::MissingArgument);
                }
                self.options(line, args);
            }
            "sortlist" => self.warn(line, W::UnsupportedKeyword),
            _ => self.warn(line, W::UnknownKeyword),
        }
    }

    fn push_search(&mut self, line: usize, d: &str) {
        match name_to_ascii(d) {
            Ok(mut a) => {
                if a.ends_with('.') {
                    a.pop();
                }
                self.search.push(a);
            }
            // A lone "." (root) in a search list means "no search domain" in practice; skip it quietly
            // only if it is literally ".", otherwise report.
            Err(NameError::Empty) if d == "." => {}
            Err(_) => self.warn(line, ResolvConfWarningKind::BadSearchDomain),
        }
    }

    fn options(&mut self, line: usize, args: &[&str]) {
        use ResolvConfWarningKind as W;
        for opt in args {
            let (name, value) = match opt.split_once(':') {
                Some((n, v)) => (n, Some(v)),
                None => (*opt, None),
            };
            match (name, value) {
                ("ndots", Some(v)) => match v.parse::<u32>() {
                    Ok(n) if n > u32::from(MAX_NDOTS) => {
                        self.ndots = MAX_NDOTS;
                        self.warn(line, W::ValueClamped);
                    }
                    Ok(n) => self.ndots = n as u8,
                    Err(_) => self.warn(line, W::BadOptionValue),
                },
                ("timeout", Some(v)) => match v.parse::<u64>() {
                    Ok(0) => {
                        self.timeout = Duration::from_secs(1);
                        self.warn(line, W::ValueClamped);
                    }
                    Ok(n) if n > MAX_TIMEOUT_SECS => {
                        self.timeout = Duration::from_secs(MAX_TIMEOUT_SECS);
                        self.warn(line, W::ValueClamped);
                    }
                    Ok(n) => self.timeout = Duration::from_secs(n),
                    Err(_) => self.warn(line, W::BadOptionValue),
                },
                ("attempts", Some(v)) => match v.parse::<u32>() {
                    Ok(0) => {
                        self.attempts = 1;
                        self.warn(line, W::ValueClamped);
                    }
                    Ok(n) if n > u32::from(MAX_ATTEMPTS) => {
                        self.attempts = MAX_ATTEMPTS;
                        self.warn(line, W::ValueClamped);
                    }
                    Ok(n) => self.attempts = n as u8,
                    Err(_) => self.warn(line, W::BadOptionValue),
                },
                ("rotate", None) => self.rotate = true,
                ("edns0", None) => self.edns0 = true,
                _ => self.warn(line, W::UnknownOption),
            }
        }
    }

    fn finish(self) -> ResolvConf {
        ResolvConf {
            config: DnsConfig {
                nameservers: if self.nameservers.is_empty() {
                    default_nameservers()
                } else {
                    self.nameservers.into()
                },
                search: self.search.into(),
                ndots: self.ndots,
                timeout: self.timeout,
                attempts: self.attempts,
                rotate: self.rotate,
                edns0: self.edns0,
            },
            warnings: self.warnings,
        }
    }
}

/// Parses a nameserver address: IPv4 dotted quad, or IPv6 with an optional `%scope` (a number, or an
/// interface name resolved by `if_index`).
fn parse_nameserver(
    text: &str,
    if_index: &mut impl FnMut(&str) -> Option<u32>,
) -> Result<(IpAddr, Option<u32>), ResolvConfWarningKind> {
    if let Ok(v4) = text.parse::<Ipv4Addr>() {
        return Ok((IpAddr::V4(v4), None));
    }
    let (addr, scope) = match text.split_once('%') {
        Some((a, s)) => (a, Some(s)),
        None => (text, None),
    };
    let v6: Ipv6Addr = addr
        .parse()
        .map_err(|_| ResolvConfWarningKind::BadNameserver)?;
    let scope_id = match scope {
        None => None,
        Some("") => return Err(ResolvConfWarningKind::BadNameserver),
        Some(s) if s.bytes().all(|b| b.is_ascii_digit()) => Some(
            s.parse::<u32>()
                .map_err(|_| ResolvConfWarningKind::BadNameserver)?,
        ),
        Some(name) => Some(if_index(name).ok_or(ResolvConfWarningKind::UnresolvedScope)?),
    };
    Ok((IpAddr::V6(v6), scope_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_local_host() {
        let c = DnsConfig::default();
        assert_eq!(c.nameservers(), &*default_nameservers());
        assert_eq!(c.timeout(), Duration::from_secs(5));
        assert_eq!(c.attempts(), 2);
        assert_eq!(c.ndots(), 1);
        assert!(c.edns0());
        assert!(!c.rotate());
        let rc = ResolvConf::parse("");
        assert_eq!(rc.config(), &c);
        assert!(rc.warnings().is_empty());
    }

    #[test]
    fn builder_validates() {
        let ns: SocketAddr = "127.0.0.1:5353".parse().unwrap();
        let c = DnsConfig::builder()
            .nameserver(ns)
            .search(["Corp.Example.", "bücher.example"])
            .ndots(3)
            .timeout(Duration::from_millis(300))
            .attempts(4)
            .rotate(true)
            .edns0(false)
            .build()
            .unwrap();
        assert_eq!(c.nameservers(), [ns]);
        assert_eq!(c.search(), ["corp.example", "xn--bcher-kva.example"]);
        assert_eq!(
            (c.ndots(), c.attempts(), c.rotate(), c.edns0()),
            (3, 4, true, false)
        );
        assert_eq!(
            DnsConfig::builder().timeout(Duration::ZERO).build(),
            Err(DnsConfigError::ZeroTimeout)
        );
        assert_eq!(
            DnsConfig::builder().attempts(0).build(),
            Err(DnsConfigError::ZeroAttempts)
        );
        let zero: SocketAddr = "127.0.0.1:0".parse().unwrap();
        assert_eq!(
            DnsConfig::builder().nameserver(zero).build(),
            Err(DnsConfigError::ZeroPort(zero))
        );
        assert_eq!(
            DnsConfig::builder().search(["ok", "a..b"]).build(),
            Err(DnsConfigError::BadSearchDomain {
                index: 1,
                error: NameError::EmptyLabel
            })
        );
    }

    #[test]
    fn scope_lookup() {
        let rc = ResolvConf::parse_with_scopes("nameserver fe80::1%eth0\n", |n| {
            (n == "eth0").then_some(7)
        });
        match rc.config().nameservers()[0] {
            SocketAddr::V6(v6) => assert_eq!(v6.scope_id(), 7),
            other => panic!("unexpected {other}"),
        }
        assert!(rc.warnings().is_empty());
    }
}
