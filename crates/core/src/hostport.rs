//! `host:port` strings: AnyEvent's `parse_hostport` and `format_hostport`, with validated services.
//!
//! Every form in AnyEvent's manual is accepted:
//!
//! | form | example | host, service |
//! |---|---|---|
//! | `hostname:port` | `www.x.de:https=443` | `www.x.de`, `https=443` |
//! | `ipv4:port` | `127.1:22` | `127.1`, `22` |
//! | bare IPv6 | `::1` (needs a default service) | `::1`, default |
//! | `[ip]:port` | `[::1]:80` | `::1`, `80` |
//! | `[ip] port` | `[www.x.org] 17` | `www.x.org`, `17` |
//! | `ip port` | `::1 443`, `10.0.0.1 smtp` | `::1`, `443` |
//! | `ip#port` | `::1#80` | `::1`, `80` |
//! | `unix/:path` | `unix/:/run/s` | `unix/`, `/run/s` |
//! | `/path` | `/run/s` | `unix/`, `/run/s` |
//!
//! The host is returned as written (an IPv6 host is not normalised); [`HostPort::address`] parses it.
//! Where AnyEvent has bugs, this module follows the project's policy (`docs/deviations.md`):
//!
//! - B10: leading whitespace is skipped before every host form (AnyEvent only skips it before
//!   unbracketed IPv6), and trailing whitespace after the port is ignored, as in AnyEvent.
//! - B11 (decided): `#` separates the port after **every** host form (`host#80` is `host`, `80`);
//!   AnyEvent only splits there after IPv6 or brackets and otherwise makes `#` part of the name. A host
//!   containing `#` can still be written in brackets.
//! - B12: any Unicode whitespace ends a host name (AnyEvent only stops at the ASCII space), and host
//!   names never contain whitespace or control characters, in brackets or not.
//! - B13 (kept): unbracketed IPv6 swallows `:port`: `::1:80` is the address `::1:80`.
//! - B14: the service is validated into a [`Service`] (a port 0-65535, a name, `name=port`, or a path
//!   for `unix/`); anything else is a typed error.
//! - B15: [`format_hostport`]'s output always parses back to the same [`HostPort`].
//!
//! None of this allocates, except [`format_hostport`]'s `String` ([`HostPort`]'s `Display` writes into
//! any formatter without allocating).
//!
//! ```
//! use anysock_core::hostport::{parse_hostport, format_hostport, HostPort};
//! use anysock_core::service::Service;
//!
//! let hp = parse_hostport("www.x.de:https=443", None).unwrap();
//! assert_eq!(hp, HostPort::new("www.x.de", Service::NamePort { name: "https", port: 443 }).unwrap());
//! assert_eq!(parse_hostport("localhost", Some("https")).unwrap().service, Service::Name("https"));
//! assert!(parse_hostport("localhost", None).is_err());
//! let unix = parse_hostport("/run/app.sock", None).unwrap();
//! assert_eq!((unix.host, unix.service), ("unix/", Service::Path("/run/app.sock")));
//! assert_eq!(format_hostport(&parse_hostport("::1 80", None).unwrap()), "[::1]:80");
//! ```

use core::fmt;

use crate::addr::{AddrParseError, Address, parse_address, parse_ipv4, parse_ipv4_strict};
use crate::service::{Service, ServiceError};

/// The host name AnyEvent uses for unix-domain sockets.
pub const UNIX_HOST: &str = "unix/";

/// A host and a service, as parsed from `host:port` text. Borrows from the parsed text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HostPort<'a> {
    /// The host as written: a name, an IPv4 or IPv6 literal (not normalised), or `unix/`.
    pub host: &'a str,
    /// The service; a [`Service::Path`] exactly when the host is `unix/`.
    pub service: Service<'a>,
}

