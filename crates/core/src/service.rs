//! Services: the port part of `host:port`, validated, and the services database (`/etc/services`).
//!
//! A [`Service`] is what AnyEvent accepts as a service: a port number, a service name, `name=port`
//! (the name is used for SRV lookups, the port when there is no SRV record), or, for the `unix/` host,
//! a socket path. Unlike AnyEvent, ports are range-checked (B14, B22): `70000`, `-1` and `80x` are
//! errors, not numbers that wrap.
//!
//! [`ServiceDb`] maps names to ports from `/etc/services` text; [`getservbyname`] uses a built-in table
//! of common services for systems without that file. Protocol and service names are matched without
//! regard to ASCII case (B21, fixed: AnyEvent's `getservbyname("http", "TCP")` fails).
//!
//! ```
//! use anysock_core::service::{Service, ServiceDb, getservbyname};
//!
//! assert_eq!(Service::parse("443"), Ok(Service::Port(443)));
//! assert_eq!(Service::parse("https=8443"), Ok(Service::NamePort { name: "https", port: 8443 }));
//! assert!(Service::parse("70000").is_err());
//! assert_eq!(getservbyname("http", "TCP"), Some(80));
//! let db = ServiceDb::parse("gopher 70/tcp # Internet Gopher\nmyapp 9000/udp app\n");
//! assert_eq!(db.getservbyname("app", "udp"), Some(9000));
//! ```

use core::fmt;
use std::sync::LazyLock;

use crate::sockaddr::{SUN_PATH_LEN, UnixAddrError};

/// A validated service: what follows the host in `host:port`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service<'a> {
    /// A port number (decimal digits, 0-65535; leading zeros allowed).
    Port(u16),
    /// A service name to look up (and, when resolving, to use for SRV).
    Name(&'a str),
    /// `name=port`: SRV uses the name; without SRV records the port is used.
    NamePort {
        /// The service name.
        name: &'a str,
        /// The port to use when there is no SRV record.
        port: u16,
    },
    /// A unix-domain socket path (the service of the `unix/` host).
    Path(&'a str),
}

/// Why a text is not a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The service is empty.
    #[error("service is empty")]
    Empty,
    /// A number above 65535.
    #[error("port number is above 65535")]
    PortOutOfRange,
    /// A character that is not allowed in a service name (names are ASCII letters, digits and
    /// `-_.+`, starting with a letter or digit).
    #[error("invalid character in service at byte {at}")]
    InvalidChar {
        /// Byte offset of the character.
        at: usize,
    },
    /// `name=port` without a name.
    #[error("`=port` without a service name")]
    MissingName,
    /// `name=port` where the port is not a decimal number.
    #[error("`name=port` needs a decimal port (at byte {at})")]
    InvalidPort {
        /// Byte offset of the bad character.
        at: usize,
    },
    /// A service name made only of digits (in `name=port`), which would read as a port number.
    #[error("service name is all digits")]
    NumericName,
    /// A unix socket path that cannot be a `sun_path`.
    #[error("invalid unix socket path: {0}")]
    Path(UnixAddrError),
}

impl<'a> Service<'a> {
    /// Parses a port number, a service name or `name=port`.
    pub fn parse(text: &'a str) -> Result<Self, ServiceError> {
        let b = text.as_bytes();
        if b.is_empty() {
            return Err(ServiceError::Empty);
        }
        if b.iter().all(u8::is_ascii_digit) {
            return parse_port(b).map(Service::Port);
        }
        if let Some(eq) = b.iter().rposition(|&c| c == b'=') {
            let (name, port) = (&text[..eq], &b[eq + 1..]);
            if name.is_empty() {
                return Err(ServiceError::MissingName);
            }
            check_name(name.as_bytes())?;
            if port.is_empty() {
                return Err(ServiceError::InvalidPort { at: eq + 1 });
            }
            if let Some(p) = port.iter().position(|c| !c.is_ascii_digit()) {
                return Err(ServiceError::InvalidPort { at: eq + 1 + p });
            }
            let port = parse_port(port)?;
            return Ok(Service::NamePort { name, port });
        }
        check_name(b)?;
        Ok(Service::Name(text))
    }

