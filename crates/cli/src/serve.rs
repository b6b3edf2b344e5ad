//! `anysock serve HOST SERVICE`: AnyEvent's `tcp_server` with a greeting (the manual's example) or an
//! echo, until Ctrl-C.

use std::io::{self, Read, Write};
use std::sync::mpsc;

use crate::opts::{EXIT_ERROR, EXIT_OK, RuntimeArg};

/// The manual's greeting: "The internet is full, $host:$port. Go away!".
pub const DEFAULT_GREETING: &str = "The internet is full, $host:$port. Go away!\n";

/// Options of the `serve` subcommand.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The address to listen on: an IP address, `*` (or an empty string) for every address, or `unix/`.
    pub host: String,
    /// A port (0: any free port), a service name, or a socket path for `unix/`.
    pub service: String,
    /// Send this text to each client and close; `$host` and `$port` become the client's address
    /// (default: the manual's "The internet is full, $host:$port. Go away!").
    #[arg(long, value_name = "TEXT", conflicts_with = "echo")]
    pub greeting: Option<String>,
    /// Send back whatever each client sends, until it closes.
    #[arg(long)]
    pub echo: bool,
    /// Which adapter serves.
    #[arg(long, value_enum, default_value_t)]
    pub runtime: RuntimeArg,
}

/// What the server does with a connection.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Send this text (with `$host` and `$port` filled in) and close.
    Greet(String),
    /// Echo until the client closes.
    Echo,
}

impl Behaviour {
    fn from_args(a: &ServeArgs) -> Behaviour {
        if a.echo {
            Behaviour::Echo
        } else {
            let mut text = a
                .greeting
                .clone()
                .unwrap_or_else(|| DEFAULT_GREETING.to_owned());
            if !text.ends_with('\n') {
                text.push('\n');
            }
            Behaviour::Greet(text)
        }
    }
}

/// The greeting with the peer's host and port filled in.
pub fn fill_greeting(template: &str, host: &str, port: u16) -> String {
    template
        .replace("$host", host)
        .replace("$port", &port.to_string())
}

/// Serves one blocking connection: greets it, or echoes on a thread of its own.
pub fn handle_blocking(
    behaviour: &Behaviour,
    mut stream: anysock_blocking::Stream,
    host: String,
    port: u16,
    log: bool,
) {
    let peer = peer_text(&host, port);
    if log {
        eprintln!("anysock: connection from {peer}");
    }
    match behaviour {
        Behaviour::Greet(t) => {
            if let Err(e) = stream.write_all(fill_greeting(t, &host, port).as_bytes()) {
                eprintln!("anysock: cannot greet {peer}: {e}");
            }
        }
        Behaviour::Echo => {
            let spawned = std::thread::Builder::new()
                .name(format!("echo {peer}"))
                .spawn(move || match echo(&mut stream) {
                    Ok(n) if log => eprintln!("anysock: {peer} closed after {n} bytes echoed"),
                    Ok(_) => {}
                    Err(e) => eprintln!("anysock: echo to {peer} failed: {e}"),
                });
            if let Err(e) = spawned {
                eprintln!("anysock: cannot start a thread for a client: {e}");
            }
        }
    }
}

fn echo(stream: &mut anysock_blocking::Stream) -> io::Result<u64> {
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                stream.write_all(&buf[..n])?;
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A peer for logs: `host:port`, `[v6]:port`, or `unix/`.
pub fn peer_text(host: &str, port: u16) -> String {
    if host == "unix/" {
        host.to_owned()
    } else if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `None` for "every address".
fn bind_host(host: &str) -> Option<&str> {
    match host {
        "" | "*" => None,
        h => Some(h),
    }
}

/// Runs the subcommand until SIGINT or SIGTERM; returns the exit status.
pub fn run(a: &ServeArgs) -> i32 {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    }) {
        eprintln!("anysock: cannot catch Ctrl-C: {e}");
        return EXIT_ERROR;
    }
    let behaviour = Behaviour::from_args(a);
    let host = bind_host(&a.host);
    match a.runtime {
        RuntimeArg::Blocking => {
            let b = behaviour.clone();
            let server = anysock_blocking::tcp_server(host, &a.service, move |s, h, p| {
                handle_blocking(&b, s, h, p, true)
            });
            let server = match server {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("anysock: cannot serve on {} {}: {e}", a.host, a.service);
                    return EXIT_ERROR;
                }
            };
            announce(&server.local_addr().to_string(), a.runtime);
            let _ = stop_rx.recv();
            let served = server.accepted();
            drop(server);
            eprintln!("anysock: stopped after {served} connection(s)");
        }
        RuntimeArg::Tokio => {
            let rt = match crate::rt_tokio::runtime(true) {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("anysock: cannot start the tokio runtime: {e}");
                    return EXIT_ERROR;
                }
            };
            let server = match crate::rt_tokio::serve(&rt, host, &a.service, behaviour) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("anysock: cannot serve on {} {}: {e}", a.host, a.service);
                    return EXIT_ERROR;
                }
            };
            announce(&server.local_addr().to_string(), a.runtime);
            let _ = stop_rx.recv();
            let served = server.accepted();
            rt.block_on(server.shutdown());
            eprintln!("anysock: stopped after {served} connection(s)");
        }
        RuntimeArg::AsyncStd => {
            let server = match crate::rt_async_std::serve(host, &a.service, behaviour) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("anysock: cannot serve on {} {}: {e}", a.host, a.service);
                    return EXIT_ERROR;
                }
            };
            announce(&server.local_addr().to_string(), a.runtime);
            let _ = stop_rx.recv();
            let served = server.accepted();
            drop(server);
            eprintln!("anysock: stopped after {served} connection(s)");
        }
    }
    EXIT_OK
}

/// The first line on stdout: where the server listens (scripts read the port from it).
fn announce(addr: &str, runtime: RuntimeArg) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
    eprintln!(
        "anysock: serving with the {} runtime; Ctrl-C stops",
        runtime.name()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_is_filled_in() {
        assert_eq!(
            fill_greeting(DEFAULT_GREETING, "127.0.0.1", 4711),
            "The internet is full, 127.0.0.1:4711. Go away!\n"
        );
        assert_eq!(fill_greeting("hi $host", "unix/", 0), "hi unix/");
    }

    #[test]
    fn every_address() {
        assert_eq!(bind_host("*"), None);
        assert_eq!(bind_host(""), None);
        assert_eq!(bind_host("::1"), Some("::1"));
    }
}
