//! `anysock connect HOST SERVICE`: connect with Happy Eyeballs (or serially), then relay stdin and
//! stdout like `nc`, or only report (`--probe`).

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use anysock_core::SockAddr;
use anysock_core::connect::AttemptRecord;

use crate::opts::{EXIT_OK, FamilyArg, ResolverArgs, RuntimeArg, parse_ms, preference};
use crate::outcome::{
    Failure, Run, Trace, connect_failure, ms, plain_failure, print_failure, resolve_status,
    summary_json,
};

/// Options of the `connect` subcommand.
#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    /// A host name, an IP address (any AnyEvent form) or `unix/`.
    pub host: String,
    /// A port, a service name (SRV records are asked first), `name=port`, or a socket path for `unix/`.
    pub service: String,
    /// Only connect, report and close (no relaying).
    #[arg(long)]
    pub probe: bool,
    /// Which adapter connects.
    #[arg(long, value_enum, default_value_t)]
    pub runtime: RuntimeArg,
    #[command(flatten)]
    pub resolver: ResolverArgs,
    /// Both families, this one first (default: 6, as RFC 6724 says).
    #[arg(long, value_enum)]
    pub prefer: Option<FamilyArg>,
    /// The Connection Attempt Delay: how long to wait for an attempt before starting the next one in
    /// parallel (RFC 8305; default 250).
    #[arg(long, value_name = "MS", value_parser = parse_ms)]
    pub attempt_delay: Option<Duration>,
    /// Give up on each attempt after this long (default: no limit but the kernel's).
    #[arg(long, value_name = "MS", value_parser = parse_ms)]
    pub attempt_timeout: Option<Duration>,
    /// Give up on the whole connect, name resolution included, after this long.
    #[arg(long, value_name = "MS", value_parser = parse_ms)]
    pub timeout: Option<Duration>,
    /// One attempt at a time, in the resolver's order, as AnyEvent::Socket does (no Happy Eyeballs).
    #[arg(long)]
    pub serial: bool,
    /// Print a line per DNS query (tokio, async-std) and per attempt on stderr as it happens, stamped
    /// with milliseconds since the start.
    #[arg(long)]
    pub trace: bool,
    /// Print one JSON summary object: connected address, elapsed ms, every attempt (on stdout with
    /// --probe or on failure, on stderr when stdout carries relayed data).
    #[arg(long)]
    pub json: bool,
}

/// A successful connect, whatever the adapter.
#[derive(Debug)]
pub struct Connected {
    /// Whom it is connected to.
    pub peer: SockAddr,
    /// Every attempt, the winner included.
    pub attempts: Vec<AttemptRecord>,
    /// The connection, as a blocking std stream.
    pub stream: anysock_blocking::Stream,
}

/// Runs the subcommand; returns the exit status.
pub fn run(a: &ConnectArgs) -> i32 {
    let trace = Trace {
        start: crate::clock::now(),
        on: a.trace,
        stdout: false,
    };
    trace.line(&format!(
        "connecting to {} port {} ({}, {} runtime)",
        a.host,
        a.service,
        if a.serial { "serial" } else { "Happy Eyeballs" },
        a.runtime.name()
    ));
    let result = match a.runtime {
        RuntimeArg::Blocking => connect_blocking(a, trace),
        RuntimeArg::Tokio => crate::rt_tokio::connect(a, trace),
        RuntimeArg::AsyncStd => crate::rt_async_std::connect(a, trace),
    };
    let end = crate::clock::now();
    let run = Run {
        runtime: a.runtime.name(),
        host: &a.host,
        service: &a.service,
        start: trace.start,
        end,
    };
    match result {
        Ok(c) => {
            if a.runtime == RuntimeArg::Blocking {
                // The blocking adapter has no event hook: attempt ends are reported from its records.
                trace.attempts_ended(&c.attempts);
            }
            trace.line_at(end, &format!("connected to {}", c.peer));
            if a.json {
                let j = summary_json(&run, Some(&c.peer), &c.attempts, None);
                if a.probe {
                    println!("{j}");
                } else {
                    eprintln!("{j}");
                }
            } else if a.probe {
                println!(
                    "connected to {} in {:.1} ms ({} attempt{})",
                    c.peer,
                    ms(trace.start, end),
                    c.attempts.len(),
                    if c.attempts.len() == 1 { "" } else { "s" }
                );
            }
            if a.probe {
                let _ = c.stream.shutdown(Shutdown::Both);
                return EXIT_OK;
            }
            match relay(c.stream) {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    eprintln!("anysock: connection to {} broke: {e}", c.peer);
                    crate::opts::EXIT_ERROR
                }
            }
        }
        Err(f) => {
            if a.runtime == RuntimeArg::Blocking {
                trace.attempts_ended(&f.attempts);
            }
            if a.json {
                let j = summary_json(&run, None, &f.attempts, Some(&f));
                println!("{j}");
            }
            print_failure(&f);
            f.status
        }
    }
}

