//! Flags shared by several subcommands: the resolver's settings, families, runtimes, exit statuses.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anysock_core::{Family, FamilyPreference, HostsPolicy};

/// Exit status: success.
pub const EXIT_OK: i32 = 0;
/// Exit status: anything else that failed (bad arguments, a local error such as a port in use).
pub const EXIT_ERROR: i32 = 1;
/// Exit status: the name (or service) does not resolve to any address.
pub const EXIT_NOT_FOUND: i32 = 3;
/// Exit status: every connection attempt failed.
pub const EXIT_ALL_FAILED: i32 = 4;
/// Exit status: the overall timeout (or the DNS servers' timeout) passed.
pub const EXIT_TIMED_OUT: i32 = 5;

/// The exit statuses, for `--help`.
pub const EXIT_HELP: &str = "\
Exit status:
  0  success
  1  any other error (bad arguments, a local failure such as an address in use)
  2  the command line could not be parsed
  3  name not found: the host or service does not resolve to any address
  4  all attempts failed: every address was tried and none connected
  5  timed out: the --timeout deadline (or the DNS servers' timeout) passed";

/// Where names come from.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ResolverArgs {
    /// A DNS server to ask, as IP or IP:PORT (port 53 if not given); repeat for several. Without it, the
    /// nameservers, search list and options of the system configuration (/etc/resolv.conf).
    #[arg(long = "nameserver", value_name = "IP:PORT", value_parser = parse_nameserver)]
    pub nameservers: Vec<SocketAddr>,
    /// A hosts-format file to use instead of /etc/hosts.
    #[arg(long, value_name = "FILE")]
    pub hosts: Option<PathBuf>,
    /// Consult the hosts file before DNS, as the system resolver does (the default).
    #[arg(long, conflicts_with = "hosts_fallback")]
    pub hosts_first: bool,
    /// Consult the hosts file only when DNS gives no address of a family, as AnyEvent does.
    #[arg(long)]
    pub hosts_fallback: bool,
}

impl ResolverArgs {
    /// The hosts policy asked for.
    pub fn hosts_policy(&self) -> HostsPolicy {
        if self.hosts_fallback {
            HostsPolicy::Fallback
        } else {
            HostsPolicy::First
        }
    }

    /// The blocking adapter's resolver with these settings.
    pub fn blocking_resolver(
        &self,
        family: FamilyPreference,
    ) -> std::io::Result<anysock_blocking::Resolver> {
        let mut b = anysock_blocking::Resolver::builder()
            .hosts_policy(self.hosts_policy())
            .family_preference(family);
        if !self.nameservers.is_empty() {
            b = b.nameservers(self.nameservers.iter().copied());
        }
        if let Some(h) = &self.hosts {
            b = b.hosts_file(h);
        }
        b.build()
    }
}

/// `IP` or `IP:PORT` (`[v6]:PORT` for IPv6 with a port).
pub fn parse_nameserver(s: &str) -> Result<SocketAddr, String> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok(sa);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(format!(
        "{s:?} is not a nameserver address: give an IP address, optionally with a port \
         (192.0.2.53, 127.0.0.1:5353, [::1]:5353)"
    ))
}

/// An address family on the command line: `4` or `6`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FamilyArg {
    /// IPv4.
    #[value(name = "4")]
    V4,
    /// IPv6.
    #[value(name = "6")]
    V6,
}

impl FamilyArg {
    /// The core's family.
    pub fn family(self) -> Family {
        match self {
            FamilyArg::V4 => Family::V4,
            FamilyArg::V6 => Family::V6,
        }
    }

    /// Both families, this one first.
    pub fn prefer(self) -> FamilyPreference {
        match self {
            FamilyArg::V4 => FamilyPreference::PreferV4,
            FamilyArg::V6 => FamilyPreference::PreferV6,
        }
    }
}

/// The family preference for `--prefer` (default: IPv6 first, as RFC 6724 and RFC 8305 say).
pub fn preference(prefer: Option<FamilyArg>) -> FamilyPreference {
    prefer.map_or(FamilyPreference::PreferV6, FamilyArg::prefer)
}

/// Which adapter does the work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeArg {
    /// anysock-blocking: std sockets and a `polling` loop in the calling thread.
    #[default]
    Blocking,
    /// anysock-tokio: futures on tokio's sockets and timers.
    Tokio,
    /// anysock-async-std: futures on async-io, run by async-std (the same adapter serves smol).
    AsyncStd,
}

impl RuntimeArg {
    /// The name shown in logs and JSON.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeArg::Blocking => "blocking",
            RuntimeArg::Tokio => "tokio",
            RuntimeArg::AsyncStd => "async-std",
        }
    }
}

/// A duration in milliseconds.
pub fn parse_ms(s: &str) -> Result<Duration, String> {
    s.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("{s:?} is not a number of milliseconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameserver_forms() {
        assert_eq!(
            parse_nameserver("127.0.0.1").unwrap(),
            "127.0.0.1:53".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("[::1]:5353").unwrap(),
            "[::1]:5353".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("::1").unwrap(),
            "[::1]:53".parse().unwrap()
        );
        let e = parse_nameserver("dns.example").unwrap_err();
        assert!(e.contains("not a nameserver address"), "{e}");
    }

    #[test]
    fn milliseconds() {
        assert_eq!(parse_ms("250").unwrap(), Duration::from_millis(250));
        assert!(parse_ms("-1").is_err());
        assert!(parse_ms("1s").is_err());
    }
}
