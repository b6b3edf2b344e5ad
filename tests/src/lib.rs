//! Support for anysock's cross-adapter reliability suites (`tests/tests/*.rs`): process gauges read
//! from `/proc/self` and `getrusage`, the descriptor limit, an IPv6 listener with a full accept queue
//! (an unresponsive peer on loopback), error downcasts for all three adapters, and a hostile DNS
//! responder on a loopback port that speaks raw DNS bytes over UDP and TCP.
//!
//! Everything here talks to loopback only.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anysock_core::ConnectError;
use anysock_core::dns::{DnsError, DnsErrorKind};
use anysock_core::resolution::LookupError;

/// Open descriptors of this process (entries of `/proc/self/fd`, minus the one `read_dir` holds).
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count().saturating_sub(1))
        .unwrap_or(0)
}

/// Threads of this process (entries of `/proc/self/task`).
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Resident set size in KiB (`VmRSS` of `/proc/self/status`).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// User plus system CPU time of the whole process so far (`getrusage(RUSAGE_SELF)`).
pub fn process_cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass; RUSAGE_SELF is always valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage: {}", io::Error::last_os_error());
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// The soft and hard `RLIMIT_NOFILE`.
pub fn nofile_limit() -> (u64, u64) {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
    assert_eq!(rc, 0, "getrlimit: {}", io::Error::last_os_error());
    (rl.rlim_cur, rl.rlim_max)
}

/// Sets the soft `RLIMIT_NOFILE` (the hard limit stays).
pub fn set_nofile_soft(soft: u64) -> io::Result<()> {
    let (_, hard) = nofile_limit();
    let rl = libc::rlimit {
        rlim_cur: soft.min(hard),
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Raises the soft descriptor limit to at least `want` (capped by the hard limit); returns the new
/// soft limit.
pub fn raise_nofile(want: u64) -> u64 {
    let (soft, hard) = nofile_limit();
    if soft < want {
        set_nofile_soft(want.min(hard)).expect("raise RLIMIT_NOFILE");
    }
    nofile_limit().0
}

/// An unresponsive peer on `[::1]`: a listener with backlog 0 that never accepts, whose accept queue
/// is already full (one pending connection), so further SYNs are dropped and connects to it hang
/// until the caller gives up.
#[derive(Debug)]
pub struct FullQueueListener {
    /// The listener's address.
    pub addr: SocketAddr,
    _listener: socket2::Socket,
    _pending: Vec<socket2::Socket>,
}

impl FullQueueListener {
    /// Binds `[::1]:0`, listens with backlog 0 and fills the queue.
    pub fn v6() -> io::Result<FullQueueListener> {
        FullQueueListener::v6_on(0)
    }

    /// Binds `[::1]:port` (0: any), listens with backlog 0 and fills the queue.
    pub fn v6_on(port: u16) -> io::Result<FullQueueListener> {
        use socket2::{Domain, Socket, Type};
        let listener = Socket::new(Domain::IPV6, Type::STREAM, None)?;
        listener.bind(&SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)).into())?;
        listener.listen(0)?;
        let addr = listener
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("not an inet listener"))?;
        let mut pending = Vec::new();
        // Backlog 0 admits one connection into the accept queue (two on some kernels); fill it, then
        // check that a further connect really hangs.
        for _ in 0..4 {
            let s = Socket::new(Domain::IPV6, Type::STREAM, None)?;
            s.set_nonblocking(true)?;
            let _ = s.connect(&addr.into());
            pending.push(s);
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(FullQueueListener {
            addr,
            _listener: listener,
            _pending: pending,
        })
    }
}

/// The connect report inside an adapter's `io::Error` (any of the three adapters).
pub fn connect_error(e: &io::Error) -> Option<&ConnectError> {
    let inner = e.get_ref()?;
    if let Some(anysock_blocking::Error::Connect { error, .. }) =
        inner.downcast_ref::<anysock_blocking::Error>()
    {
        return Some(error);
    }
    if let Some(anysock_tokio::Error::Connect { error, .. }) =
        inner.downcast_ref::<anysock_tokio::Error>()
    {
        return Some(&error.connect);
    }
    if let Some(anysock_async_std::Error::Connect { error, .. }) =
        inner.downcast_ref::<anysock_async_std::Error>()
    {
        return Some(&error.connect);
    }
    if let Some(d) = inner.downcast_ref::<anysock_core::dial::DialError>() {
        return Some(&d.connect);
    }
    inner.downcast_ref::<ConnectError>()
}

