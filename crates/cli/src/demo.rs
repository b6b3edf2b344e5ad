//! `anysock demo`: a self-contained tour on loopback. No network, no root, no configuration, and never
//! the machine's nameservers: names come from a hosts file the demo writes, and the resolver's only
//! nameserver is a loopback socket of its own.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anysock_core::{FamilyPreference, SockAddr, SockType};
use anysock_sys::socket2::Socket;

use crate::opts::{EXIT_ERROR, EXIT_OK};
use crate::outcome::Trace;
use crate::serve::{Behaviour, handle_blocking};

/// The name the demo's hosts file maps to 127.0.0.1 and ::1.
pub const DEMO_NAME: &str = "dual.anysock.test";

/// Options of the `demo` subcommand.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// The Connection Attempt Delay of the Happy Eyeballs step, in ms.
    #[arg(long, value_name = "MS", default_value_t = 250)]
    pub attempt_delay: u64,
    /// The per-attempt timeout of the serial step, in ms.
    #[arg(long, value_name = "MS", default_value_t = 400)]
    pub attempt_timeout: u64,
}

/// A listener on [::1] whose accept queue is full (backlog 0 plus one connection the kernel completed
/// but nobody accepted): the kernel drops further SYNs, so a connect to it neither succeeds nor fails.
struct Blackhole {
    _listener: anysock_sys::Listener,
    _pending: Vec<Socket>,
}

impl Blackhole {
    fn on(port: u16) -> io::Result<Blackhole> {
        let addr = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port));
        let listener = anysock_sys::listen(&SockAddr::Inet(addr), SockType::Stream, 0)
            .map_err(io::Error::from)?;
        let mut pending = Vec::new();
        for _ in 0..3 {
            let s = anysock_sys::new_socket(anysock_core::Family::V6, SockType::Stream, 6)?;
            let _ = anysock_sys::start_connect(&s, &SockAddr::Inet(addr));
            pending.push(s);
        }
        std::thread::sleep(Duration::from_millis(50));
        Ok(Blackhole {
            _listener: listener,
            _pending: pending,
        })
    }
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> io::Result<TempDir> {
        let p = std::env::temp_dir().join(format!(
            "anysock-demo-{}-{:x}",
            std::process::id(),
            anysock_sys::random_u64()
        ));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn say(text: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Runs the tour; returns the exit status.
pub fn run(a: &DemoArgs) -> i32 {
    match tour(a) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("anysock: the demo failed: {e}");
            EXIT_ERROR
        }
    }
}

