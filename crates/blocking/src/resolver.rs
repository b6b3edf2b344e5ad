//! The DNS resolver: the core's DNS query machine driven over real sockets.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anysock_core::ResolvConf;
use anysock_core::dns::{DnsAnswer, DnsErrorKind, DnsEvent, DnsQuery, RecordType};
use anysock_core::resolv_conf::DnsConfig;
use anysock_sys::{ConfigFile, Watched};

use crate::clock::now;
use crate::dns::DnsDriver;
use crate::reactor::Reactor;

#[derive(Debug)]
enum DnsSource {
    Fixed(DnsConfig),
    File(Watched<ResolvConf>),
}

#[derive(Debug)]
struct Inner {
    dns: DnsSource,
}

/// A DNS stub resolver. Cheap to clone (clones share their configuration and its cache).
///
/// ```
/// use std::time::Duration;
/// use anysock_blocking::Resolver;
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
/// let resolver = Resolver::with_dns_config(config);
/// let err = resolver.lookup("example.test.", anysock_core::dns::RecordType::A).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Resolver {
    inner: Arc<Inner>,
}

impl Resolver {
    /// The system resolver: nameservers, search list and options from `/etc/resolv.conf` (or the file
    /// named by `ANYSOCK_RESOLV_CONF`), read on first use and again whenever the file changes.
    pub fn system() -> Resolver {
        Resolver::from_resolv_conf(ConfigFile::ResolvConf.path())
    }

    /// A resolver configured from a resolv.conf-format file, read on first use and whenever it changes.
    pub fn from_resolv_conf(path: impl Into<PathBuf>) -> Resolver {
        Resolver {
            inner: Arc::new(Inner {
                dns: DnsSource::File(Watched::new(path)),
            }),
        }
    }

    /// A resolver with explicit DNS settings (nameservers with ports, search list, timeout, attempts).
    pub fn with_dns_config(config: DnsConfig) -> Resolver {
        Resolver {
            inner: Arc::new(Inner {
                dns: DnsSource::Fixed(config),
            }),
        }
    }

    /// The DNS settings in force now (for a file-backed resolver: as of the file's current version).
    pub fn dns_config(&self) -> io::Result<DnsConfig> {
        match &self.inner.dns {
            DnsSource::Fixed(c) => Ok(c.clone()),
            DnsSource::File(w) => Ok(w.get(ResolvConf::parse)?.config().clone()),
        }
    }

    /// Looks up records of one type: A, AAAA, SRV, TXT, PTR or CNAME (AnyEvent::DNS's record lookups).
    /// The search list applies to names without a trailing dot. CNAME chains are followed.
    ///
    /// Errors: `NotFound` when the name does not exist or has no such records, `TimedOut` when no
    /// server answered, `InvalidInput` for a malformed name; the inner error is the detailed
    /// [`anysock_core::dns::DnsError`] with every try.
    pub fn lookup(&self, name: &str, rtype: RecordType) -> io::Result<DnsAnswer> {
        self.lookup_many(&[(name, rtype)])
            .pop()
            .expect("one result per question")
    }

    /// Several lookups at once, concurrently in the calling thread; the results are in the order of the
    /// questions.
    pub fn lookup_many(&self, questions: &[(&str, RecordType)]) -> Vec<io::Result<DnsAnswer>> {
        let config = match self.dns_config() {
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
        let mut reactor = match Reactor::new() {
            Ok(r) => r,
            Err(e) => {
                return questions
                    .iter()
                    .map(|_| Err(io::Error::new(e.kind(), e.to_string())))
                    .collect();
            }
        };
        let mut driver = DnsDriver::default();
        let start = now();
        for (i, (name, rtype)) in questions.iter().enumerate() {
            match DnsQuery::new(&config, name, *rtype, start, anysock_sys::random_u64()) {
                Ok(q) => driver.start(&mut reactor, i as u64, q),
                Err(e) => results[i] = Some(Err(io::Error::new(io::ErrorKind::InvalidInput, e))),
            }
        }
        if let Err(e) = run(&mut reactor, &mut driver, &mut results) {
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

/// Runs the driver until every query has ended.
fn run(
    reactor: &mut Reactor,
    driver: &mut DnsDriver,
    results: &mut [Option<io::Result<DnsAnswer>>],
) -> io::Result<()> {
    loop {
        while let Some((token, ev)) = driver.poll_done() {
            results[token as usize] = Some(event_result(ev));
        }
        if driver.is_idle() {
            return Ok(());
        }
        let deadline = driver.poll_timeout();
        let t = now();
        if deadline.is_some_and(|d| d <= t) {
            driver.handle_timeout(reactor, t);
            continue;
        }
        for ready in reactor.wait(deadline)? {
            driver.handle_ready(reactor, ready.key, now());
        }
        let t: Instant = now();
        if driver.poll_timeout().is_some_and(|d| d <= t) {
            driver.handle_timeout(reactor, t);
        }
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

fn event_result(ev: DnsEvent) -> io::Result<DnsAnswer> {
    match ev {
        DnsEvent::Answer(a) => Ok(a),
        DnsEvent::Failed(e) => Err(io::Error::new(dns_error_kind(e.kind), e)),
        other => Err(io::Error::other(format!("unexpected DNS event {other:?}"))),
    }
}
