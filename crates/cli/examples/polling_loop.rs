//! A custom event loop on `polling` alone that drives anysock's sans-IO machines by hand: the
//! `resolve_sockaddr` planner ([`Resolve`]), one DNS query machine ([`DnsQuery`]) per question, and the
//! Happy Eyeballs connect machine ([`Connect`]). This is why the core is sans-IO: any loop (an embedded
//! one, a game loop, an io_uring one) can drive the same machines the adapters drive.
//!
//! The loop's contract, as for every anysock machine: feed inputs with `handle_*`, then drain every
//! output with `poll_*`, then sleep until the earliest `poll_timeout()` or the next readiness event.
//!
//! Run it: `cargo run -p anysock-cli --example polling_loop`. It starts a greeting server on 127.0.0.1,
//! writes a hosts file mapping `hand.anysock.test` to ::1 (where nothing listens) and 127.0.0.1, and
//! connects by name. The machine's own nameservers are never asked: the only nameserver is a silent
//! loopback socket.
#![cfg(unix)]

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anysock_core::connect::{
    AttemptId, AttemptRecord, Connect, ConnectConfig, Event as ConnectEvent, Step,
};
use anysock_core::dns::{DnsEvent, DnsQuery, RecordData, RecordType, Transport};
use anysock_core::{
    DnsConfig, HostsFile, QueryFailure, QueryId, QueryOutcome, QueryType, Resolve, ResolveConfig,
    ResolveEvent, ResolveRequest, SrvRecord, Target,
};
use anysock_sys::ConnectProgress;
use anysock_sys::socket2::Socket;
use polling::{Event, Events, Poller};

/// Keys at and above this one are DNS sockets; below, connection attempts.
const DNS_KEYS: usize = 1 << 20;

/// A DNS question in flight: the planner's id, the type asked, the machine and its socket.
struct Question {
    id: QueryId,
    qtype: QueryType,
    query: DnsQuery,
    sock: UdpSocket,
}

/// A connection attempt in flight.
struct Attempt {
    id: AttemptId,
    sock: Socket,
}

/// The result of [`connect_by_hand`]: the stream, the winner and every attempt.
#[derive(Debug)]
pub struct Connected {
    /// The connection (blocking mode).
    pub stream: TcpStream,
    /// The winning target.
    pub target: Target,
    /// Every attempt with its timing and outcome.
    pub attempts: Vec<AttemptRecord>,
}

#[allow(clippy::disallowed_methods)] // this example is an adapter: it reads the clock, the core does not
fn now() -> Instant {
    Instant::now()
}