/// The DNS failure inside a lookup's `io::Error` (any of the three adapters).
pub fn dns_error(e: &io::Error) -> Option<&DnsError> {
    let inner = e.get_ref()?;
    if let Some(d) = inner.downcast_ref::<DnsError>() {
        return Some(d);
    }
    match inner.downcast_ref::<LookupError>() {
        Some(LookupError::Dns(d)) => Some(d),
        _ => None,
    }
}

/// The DNS failure kind inside a lookup's `io::Error`.
pub fn dns_error_kind(e: &io::Error) -> Option<DnsErrorKind> {
    dns_error(e).map(|d| d.kind)
}

// -------------------------------------------------------------------------------------------------
// The hostile DNS responder

/// What the hostile responder does with each query. Every reply that is not a forgery answers the
/// question with `GOOD` (an A record) unless the behaviour says otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// Reads queries and never answers.
    Silent,
    /// Answers with this RCODE and no records (2 SERVFAIL, 5 REFUSED).
    Rcode(u8),
    /// UDP: an empty reply with TC set; TCP: the full answer.
    Truncated,
    /// UDP: TC set; TCP: the length prefix and half the message, then close.
    TruncatedTcpClosesMidReply,
    /// Answers `A?` for any name with a CNAME to `other-<name>` and a CNAME from there back to the
    /// name asked: a loop inside one reply.
    CnameLoop,
    /// First a reply (right id, right source) for another question carrying `SPOOF`, then the real
    /// answer.
    OtherQuestionFirst,
    /// First a reply with the wrong id carrying `SPOOF`, then the real answer.
    WrongIdFirst,
    /// First a reply from another port of 127.0.0.1 (right id and question) carrying `SPOOF`, then
    /// the real answer from the server's address.
    WrongSourceFirst,
    /// A 60,000-byte datagram: a header with the right id and question, one answer whose record
    /// runs past the end, then junk. No real answer.
    Oversized,
    /// A reply that is ours (id, question) but whose only A record has 7 bytes of data.
    MalformedRecord,
    /// Three bytes of junk first, then the real answer.
    RuntFirst,
}

/// The address every genuine answer carries.
pub const GOOD: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
/// The address forged replies carry; it must never appear in an answer.
pub const SPOOF: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 66);

