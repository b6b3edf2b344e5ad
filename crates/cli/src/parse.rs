//! `anysock parse ARG...`: what anysock makes of each argument as an address and as host:port.

use std::fmt::Write as _;

use anysock_core::{
    Address, HostPort, Service, SockAddr, format_address, pack_sockaddr, parse_address,
    parse_address_strict, parse_hostport, parse_hostport_strict,
};
use serde_json::{Value, json};

/// Options of the `parse` subcommand.
#[derive(Debug, clap::Args)]
pub struct ParseArgs {
    /// Texts to parse (addresses, host:port strings, unix paths).
    #[arg(required = true)]
    pub args: Vec<String>,
    /// Accept only RFC 4291/5952 IPv6 text and decimal dotted quads (no `127.1`, `0x7f.1`, `010.0.0.1`).
    #[arg(long)]
    pub strict: bool,
    /// The service to use when a host:port text has none (AnyEvent's `$default_service`).
    #[arg(long, value_name = "SERVICE")]
    pub default: Option<String>,
    /// Print one JSON object a line.
    #[arg(long)]
    pub json: bool,
}

/// Runs the subcommand; returns the exit status (0 when every argument parsed as something).
pub fn run(a: &ParseArgs) -> i32 {
    let mut failures = 0;
    for arg in &a.args {
        let report = Report::new(arg, a.strict, a.default.as_deref());
        if report.address.is_none() && report.hostport.is_err() {
            failures += 1;
        }
        if a.json {
            println!("{}", report.json());
        } else {
            print!("{}", report.text());
        }
    }
    i32::from(failures > 0)
}

struct Report<'a> {
    input: &'a str,
    address: Option<Address>,
    address_error: Option<String>,
    hostport: Result<HostPort<'a>, String>,
}

impl<'a> Report<'a> {
    fn new(input: &'a str, strict: bool, default: Option<&'a str>) -> Self {
        let parsed = if strict {
            parse_address_strict(input)
        } else {
            parse_address(input)
        };
        let hostport = if strict {
            parse_hostport_strict(input, default)
        } else {
            parse_hostport(input, default)
        };
        Report {
            input,
            address: parsed.ok(),
            address_error: parsed.err().map(|e| e.to_string()),
            hostport: hostport.map_err(|e| e.to_string()),
        }
    }

    fn text(&self) -> String {
        let mut out = format!("{:?}\n", self.input);
        match (&self.address, &self.address_error) {
            (Some(a), _) => {
                let _ = writeln!(
                    out,
                    "  address   {:<5} {:<40} bytes {}",
                    family(a),
                    format_address(a).as_str(),
                    hex(&address_bytes(a))
                );
            }
            (None, Some(e)) => {
                let _ = writeln!(out, "  address   not an address: {e}");
            }
            (None, None) => {}
        }
        match &self.hostport {
            Ok(hp) => {
                let _ = writeln!(
                    out,
                    "  hostport  host {:?}, service {} ({}), canonical {}",
                    hp.host,
                    hp.service,
                    service_kind(&hp.service),
                    hp
                );
                if let Some(sa) = sockaddr(hp) {
                    let _ = writeln!(out, "  sockaddr  {}", hex(pack_sockaddr(&sa).as_bytes()));
                }
            }
            Err(e) => {
                let _ = writeln!(out, "  hostport  not host:port: {e}");
            }
        }
        out
    }

    fn json(&self) -> Value {
        let address = match (&self.address, &self.address_error) {
            (Some(a), _) => json!({
                "family": family(a),
                "text": format_address(a).as_str(),
                "bytes": hex(&address_bytes(a)),
            }),
            (None, Some(e)) => json!({ "error": e }),
            (None, None) => Value::Null,
        };
        let hostport = match &self.hostport {
            Ok(hp) => {
                let mut v = json!({
                    "host": hp.host,
                    "service": hp.service.to_string(),
                    "service_kind": service_kind(&hp.service),
                    "canonical": hp.to_string(),
                });
                if let Some(sa) = sockaddr(hp) {
                    v["sockaddr"] = json!(hex(pack_sockaddr(&sa).as_bytes()));
                }
                v
            }
            Err(e) => json!({ "error": e }),
        };
        json!({ "input": self.input, "address": address, "hostport": hostport })
    }
}

fn family(a: &Address) -> String {
    a.family().to_string()
}

/// AnyEvent's packed address: 4 or 16 bytes, or the `unix/` token `01 00`.
fn address_bytes(a: &Address) -> Vec<u8> {
    match a.ip() {
        Some(std::net::IpAddr::V4(v4)) => v4.octets().to_vec(),
        Some(std::net::IpAddr::V6(v6)) => v6.octets().to_vec(),
        None => 1u16.to_ne_bytes().to_vec(),
    }
}

fn service_kind(s: &Service<'_>) -> &'static str {
    match s {
        Service::Port(_) => "port",
        Service::Name(_) => "name",
        Service::NamePort { .. } => "name=port",
        Service::Path(_) => "path",
        _ => "other",
    }
}

/// The socket address, when the host is a literal and the service a number (or a unix path).
fn sockaddr(hp: &HostPort<'_>) -> Option<SockAddr> {
    let addr = hp.address()?;
    match (addr.ip(), &hp.service) {
        (Some(ip), Service::Port(p)) => Some(std::net::SocketAddr::from((ip, *p)).into()),
        (None, Service::Path(path)) => anysock_core::UnixAddr::pathname(path.as_bytes())
            .ok()
            .map(SockAddr::Unix),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