/// Resolves `host` and `service` with the planner (hosts file first, then DNS through `dns`) and
/// connects with Happy Eyeballs, all in one `polling` loop in the calling thread. `log` gets a line
/// per DNS question and per attempt, as they happen.
pub fn connect_by_hand(
    host: &str,
    service: &str,
    hosts: HostsFile,
    dns: &DnsConfig,
    connect_config: ConnectConfig,
    log: &mut dyn FnMut(String),
) -> io::Result<Connected> {
    let start = now();
    let poller = Poller::new()?;
    let mut resolve_config = ResolveConfig::new();
    resolve_config.hosts = Arc::new(hosts);
    let mut planner = Resolve::new(
        ResolveRequest::new(host, Some(service)),
        &resolve_config,
        anysock_sys::random_u64(),
    )
    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut connect = Connect::new(connect_config, start);
    let mut questions: HashMap<usize, Question> = HashMap::new();
    let mut attempts: HashMap<usize, Attempt> = HashMap::new();
    let (mut next_dns_key, mut next_attempt_key) = (DNS_KEYS, 0usize);
    let mut events = Events::new();
    let ms = |t: Instant| t.saturating_duration_since(start).as_secs_f64() * 1000.0;

    let result = loop {
        let t = now();
        // 1. The planner's questions become DNS query machines, each with a socket of its own.
        while let Some(q) = planner.poll_query() {
            let rtype = match q.qtype {
                QueryType::A => RecordType::A,
                QueryType::Aaaa => RecordType::Aaaa,
                _ => RecordType::Srv,
            };
            log(format!(
                "[{:7.1} ms] DNS {:?} {} asked",
                ms(t),
                q.qtype,
                q.name
            ));
            match DnsQuery::new(dns, &q.name, rtype, t, anysock_sys::random_u64()) {
                Ok(query) => {
                    let sock = UdpSocket::bind(match dns.nameservers()[0] {
                        SocketAddr::V4(_) => "0.0.0.0:0",
                        SocketAddr::V6(_) => "[::]:0",
                    })?;
                    sock.set_nonblocking(true)?;
                    // SAFETY: the socket is deleted from the poller before it is dropped (below, and
                    // in the clean-up at the end).
                    unsafe { poller.add(&sock, Event::readable(next_dns_key))? };
                    questions.insert(
                        next_dns_key,
                        Question {
                            id: q.id,
                            qtype: q.qtype,
                            query,
                            sock,
                        },
                    );
                    next_dns_key += 1;
                }
                Err(_) => planner.handle_answer(q.id, QueryOutcome::Failed(QueryFailure::NxDomain)),
            }
        }
        // 2. Every DNS machine's transmits go out; finished ones answer the planner.
        let mut finished = Vec::new();
        for (key, q) in &mut questions {
            while let Some(tx) = q.query.poll_transmit() {
                match tx.transport {
                    Transport::Udp => {
                        let _ = q.sock.send_to(&tx.payload, tx.to);
                    }
                    _ => tcp_exchange(&mut q.query, tx.to, &tx.payload),
                }
            }
            if let Some(ev) = q.query.poll_event() {
                finished.push((*key, ev));
            }
        }
        for (key, ev) in finished {
            let q = questions.remove(&key).expect("listed above");
            poller.delete(&q.sock)?;
            let outcome = outcome(q.qtype, ev);
            log(format!(
                "[{:7.1} ms] DNS {:?} answered: {}",
                ms(now()),
                q.qtype,
                describe(&outcome)
            ));
            planner.handle_answer(q.id, outcome);
        }
        // 3. The planner's targets go to the connect machine.
        while let Some(ev) = planner.poll_event() {
            match ev {
                ResolveEvent::Targets { family, targets } => {
                    connect.handle_targets(now(), family, targets)
                }
                ResolveEvent::Done(r) => {
                    let r = r.map_err(|e| {
                        log(format!("[{:7.1} ms] resolution failed: {e}", ms(now())));
                        io::ErrorKind::NotFound
                    });
                    connect.handle_resolution_done(now(), None, r);
                }
                _ => {}
            }
        }
        // 4. The connect machine's steps become syscalls.
        let mut done = None;
        while let Some(step) = connect.poll_step() {
            match step {
                Step::StartAttempt { id, target, .. } => {
                    let started = anysock_sys::socket_for(&target)
                        .and_then(|s| anysock_sys::start_connect(&s, &target.addr).map(|p| (s, p)));
                    match started {
                        Ok((sock, _progress)) => {
                            // SAFETY: deleted from the poller before the socket is dropped.
                            unsafe { poller.add(&sock, Event::writable(next_attempt_key))? };
                            attempts.insert(next_attempt_key, Attempt { id, sock });
                            next_attempt_key += 1;
                        }
                        Err(e) => connect.handle_attempt(now(), id, Err(e.kind())),
                    }
                }
                Step::CancelAttempt { id } => {
                    if let Some(k) = attempts
                        .iter()
                        .find_map(|(k, a)| (a.id == id).then_some(*k))
                    {
                        let a = attempts.remove(&k).expect("found");
                        poller.delete(&a.sock)?;
                    }
                }
                Step::Connected { id, target } => {
                    let k = attempts
                        .iter()
                        .find_map(|(k, a)| (a.id == id).then_some(*k))
                        .ok_or_else(|| io::Error::other("the winner is not ours"))?;
                    let a = attempts.remove(&k).expect("found");
                    poller.delete(&a.sock)?;
                    a.sock.set_nonblocking(false)?;
                    done = Some(Ok((a.sock, target)));
                }
                Step::Failed(e) => done = Some(Err(io::Error::new(e.kind(), e))),
                _ => {}
            }
        }
        while let Some(ev) = connect.poll_event() {
            match ev {
                ConnectEvent::AttemptStarted(r) => log(format!(
                    "[{:7.1} ms] attempt to {} started",
                    ms(r.started),
                    r.target.addr
                )),
                ConnectEvent::AttemptEnded(r) => log(format!(
                    "[{:7.1} ms] attempt to {} ended: {}",
                    ms(r.ended.unwrap_or(r.started)),
                    r.target.addr,
                    r.outcome.map_or("in flight".to_owned(), |o| o.to_string())
                )),
                _ => {}
            }
        }
        if let Some(d) = done {
            break d;
        }
        // 5. Sleep until something is ready or the earliest deadline of any machine.
        let deadline = questions
            .values()
            .filter_map(|q| q.query.poll_timeout())
            .chain(connect.poll_timeout())
            .min();
        let t = now();
        if deadline.is_none_or(|d| d > t) {
            events.clear();
            poller.wait(&mut events, deadline.map(|d| d - t))?;
            for ev in events.iter() {
                let t = now();
                if let Some(q) = questions.get_mut(&ev.key) {
                    let mut buf = [0u8; 4096];
                    while let Ok((n, from)) = q.sock.recv_from(&mut buf) {
                        q.query.handle_datagram(t, from, &buf[..n]);
                    }
                    poller.modify(&q.sock, Event::readable(ev.key))?;
                } else if let Some(a) = attempts.get(&ev.key) {
                    match anysock_sys::finish_connect(&a.sock) {
                        Ok(ConnectProgress::InProgress) => {
                            poller.modify(&a.sock, Event::writable(ev.key))?
                        }
                        Ok(_) => connect.handle_attempt(t, a.id, Ok(())),
                        Err(e) => {
                            let a = attempts.remove(&ev.key).expect("found");
                            poller.delete(&a.sock)?;
                            connect.handle_attempt(t, a.id, Err(e.kind()));
                        }
                    }
                }
            }
        }
        // 6. Time passes for every machine (early or repeated calls are no-ops).
        let t = now();
        for q in questions.values_mut() {
            if q.query.poll_timeout().is_some_and(|d| d <= t) {
                q.query.handle_timeout(t);
            }
        }
        connect.handle_timeout(t);
    };
    for q in questions.values() {
        poller.delete(&q.sock)?;
    }
    for a in attempts.values() {
        poller.delete(&a.sock)?;
    }
    let (sock, target) = result?;
    Ok(Connected {
        stream: sock.into(),
        target,
        attempts: connect.attempts().to_vec(),
    })
}

