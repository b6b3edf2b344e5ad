//! DNS faults through the Resolver of every adapter (blocking, tokio, async-std), against a hostile
//! responder on a loopback port: each case gives its documented outcome (docs/dns.md) within the
//! documented time, and forged replies never change an answer. The resolvers are built with the
//! responder as their only nameserver; nothing else is ever queried.
// These suites measure elapsed wall-clock time (the sans-IO clock rule is for anysock-core).
#![allow(clippy::disallowed_methods)]

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anysock_core::DnsConfig;
use anysock_core::dns::{DnsAnswer, DnsErrorKind, RecordType};
use anysock_tests::{Behavior, GOOD, Hostile, SPOOF, dns_error, dns_error_kind};

/// Per-try timeout; with 2 attempts and one server the schedule is 0 s, 0.3 s, give up at 0.9 s.
const TRY: Duration = Duration::from_millis(300);
const GIVE_UP: Duration = Duration::from_millis(900);
/// Scheduling slack on a loaded 2-core machine.
const MARGIN: Duration = Duration::from_millis(1500);
/// A try that fails outright (SERVFAIL, REFUSED, malformed) moves on at once: the whole lookup must
/// end well before the first try's timer would have fired.
const FAIL_FAST: Duration = Duration::from_millis(250);

fn config(server: SocketAddr) -> DnsConfig {
    DnsConfig::builder()
        .nameserver(server)
        .timeout(TRY)
        .attempts(2)
        .build()
        .expect("valid config")
}

#[derive(Clone, Copy, Debug)]
enum Adapter {
    Blocking,
    Tokio,
    AsyncStd,
}

const ADAPTERS: [Adapter; 3] = [Adapter::Blocking, Adapter::Tokio, Adapter::AsyncStd];

fn lookup(adapter: Adapter, server: SocketAddr, name: &str) -> (io::Result<DnsAnswer>, Duration) {
    let cfg = config(server);
    let start = Instant::now();
    let r = match adapter {
        Adapter::Blocking => {
            anysock_blocking::Resolver::with_dns_config(cfg).lookup(name, RecordType::A)
        }
        Adapter::Tokio => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(anysock_tokio::Resolver::with_dns_config(cfg).lookup(name, RecordType::A)),
        Adapter::AsyncStd => async_std::task::block_on(
            anysock_async_std::Resolver::with_dns_config(cfg).lookup(name, RecordType::A),
        ),
    };
    (r, start.elapsed())
}

fn addrs(a: &DnsAnswer) -> Vec<IpAddr> {
    a.addresses().collect()
}

/// Runs `name` against a responder with `behavior` on each adapter and expects failure `kind` within
/// `bound`.
fn expect_failure(behavior: Behavior, kind: DnsErrorKind, bound: Duration) {
    for adapter in ADAPTERS {
        let h = Hostile::start(behavior);
        let (r, took) = lookup(adapter, h.addr, "victim.test.");
        let e = r.expect_err(&format!("{adapter:?} {behavior:?}: expected an error"));
        let d = dns_error(&e)
            .unwrap_or_else(|| panic!("{adapter:?} {behavior:?}: not a DNS error: {e:?}"));
        assert_eq!(d.kind, kind, "{adapter:?} {behavior:?}: {d}");
        assert!(
            !d.tries.is_empty(),
            "{adapter:?}: the error lists its tries"
        );
        assert!(
            d.tries.iter().all(|t| t.server == h.addr),
            "{adapter:?}: only the configured server was asked: {:?}",
            d.tries
        );
        eprintln!(
            "{adapter:?} {behavior:?}: {kind:?} after {took:?}, {} tries",
            d.tries.len()
        );
        if std::env::var_os("DNS_FAULTS_DEBUG").is_some() {
            let t0 = d.tries[0].sent_at;
            for t in &d.tries {
                eprintln!("  +{:?} {:?} {:?}", t.sent_at - t0, t.transport, t.outcome);
            }
        }
        assert!(
            took <= bound,
            "{adapter:?} {behavior:?}: took {took:?}, bound {bound:?}"
        );
    }
}

/// Runs against a responder with `behavior` and expects exactly the genuine answer, fast.
fn expect_good(behavior: Behavior) -> Vec<Hostile> {
    let mut kept = Vec::new();
    for adapter in ADAPTERS {
        let h = Hostile::start(behavior);
        let (r, took) = lookup(adapter, h.addr, "victim.test.");
        let a = r.unwrap_or_else(|e| panic!("{adapter:?} {behavior:?}: {e:?}"));
        assert_eq!(
            addrs(&a),
            vec![IpAddr::V4(GOOD)],
            "{adapter:?} {behavior:?}"
        );
        assert!(
            !addrs(&a).contains(&IpAddr::V4(SPOOF)),
            "{adapter:?}: a forged reply changed the answer"
        );
        assert!(
            took < TRY + MARGIN,
            "{adapter:?} {behavior:?}: took {took:?}"
        );
        kept.push(h);
    }
    kept
}

