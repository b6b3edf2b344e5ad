//! TC=1 replies: the same question goes to the same server over TCP with a 2-byte length prefix;
//! the TCP reply is reassembled from any chunking; TCP failures and timeouts move to the next try.

mod dns_support;
use dns_support::*;

use anysock_core::dns::{DnsErrorKind, DnsEvent, RecordData, RecordType, Transport, TryOutcome};
use hickory_proto::op::ResponseCode;

fn truncated(t: &anysock_core::dns::Transmit) -> Vec<u8> {
    let mut m = reply_msg(t, ResponseCode::NoError, vec![], vec![]);
    m.metadata.truncation = true;
    m.to_vec().unwrap()
}

fn srv20(owner: &str) -> Vec<hickory_proto::rr::Record> {
    (0..20)
        .map(|i| {
            rec_srv(
                owner,
                300,
                (i % 3) as u16,
                10 + i as u16,
                8000 + i as u16,
                &format!("host{i}.example"),
            )
        })
        .collect()
}

#[test]
fn truncated_udp_retries_over_tcp_and_reassembles_chunks() {
    let cfg = config(&[NS1, NS2], 1000, 2);
    let mut q = new_query(&cfg, "_http._tcp.big.example.", RecordType::Srv, 11);
    let udp = one(&mut q);
    assert_eq!(udp.transport, Transport::Udp);
    assert!(q.handle_datagram(at(40), sa(NS1), &truncated(&udp)));
    let tcp = one(&mut q);
    assert_eq!((tcp.to, tcp.transport), (sa(NS1), Transport::Tcp));
    let (m_udp, m_tcp) = (query_of(&udp), query_of(&tcp));
    assert_eq!(m_tcp.queries, m_udp.queries, "same question");
    assert_ne!(
        m_tcp.metadata.id, m_udp.metadata.id,
        "a fresh transaction id"
    );
    // The TCP try gets the same per-try timeout, from the moment of truncation.
    assert_eq!(q.poll_timeout(), Some(at(1040)));
    // The truncated UDP try is dead: a full UDP reply to it is now ignored.
    assert!(!q.handle_datagram(
        at(41),
        sa(NS1),
        &answer(&udp, srv20("_http._tcp.big.example"))
    ));

    let framed = tcp_frame(&answer(&tcp, srv20("_http._tcp.big.example")));
    assert!(framed.len() > 512);
    // Feed it in awkward chunks: 1 byte, 1 byte, 100 bytes, the rest plus trailing junk.
    assert!(q.handle_stream(at(50), sa(NS1), &framed[..1]));
    assert!(q.handle_stream(at(51), sa(NS1), &framed[1..2]));
    assert!(q.poll_event().is_none());
    assert!(q.handle_stream(at(52), sa(NS1), &framed[2..102]));
    assert!(q.poll_event().is_none());
    let mut rest = framed[102..].to_vec();
    rest.extend_from_slice(b"junk after the message");
    assert!(q.handle_stream(at(53), sa(NS1), &rest));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!("expected an answer")
    };
    assert_eq!(a.records.len(), 20);
    assert_eq!(
        a.records[7].data,
        RecordData::Srv {
            priority: 1,
            weight: 17,
            port: 8007,
            target: "host7.example".into()
        }
    );
    assert_eq!(q.stats().tcp_sent, 1);
    assert_eq!(q.stats().udp_sent, 1);
    assert!(q.poll_timeout().is_none());
}