/// A DNS responder on `127.0.0.1:<ephemeral>` (UDP and TCP on the same port) behaving as told.
#[derive(Debug)]
pub struct Hostile {
    /// The responder's address (give it to a resolver as its only nameserver).
    pub addr: SocketAddr,
    /// UDP queries received.
    pub udp_queries: Arc<AtomicU32>,
    /// TCP connections accepted.
    pub tcp_queries: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Hostile {
    /// Starts the responder.
    pub fn start(behavior: Behavior) -> Hostile {
        // UDP and TCP on one port: retry until an ephemeral UDP port whose TCP twin is free.
        let (udp, addr, tcp) = (0..100)
            .find_map(|_| {
                let udp = UdpSocket::bind("127.0.0.1:0").ok()?;
                let addr = udp.local_addr().ok()?;
                let tcp = TcpListener::bind(addr).ok()?;
                Some((udp, addr, tcp))
            })
            .expect("a UDP+TCP port pair on 127.0.0.1");
        tcp.set_nonblocking(true).expect("nonblocking");
        udp.set_read_timeout(Some(Duration::from_millis(10)))
            .expect("read timeout");
        let forger = UdpSocket::bind("127.0.0.1:0").expect("bind forger");
        let stop = Arc::new(AtomicBool::new(false));
        let udp_queries = Arc::new(AtomicU32::new(0));
        let tcp_queries = Arc::new(AtomicU32::new(0));
        let (s, uq, tq) = (
            Arc::clone(&stop),
            Arc::clone(&udp_queries),
            Arc::clone(&tcp_queries),
        );
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !s.load(Ordering::SeqCst) {
                if let Ok((n, from)) = udp.recv_from(&mut buf) {
                    uq.fetch_add(1, Ordering::SeqCst);
                    for (via_forger, datagram) in udp_replies(behavior, &buf[..n]) {
                        let sock = if via_forger { &forger } else { &udp };
                        let _ = sock.send_to(&datagram, from);
                    }
                }
                if let Ok((mut c, _)) = tcp.accept() {
                    tq.fetch_add(1, Ordering::SeqCst);
                    let _ = c.set_nonblocking(false);
                    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                    let mut len = [0u8; 2];
                    if c.read_exact(&mut len).is_ok() {
                        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                        if c.read_exact(&mut q).is_ok() {
                            let _ = c.write_all(&tcp_reply(behavior, &q));
                        }
                    }
                }
            }
        });
        Hostile {
            addr,
            udp_queries,
            tcp_queries,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The end of the question section (offset after QTYPE and QCLASS), if the query has one.
fn question_end(q: &[u8]) -> Option<usize> {
    let mut i = 12;
    loop {
        let len = usize::from(*q.get(i)?);
        if len == 0 {
            i += 1;
            break;
        }
        if len & 0xC0 != 0 {
            return None;
        }
        i += 1 + len;
    }
    let end = i + 4;
    (end <= q.len()).then_some(end)
}

/// A reply header and question for query `q`.
fn reply_head(q: &[u8], qend: usize, rcode: u8, tc: bool, ancount: u16) -> Vec<u8> {
    let mut r = Vec::with_capacity(512);
    r.extend_from_slice(&q[0..2]);
    let opcode = q[2] & 0x78;
    let rd = q[2] & 0x01;
    r.push(0x80 | opcode | 0x04 | if tc { 0x02 } else { 0 } | rd);
    r.push(0x80 | (rcode & 0x0F));
    r.extend_from_slice(&1u16.to_be_bytes());
    r.extend_from_slice(&ancount.to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]);
    r.extend_from_slice(&q[12..qend]);
    r
}

/// An A record owned by the question name (compression pointer to offset 12).
fn a_record(ip: Ipv4Addr) -> Vec<u8> {
    let mut r = vec![0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4];
    r.extend_from_slice(&ip.octets());
    r
}

/// The question name, as wire labels (without compression).
fn qname(q: &[u8], qend: usize) -> &[u8] {
    &q[12..qend - 4]
}

/// The genuine answer: `GOOD`.
fn good(q: &[u8], qend: usize) -> Vec<u8> {
    let mut r = reply_head(q, qend, 0, false, 1);
    r.extend_from_slice(&a_record(GOOD));
    r
}

fn udp_replies(behavior: Behavior, q: &[u8]) -> Vec<(bool, Vec<u8>)> {
    let Some(qend) = question_end(q) else {
        return Vec::new();
    };
    match behavior {
        Behavior::Silent => Vec::new(),
        Behavior::Rcode(rc) => vec![(false, reply_head(q, qend, rc, false, 0))],
        Behavior::Truncated | Behavior::TruncatedTcpClosesMidReply => {
            vec![(false, reply_head(q, qend, 0, true, 0))]
        }
        Behavior::CnameLoop => {
            // name CNAME other-name; other-name CNAME name.
            let name = qname(q, qend).to_vec();
            let mut other = vec![6];
            other.extend_from_slice(b"other-");
            // other-<first label>.<rest>: prefix the first label.
            let first = usize::from(name[0]);
            other[0] = (6 + first) as u8;
            other.extend_from_slice(&name[1..]);
            let mut r = reply_head(q, qend, 0, false, 2);
            let cname = |owner: &[u8], target: &[u8]| {
                let mut rec = owner.to_vec();
                rec.extend_from_slice(&[0, 5, 0, 1, 0, 0, 0, 60]);
                rec.extend_from_slice(&(target.len() as u16).to_be_bytes());
                rec.extend_from_slice(target);
                rec
            };
            r.extend_from_slice(&cname(&name, &other));
            r.extend_from_slice(&cname(&other, &name));
            vec![(false, r)]
        }
        Behavior::OtherQuestionFirst => {
            // Same id, but the question is `x<name>`.
            let mut forged = q[..12].to_vec();
            let name = qname(q, qend);
            let first = usize::from(name[0]);
            forged.push((first + 1) as u8);
            forged.push(b'x');
            forged.extend_from_slice(&name[1..]);
            forged.extend_from_slice(&q[qend - 4..qend]);
            let fqend = forged.len();
            let mut r = reply_head(&forged, fqend, 0, false, 1);
            r.extend_from_slice(&a_record(SPOOF));
            vec![(false, r), (false, good(q, qend))]
        }
        Behavior::WrongIdFirst => {
            let mut r = reply_head(q, qend, 0, false, 1);
            r[0] ^= 0x5A;
            r[1] ^= 0xA5;
            r.extend_from_slice(&a_record(SPOOF));
            vec![(false, r), (false, good(q, qend))]
        }
        Behavior::WrongSourceFirst => {
            let mut r = reply_head(q, qend, 0, false, 1);
            r.extend_from_slice(&a_record(SPOOF));
            vec![(true, r), (false, good(q, qend))]
        }
        Behavior::Oversized => {
            let mut r = reply_head(q, qend, 0, false, 1);
            r.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0xFF, 0xFF]);
            while r.len() < 60_000 {
                r.push((r.len() % 251) as u8);
            }
            vec![(false, r)]
        }
        Behavior::MalformedRecord => {
            let mut r = reply_head(q, qend, 0, false, 1);
            r.extend_from_slice(&[0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 7]);
            r.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7]);
            vec![(false, r)]
        }
        Behavior::RuntFirst => vec![(false, vec![0xde, 0xad, 0xbe]), (false, good(q, qend))],
    }
}

