//! End-to-end tests of `anysock connect`, `anysock serve` and `anysock demo` on loopback, for every
//! runtime the command offers.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};

use common::{anysock, anysock_with_stdin, blackhole_v6, tempdir};
use serde_json::Value;

/// The runtimes `--runtime` accepts.
const RUNTIMES: &[&str] = &["blocking", "tokio", "async-std"];

/// A hosts file mapping `name` to the given addresses, and a silent loopback nameserver (kept open
/// so that nothing else answers on its port).
struct Names {
    hosts: String,
    ns: String,
    _silent: UdpSocket,
}

fn names(tag: &str, lines: &str) -> Names {
    let dir = tempdir(tag);
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, lines).unwrap();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    Names {
        hosts: hosts.to_str().unwrap().to_owned(),
        ns: silent.local_addr().unwrap().to_string(),
        _silent: silent,
    }
}

fn json(s: &str) -> Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s:?}"))
}

#[test]
fn probe_json_reports_the_winner_and_every_attempt() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let n = names("probe", "127.0.0.1 both.test\n::1 both.test\n");
    for rt in RUNTIMES {
        // ::1 on this port refuses (nothing listens there), so IPv4 wins after the refusal.
        let r = anysock(&[
            "connect",
            "--probe",
            "--json",
            "--runtime",
            rt,
            "--nameserver",
            &n.ns,
            "--hosts",
            &n.hosts,
            "both.test",
            &port,
        ]);
        assert_eq!(r.status, 0, "{rt}: {}", r.stderr);
        let v = json(&r.stdout);
        assert_eq!(v["connected"], format!("127.0.0.1:{port}"), "{rt}");
        assert_eq!(v["runtime"], *rt);
        assert_eq!(v["exit_status"], 0);
        let attempts = v["attempts"].as_array().unwrap();
        let last = attempts.last().unwrap();
        assert_eq!(last["address"], format!("127.0.0.1:{port}"));
        assert_eq!(last["outcome"], "connected");
        assert!(last["end_ms"].as_f64().unwrap() >= last["start_ms"].as_f64().unwrap());
        assert!(v["elapsed_ms"].as_f64().unwrap() >= last["end_ms"].as_f64().unwrap());
        if anysock_sys::ipv6_available() {
            assert_eq!(attempts.len(), 2, "{rt}: {v}");
            assert_eq!(attempts[0]["address"], format!("[::1]:{port}"));
            assert_eq!(attempts[0]["outcome"], "failed");
            // Refused where ::1 exists; unreachable in a namespace without it.
            assert!(attempts[0]["error"].is_string(), "{rt}: {v}");
        }
    }
}

#[test]
fn happy_eyeballs_beats_a_dead_ipv6_address_and_trace_shows_it() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let Some(_hole) = blackhole_v6(port) else {
        eprintln!("no IPv6 loopback here; the IPv6 half is not tested");
        return;
    };
    let n = names("he", "::1 dual.test\n127.0.0.1 dual.test\n");
    for rt in RUNTIMES {
        let r = anysock(&[
            "connect",
            "--probe",
            "--json",
            "--trace",
            "--attempt-delay",
            "100",
            "--runtime",
            rt,
            "--nameserver",
            &n.ns,
            "--hosts",
            &n.hosts,
            "dual.test",
            &port.to_string(),
        ]);
        assert_eq!(r.status, 0, "{rt}: {}", r.stderr);
        let v = json(&r.stdout);
        assert_eq!(v["connected"], format!("127.0.0.1:{port}"));
        let a = v["attempts"].as_array().unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0]["address"], format!("[::1]:{port}"));
        assert_eq!(a[0]["outcome"], "cancelled");
        let gap = a[1]["start_ms"].as_f64().unwrap() - a[0]["start_ms"].as_f64().unwrap();
        assert!(gap >= 99.0, "{rt}: IPv4 started {gap} ms after IPv6");
        // The trace: both starts, the win, in that order, each on a line of its own.
        let lines: Vec<&str> = r.stderr.lines().collect();
        let find = |needle: &str, also: &str| {
            lines
                .iter()
                .position(|l| l.contains(needle) && l.contains(also))
        };
        let started6 = find(&format!("[::1]:{port}"), "started");
        let started4 = find(&format!("127.0.0.1:{port}"), "started");
        let won = find(&format!("connected to 127.0.0.1:{port}"), "");
        assert!(
            started6.is_some() && started6 < started4 && started4 < won,
            "{rt}: {}",
            r.stderr
        );
    }
}

