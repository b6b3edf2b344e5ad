//! A private network and mount namespace with a loopback dnsmasq as the system resolver, so that
//! benchmarks can measure getaddrinfo (`std` `ToSocketAddrs`, `tokio::net::lookup_host`) against the
//! same DNS server as anysock without ever reaching the machine's configured nameservers.
//!
//! [`NetNs::enter`] must be called first thing in `main` (a bench with `harness = false`), while the
//! process has one thread: `unshare(CLONE_NEWNS)` fails with `EINVAL` in a multi-threaded process,
//! and a network namespace entered by one thread would not cover the others. It then:
//!
//! 1. checks that it runs as root and single-threaded;
//! 2. `unshare(CLONE_NEWNET | CLONE_NEWNS)`, makes `/` `rprivate` (no mount leaks back to the
//!    system) and brings `lo` up (127.0.0.1 and ::1);
//! 3. writes into a temporary directory, and bind-mounts over the system's files:
//!    - `/etc/resolv.conf`: `nameserver 127.0.0.1` and `options timeout:1 attempts:2` (a lost datagram
//!      costs one second rather than five; there is no `search` or `domain` line, so every bench name,
//!      which has one dot, is asked as written, once per family);
//!    - `/etc/hosts`: `127.0.0.1 localhost`, `::1 localhost ip6-localhost` and the caller's lines
//!      (e.g. `::1 dual.bench` then `127.0.0.1 dual.bench`);
//!    - `/etc/nsswitch.conf`: `hosts: files dns`, so that no NSS module (systemd-resolved,
//!      mdns, ...) can forward a lookup outside the namespace;
//!    - `/run/nscd` (if it exists) gets an empty tmpfs, so that glibc cannot ask a caching daemon
//!      of the real system;
//! 4. reads `/etc/resolv.conf` and `/etc/hosts` back and fails unless they are the files it wrote;
//! 5. starts `dnsmasq` on 127.0.0.1:53 (`--no-resolv --no-hosts`, so it never forwards) with one
//!    `host-record` line per name the caller asked for (A and AAAA; dnsmasq answers them with TTL 0,
//!    its default `local-ttl`, so no client can cache them) and waits until it answers a query.
//!
//! Any failure is returned as [`Unavailable`] with the reason: a bench prints it and skips the
//! functions that need the namespace. After a failure past step 2 the process may be in a namespace
//! without a resolver; callers must not use getaddrinfo then (the benches do not).
//!
//! Dropping the [`NetNs`] stops dnsmasq; the namespaces end with the process.

use std::ffi::CString;
use std::fmt::{self, Write as _};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

/// The contents of the resolv.conf bind-mounted over `/etc/resolv.conf`.
pub const RESOLV_CONF: &str = "nameserver 127.0.0.1\noptions timeout:1 attempts:2\n";

/// Where dnsmasq listens inside the namespace.
pub const NAMESERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53);

/// How many distinct names [`NetNsConfig::bench`] serves: [`bench_name`]`(0..BENCH_NAMES)`.
pub const BENCH_NAMES: usize = 64;

/// The `i`th name of [`NetNsConfig::bench`]: `h{i}.bench`.
pub fn bench_name(i: usize) -> String {
    format!("h{i}.bench")
}

/// What to serve and which hosts lines to add.
#[derive(Clone, Debug, Default)]
pub struct NetNsConfig {
    records: Vec<(String, Vec<IpAddr>)>,
    hosts: Vec<(IpAddr, String)>,
}

impl NetNsConfig {
    pub fn new() -> Self {
        Self::default()
    }

    /// A name dnsmasq answers with these addresses (A for IPv4, AAAA for IPv6).
    pub fn record(mut self, name: &str, addrs: &[IpAddr]) -> Self {
        self.records.push((name.to_owned(), addrs.to_vec()));
        self
    }

    /// A line of the namespace's `/etc/hosts`, in the order given.
    pub fn hosts_line(mut self, addr: IpAddr, name: &str) -> Self {
        self.hosts.push((addr, name.to_owned()));
        self
    }