fn tcp_reply(behavior: Behavior, q: &[u8]) -> Vec<u8> {
    let Some(qend) = question_end(q) else {
        return Vec::new();
    };
    let msg = good(q, qend);
    let mut out = (msg.len() as u16).to_be_bytes().to_vec();
    match behavior {
        Behavior::TruncatedTcpClosesMidReply => out.extend_from_slice(&msg[..msg.len() / 2]),
        _ => out.extend_from_slice(&msg),
    }
    out
}

/// A loopback TCP listener with a deep backlog (4096, capped by `somaxconn`) whose thread accepts
/// and closes every connection: a peer that never refuses a SYN and holds no descriptor.
#[derive(Debug)]
pub struct Sink {
    /// The listener's address.
    pub addr: SocketAddr,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sink {
    /// Listens on `addr` (port 0: any).
    pub fn bind(addr: SocketAddr) -> io::Result<Sink> {
        use socket2::{Domain, Socket, Type};
        let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        s.set_reuse_address(true)?;
        s.bind(&addr.into())?;
        s.listen(4096)?;
        s.set_nonblocking(true)?;
        let addr = s
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("not inet"))?;
        let listener: TcpListener = s.into();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU32::new(0));
        let (st, acc) = (Arc::clone(&stop), Arc::clone(&accepted));
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((c, _)) => {
                        acc.fetch_add(1, Ordering::SeqCst);
                        drop(c);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Ok(Sink {
            addr,
            accepted,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A working `127.0.0.1:P` listener and an unresponsive `[::1]:P` on the same port `P`.
pub fn dual_family_same_port() -> (Sink, FullQueueListener) {
    for _ in 0..100 {
        let Ok(v4) = Sink::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))) else {
            continue;
        };
        if let Ok(v6) = FullQueueListener::v6_on(v4.addr.port()) {
            return (v4, v6);
        }
    }
    panic!("no port free on both 127.0.0.1 and ::1");
}

/// Writes a hosts file into the temp directory and returns its path.
pub fn write_hosts(tag: &str, lines: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("anysock-tests-{}-{tag}.hosts", std::process::id()));
    std::fs::write(&p, lines).expect("write hosts file");
    p
}

/// A small deterministic generator for cancellation points (xorshift64*).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    /// The next value below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}