    /// Validates a unix socket path: 1 to 108 bytes ([`SUN_PATH_LEN`]), no NUL. A relative path must
    /// also contain no `:` and no whitespace, so that `unix/:PATH` can carry it.
    pub fn parse_path(text: &'a str) -> Result<Self, ServiceError> {
        let b = text.as_bytes();
        if b.is_empty() {
            return Err(ServiceError::Path(UnixAddrError::Empty));
        }
        if b.len() > SUN_PATH_LEN {
            return Err(ServiceError::Path(UnixAddrError::TooLong { len: b.len() }));
        }
        if let Some(at) = b.iter().position(|&c| c == 0) {
            return Err(ServiceError::Path(UnixAddrError::InteriorNul { at }));
        }
        if b[0] != b'/' {
            if let Some((at, _)) = text
                .char_indices()
                .find(|&(_, c)| c == ':' || c.is_whitespace())
            {
                return Err(ServiceError::InvalidChar { at });
            }
        }
        Ok(Service::Path(text))
    }

    /// Checks a service built by hand against the rules [`Service::parse`] and [`Service::parse_path`]
    /// apply (names of ASCII letters, digits and `-_.+` that are not all digits; paths that fit
    /// `sun_path`).
    pub fn validate(&self) -> Result<(), ServiceError> {
        match *self {
            Service::Port(_) => Ok(()),
            Service::Name(n) | Service::NamePort { name: n, .. } => check_name(n.as_bytes()),
            Service::Path(p) => Service::parse_path(p).map(|_| ()),
        }
    }

    /// The port, for [`Service::Port`] and [`Service::NamePort`].
    pub const fn port(&self) -> Option<u16> {
        match *self {
            Service::Port(p) | Service::NamePort { port: p, .. } => Some(p),
            _ => None,
        }
    }

    /// The service name, for [`Service::Name`] and [`Service::NamePort`].
    pub const fn name(&self) -> Option<&'a str> {
        match *self {
            Service::Name(n) | Service::NamePort { name: n, .. } => Some(n),
            _ => None,
        }
    }

    /// The path, for [`Service::Path`].
    pub const fn path(&self) -> Option<&'a str> {
        match *self {
            Service::Path(p) => Some(p),
            _ => None,
        }
    }
}

/// Writes the text [`Service::parse`] (or [`Service::parse_path`]) reads back: `80`, `http`,
/// `http=8080`, `/run/s`.
impl fmt::Display for Service<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Service::Port(p) => write!(f, "{p}"),
            Service::Name(n) => f.write_str(n),
            Service::NamePort { name, port } => write!(f, "{name}={port}"),
            Service::Path(p) => f.write_str(p),
        }
    }
}

fn parse_port(digits: &[u8]) -> Result<u16, ServiceError> {
    let mut v = 0u32;
    for &d in digits {
        v = v * 10 + u32::from(d - b'0');
        if v > 65535 {
            return Err(ServiceError::PortOutOfRange);
        }
    }
    Ok(v as u16)
}

fn check_name(b: &[u8]) -> Result<(), ServiceError> {
    if b.is_empty() {
        return Err(ServiceError::Empty);
    }
    if b.iter().all(u8::is_ascii_digit) {
        return Err(ServiceError::NumericName);
    }
    for (at, &c) in b.iter().enumerate() {
        let ok = c.is_ascii_alphanumeric() || (at > 0 && matches!(c, b'-' | b'_' | b'.' | b'+'));
        if !ok {
            return Err(ServiceError::InvalidChar { at });
        }
    }
    Ok(())
}