/// A DNS exchange over TCP (after a truncated UDP answer), done inline with a short timeout: fine
/// for an example; an adapter would register the stream with its poller.
fn tcp_exchange(q: &mut DnsQuery, to: SocketAddr, payload: &[u8]) {
    let exchange = || -> io::Result<Vec<u8>> {
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(2)))?;
        s.write_all(payload)?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len)?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut body)?;
        let mut framed = len.to_vec();
        framed.extend_from_slice(&body);
        Ok(framed)
    };
    match exchange() {
        Ok(bytes) => {
            q.handle_stream(now(), to, &bytes);
        }
        Err(_) => {
            q.handle_stream_error(now(), to);
        }
    }
}

/// A DNS machine's result in the planner's terms.
fn outcome(qtype: QueryType, ev: DnsEvent) -> QueryOutcome {
    match ev {
        DnsEvent::Answer(a) if qtype == QueryType::Srv => QueryOutcome::Srv(
            a.records
                .into_iter()
                .filter_map(|r| match r.data {
                    RecordData::Srv {
                        priority,
                        weight,
                        port,
                        target,
                    } => Some(SrvRecord {
                        priority,
                        weight,
                        port,
                        target,
                    }),
                    _ => None,
                })
                .collect(),
        ),
        DnsEvent::Answer(a) => QueryOutcome::Addresses(
            a.records
                .into_iter()
                .filter_map(|r| match r.data {
                    RecordData::A(ip) => Some(ip.into()),
                    RecordData::Aaaa(ip) => Some(ip.into()),
                    _ => None,
                })
                .collect(),
        ),
        DnsEvent::Failed(e) => QueryOutcome::Failed(match e.kind {
            anysock_core::dns::DnsErrorKind::NxDomain => QueryFailure::NxDomain,
            anysock_core::dns::DnsErrorKind::NoData => QueryFailure::NoData,
            anysock_core::dns::DnsErrorKind::TimedOut => QueryFailure::TimedOut,
            anysock_core::dns::DnsErrorKind::ServerFailure => QueryFailure::ServerFailure,
            anysock_core::dns::DnsErrorKind::Refused => QueryFailure::Refused,
            _ => QueryFailure::Malformed,
        }),
        _ => QueryOutcome::Failed(QueryFailure::Malformed),
    }
}