#[test]
fn serial_with_an_attempt_timeout_moves_on_after_it() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let Some(_hole) = blackhole_v6(port) else {
        return;
    };
    let n = names("serial", "::1 dual.test\n127.0.0.1 dual.test\n");
    for rt in RUNTIMES {
        let r = anysock(&[
            "connect",
            "--probe",
            "--json",
            "--trace",
            "--serial",
            "--attempt-timeout",
            "150",
            "--runtime",
            rt,
            "--nameserver",
            &n.ns,
            "--hosts",
            &n.hosts,
            "dual.test",
            &port.to_string(),
        ]);
        assert_eq!(r.status, 0, "{rt}: {}", r.stderr);
        let v = json(&r.stdout);
        assert_eq!(v["connected"], format!("127.0.0.1:{port}"), "{rt}");
        let a = v["attempts"].as_array().unwrap();
        assert_eq!(a.len(), 2, "{rt}: {v}");
        assert_eq!(a[0]["outcome"], "timed_out", "{rt}: {v}");
        let ran = a[0]["end_ms"].as_f64().unwrap() - a[0]["start_ms"].as_f64().unwrap();
        assert!(ran >= 149.0, "{rt}: the IPv6 attempt ran {ran} ms");
        // Serial: IPv4 starts only once IPv6 has ended.
        assert!(a[1]["start_ms"].as_f64().unwrap() >= a[0]["end_ms"].as_f64().unwrap());
    }
}

#[test]
fn exit_statuses_for_refused_not_found_and_timeout() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let n = names("status", "127.0.0.1 v4.test\n");
    for rt in RUNTIMES {
        let r = anysock(&[
            "connect",
            "--probe",
            "--runtime",
            rt,
            "--nameserver",
            &n.ns,
            "--hosts",
            &n.hosts,
            "v4.test",
            &port,
        ]);
        assert_eq!(r.status, 4, "{rt}: {}", r.stderr);
        assert!(
            r.stderr.starts_with(&format!(
                "anysock: cannot connect to v4.test port {port}: the only address failed (the last one: connection refused)"
            )),
            "{rt}: {}",
            r.stderr
        );
        assert!(r.stderr.contains(&format!("127.0.0.1:{port}")));

        // A name the hosts file lacks, asked of a nameserver that refuses: not found, or (for a
        // silent one) timed out.
        let dns = common::DnsServer::start(vec![], usize::MAX);
        let r = anysock(&[
            "connect",
            "--probe",
            "--json",
            "--runtime",
            rt,
            "--nameserver",
            &dns.addr.to_string(),
            "--hosts",
            &n.hosts,
            "nx.test",
            &port,
        ]);
        assert_eq!(r.status, 3, "{rt}: {}", r.stderr);
        let v = json(&r.stdout);
        assert_eq!(v["exit_status"], 3);
        assert!(v["error"].as_str().unwrap().contains("nx.test"), "{v}");

        let r = anysock(&[
            "connect",
            "--probe",
            "--timeout",
            "300",
            "--runtime",
            rt,
            "--nameserver",
            &n.ns,
            "--hosts",
            &n.hosts,
            "nx.test",
            &port,
        ]);
        assert_eq!(r.status, 5, "{rt}: {}", r.stderr);
        assert!(r.stderr.contains("timed out"), "{}", r.stderr);
    }
}

#[test]
fn connect_timeout_against_a_dead_address_is_status_5() {
    let Some(hole) = blackhole_v6(0) else {
        return;
    };
    let port = hole.addr.port().to_string();
    let n = names("dead", "::1 dead.test\n");
    for rt in RUNTIMES {
        let r = anysock(&[
            "connect",
            "--probe",
            "--json",
            "--timeout",
            "200",
            "--runtime",
            rt,
            "--nameserver",
            &n.ns,
            "--hosts",
            &n.hosts,
            "dead.test",
            &port,
        ]);
        assert_eq!(r.status, 5, "{rt}: {}", r.stderr);
        let v = json(&r.stdout);
        assert_eq!(v["attempts"][0]["outcome"], "timed_out");
        let elapsed = v["elapsed_ms"].as_f64().unwrap();
        assert!(elapsed >= 199.0, "{elapsed}");
    }
}

/// A running `anysock serve` and the address it announced.
struct Served {
    child: Child,
    addr: String,
}

fn serve(args: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_anysock"))
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .trim()
        .to_owned();
    Served { child, addr }
}

