//! Test support: the DNS responder, running the `anysock` binary, and an IPv6 listener that never
//! answers.
#![allow(dead_code)]

mod dns;

use std::io::Write;
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

pub use dns::*;

/// Counts the open file descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A process-unique temporary directory.
pub fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("anysock-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The `anysock` binary's output.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `anysock` with these arguments and no stdin.
pub fn anysock(args: &[&str]) -> Run {
    anysock_with_stdin(args, b"")
}

/// Runs `anysock` with these arguments, feeding `stdin` and then closing it.
pub fn anysock_with_stdin(args: &[&str], stdin: &[u8]) -> Run {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_anysock"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run anysock");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    let out = child.wait_with_output().expect("anysock ends");
    Run {
        status: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// A listener on [::1] whose accept queue is full: connects to it neither succeed nor fail.
pub struct Blackhole {
    pub addr: SocketAddr,
    _listener: anysock_sys::Listener,
    _pending: Vec<anysock_sys::socket2::Socket>,
}

pub fn blackhole_v6(port: u16) -> Option<Blackhole> {
    use anysock_core::{SockAddr, SockType};
    if !anysock_sys::ipv6_available() {
        return None;
    }
    let want = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
    let l = anysock_sys::listen(&SockAddr::Inet(want), SockType::Stream, 0).ok()?;
    let addr = l.local_addr().as_inet().unwrap();
    let mut pending = Vec::new();
    for _ in 0..4 {
        let s = anysock_sys::new_socket(anysock_core::Family::V6, SockType::Stream, 6).unwrap();
        let _ = anysock_sys::start_connect(&s, &SockAddr::Inet(addr));
        pending.push(s);
    }
    std::thread::sleep(Duration::from_millis(50));
    Some(Blackhole {
        addr,
        _listener: l,
        _pending: pending,
    })
}