/// Why a text is not `host:port`. Byte offsets count from the start of the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostPortError {
    /// No host (empty text, or text starting with `:`, `]` or `#`).
    #[error("no host at byte {at}")]
    MissingHost {
        /// Byte offset where the host should start.
        at: usize,
    },
    /// A host that looks like IPv6 (it has two colons, or is in brackets with a colon) but is not.
    #[error("invalid IPv6 host at byte {at}: {err}")]
    InvalidIpv6 {
        /// Byte offset of the host.
        at: usize,
        /// What the IPv6 parser found wrong (offsets relative to the host).
        err: AddrParseError,
    },
    /// `[]`.
    #[error("empty brackets at byte {at}")]
    EmptyBrackets {
        /// Byte offset of the `[`.
        at: usize,
    },
    /// A `[` without its `]`.
    #[error("`[` at byte {at} is not closed")]
    UnclosedBracket {
        /// Byte offset of the `[`.
        at: usize,
    },
    /// A character a host cannot contain: whitespace or a control character, a bracket inside
    /// brackets, or a stray `]`.
    #[error("invalid character in host at byte {at}")]
    InvalidHostChar {
        /// Byte offset of the character.
        at: usize,
    },
    /// The strict parser refuses an IPv4 literal in a non-dotted-quad form (`127.1`, `0x7f.1`,
    /// `010.0.0.1`), which other software reads differently.
    #[error("ambiguous IPv4 literal (not a decimal dotted quad) at byte {at}")]
    AmbiguousIpv4 {
        /// Byte offset of the host.
        at: usize,
    },
    /// No service in the text and no default.
    #[error("no service (port) given and no default")]
    MissingService,
    /// Text after the host that is not one separator (whitespace, `:` or `#`) followed by a service.
    #[error("unexpected text after the host at byte {at}")]
    TrailingText {
        /// Byte offset of the text.
        at: usize,
    },
    /// The service (or the default service) is invalid.
    #[error("invalid service: {0}")]
    Service(ServiceError),
}

impl From<ServiceError> for HostPortError {
    fn from(e: ServiceError) -> Self {
        HostPortError::Service(e)
    }
}

impl<'a> HostPort<'a> {
    /// A host and service that [`format_hostport`] can write and [`parse_hostport`] read back.
    ///
    /// The host must be non-empty, without whitespace, control characters or brackets; a host with a
    /// `:` must be IPv6 ([`crate::addr::parse_ipv6`]). The service must be valid ([`Service::parse`]
    /// rules) and must be a [`Service::Path`] exactly when the host is `unix/`.
    pub fn new(host: &'a str, service: Service<'a>) -> Result<Self, HostPortError> {
        check_host(host, 0)?;
        if host.contains(':') {
            crate::addr::parse_ipv6(host)
                .map_err(|err| HostPortError::InvalidIpv6 { at: 0, err })?;
        }
        match service {
            Service::Path(_) if host != UNIX_HOST => {
                return Err(ServiceError::InvalidChar { at: 0 }.into());
            }
            Service::Path(_) => {}
            _ if host == UNIX_HOST => {
                return Err(ServiceError::Path(crate::sockaddr::UnixAddrError::Empty).into());
            }
            _ => {}
        }
        service.validate()?;
        Ok(HostPort { host, service })
    }

    /// True for a unix-domain socket (host `unix/`).
    pub fn is_unix(&self) -> bool {
        self.host == UNIX_HOST
    }

    /// The host as an address ([`parse_address`], the AnyEvent-compatible parser), or `None` for a host
    /// name. `unix/` gives [`Address::Unix`].
    pub fn address(&self) -> Option<Address> {
        parse_address(self.host).ok()
    }
}

impl<'a> TryFrom<&'a str> for HostPort<'a> {
    type Error = HostPortError;
    /// [`parse_hostport`] without a default service.
    fn try_from(text: &'a str) -> Result<Self, Self::Error> {
        parse_hostport(text, None)
    }
}

/// Writes [`format_hostport`]'s text without allocating.
impl fmt::Display for HostPort<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Service::Path(p) = self.service {
            // `unix/:PATH` as AnyEvent writes it, unless the path has a `:` or whitespace; such a path is
            // absolute (Service::parse_path), and the `/path` form carries it verbatim.
            if p.contains(|c: char| c == ':' || c.is_whitespace()) {
                return f.write_str(p);
            }
            return write!(f, "{UNIX_HOST}:{p}");
        }
        let h = self.host;
        if h.contains([':', '#']) || h.starts_with('/') {
            write!(f, "[{h}]:{}", self.service)
        } else {
            write!(f, "{h}:{}", self.service)
        }
    }
}

/// Formats a host and service so that [`parse_hostport`] gives back the same [`HostPort`] (B15, fixed).
///
/// `host:service`; the host is bracketed when it contains `:` (IPv6) or `#`, or starts with `/` (AnyEvent
/// brackets only hosts with `:`). A unix socket is written `unix/:PATH` as AnyEvent does, or as the bare
/// absolute path when the path contains `:` or whitespace (which `unix/:PATH` cannot carry).
pub fn format_hostport(hp: &HostPort<'_>) -> String {
    hp.to_string()
}