fn describe(o: &QueryOutcome) -> String {
    match o {
        QueryOutcome::Addresses(a) => format!("{a:?}"),
        QueryOutcome::Srv(s) => format!("{} SRV records", s.len()),
        QueryOutcome::Failed(f) => format!("{f:?}"),
        _ => "other".into(),
    }
}

/// The whole example: a server, a hosts file, a connect by name; returns what it printed.
pub fn run() -> io::Result<Vec<String>> {
    let server = TcpListener::bind("127.0.0.1:0")?;
    let port = server.local_addr()?.port();
    std::thread::spawn(move || {
        for mut c in server.incoming().flatten() {
            let _ = c.write_all(b"hello from the loopback server\n");
        }
    });
    // ::1 has nothing on this port (refused at once); 127.0.0.1 answers.
    let hosts = HostsFile::parse("::1 hand.anysock.test\n127.0.0.1 hand.anysock.test\n");
    let silent = UdpSocket::bind("127.0.0.1:0")?;
    let dns = DnsConfig::builder()
        .nameservers([silent.local_addr()?])
        .build()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut lines = Vec::new();
    let mut c = connect_by_hand(
        "hand.anysock.test",
        &port.to_string(),
        hosts,
        &dns,
        ConnectConfig::default(),
        &mut |l| lines.push(l),
    )?;
    let mut greeting = String::new();
    c.stream.read_to_string(&mut greeting)?;
    lines.push(format!(
        "connected to {}; it said: {}",
        c.target.addr,
        greeting.trim_end()
    ));
    Ok(lines)
}

#[cfg_attr(test, allow(dead_code))]
fn main() -> io::Result<()> {
    for l in run()? {
        println!("{l}");
    }
    Ok(())
}

#[cfg(test)]
#[path = "../tests/common/dns.rs"]
mod common;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connects_by_a_hosts_file_name() {
        let lines = run().unwrap();
        let last = lines.last().unwrap();
        assert!(last.starts_with("connected to 127.0.0.1:"), "{lines:?}");
        assert!(
            last.ends_with("hello from the loopback server"),
            "{lines:?}"
        );
        if anysock_sys::ipv6_available() {
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains("attempt to [::1]:") && l.contains("started"))
            );
        }
    }

    #[test]
    fn resolves_through_dns_then_connects() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        let dns_server = common::DnsServer::start(
            vec![common::Rr::A(
                "dns.anysock.test",
                "127.0.0.1".parse().unwrap(),
            )],
            usize::MAX,
        );
        let dns = DnsConfig::builder()
            .nameservers([dns_server.addr])
            .build()
            .unwrap();
        let mut lines = Vec::new();
        let c = connect_by_hand(
            "dns.anysock.test",
            &port.to_string(),
            HostsFile::parse(""),
            &dns,
            ConnectConfig::default(),
            &mut |l| lines.push(l),
        )
        .unwrap();
        assert_eq!(c.target.addr.to_string(), format!("127.0.0.1:{port}"));
        assert!(
            lines
                .iter()
                .any(|l| l.contains("DNS A dns.anysock.test asked")),
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.contains("DNS Aaaa answered")),
            "{lines:?}"
        );
    }

    #[test]
    fn a_missing_name_is_not_found() {
        let dns_server = common::DnsServer::start(vec![], usize::MAX);
        let dns = DnsConfig::builder()
            .nameservers([dns_server.addr])
            .build()
            .unwrap();
        let e = connect_by_hand(
            "nx.anysock.test",
            "80",
            HostsFile::parse(""),
            &dns,
            ConnectConfig::default(),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    }
}
