//! # anysock-testkit
//!
//! Test support shared by the adapters' and the command's tests (a dev-dependency, never published): a
//! small authoritative DNS responder on a loopback port (UDP and TCP, built with hickory-proto) that
//! truncates large UDP answers so clients fall back to TCP, and helpers for descriptor counts and
//! temporary directories.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// The origin of a test's virtual clock: the one place where the tests of the sans-IO core take a real
/// [`Instant`] (std has no other way to make one). The machines only ever receive it as an argument;
/// tests add durations to it and never read the clock again, so anysock-core itself reads no clock.
#[allow(clippy::disallowed_methods)] // the one clock read of the core's tests
pub fn clock_origin() -> Instant {
    Instant::now()
}

/// One record of the test zone.
#[derive(Clone, Debug)]
pub enum Rr {
    A(&'static str, Ipv4Addr),
    Aaaa(&'static str, Ipv6Addr),
    Cname(&'static str, &'static str),
    Srv(&'static str, u16, u16, u16, &'static str),
    Txt(&'static str, String),
}

impl Rr {
    fn owner(&self) -> &'static str {
        match self {
            Rr::A(n, _) | Rr::Aaaa(n, _) | Rr::Cname(n, _) | Rr::Txt(n, _) => n,
            Rr::Srv(n, ..) => n,
        }
    }

    fn rtype(&self) -> RecordType {
        match self {
            Rr::A(..) => RecordType::A,
            Rr::Aaaa(..) => RecordType::AAAA,
            Rr::Cname(..) => RecordType::CNAME,
            Rr::Srv(..) => RecordType::SRV,
            Rr::Txt(..) => RecordType::TXT,
        }
    }

    fn record(&self) -> Record {
        let name = Name::from_str(&format!("{}.", self.owner())).unwrap();
        let rdata = match self {
            Rr::A(_, ip) => RData::A(A(*ip)),
            Rr::Aaaa(_, ip) => RData::AAAA(AAAA(*ip)),
            Rr::Cname(_, t) => RData::CNAME(CNAME(Name::from_str(&format!("{t}.")).unwrap())),
            Rr::Srv(_, p, w, port, t) => RData::SRV(SRV::new(
                *p,
                *w,
                *port,
                Name::from_str(&format!("{t}.")).unwrap(),
            )),
            Rr::Txt(_, s) => RData::TXT(TXT::new(vec![s.clone()])),
        };
        Record::from_rdata(name, 60, rdata)
    }
}

/// A DNS server for tests. Answers from its zone; names not in it get NXDOMAIN. Over UDP, answers with
/// more than `max_udp_answers` records are sent truncated (TC bit, no records), so clients retry over
/// TCP.
#[derive(Debug)]
pub struct DnsServer {
    pub addr: SocketAddr,
    pub udp_queries: Arc<AtomicU32>,
    pub tcp_queries: Arc<AtomicU32>,
    /// The source address of every UDP query received, in order.
    pub udp_sources: Arc<Mutex<Vec<SocketAddr>>>,
    /// UDP queries still to be ignored (received and recorded, not answered): set it to make the
    /// next queries go unanswered, so that the client retransmits.
    pub ignore_udp: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DnsServer {
    /// How many UDP queries arrived so far (a mark for [`DnsServer::udp_ports_since`]).
    pub fn udp_query_count(&self) -> usize {
        self.udp_sources.lock().unwrap().len()
    }

    /// The source ports of the UDP queries received from the `mark`-th on.
    pub fn udp_ports_since(&self, mark: usize) -> Vec<u16> {
        self.udp_sources.lock().unwrap()[mark..]
            .iter()
            .map(SocketAddr::port)
            .collect()
    }

    pub fn start(zone: Vec<Rr>, max_udp_answers: usize) -> DnsServer {
        // UDP and TCP on one port: a port whose TCP side is taken (by some other test's connection)
        // is given up for another.
        let (udp, addr, tcp) = (0..50)
            .find_map(|_| {
                let udp = UdpSocket::bind("127.0.0.1:0").ok()?;
                let addr = udp.local_addr().ok()?;
                let tcp = TcpListener::bind(addr).ok()?;
                Some((udp, addr, tcp))
            })
            .expect("a port free for both UDP and TCP");
        tcp.set_nonblocking(true).unwrap();
        udp.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let udp_queries = Arc::new(AtomicU32::new(0));
        let tcp_queries = Arc::new(AtomicU32::new(0));
        let udp_sources = Arc::new(Mutex::new(Vec::new()));
        let ignore_udp = Arc::new(AtomicU32::new(0));
        let zone = Arc::new(Mutex::new(zone));
        let (s, uq, tq, us, iu) = (
            Arc::clone(&stop),
            Arc::clone(&udp_queries),
            Arc::clone(&tcp_queries),
            Arc::clone(&udp_sources),
            Arc::clone(&ignore_udp),
        );
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !s.load(Ordering::SeqCst) {
                if let Ok((n, from)) = udp.recv_from(&mut buf) {
                    uq.fetch_add(1, Ordering::SeqCst);
                    us.lock().unwrap().push(from);
                    let ignore = iu
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if ignore {
                        continue;
                    }
                    if let Some(reply) = answer(&zone.lock().unwrap(), &buf[..n], max_udp_answers) {
                        let _ = udp.send_to(&reply, from);
                    }
                }
                if let Ok((mut c, _)) = tcp.accept() {
                    tq.fetch_add(1, Ordering::SeqCst);
                    c.set_nonblocking(false).unwrap();
                    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    let mut len = [0u8; 2];
                    if c.read_exact(&mut len).is_ok() {
                        let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                        if c.read_exact(&mut q).is_ok()
                            && let Some(reply) = answer(&zone.lock().unwrap(), &q, usize::MAX)
                        {
                            let mut out = (reply.len() as u16).to_be_bytes().to_vec();
                            out.extend_from_slice(&reply);
                            let _ = c.write_all(&out);
                        }
                    }
                }
            }
        });
        DnsServer {
            addr,
            udp_queries,
            tcp_queries,
            udp_sources,
            ignore_udp,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(zone: &[Rr], query: &[u8], max_answers: usize) -> Option<Vec<u8>> {
    let q = Message::from_vec(query).ok()?;
    let question = q.queries.first()?.clone();
    let mut name = question.name().to_ascii().to_lowercase();
    if name.ends_with('.') {
        name.pop();
    }
    let qtype = question.query_type();
    let mut reply = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
    reply.metadata.recursion_desired = q.metadata.recursion_desired;
    reply.metadata.authoritative = true;
    reply.queries.push(question);
    let mut answers = Vec::new();
    let mut owner = name.clone();
    // Follow CNAMEs inside the zone, as an authoritative server does.
    for _ in 0..8 {
        let cname = zone
            .iter()
            .find(|r| r.owner() == owner && r.rtype() == RecordType::CNAME);
        match cname {
            Some(c @ Rr::Cname(_, t)) if qtype != RecordType::CNAME => {
                answers.push(c.record());
                owner = t.to_string();
            }
            _ => break,
        }
    }
    answers.extend(
        zone.iter()
            .filter(|r| r.owner() == owner && r.rtype() == qtype)
            .map(Rr::record),
    );
    let exists = zone.iter().any(|r| r.owner() == name || r.owner() == owner);
    if !exists {
        reply.metadata.response_code = ResponseCode::NXDomain;
    } else if answers.len() > max_answers {
        reply.metadata.truncation = true;
    } else {
        reply.answers = answers;
    }
    reply.to_vec().ok()
}

/// Counts the open file descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A fresh temporary directory, unique per call (tests run in parallel threads of one process).
pub fn tempdir(tag: &str) -> std::path::PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("anysock-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub mod netns;