/// Parses `host:port` text in every form AnyEvent's `parse_hostport` takes (see the module docs).
///
/// `default` is used when the text has no service; `None` and `Some("")` both mean "no default", as in
/// AnyEvent (which only takes a default of non-zero length).
pub fn parse_hostport<'a>(
    text: &'a str,
    default: Option<&'a str>,
) -> Result<HostPort<'a>, HostPortError> {
    parse(text, default, false)
}

/// [`parse_hostport`] with strict address literals: an IPv6 host must be strict RFC 4291 text
/// ([`crate::addr::parse_ipv6_strict`]), and a host that the POSIX parser would read as IPv4 must be a
/// decimal dotted quad ([`HostPortError::AmbiguousIpv4`] otherwise).
pub fn parse_hostport_strict<'a>(
    text: &'a str,
    default: Option<&'a str>,
) -> Result<HostPort<'a>, HostPortError> {
    parse(text, default, true)
}

fn check_host(host: &str, base: usize) -> Result<(), HostPortError> {
    if host.is_empty() {
        return Err(HostPortError::MissingHost { at: base });
    }
    match host
        .char_indices()
        .find(|&(_, c)| c.is_whitespace() || c.is_control() || c == '[' || c == ']')
    {
        Some((at, _)) => Err(HostPortError::InvalidHostChar { at: base + at }),
        None => Ok(()),
    }
}

fn is_v6_char(c: u8) -> bool {
    c.is_ascii_hexdigit() || c == b':' || c == b'.'
}