#[test]
fn no_server_listening_port_unreachable() {
    // A port nobody listens on: the kernel answers with ICMP port unreachable (ECONNREFUSED on the
    // connected socket, or nothing on an unconnected one). Either way the lookup ends with a typed
    // error by the end of the retransmission schedule.
    for adapter in ADAPTERS {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("probe port");
        let (r, took) = lookup(adapter, port, "victim.test.");
        let e = r.expect_err("no server: an error");
        let kind = dns_error_kind(&e);
        assert!(
            matches!(
                kind,
                Some(DnsErrorKind::TimedOut | DnsErrorKind::Refused | DnsErrorKind::ServerFailure)
            ),
            "{adapter:?}: {e:?}"
        );
        assert!(took <= GIVE_UP + MARGIN, "{adapter:?}: took {took:?}");
        eprintln!("{adapter:?} no server: {kind:?} after {took:?}");
    }
}

#[test]
fn server_never_answers_times_out_on_schedule() {
    for adapter in ADAPTERS {
        let h = Hostile::start(Behavior::Silent);
        let (r, took) = lookup(adapter, h.addr, "victim.test.");
        let e = r.expect_err("silent server: an error");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{adapter:?}: {e:?}");
        assert_eq!(dns_error_kind(&e), Some(DnsErrorKind::TimedOut));
        assert!(
            took >= GIVE_UP - Duration::from_millis(20),
            "{adapter:?}: gave up early, {took:?}"
        );
        assert!(took <= GIVE_UP + MARGIN, "{adapter:?}: took {took:?}");
        assert_eq!(
            h.udp_queries.load(Ordering::SeqCst),
            2,
            "{adapter:?}: one query per attempt"
        );
    }
}

#[test]
fn servfail_fails_fast() {
    // SERVFAIL moves on at once: both tries are spent without waiting for a timer.
    expect_failure(Behavior::Rcode(2), DnsErrorKind::ServerFailure, FAIL_FAST);
}

#[test]
fn refused_fails_fast() {
    expect_failure(Behavior::Rcode(5), DnsErrorKind::Refused, FAIL_FAST);
}

#[test]
fn truncated_answer_falls_back_to_tcp() {
    for h in expect_good(Behavior::Truncated) {
        assert!(
            h.tcp_queries.load(Ordering::SeqCst) >= 1,
            "TC must lead to a TCP query"
        );
    }
}

#[test]
fn tcp_server_closing_mid_reply_fails_the_try() {
    // TC over UDP, then a TCP stream that ends half-way through the message: the try fails
    // (StreamError) and the next try is sent at once; with every try failing so, the lookup ends
    // well before the timeout schedule would.
    for adapter in ADAPTERS {
        let h = Hostile::start(Behavior::TruncatedTcpClosesMidReply);
        let (r, took) = lookup(adapter, h.addr, "victim.test.");
        let e = r.expect_err("half a TCP reply: an error");
        let d = dns_error(&e).unwrap_or_else(|| panic!("{adapter:?}: {e:?}"));
        assert!(
            d.tries
                .iter()
                .any(|t| t.outcome == anysock_core::dns::TryOutcome::StreamError),
            "{adapter:?}: {:?}",
            d.tries
        );
        assert!(h.tcp_queries.load(Ordering::SeqCst) >= 1);
        assert!(took <= GIVE_UP + MARGIN, "{adapter:?}: took {took:?}");
        eprintln!(
            "{adapter:?} TCP mid-reply close: {:?} after {took:?}",
            d.kind
        );
    }
}

#[test]
fn cname_loop_is_reported() {
    expect_failure(Behavior::CnameLoop, DnsErrorKind::CnameLoop, FAIL_FAST);
}

#[test]
fn answer_for_another_question_is_ignored() {
    expect_good(Behavior::OtherQuestionFirst);
}

#[test]
fn reply_with_wrong_id_is_ignored() {
    expect_good(Behavior::WrongIdFirst);
}

#[test]
fn reply_from_wrong_address_is_ignored() {
    expect_good(Behavior::WrongSourceFirst);
}

#[test]
fn runt_datagram_is_ignored() {
    expect_good(Behavior::RuntFirst);
}

#[test]
fn oversized_junk_reply_is_malformed() {
    expect_failure(Behavior::Oversized, DnsErrorKind::Malformed, FAIL_FAST);
}

#[test]
fn malformed_record_is_malformed() {
    expect_failure(
        Behavior::MalformedRecord,
        DnsErrorKind::Malformed,
        FAIL_FAST,
    );
}