/// One line of a services database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    /// The official name.
    pub name: String,
    /// The port.
    pub port: u16,
    /// The protocol name as written (`tcp`, `udp`, `sctp`, ...).
    pub protocol: String,
    /// Alias names.
    pub aliases: Vec<String>,
}

/// A services database, from `/etc/services` text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceDb {
    entries: Vec<ServiceEntry>,
}

impl ServiceDb {
    /// Parses `/etc/services` text: `name port/protocol [aliases...]`, `#` starts a comment, fields are
    /// separated by spaces or tabs. Lines that do not have this shape (or a port above 65535) are
    /// skipped, as the C library skips them. CRLF line ends are fine.
    pub fn parse(text: &str) -> Self {
        let mut entries = Vec::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split([' ', '\t', '\r']).filter(|f| !f.is_empty());
            let (Some(name), Some(pp)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some((port, proto)) = pp.split_once('/') else {
                continue;
            };
            if port.is_empty() || proto.is_empty() || !port.bytes().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let Ok(port) = parse_port(port.as_bytes()) else {
                continue;
            };
            entries.push(ServiceEntry {
                name: name.to_owned(),
                port,
                protocol: proto.to_owned(),
                aliases: fields.map(str::to_owned).collect(),
            });
        }
        ServiceDb { entries }
    }

    /// The built-in table of common services (about ninety entries taken from Debian's
    /// `/etc/services`), for systems without that file.
    pub fn builtin() -> &'static ServiceDb {
        static DB: LazyLock<ServiceDb> = LazyLock::new(|| ServiceDb::parse(BUILTIN_SERVICES));
        &DB
    }

    /// All entries, in file order.
    pub fn entries(&self) -> &[ServiceEntry] {
        &self.entries
    }

    /// The first entry whose name or alias is `name` for protocol `proto` (both compared without regard
    /// to ASCII case).
    pub fn lookup(&self, name: &str, proto: &str) -> Option<&ServiceEntry> {
        self.entries.iter().find(|e| {
            e.protocol.eq_ignore_ascii_case(proto)
                && (e.name.eq_ignore_ascii_case(name)
                    || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(name)))
        })
    }

    /// The port of service `name` over protocol `proto`, like C's `getservbyname`, but with case-blind
    /// matching.
    pub fn getservbyname(&self, name: &str, proto: &str) -> Option<u16> {
        self.lookup(name, proto).map(|e| e.port)
    }

    /// The first entry for `port` over `proto` (C's `getservbyport`).
    pub fn getservbyport(&self, port: u16, proto: &str) -> Option<&ServiceEntry> {
        self.entries
            .iter()
            .find(|e| e.port == port && e.protocol.eq_ignore_ascii_case(proto))
    }
}

/// [`ServiceDb::getservbyname`] on the built-in table ([`ServiceDb::builtin`]).
pub fn getservbyname(name: &str, proto: &str) -> Option<u16> {
    ServiceDb::builtin().getservbyname(name, proto)
}