    /// The configuration every bench uses: `www.bench` (127.0.0.1 and ::1) and `h0.bench` ..
    /// `h63.bench` (127.0.1.N and ::1) served by dnsmasq; `dual.bench` in the hosts file as `::1`
    /// then `127.0.0.1` (the machine's own /etc/hosts has no `::1` line).
    pub fn bench() -> Self {
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        let mut c = Self::new().record("www.bench", &[IpAddr::V4(Ipv4Addr::LOCALHOST), v6]);
        for i in 0..BENCH_NAMES {
            let v4 = IpAddr::V4(Ipv4Addr::new(127, 0, 1, i as u8));
            c = c.record(&bench_name(i), &[v4, v6]);
        }
        c.hosts_line(v6, "dual.bench")
            .hosts_line(IpAddr::V4(Ipv4Addr::LOCALHOST), "dual.bench")
    }

    fn hosts_text(&self) -> String {
        let mut s = String::from("127.0.0.1 localhost\n::1 localhost ip6-localhost\n");
        for (a, n) in &self.hosts {
            writeln!(s, "{a} {n}").unwrap();
        }
        s
    }

    fn dnsmasq_conf(&self) -> String {
        // `local=/bench/`: names under .bench that are not configured get NXDOMAIN, never forwarded
        // (there is nowhere to forward to anyway: no-resolv and no server lines).
        let mut s = String::from("no-resolv\nno-hosts\nlocal=/bench/\nlog-facility=-\n");
        for (name, addrs) in &self.records {
            let list: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
            writeln!(s, "host-record={name},{}", list.join(",")).unwrap();
        }
        s
    }

    fn probe_name(&self) -> Option<&str> {
        self.records.first().map(|(n, _)| n.as_str())
    }
}

/// Why the namespace could not be set up.
#[derive(Debug)]
pub struct Unavailable(pub String);

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unavailable {}

fn fail(what: &str, e: impl fmt::Display) -> Unavailable {
    Unavailable(format!("{what}: {e}"))
}