impl Served {
    fn port(&self) -> String {
        self.addr.rsplit(':').next().unwrap().to_owned()
    }

    /// Sends the signal and returns the exit status and the log.
    fn stop(mut self, signal: &str) -> (i32, String) {
        let ok = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let status = self
            .child
            .wait()
            .unwrap()
            .code()
            .expect("exited, not killed");
        let mut log = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut log)
            .unwrap();
        (status, log)
    }
}

#[test]
fn serve_greets_and_stops_on_sigterm() {
    for rt in RUNTIMES {
        let s = serve(&["--runtime", rt, "127.0.0.1", "0"]);
        let mut c = TcpStream::connect(&s.addr).unwrap();
        let local = c.local_addr().unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        assert_eq!(
            got,
            format!(
                "The internet is full, {}:{}. Go away!\n",
                local.ip(),
                local.port()
            )
        );
        let (status, log) = s.stop("-TERM");
        assert_eq!(status, 0, "{rt}: {log}");
        assert!(
            log.contains(&format!("connection from {local}")),
            "{rt}: {log}"
        );
        assert!(log.contains("stopped after 1 connection"), "{rt}: {log}");
    }
}

#[test]
fn connect_relays_stdin_and_stdout_through_an_echo_server() {
    for rt in RUNTIMES {
        let s = serve(&["--echo", "--runtime", rt, "127.0.0.1", "0"]);
        let r = anysock_with_stdin(
            &["connect", "--runtime", rt, "127.0.0.1", &s.port()],
            b"hello\nworld\n",
        );
        assert_eq!(r.status, 0, "{rt}: {}", r.stderr);
        assert_eq!(r.stdout, "hello\nworld\n");
        let (status, log) = s.stop("-INT");
        assert_eq!(status, 0);
        assert!(log.contains("closed after 12 bytes echoed"), "{rt}: {log}");
    }
}

#[test]
fn unix_socket_serve_and_connect_and_the_path_is_removed() {
    for rt in RUNTIMES {
        let dir = tempdir(&format!("unix-{rt}"));
        let path = dir.join("s.sock");
        let p = path.to_str().unwrap();
        let s = serve(&["--greeting", "hello $host", "--runtime", rt, "unix/", p]);
        assert_eq!(s.addr, format!("unix/:{p}"));
        assert!(path.exists());
        let r = anysock(&["connect", "--runtime", rt, "unix/", p]);
        assert_eq!(r.status, 0, "{rt}: {}", r.stderr);
        assert_eq!(r.stdout, "hello unix/\n");
        let (status, log) = s.stop("-INT");
        assert_eq!(status, 0, "{log}");
        assert!(!path.exists(), "{rt}: the socket file is left behind");
    }
}

#[test]
fn serve_reports_an_address_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for rt in RUNTIMES {
        let r = anysock(&["serve", "--runtime", rt, "127.0.0.1", &port]);
        assert_eq!(r.status, 1);
        assert!(
            r.stderr
                .starts_with(&format!("anysock: cannot serve on 127.0.0.1 {port}: ")),
            "{}",
            r.stderr
        );
        assert!(r.stderr.to_lowercase().contains("in use"), "{}", r.stderr);
    }
}

#[test]
fn demo_runs_and_ipv4_wins() {
    let r = anysock(&["demo", "--attempt-delay", "150", "--attempt-timeout", "200"]);
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1. Happy Eyeballs"), "{}", r.stdout);
    assert!(r.stdout.contains("Go away!"), "{}", r.stdout);
    assert!(
        r.stdout.contains("sent back \"ping over a unix socket\""),
        "{}",
        r.stdout
    );
    let no_v6 =
        r.stdout.contains("::1 is unavailable") || r.stdout.contains("::1 cannot be used here");
    if !no_v6 {
        let step1 =
            &r.stdout[r.stdout.find("1. Happy").unwrap()..r.stdout.find("2. Serial").unwrap()];
        assert!(step1.contains("(ipv6) started"), "{step1}");
        let won = step1.lines().find(|l| l.contains(" won after ")).unwrap();
        assert!(won.trim_start().starts_with("127.0.0.1:"), "{won}");
        assert!(step1.contains("cancelled"), "{step1}");
        let step2 = &r.stdout[r.stdout.find("2. Serial").unwrap()..];
        assert!(step2.contains("timed out after"), "{step2}");
    } else {
        assert!(
            r.stdout.contains("2. Serial connect skipped"),
            "{}",
            r.stdout
        );
    }
}