const BUILTIN_SERVICES: &str = "\
echo  7/tcp
echo  7/udp
discard  9/tcp  sink null
discard  9/udp  sink null
daytime  13/tcp
daytime  13/udp
ftp-data 20/tcp
ftp  21/tcp
ssh  22/tcp    # SSH Remote Login Protocol
telnet  23/tcp
smtp  25/tcp  mail
time  37/tcp  timserver
time  37/udp  timserver
whois  43/tcp  nicname
domain  53/tcp    # Domain Name Server
domain  53/udp
bootps  67/udp
bootpc  68/udp
tftp  69/udp
gopher  70/tcp    # Internet Gopher
finger  79/tcp
http  80/tcp  www  # WorldWideWeb HTTP
kerberos 88/tcp  kerberos5 krb5 kerberos-sec # Kerberos v5
kerberos 88/udp  kerberos5 krb5 kerberos-sec # Kerberos v5
pop3  110/tcp  pop-3  # POP version 3
sunrpc  111/tcp  portmapper # RPC 4.0 portmapper
sunrpc  111/udp  portmapper
auth  113/tcp  authentication tap ident
nntp  119/tcp  readnews untp # USENET News Transfer Protocol
ntp  123/udp    # Network Time Protocol
netbios-ns 137/udp    # NETBIOS Name Service
imap2  143/tcp  imap  # Interim Mail Access P 2 and 4
snmp  161/tcp    # Simple Net Mgmt Protocol
snmp  161/udp
snmp-trap 162/tcp  snmptrap # Traps for SNMP
snmp-trap 162/udp  snmptrap
bgp  179/tcp    # Border Gateway Protocol
ldap  389/tcp   # Lightweight Directory Access Protocol
ldap  389/udp
https  443/tcp    # http protocol over TLS/SSL
https  443/udp    # HTTP/3
microsoft-ds 445/tcp    # Microsoft Naked CIFS
submissions 465/tcp  ssmtp smtps urd # Submission over TLS [RFC8314]
isakmp  500/udp    # IPSEC key management
rtsp  554/tcp   # Real Time Stream Control Protocol
rtsp  554/udp
ipp  631/tcp    # Internet Printing Protocol
syslog  514/udp
printer  515/tcp  spooler  # line printer spooler
dhcpv6-client 546/udp
dhcpv6-server 547/udp
submission 587/tcp    # Submission [RFC4409]
ldaps  636/tcp    # LDAP over SSL
ldaps  636/udp
domain-s 853/tcp    # DNS over TLS [RFC7858]
domain-s 853/udp    # DNS over DTLS [RFC8094]
rsync  873/tcp
ftps-data 989/tcp    # FTP over SSL (data)
ftps  990/tcp
imaps  993/tcp    # IMAP over SSL
pop3s  995/tcp    # POP-3 over SSL
socks  1080/tcp   # socks proxy server
openvpn  1194/tcp
openvpn  1194/udp
ms-sql-s 1433/tcp   # Microsoft SQL Server
radius  1812/tcp
radius  1812/udp
nfs  2049/tcp   # Network File System
nfs  2049/udp   # Network File System
mysql  3306/tcp
sieve  4190/tcp   # ManageSieve Protocol
sip  5060/tcp   # Session Initiation Protocol
sip  5060/udp
sip-tls  5061/tcp
sip-tls  5061/udp
xmpp-client 5222/tcp jabber-client # Jabber Client Connection
xmpp-server 5269/tcp jabber-server # Jabber Server Connection
mdns  5353/udp   # Multicast DNS
postgresql 5432/tcp postgres # PostgreSQL Database
amqp  5672/tcp
amqp  5672/sctp
x11  6000/tcp x11-0  # X Window System
redis  6379/tcp
ircs-u  6697/tcp  # Internet Relay Chat via TLS/SSL
http-alt 8080/tcp webcache # WWW caching service
zabbix-agent 10050/tcp   # Zabbix Agent
zabbix-trapper 10051/tcp   # Zabbix Trapper
hkp  11371/tcp   # OpenPGP HTTP Keyserver
git  9418/tcp   # Git Version Control System
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_forms() {
        assert_eq!(Service::parse("0"), Ok(Service::Port(0)));
        assert_eq!(Service::parse("080"), Ok(Service::Port(80)));
        assert_eq!(Service::parse("65535"), Ok(Service::Port(65535)));
        assert_eq!(Service::parse("65536"), Err(ServiceError::PortOutOfRange));
        assert_eq!(
            Service::parse("99999999999999999999"),
            Err(ServiceError::PortOutOfRange)
        );
        assert_eq!(
            Service::parse("-1"),
            Err(ServiceError::InvalidChar { at: 0 })
        );
        assert_eq!(Service::parse("80x"), Ok(Service::Name("80x")));
        assert_eq!(Service::parse("http"), Ok(Service::Name("http")));
        assert_eq!(
            Service::parse("kerberos_master"),
            Ok(Service::Name("kerberos_master"))
        );
        assert_eq!(
            Service::parse("http=8080"),
            Ok(Service::NamePort {
                name: "http",
                port: 8080
            })
        );
        assert_eq!(Service::parse("=80"), Err(ServiceError::MissingName));
        assert_eq!(Service::parse("80=81"), Err(ServiceError::NumericName));
        assert_eq!(
            Service::Name("80").validate(),
            Err(ServiceError::NumericName)
        );
        assert_eq!(
            Service::Name("a b").validate(),
            Err(ServiceError::InvalidChar { at: 1 })
        );
        assert_eq!(Service::NamePort { name: "x", port: 1 }.validate(), Ok(()));
        assert_eq!(
            Service::parse("a b=80"),
            Err(ServiceError::InvalidChar { at: 1 })
        );
        assert_eq!(
            Service::parse("http="),
            Err(ServiceError::InvalidPort { at: 5 })
        );
        assert_eq!(
            Service::parse("http=8x"),
            Err(ServiceError::InvalidPort { at: 6 })
        );
        assert_eq!(
            Service::parse("http=70000"),
            Err(ServiceError::PortOutOfRange)
        );
        assert_eq!(Service::parse(""), Err(ServiceError::Empty));
        assert_eq!(
            Service::parse("٨٠"),
            Err(ServiceError::InvalidChar { at: 0 })
        );
        assert_eq!(
            Service::parse("]"),
            Err(ServiceError::InvalidChar { at: 0 })
        );
    }

    #[test]
    fn paths() {
        assert_eq!(
            Service::parse_path("/run/a b:c"),
            Ok(Service::Path("/run/a b:c"))
        );
        assert_eq!(
            Service::parse_path("rel.sock"),
            Ok(Service::Path("rel.sock"))
        );
        assert_eq!(
            Service::parse_path("a:b"),
            Err(ServiceError::InvalidChar { at: 1 })
        );
        assert_eq!(
            Service::parse_path("/a\0"),
            Err(ServiceError::Path(UnixAddrError::InteriorNul { at: 2 }))
        );
        let long = "/".repeat(109);
        assert_eq!(
            Service::parse_path(&long),
            Err(ServiceError::Path(UnixAddrError::TooLong { len: 109 }))
        );
    }

    #[test]
    fn display_round_trips() {
        for s in ["80", "http", "http=8080", "a.b-c+d_e"] {
            let svc = Service::parse(s).unwrap();
            let text = svc.to_string();
            assert_eq!(Service::parse(&text), Ok(svc));
        }
    }

    #[test]
    fn database() {
        let db = ServiceDb::parse(
            "# comment\nhttp\t80/tcp\twww\t# WWW\r\nbad line\nx 70000/tcp\nsip 5060/udp\nkerberos 88/udp kerberos5 krb5\n",
        );
        assert_eq!(db.entries().len(), 3);
        assert_eq!(db.getservbyname("http", "tcp"), Some(80));
        assert_eq!(db.getservbyname("WWW", "TCP"), Some(80));
        assert_eq!(db.getservbyname("http", "udp"), None);
        assert_eq!(db.getservbyname("krb5", "udp"), Some(88));
        assert_eq!(
            db.getservbyport(5060, "udp").map(|e| e.name.as_str()),
            Some("sip")
        );
    }

    #[test]
    fn builtin_table() {
        assert_eq!(getservbyname("https", "tcp"), Some(443));
        assert_eq!(getservbyname("domain", "udp"), Some(53));
        assert_eq!(getservbyname("postgres", "tcp"), Some(5432));
        assert_eq!(getservbyname("smtps", "tcp"), Some(465));
        assert_eq!(getservbyname("nosuch", "tcp"), None);
        assert!(ServiceDb::builtin().entries().len() >= 80);
    }
}
