//! Server faults (heavy; `--features heavy`): `EMFILE` on every adapter's `tcp_server`. Each case runs
//! in a child process (this test binary re-executed with `ANYSOCK_EMFILE_CHILD` set) so that the
//! lowered `RLIMIT_NOFILE` cannot affect other tests. In the child every free descriptor is taken,
//! clients connect, and the server, unable to accept, must back off (≤ 5% of a core over a 1 s
//! window, measured with getrusage), count the errors, and answer every waiting client once
//! descriptors are free again.
#![cfg(feature = "heavy")]
// These suites measure elapsed wall-clock time (the sans-IO clock rule is for anysock-core).
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use anysock_tests::{process_cpu_time, set_nofile_soft};

const CHILD_ENV: &str = "ANYSOCK_EMFILE_CHILD";
const CLIENTS: usize = 5;
/// At most this much CPU over the 1 s starved window: 5% of a core.
const CPU_BUDGET: Duration = Duration::from_millis(50);

/// Runs `name` in a child process and checks that it passed.
fn in_child(name: &str) {
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for l in stdout
        .lines()
        .filter_map(|l| l.find("RESULT").map(|i| &l[i..]))
    {
        println!("{l}");
    }
    assert!(
        out.status.success() && stdout.contains("RESULT emfile"),
        "child {name} failed:\n{stdout}\n{stderr}"
    );
}

/// What each adapter's server gives the scenario: its port and how many accept errors it counted.
trait Served {
    fn port(&self) -> u16;
    fn accept_errors(&self) -> u64;
}

impl Served for anysock_blocking::Server {
    fn port(&self) -> u16 {
        self.local_addr().as_inet().expect("inet").port()
    }
    fn accept_errors(&self) -> u64 {
        anysock_blocking::Server::accept_errors(self)
    }
}

impl Served for anysock_tokio::Server {
    fn port(&self) -> u16 {
        self.local_addr().as_inet().expect("inet").port()
    }
    fn accept_errors(&self) -> u64 {
        anysock_tokio::Server::accept_errors(self)
    }
}

impl Served for anysock_async_std::Server {
    fn port(&self) -> u16 {
        self.local_addr().as_inet().expect("inet").port()
    }
    fn accept_errors(&self) -> u64 {
        anysock_async_std::Server::accept_errors(self)
    }
}

/// The child's scenario, for a server that answers `ok\n` to every connection.
fn starve(adapter: &str, server: &dyn Served) {
    use socket2::{Domain, Socket, Type};
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port()));
    // Client sockets are made while descriptors are still free.
    let clients: Vec<Socket> = (0..CLIENTS)
        .map(|_| Socket::new(Domain::IPV4, Type::STREAM, None).expect("client socket"))
        .collect();
    // Lower the limit and take every descriptor left.
    set_nofile_soft(256).expect("lower RLIMIT_NOFILE");
    let mut hog = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => hog.push(f),
            Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
            Err(e) => panic!("unexpected error while filling descriptors: {e}"),
        }
    }
    // The handshakes complete in the kernel; the server cannot accept them.
    for c in &clients {
        c.connect(&addr.into())
            .expect("connect (into the accept queue)");
    }
    std::thread::sleep(Duration::from_millis(500));
    let errors_before = server.accept_errors();
    let cpu0 = process_cpu_time();
    std::thread::sleep(Duration::from_secs(1));
    let cpu = process_cpu_time() - cpu0;
    let errors_starved = server.accept_errors() - errors_before;
    assert!(
        server.accept_errors() > 0,
        "{adapter}: EMFILE was not reported"
    );
    assert!(
        cpu <= CPU_BUDGET,
        "{adapter}: {cpu:?} of CPU in 1 s while starved (budget {CPU_BUDGET:?})"
    );
    // Free the descriptors: every waiting client gets its answer.
    drop(hog);
    for c in clients {
        let mut s: std::net::TcpStream = c.into();
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut got = Vec::new();
        s.read_to_end(&mut got).expect("answer after recovery");
        assert_eq!(got, b"ok\n", "{adapter}: answer after recovery");
    }
    println!(
        "RESULT emfile {adapter}: {} accept errors reported ({errors_starved} in the measured second), \
         CPU {:.1} ms in the 1 s starved window ({:.2}% of a core), all {CLIENTS} waiting clients answered after recovery",
        server.accept_errors(),
        cpu.as_secs_f64() * 1e3,
        cpu.as_secs_f64() * 100.0
    );
}

#[test]
fn blocking_server_backs_off_on_emfile() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return in_child("blocking_server_backs_off_on_emfile");
    }
    let server = anysock_blocking::tcp_server(Some("127.0.0.1"), "0", |mut s, _, _| {
        let _ = s.write_all(b"ok\n");
    })
    .expect("server");
    starve("blocking", &server);
}

#[test]
fn tokio_server_backs_off_on_emfile() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return in_child("tokio_server_backs_off_on_emfile");
    }
    use tokio::io::AsyncWriteExt;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let server = {
        let _g = rt.enter();
        anysock_tokio::tcp_server(Some("127.0.0.1"), "0", |mut s, _| async move {
            let _ = s.write_all(b"ok\n").await;
        })
        .expect("server")
    };
    starve("tokio", &server);
}

#[test]
fn async_std_server_backs_off_on_emfile() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return in_child("async_std_server_backs_off_on_emfile");
    }
    use futures_lite::AsyncWriteExt;
    let server = anysock_async_std::tcp_server(Some("127.0.0.1"), "0", |mut s, _, _| {
        async_io::block_on(async {
            let _ = s.write_all(b"ok\n").await;
        });
    })
    .expect("server");
    starve("async-std", &server);
}