fn parse<'a>(
    text: &'a str,
    default: Option<&'a str>,
    strict: bool,
) -> Result<HostPort<'a>, HostPortError> {
    let lead = text.len() - text.trim_start().len();
    let rest = &text[lead..];
    if rest.starts_with('/') {
        return Ok(HostPort {
            host: UNIX_HOST,
            service: Service::parse_path(rest)?,
        });
    }
    let rb = rest.as_bytes();
    // Unbracketed IPv6: the longest run of [0-9a-fA-F:.] with two colons before its first dot.
    let run = rb.iter().take_while(|&&c| is_v6_char(c)).count();
    let before_dot = rb[..run].iter().take_while(|&&c| c != b'.');
    let (host, host_at, end) = if before_dot.filter(|&&c| c == b':').count() >= 2 {
        let cand = &rest[..run];
        crate::addr::ipv6_parse(cand.as_bytes(), 0, strict)
            .map_err(|err| HostPortError::InvalidIpv6 { at: lead, err })?;
        (cand, lead, lead + run)
    } else if rb.first() == Some(&b'[') {
        let Some(close) = rb.iter().position(|&c| c == b']') else {
            return Err(HostPortError::UnclosedBracket { at: lead });
        };
        let inner = &rest[1..close];
        if inner.is_empty() {
            return Err(HostPortError::EmptyBrackets { at: lead });
        }
        check_host(inner, lead + 1)?;
        (inner, lead + 1, lead + close + 1)
    } else {
        let len = rest
            .char_indices()
            .find(|&(_, c)| matches!(c, '[' | ']' | ':' | '#') || c.is_whitespace())
            .map_or(rest.len(), |(i, _)| i);
        if len == 0 {
            return Err(match rb.first() {
                Some(b'[' | b']') => HostPortError::InvalidHostChar { at: lead },
                _ => HostPortError::MissingHost { at: lead },
            });
        }
        let host = &rest[..len];
        check_host(host, lead)?;
        (host, lead, lead + len)
    };

    // The service: one separator (whitespace run, `:` or `#`), then non-space non-colon text, then
    // optional whitespace; or nothing but whitespace and a default.
    let r = &text[end..];
    let sep = if r.starts_with([':', '#']) {
        1
    } else {
        r.len() - r.trim_start().len()
    };
    let svc_text = if sep > 0 {
        let after = &r[sep..];
        let len = after
            .char_indices()
            .find(|&(_, c)| c == ':' || c.is_whitespace())
            .map_or(after.len(), |(i, _)| i);
        if len > 0 && after[len..].trim().is_empty() {
            Some(&after[..len])
        } else {
            None
        }
    } else {
        None
    };
    let svc_text = match svc_text {
        Some(s) => s,
        None if r.trim().is_empty() => match default {
            Some(d) if !d.is_empty() => d,
            _ => return Err(HostPortError::MissingService),
        },
        None => return Err(HostPortError::TrailingText { at: end }),
    };

    if host.contains(':') {
        crate::addr::ipv6_parse(host.as_bytes(), 0, strict)
            .map_err(|err| HostPortError::InvalidIpv6 { at: host_at, err })?;
    } else if strict && parse_ipv4(host).is_ok() && parse_ipv4_strict(host).is_err() {
        return Err(HostPortError::AmbiguousIpv4 { at: host_at });
    }
    let service = if host == UNIX_HOST {
        Service::parse_path(svc_text)?
    } else {
        Service::parse(svc_text)?
    };
    Ok(HostPort { host, service })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(s: &str, d: Option<&str>) -> Option<(String, String)> {
        parse_hostport(s, d)
            .ok()
            .map(|h| (h.host.to_string(), h.service.to_string()))
    }
    fn ok(h: &str, s: &str) -> Option<(String, String)> {
        Some((h.into(), s.into()))
    }

    #[test]
    fn manual_forms() {
        assert_eq!(hp("www.linux.org", Some("80")), ok("www.linux.org", "80"));
        assert_eq!(hp("www.x.de:443", None), ok("www.x.de", "443"));
        assert_eq!(hp("www.x.de:https=443", None), ok("www.x.de", "https=443"));
        assert_eq!(hp("198.182.196.56", Some("d")), ok("198.182.196.56", "d"));
        assert_eq!(hp("127.1:22", None), ok("127.1", "22"));
        assert_eq!(hp("::1", Some("d")), ok("::1", "d"));
        assert_eq!(hp("affe::1", Some("d")), ok("affe::1", "d"));
        assert_eq!(hp("[::1]", Some("d")), ok("::1", "d"));
        assert_eq!(hp("[10.0.1]:80", None), ok("10.0.1", "80"));
        assert_eq!(hp("[127.0.0.1]", Some("d")), ok("127.0.0.1", "d"));
        assert_eq!(hp("[www.x.org] 17", None), ok("www.x.org", "17"));
        assert_eq!(hp("::1 443", None), ok("::1", "443"));
        assert_eq!(hp("10.0.0.1 smtp", None), ok("10.0.0.1", "smtp"));
        assert_eq!(
            hp("unix/:/path/to/socket", None),
            ok("unix/", "/path/to/socket")
        );
        assert_eq!(hp("/path/to/socket", None), ok("unix/", "/path/to/socket"));
        assert_eq!(hp("localhost:443", None), ok("localhost", "443"));
        assert_eq!(hp("localhost", Some("https")), ok("localhost", "https"));
        assert_eq!(hp("[::1]", None), None);
        assert_eq!(hp("localhost", None), None);
    }

    #[test]
    fn consequences_table() {
        assert_eq!(hp("::1:80", None), None);
        assert_eq!(hp("::1:80", Some("d")), ok("::1:80", "d")); // B13 kept
        for s in ["::1 80", "::1#80", "[::1]:80", "[::1] 80", "[::1]#80"] {
            assert_eq!(hp(s, None), ok("::1", "80"), "{s}");
        }
        for s in [
            "[::1]80",
            "host : 80",
            "host:",
            "host:80:90",
            "h:1 2",
            "[]:80",
            "[a:b]:80",
            "a:b:c",
        ] {
            assert_eq!(hp(s, None), None, "{s}");
        }
        assert_eq!(hp("[unix/]:/run/s", None), ok("unix/", "/run/s"));
        assert_eq!(hp("/foo:80", None), ok("unix/", "/foo:80"));
        assert_eq!(hp("::1\u{a0}80", None), ok("::1", "80"));
        assert_eq!(hp("host:80\u{2028}", None), ok("host", "80"));
        assert_eq!(hp("日本語.jp:80", None), ok("日本語.jp", "80"));
    }

    #[test]
    fn deviations() {
        // B10: leading whitespace before every host form.
        assert_eq!(hp(" localhost:80", None), ok("localhost", "80"));
        assert_eq!(hp(" [::1]:80", None), ok("::1", "80"));
        assert_eq!(hp(" ::1 80", None), ok("::1", "80"));
        // B11: `#` separates after every host form.
        assert_eq!(hp("host#80", None), ok("host", "80"));
        assert_eq!(hp("1.2.3.4#80", Some("d")), ok("1.2.3.4", "80"));
        assert_eq!(hp("[a#b]:80", None), ok("a#b", "80"));
        // B12: any whitespace ends a host; no control characters.
        assert_eq!(hp("host\t80", None), ok("host", "80"));
        assert_eq!(hp("host\n", Some("80")), ok("host", "80"));
        assert_eq!(
            parse_hostport("ho\u{1}st:80", None),
            Err(HostPortError::InvalidHostChar { at: 2 })
        );
        assert_eq!(
            parse_hostport("[foo bar]:80", None),
            Err(HostPortError::InvalidHostChar { at: 4 })
        );
        // B14: validated service.
        assert_eq!(
            parse_hostport("[a]:-1", None),
            Err(HostPortError::Service(ServiceError::InvalidChar { at: 0 }))
        );
        assert_eq!(
            parse_hostport("host:70000", None),
            Err(HostPortError::Service(ServiceError::PortOutOfRange))
        );
    }

    #[test]
    fn errors_are_specific() {
        use HostPortError as E;
        assert_eq!(parse_hostport("", None), Err(E::MissingHost { at: 0 }));
        assert_eq!(parse_hostport(":80", None), Err(E::MissingHost { at: 0 }));
        assert_eq!(
            parse_hostport("[::1", None),
            Err(E::UnclosedBracket { at: 0 })
        );
        assert_eq!(parse_hostport("[]", None), Err(E::EmptyBrackets { at: 0 }));
        assert_eq!(
            parse_hostport("]x", None),
            Err(E::InvalidHostChar { at: 0 })
        );
        assert_eq!(parse_hostport("host", Some("")), Err(E::MissingService));
        assert_eq!(
            parse_hostport("[::1]80", None),
            Err(E::TrailingText { at: 5 })
        );
        assert!(matches!(
            parse_hostport("1:2:3 80", None),
            Err(E::InvalidIpv6 { at: 0, .. })
        ));
    }

    #[test]
    fn strict_variant() {
        assert_eq!(
            parse_hostport_strict("127.1:80", None),
            Err(HostPortError::AmbiguousIpv4 { at: 0 })
        );
        assert!(parse_hostport_strict("[::ffff:1.2]:80", None).is_err());
        assert!(parse_hostport_strict("::1:2:3:4::5:6 80", None).is_err());
        assert!(parse_hostport_strict("127.0.0.1:80", None).is_ok());
        assert!(parse_hostport_strict("[::1]:80", None).is_ok());
        assert!(parse_hostport_strict("1.2.3.300:80", None).is_ok()); // a name, not an address
    }

    #[test]
    fn format_round_trips() {
        for (h, s) in [
            ("::1", Service::Port(80)),
            ("a#b", Service::Name("http")),
            ("/x", Service::Port(1)),
            ("unix/", Service::Path("/run/a b:c")),
            ("unix/", Service::Path("rel.sock")),
            ("::1:80", Service::NamePort { name: "d", port: 9 }),
            ("例え.jp", Service::Port(0)),
        ] {
            let v = HostPort::new(h, s).unwrap();
            let text = format_hostport(&v);
            assert_eq!(parse_hostport(&text, None), Ok(v), "{text}");
        }
        assert_eq!(
            format_hostport(&HostPort::new("::1", Service::Port(80)).unwrap()),
            "[::1]:80"
        );
        assert!(HostPort::new("[::1]", Service::Port(80)).is_err());
        assert!(HostPort::new("a b", Service::Port(80)).is_err());
        assert!(HostPort::new("a:b", Service::Port(80)).is_err());
        assert!(HostPort::new("unix/", Service::Port(80)).is_err());
        assert!(HostPort::new("h", Service::Path("/p")).is_err());
        assert!(HostPort::new("h", Service::Name("a b")).is_err());
        assert!(
            HostPort::new(
                "h",
                Service::NamePort {
                    name: "80",
                    port: 1
                }
            )
            .is_err()
        );
        assert_eq!(hp("575#525575557=528", Some("80")), None);
    }

    #[test]
    fn address_of_host() {
        let v = parse_hostport("[::ffff:1.2.3.4]:80", None).unwrap();
        assert_eq!(v.address(), Some(Address::V4([1, 2, 3, 4].into())));
        assert_eq!(
            parse_hostport("/s", None).unwrap().address(),
            Some(Address::Unix)
        );
        assert_eq!(
            parse_hostport("example.com:1", None).unwrap().address(),
            None
        );
    }
}