/// The blocking adapter's connector with the command's settings.
pub fn blocking_connector(
    a: &ConnectArgs,
    trace: Trace,
) -> io::Result<anysock_blocking::Connector> {
    let resolver = a.resolver.blocking_resolver(preference(a.prefer))?;
    let mut c = anysock_blocking::Connector::new().resolver(resolver);
    if a.serial {
        c = c.serial();
    }
    if let Some(d) = a.attempt_delay {
        c = c.attempt_delay(d);
    }
    if let Some(t) = a.attempt_timeout {
        c = c.attempt_timeout(t);
    }
    if let Some(t) = a.timeout {
        c = c.timeout(t);
    }
    if trace.on {
        // The prepare hook runs as each attempt starts: the live "started" line.
        c = c.prepare(move |_sock, target| {
            trace.attempt_started(target);
            Ok(None)
        });
    }
    Ok(c)
}

fn connect_blocking(a: &ConnectArgs, trace: Trace) -> Result<Connected, Failure> {
    let connector =
        blocking_connector(a, trace).map_err(|e| plain_failure(&a.host, &a.service, &e))?;
    match connector.connect(&a.host, &a.service) {
        Ok(c) => Ok(Connected {
            peer: c.peer_addr(),
            attempts: c.attempts,
            stream: c.stream,
        }),
        Err(e) => Err(blocking_failure(&a.host, &a.service, &e)),
    }
}

/// The command's failure for an error of the blocking adapter.
pub fn blocking_failure(host: &str, service: &str, e: &io::Error) -> Failure {
    match e
        .get_ref()
        .and_then(|i| i.downcast_ref::<anysock_blocking::Error>())
    {
        Some(anysock_blocking::Error::Connect { error, resolution }) => {
            let res = resolution.as_deref().map(|r| {
                let status = match r {
                    anysock_blocking::Error::Resolve { error, .. } => resolve_status(error),
                    other => crate::outcome::io_status(&io::Error::from(other.kind())),
                };
                (r as &dyn std::fmt::Display, status)
            });
            connect_failure(host, service, error, res)
        }
        Some(anysock_blocking::Error::Resolve { error, .. }) => Failure {
            status: resolve_status(error),
            message: format!("cannot connect to {host} port {service}: {e}"),
            attempts: Vec::new(),
        },
        _ => plain_failure(host, service, e),
    }
}

/// Copies stdin to the connection and the connection to stdout until the peer closes. When stdin
/// ends, the sending side is shut down and the peer's data is still read to its end.
pub fn relay(stream: anysock_blocking::Stream) -> io::Result<()> {
    let mut to_peer = stream.try_clone()?;
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut buf = [0u8; 16 * 1024];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if to_peer.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = to_peer.shutdown(Shutdown::Write);
        })?;
    let mut from_peer = stream;
    let mut stdout = io::stdout().lock();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from_peer.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                stdout.write_all(&buf[..n])?;
                stdout.flush()?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