#[test]
fn tcp_failure_moves_to_the_next_server_over_udp() {
    let cfg = config(&[NS1, NS2], 1000, 1);
    let mut q = new_query(&cfg, "tc.example.", RecordType::A, 12);
    let udp = one(&mut q);
    assert!(q.handle_datagram(at(10), sa(NS1), &truncated(&udp)));
    let tcp = one(&mut q);
    assert_eq!(tcp.transport, Transport::Tcp);
    // An error for a server with no TCP try is not ours.
    assert!(!q.handle_stream_error(at(15), sa(NS2)));
    assert!(q.handle_stream_error(at(20), sa(NS1)));
    let next = one(&mut q);
    assert_eq!((next.to, next.transport), (sa(NS2), Transport::Udp));
    assert_eq!(q.poll_timeout(), Some(at(1020)));
    q.handle_timeout(at(1020));
    let Some(DnsEvent::Failed(e)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(e.kind, DnsErrorKind::ServerFailure);
    let outcomes: Vec<_> = e
        .tries
        .iter()
        .map(|t| (t.server, t.transport, t.outcome))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (sa(NS1), Transport::Udp, TryOutcome::Truncated),
            (sa(NS1), Transport::Tcp, TryOutcome::StreamError),
            (sa(NS2), Transport::Udp, TryOutcome::TimedOut),
        ]
    );
    assert_eq!(q.stats().stream_errors, 1);
}

#[test]
fn tcp_timeout_moves_on_and_late_tcp_bytes_are_refused() {
    let cfg = config(&[NS1, NS2], 500, 1);
    let mut q = new_query(&cfg, "tc.example.", RecordType::A, 13);
    let udp = one(&mut q);
    assert!(q.handle_datagram(at(100), sa(NS1), &truncated(&udp)));
    let tcp = one(&mut q);
    assert_eq!(q.poll_timeout(), Some(at(600)));
    q.handle_timeout(at(600));
    let next = one(&mut q);
    assert_eq!(next.to, sa(NS2));
    // The TCP try timed out: bytes arriving now are not accepted.
    assert!(!q.handle_stream(
        at(700),
        sa(NS1),
        &tcp_frame(&answer(&tcp, vec![rec_a("tc.example", 1, "203.0.113.1")]))
    ));
    assert!(q.handle_datagram(
        at(710),
        sa(NS2),
        &answer(&next, vec![rec_a("tc.example", 1, "203.0.113.2")])
    ));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(
        a.records[0].data,
        RecordData::A("203.0.113.2".parse().unwrap())
    );
}

#[test]
fn tcp_reply_with_wrong_id_is_a_broken_server() {
    let cfg = config(&[NS1, NS2], 1000, 1);
    let mut q = new_query(&cfg, "tc.example.", RecordType::A, 14);
    let udp = one(&mut q);
    assert!(q.handle_datagram(at(1), sa(NS1), &truncated(&udp)));
    let tcp = one(&mut q);
    let mut bad = answer(&tcp, vec![rec_a("tc.example", 1, "203.0.113.1")]);
    bad[0] ^= 0xff;
    assert!(q.handle_stream(at(2), sa(NS1), &tcp_frame(&bad)));
    let next = one(&mut q);
    assert_eq!((next.to, next.transport), (sa(NS2), Transport::Udp));
}

#[test]
fn truncated_bit_over_tcp_is_taken_as_is() {
    let cfg = config(&[NS1], 1000, 1);
    let mut q = new_query(&cfg, "tc.example.", RecordType::A, 15);
    let udp = one(&mut q);
    assert!(q.handle_datagram(at(1), sa(NS1), &truncated(&udp)));
    let tcp = one(&mut q);
    let mut m = reply_msg(
        &tcp,
        ResponseCode::NoError,
        vec![rec_a("tc.example", 9, "198.51.100.9")],
        vec![],
    );
    m.metadata.truncation = true;
    assert!(q.handle_stream(at(2), sa(NS1), &tcp_frame(&m.to_vec().unwrap())));
    let Some(DnsEvent::Answer(a)) = q.poll_event() else {
        panic!()
    };
    assert_eq!(a.records.len(), 1);
}

#[test]
fn tcp_bytes_without_a_tcp_try_are_not_ours() {
    let cfg = config(&[NS1], 1000, 1);
    let mut q = new_query(&cfg, "tc.example.", RecordType::A, 16);
    let udp = one(&mut q);
    assert!(!q.handle_stream(at(1), sa(NS1), &tcp_frame(&answer(&udp, vec![]))));
    assert!(!q.handle_stream_error(at(1), sa(NS1)));
    assert!(q.poll_event().is_none());
}
