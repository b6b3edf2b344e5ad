//! Shared helpers for the DNS scenario tests: a virtual clock, a config builder, and replies built
//! with hickory-proto from the machine's own queries.
#![allow(dead_code)]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anysock_core::dns::{DnsQuery, RecordType, Transmit, Transport};
use anysock_core::resolv_conf::DnsConfig;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record};

/// One fixed origin for every virtual clock: tests only ever add durations to it.
pub fn t0() -> Instant {
    static T0: OnceLock<Instant> = OnceLock::new();
    *T0.get_or_init(anysock_testkit::clock_origin)
}

/// `t0() + ms` milliseconds.
pub fn at(ms: u64) -> Instant {
    t0() + Duration::from_millis(ms)
}

pub fn ms_since_t0(i: Instant) -> u64 {
    i.duration_since(t0()).as_millis() as u64
}

pub fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub const NS1: &str = "127.0.0.1:5301";
pub const NS2: &str = "127.0.0.2:5302";
pub const NS3: &str = "[::1]:5303";

/// A config with the given servers, timeout (ms) and attempts; EDNS on.
pub fn config(servers: &[&str], timeout_ms: u64, attempts: u8) -> DnsConfig {
    DnsConfig::builder()
        .nameservers(servers.iter().map(|s| sa(s)))
        .timeout(Duration::from_millis(timeout_ms))
        .attempts(attempts)
        .build()
        .unwrap()
}

/// Drains every transmit.
pub fn drain(q: &mut DnsQuery) -> Vec<Transmit> {
    std::iter::from_fn(|| q.poll_transmit()).collect()
}

/// Exactly one transmit, returned.
pub fn one(q: &mut DnsQuery) -> Transmit {
    let mut v = drain(q);
    assert_eq!(v.len(), 1, "expected exactly one transmit, got {v:?}");
    v.pop().unwrap()
}

/// The DNS message inside a transmit (TCP length prefix removed and checked).
pub fn message_bytes(t: &Transmit) -> &[u8] {
    match t.transport {
        Transport::Udp => &t.payload,
        Transport::Tcp => {
            let len = u16::from_be_bytes([t.payload[0], t.payload[1]]) as usize;
            assert_eq!(len + 2, t.payload.len(), "TCP length prefix");
            &t.payload[2..]
        }
        _ => unreachable!(),
    }
}

/// Parses the query in a transmit with hickory.
pub fn query_of(t: &Transmit) -> Message {
    Message::from_vec(message_bytes(t)).expect("the machine sends valid DNS")
}

/// The question name of a transmit, lower-case, without trailing dot.
pub fn qname(t: &Transmit) -> String {
    let m = query_of(t);
    let n = m.queries[0].name().to_ascii();
    n.trim_end_matches('.').to_ascii_lowercase()
}

pub fn name(s: &str) -> Name {
    Name::from_str(&format!("{}.", s.trim_end_matches('.'))).unwrap()
}

pub fn rec_a(owner: &str, ttl: u32, ip: &str) -> Record {
    Record::from_rdata(
        name(owner),
        ttl,
        RData::A(A(Ipv4Addr::from_str(ip).unwrap())),
    )
}
pub fn rec_aaaa(owner: &str, ttl: u32, ip: &str) -> Record {
    Record::from_rdata(
        name(owner),
        ttl,
        RData::AAAA(AAAA(Ipv6Addr::from_str(ip).unwrap())),
    )
}
pub fn rec_cname(owner: &str, ttl: u32, target: &str) -> Record {
    Record::from_rdata(name(owner), ttl, RData::CNAME(CNAME(name(target))))
}
pub fn rec_srv(owner: &str, ttl: u32, prio: u16, weight: u16, port: u16, target: &str) -> Record {
    Record::from_rdata(
        name(owner),
        ttl,
        RData::SRV(SRV::new(prio, weight, port, name(target))),
    )
}
pub fn rec_txt(owner: &str, ttl: u32, strings: &[&str]) -> Record {
    Record::from_rdata(
        name(owner),
        ttl,
        RData::TXT(TXT::new(strings.iter().map(|s| s.to_string()).collect())),
    )
}
pub fn rec_ptr(owner: &str, ttl: u32, target: &str) -> Record {
    Record::from_rdata(name(owner), ttl, RData::PTR(PTR(name(target))))
}
pub fn rec_soa(zone: &str) -> Record {
    Record::from_rdata(
        name(zone),
        300,
        RData::SOA(SOA::new(
            name(&format!("ns.{zone}")),
            name(&format!("host.{zone}")),
            1,
            3600,
            600,
            86400,
            300,
        )),
    )
}

/// A reply to the query in `t`: same id and question, the given rcode, answers and authorities.
pub fn reply_msg(
    t: &Transmit,
    rcode: ResponseCode,
    answers: Vec<Record>,
    authority: Vec<Record>,
) -> Message {
    let q = query_of(t);
    let mut m = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    m.metadata.response_code = rcode;
    m.add_queries(q.queries.clone());
    m.add_answers(answers);
    m.add_authorities(authority);
    m
}

pub fn reply(
    t: &Transmit,
    rcode: ResponseCode,
    answers: Vec<Record>,
    authority: Vec<Record>,
) -> Vec<u8> {
    reply_msg(t, rcode, answers, authority).to_vec().unwrap()
}

/// A NOERROR reply with these answers.
pub fn answer(t: &Transmit, answers: Vec<Record>) -> Vec<u8> {
    reply(t, ResponseCode::NoError, answers, vec![])
}

/// NXDOMAIN with the zone's SOA.
pub fn nxdomain(t: &Transmit, zone: &str) -> Vec<u8> {
    reply(t, ResponseCode::NXDomain, vec![], vec![rec_soa(zone)])
}

/// NOERROR, no answers, the zone's SOA (a NODATA answer, RFC 2308).
pub fn nodata(t: &Transmit, zone: &str) -> Vec<u8> {
    reply(t, ResponseCode::NoError, vec![], vec![rec_soa(zone)])
}

/// An empty reply with just a response code.
pub fn rcode_only(t: &Transmit, rcode: ResponseCode) -> Vec<u8> {
    reply(t, rcode, vec![], vec![])
}

/// Frames a DNS message for TCP.
pub fn tcp_frame(msg: &[u8]) -> Vec<u8> {
    let mut v = (msg.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(msg);
    v
}

pub fn new_query(cfg: &DnsConfig, n: &str, rtype: RecordType, seed: u64) -> DnsQuery {
    DnsQuery::new(cfg, n, rtype, t0(), seed).unwrap()
}