/// The namespace with its running dnsmasq.
#[derive(Debug)]
pub struct NetNs {
    dnsmasq: Child,
    dir: PathBuf,
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = self.dnsmasq.kill();
        let _ = self.dnsmasq.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl NetNs {
    /// Puts this process into a new network and mount namespace with a loopback dnsmasq as its
    /// resolver (see the module docs). Call it before any thread exists.
    pub fn enter(config: &NetNsConfig) -> Result<NetNs, Unavailable> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(Unavailable(
                "not root: a network and mount namespace needs CAP_SYS_ADMIN".into(),
            ));
        }
        if !dnsmasq_installed() {
            return Err(Unavailable(
                "dnsmasq not installed (apt-get install dnsmasq-base)".into(),
            ));
        }
        let threads = thread_count().map_err(|e| fail("reading /proc/self/status", e))?;
        if threads != 1 {
            return Err(Unavailable(format!(
                "{threads} threads: NetNs::enter must run before any thread is started"
            )));
        }
        // SAFETY: plain syscalls on constant arguments.
        if unsafe { libc::unshare(libc::CLONE_NEWNET | libc::CLONE_NEWNS) } != 0 {
            return Err(fail("unshare(NEWNET|NEWNS)", io::Error::last_os_error()));
        }
        mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE)
            .map_err(|e| fail("mount / rprivate", e))?;
        loopback_up().map_err(|e| fail("bringing lo up", e))?;

        let dir = std::env::temp_dir().join(format!("anysock-netns-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| fail("temp dir", e))?;
        let hosts = config.hosts_text();
        let files = [
            ("resolv.conf", RESOLV_CONF, "/etc/resolv.conf"),
            ("hosts", hosts.as_str(), "/etc/hosts"),
            ("nsswitch.conf", "hosts: files dns\n", "/etc/nsswitch.conf"),
        ];
        for (name, text, target) in files {
            let src = dir.join(name);
            std::fs::write(&src, text).map_err(|e| fail(name, e))?;
            mount(Some(&src), target, None, libc::MS_BIND)
                .map_err(|e| fail(&format!("bind mount over {target}"), e))?;
        }
        for nscd in ["/run/nscd", "/var/run/nscd"] {
            if Path::new(nscd).is_dir() {
                mount(Some(Path::new("tmpfs")), nscd, Some("tmpfs"), 0)
                    .map_err(|e| fail(&format!("tmpfs over {nscd}"), e))?;
            }
        }
        // The check that matters: the files getaddrinfo reads are ours.
        for (path, want) in [("/etc/resolv.conf", RESOLV_CONF), ("/etc/hosts", &hosts)] {
            let got = std::fs::read_to_string(path).map_err(|e| fail(path, e))?;
            if got != want {
                return Err(Unavailable(format!(
                    "{path} inside the namespace is not the file written for it: {got:?}"
                )));
            }
        }

        let conf = dir.join("dnsmasq.conf");
        std::fs::write(&conf, config.dnsmasq_conf()).map_err(|e| fail("dnsmasq.conf", e))?;
        let log = dir.join("dnsmasq.log");
        let mut cmd = Command::new("dnsmasq");
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            // If this process dies without dropping the NetNs (killed), dnsmasq goes with it.
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .arg(format!("--conf-file={}", conf.display()))
            .args([
                "--port=53",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--keep-in-foreground",
                "--pid-file=",
                "--no-resolv",
                "--no-hosts",
                "--user=root",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(&log)
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .map_err(|e| fail("starting dnsmasq (package dnsmasq-base)", e))?;
        let mut ns = NetNs {
            dnsmasq: child,
            dir,
        };
        ns.wait_ready(config.probe_name().unwrap_or("localhost"), &log)?;
        Ok(ns)
    }

    /// Polls dnsmasq with a raw A query until it answers (up to about 5 s).
    fn wait_ready(&mut self, name: &str, log: &Path) -> Result<(), Unavailable> {
        let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| fail("probe socket", e))?;
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| fail("probe socket", e))?;
        let mut q = Message::new(0x5eed, MessageType::Query, OpCode::Query);
        q.metadata.recursion_desired = true;
        let fqdn = Name::from_str(&format!("{name}.")).map_err(|e| fail("probe name", e))?;
        q.queries.push(Query::query(fqdn, RecordType::A));
        let bytes = q.to_vec().map_err(|e| fail("probe query", e))?;
        let mut buf = [0u8; 1500];
        for _ in 0..50 {
            if let Ok(Some(status)) = self.dnsmasq.try_wait() {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                return Err(Unavailable(format!(
                    "dnsmasq exited ({status}): {}",
                    text.trim()
                )));
            }
            let _ = sock.send_to(&bytes, NAMESERVER);
            if let Ok((n, _)) = sock.recv_from(&mut buf)
                && let Ok(m) = Message::from_vec(&buf[..n])
                && m.metadata.id == 0x5eed
                && m.metadata.message_type == MessageType::Response
            {
                return Ok(());
            }
        }
        Err(Unavailable("dnsmasq did not answer within 5 s".into()))
    }
}

fn thread_count() -> io::Result<usize> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::other("no Threads: line"))
}

fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn mount(
    source: Option<&Path>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
) -> io::Result<()> {
    let source = source
        .map(|p| cstring(p.to_str().ok_or(io::ErrorKind::InvalidInput)?))
        .transpose()?;
    let target = cstring(target)?;
    let fstype = fstype.map(cstring).transpose()?;
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is null or a NUL-terminated string that outlives the call.
    let r = unsafe {
        libc::mount(
            ptr(&source),
            target.as_ptr(),
            ptr(&fstype),
            flags,
            std::ptr::null(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `ip link set lo up`, by ioctl.
fn loopback_up() -> io::Result<()> {
    let sock = UdpSocket::bind("0.0.0.0:0").or_else(|_| {
        // A fresh namespace has lo down: binding needs no address, but be tolerant.
        UdpSocket::bind("[::]:0")
    })?;
    use std::os::fd::AsRawFd;
    // SAFETY: ifreq is plain old data; zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo") {
        *d = *s as libc::c_char;
    }
    // SAFETY: a valid socket and a valid ifreq for SIOCGIFFLAGS/SIOCSIFFLAGS.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) != 0 {
            return Err(io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether a `dnsmasq` executable is on the `PATH`.
fn dnsmasq_installed() -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join("dnsmasq"))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}
