//! `anysock resolve NODE SERVICE`: the ordered targets of `resolve_sockaddr`.

use std::io::{self, Write};

use anysock_core::{ProtocolDb, Target};
use serde_json::json;

use crate::opts::{EXIT_OK, FamilyArg, ResolverArgs, preference};
use crate::outcome::{io_status, resolve_status};

/// Options of the `resolve` subcommand.
#[derive(Debug, clap::Args)]
pub struct ResolveArgs {
    /// A host name, an IP address (any AnyEvent form) or `unix/`.
    pub node: String,
    /// A port, a service name (SRV records are asked first), `name=port`, or a socket path for `unix/`.
    pub service: String,
    /// The protocol.
    #[arg(long, value_enum, default_value = "tcp")]
    pub proto: Proto,
    /// Only this address family.
    #[arg(long, value_enum, conflicts_with = "prefer")]
    pub family: Option<FamilyArg>,
    /// Both families, this one first (default: 6).
    #[arg(long, value_enum)]
    pub prefer: Option<FamilyArg>,
    #[command(flatten)]
    pub resolver: ResolverArgs,
    /// Print one JSON object a line.
    #[arg(long)]
    pub json: bool,
}

/// A protocol `resolve` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Proto {
    /// TCP (stream sockets).
    Tcp,
    /// UDP (datagram sockets).
    Udp,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// The protocol's name for a target (`tcp`, `udp`, or the number).
fn protocol_name(t: &Target) -> String {
    if t.family() == anysock_core::Family::Unix {
        return "-".into();
    }
    ProtocolDb::builtin()
        .getprotobynumber(t.protocol)
        .map_or_else(|| t.protocol.to_string(), |p| p.name.to_string())
}

/// Runs the subcommand; returns the exit status.
pub fn run(a: &ResolveArgs) -> i32 {
    let resolver = match a.resolver.blocking_resolver(preference(a.prefer)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("anysock: {e}");
            return io_status(&e);
        }
    };
    let targets = resolver.resolve_sockaddr(
        &a.node,
        Some(&a.service),
        a.proto.name(),
        a.family.map(FamilyArg::family),
        None,
    );
    match targets {
        Ok(targets) => {
            let mut out = io::stdout().lock();
            for t in &targets {
                let line = if a.json {
                    json!({
                        "family": t.family().to_string(),
                        "type": t.socktype.to_string(),
                        "protocol": protocol_name(t),
                        "address": t.addr.to_string(),
                        "srv_priority": t.meta.srv_priority,
                        "srv_weight": t.meta.srv_weight,
                    })
                    .to_string()
                } else {
                    format!(
                        "{:<5} {:<6} {:<4} {}",
                        t.family().to_string(),
                        t.socktype.to_string(),
                        protocol_name(t),
                        t.addr
                    )
                };
                let _ = writeln!(out, "{line}");
            }
            EXIT_OK
        }
        Err(e) => {
            match e
                .get_ref()
                .and_then(|i| i.downcast_ref::<anysock_blocking::Error>())
            {
                Some(anysock_blocking::Error::Resolve { error, .. }) => {
                    eprintln!(
                        "anysock: cannot resolve {} (service {}, {}): {error}",
                        a.node,
                        a.service,
                        a.proto.name()
                    );
                    resolve_status(error)
                }
                _ => {
                    eprintln!("anysock: {e}");
                    io_status(&e)
                }
            }
        }
    }
}