fn tour(a: &DemoArgs) -> io::Result<()> {
    let tour_start = crate::clock::now();
    say("anysock demo: Happy Eyeballs, serial connects and unix sockets, all on this machine.\n");

    // The server, and on the same port of ::1 a listener that never answers.
    let greeter = Behaviour::Greet(crate::serve::DEFAULT_GREETING.to_owned());
    let (server, blackhole) = start_servers(&greeter)?;
    let port = server
        .local_addr()
        .as_inet()
        .map(|s| s.port())
        .ok_or_else(|| io::Error::other("the demo server has no port"))?;

    let dir = TempDir::new()?;
    let hosts = dir.path().join("hosts");
    let hosts_text = if blackhole.is_some() {
        format!("::1 {DEMO_NAME}\n127.0.0.1 {DEMO_NAME}\n")
    } else {
        format!("127.0.0.1 {DEMO_NAME}\n")
    };
    std::fs::write(&hosts, &hosts_text)?;
    // The resolver's only nameserver: a loopback socket that never answers. The hosts file answers
    // the demo's name first, so no query is ever sent; the machine's nameservers are never used.
    let silent_dns = UdpSocket::bind("127.0.0.1:0")?;
    let resolver = anysock_blocking::Resolver::builder()
        .nameservers([silent_dns.local_addr()?])
        .hosts_file(&hosts)
        .family_preference(FamilyPreference::PreferV6)
        .build()?;

    say(&format!(
        "Set-up:\n  a server on 127.0.0.1:{port} that greets and closes (AnyEvent's manual example),"
    ));
    match &blackhole {
        Some(_) => say(&format!(
            "  a listener on [::1]:{port} with a full accept queue: SYNs to it are dropped, it never answers,"
        )),
        None => say(
            "  no IPv6 loopback on this machine (::1 is unavailable), so the IPv6 half of the tour is skipped,",
        ),
    }
    say(&format!(
        "  a hosts file {} mapping {DEMO_NAME} to {}.\n",
        hosts.display(),
        if blackhole.is_some() {
            "::1 and 127.0.0.1"
        } else {
            "127.0.0.1"
        }
    ));

    // 1. Happy Eyeballs.
    let delay = Duration::from_millis(a.attempt_delay);
    say(&format!(
        "1. Happy Eyeballs (RFC 8305): IPv6 first; if it has not answered after the attempt delay \
         ({} ms), IPv4 starts alongside it, and the first to connect wins.",
        a.attempt_delay
    ));
    let c = anysock_blocking::Connector::new()
        .resolver(resolver.clone())
        .attempt_delay(delay)
        .timeout(Duration::from_secs(10));
    let took = connect_and_read(c, &port.to_string())?;
    say(&format!("   step 1 took {} ms\n", took.as_millis()));

    // 2. Serial, as AnyEvent does, with a per-attempt timeout.
    if blackhole.is_some() {
        say(&format!(
            "2. Serial (AnyEvent::Socket's way): one address at a time. Without a timeout the IPv6 attempt \
             would hang for about two minutes (the kernel's SYN retries); with a per-attempt timeout of \
             {} ms it is abandoned, and only then is IPv4 tried.",
            a.attempt_timeout
        ));
        let c = anysock_blocking::Connector::new()
            .resolver(resolver.clone())
            .serial()
            .attempt_timeout(Duration::from_millis(a.attempt_timeout))
            .timeout(Duration::from_secs(10));
        let took = connect_and_read(c, &port.to_string())?;
        say(&format!(
            "   step 2 took {} ms: Happy Eyeballs is faster without giving up on IPv6 early.\n",
            took.as_millis()
        ));
    } else {
        say("2. Serial connect skipped: it needs the unanswering IPv6 listener.\n");
    }

    // 3. A unix socket round trip.
    say("3. unix sockets: host \"unix/\" and a socket path as the service, on both sides.");
    let step = crate::clock::now();
    let path = dir.path().join("echo.sock");
    let path_text = path
        .to_str()
        .ok_or_else(|| io::Error::other("the temporary directory's path is not UTF-8"))?;
    let echoer = Behaviour::Echo;
    let unix_server = anysock_blocking::tcp_server(Some("unix/"), path_text, move |s, h, p| {
        handle_blocking(&echoer, s, h, p, false)
    })?;
    say(&format!(
        "   echo server listening on {}",
        unix_server.local_addr()
    ));
    let mut c = anysock_blocking::Connector::new()
        .resolver(resolver)
        .connect("unix/", path_text)?;
    c.stream.write_all(b"ping over a unix socket")?;
    c.stream.shutdown(std::net::Shutdown::Write)?;
    let mut back = String::new();
    c.stream.read_to_string(&mut back)?;
    say(&format!(
        "   sent \"ping over a unix socket\", the server sent back {back:?}"
    ));
    drop(unix_server);
    say(&format!(
        "   stopping the server removed its socket file: {}",
        if path.exists() {
            "no (unexpected)"
        } else {
            "yes"
        }
    ));
    say(&format!(
        "   step 3 took {} ms\n",
        step.elapsed().as_millis()
    ));

    drop(server);
    drop(blackhole);
    say(&format!(
        "The tour took {} ms. Try it yourself: `anysock serve 127.0.0.1 7000` in one terminal, \
         `anysock connect --trace localhost 7000` in another.",
        tour_start.elapsed().as_millis()
    ));
    Ok(())
}

/// Starts the greeting server on 127.0.0.1 and the unanswering listener on the same port of ::1 (if
/// IPv6 is there). A port taken on ::1 by something else makes it try a new port.
fn start_servers(greeter: &Behaviour) -> io::Result<(anysock_blocking::Server, Option<Blackhole>)> {
    let v6 = anysock_sys::ipv6_available();
    let mut last_err = None;
    for _ in 0..10 {
        let g = greeter.clone();
        let server = anysock_blocking::tcp_server(Some("127.0.0.1"), "0", move |s, h, p| {
            handle_blocking(&g, s, h, p, false)
        })?;
        if !v6 {
            return Ok((server, None));
        }
        let port = server.local_addr().as_inet().map_or(0, |s| s.port());
        match Blackhole::on(port) {
            Ok(b) => return Ok((server, Some(b))),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last_err = Some(e),
            Err(e) => {
                say(&format!(
                    "(::1 cannot be used here: {e}; the IPv6 half is skipped)"
                ));
                return Ok((server, None));
            }
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no free port on both loopbacks")))
}

/// Connects to the demo name with the trace on, reads the greeting; returns how long it took.
fn connect_and_read(c: anysock_blocking::Connector, port: &str) -> io::Result<Duration> {
    let trace = Trace {
        start: crate::clock::now(),
        on: true,
        stdout: true,
    };
    let result = c.connect(DEMO_NAME, port);
    let end = crate::clock::now();
    let mut conn = result?;
    trace.timeline(&conn.attempts);
    let winner = conn.peer_addr();
    let mut greeting = String::new();
    conn.stream.read_to_string(&mut greeting)?;
    say(&format!(
        "   {winner} won after {:.1} ms; the server said: {}",
        end.duration_since(trace.start).as_secs_f64() * 1000.0,
        greeting.trim_end()
    ));
    Ok(end.duration_since(trace.start))
}
