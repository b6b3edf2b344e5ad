//! The wire format: building queries and reading replies.
//!
//! Replies are read with a small allocation-free reader on top of hickory-proto's header decoder rather
//! than with `Message::from_vec`, for two reasons. First, B23 policy: one malformed record must not
//! throw away the good ones, and `Message::from_vec` rejects the whole message on the first bad record.
//! Second, cost: the reader validates and extracts without building an intermediate message, so the
//! only allocations are the owned answer itself (see `benches/dns.rs`).

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Header, MessageType, OpCode};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::name::{decode_name, names_equal, walk_name};
use super::{CnameLink, DnsRecord, RecordData, RecordType};
use crate::resolv_conf::EDNS_PAYLOAD;

/// Record type numbers (RFC 1035 §3.2.2, RFC 3596, RFC 2782, RFC 6891).
pub(crate) mod rtype {
    pub(crate) const A: u16 = 1;
    pub(crate) const CNAME: u16 = 5;
    pub(crate) const SOA: u16 = 6;
    pub(crate) const PTR: u16 = 12;
    pub(crate) const TXT: u16 = 16;
    pub(crate) const AAAA: u16 = 28;
    pub(crate) const SRV: u16 = 33;
}

/// Class IN (RFC 1035 §3.2.4).
const CLASS_IN: u16 = 1;
const HEADER_LEN: usize = 12;

/// Response codes we act on (RFC 1035 §4.1.1).
pub(crate) mod rcode {
    pub(crate) const NOERROR: u8 = 0;
    pub(crate) const FORMERR: u8 = 1;
    pub(crate) const NXDOMAIN: u8 = 3;
    pub(crate) const NOTIMP: u8 = 4;
    pub(crate) const REFUSED: u8 = 5;
}

/// Builds a recursive query (RD set) with one question: the name whose wire form is `qname_wire`
/// (from `write_wire_name`), type `rtype`, class IN, and with `edns` an OPT record advertising
/// [`EDNS_PAYLOAD`] bytes. With `tcp` the message is prefixed with its two-byte length (RFC 1035
/// §4.2.2). One allocation of the exact size: the tests check the bytes against hickory-proto's
/// encoder, which costs about 6,000 instructions and several allocations per query.
pub(crate) fn build_query(
    id: u16,
    qname_wire: &[u8],
    rtype: RecordType,
    edns: bool,
    tcp: bool,
) -> Vec<u8> {
    const OPT_LEN: usize = 11;
    let len = HEADER_LEN + qname_wire.len() + 4 + if edns { OPT_LEN } else { 0 };
    let mut out = Vec::with_capacity(len + if tcp { 2 } else { 0 });
    if tcp {
        // A name is at most 255 octets: the message is far below 64 KiB.
        out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    }
    out.extend_from_slice(&id.to_be_bytes());
    // RD; one question; no answers or authorities; one additional record (the OPT) with EDNS.
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)]);
    out.extend_from_slice(qname_wire);
    out.extend_from_slice(&rtype.code().to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    if edns {
        // Root owner, type OPT (41), class = UDP payload size, extended RCODE/version/flags 0, no data.
        out.extend_from_slice(&[0, 0, 41]);
        out.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    }
    out
}

/// The parts of a reply header the machine looks at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReplyHeader {
    pub(crate) id: u16,
    pub(crate) is_response: bool,
    pub(crate) is_query_opcode: bool,
    pub(crate) truncated: bool,
    pub(crate) rcode: u8,
    pub(crate) qdcount: u16,
    pub(crate) ancount: u16,
    pub(crate) nscount: u16,
}

/// Reads the 12-byte header with hickory-proto's decoder.
pub(crate) fn read_header(msg: &[u8]) -> Option<ReplyHeader> {
    let mut d = BinDecoder::new(msg);
    let h = Header::read(&mut d).ok()?;
    Some(ReplyHeader {
        id: h.metadata.id,
        is_response: h.metadata.message_type == MessageType::Response,
        is_query_opcode: h.metadata.op_code == OpCode::Query,
        truncated: h.metadata.truncation,
        rcode: h.metadata.response_code.low(),
        qdcount: h.counts.queries,
        ancount: h.counts.answers,
        nscount: h.counts.authorities,
    })
}

fn u16_at(msg: &[u8], pos: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]))
}

fn u32_at(msg: &[u8], pos: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *msg.get(pos)?,
        *msg.get(pos + 1)?,
        *msg.get(pos + 2)?,
        *msg.get(pos + 3)?,
    ]))
}

/// Checks the question section against ours: exactly one question, same name (ASCII
/// case-insensitively), type and class IN. Returns the position after the question.
///
/// A FORMERR or NOTIMP reply with no question at all is accepted too (RFC 1035 servers may drop the
/// question when they cannot parse the query); the id and source address were already checked.
pub(crate) fn check_question(
    msg: &[u8],
    h: &ReplyHeader,
    qname_wire: &[u8],
    qtype: u16,
) -> Option<usize> {
    if h.qdcount == 0 && (h.rcode == rcode::FORMERR || h.rcode == rcode::NOTIMP) {
        return Some(HEADER_LEN);
    }
    if h.qdcount != 1 {
        return None;
    }
    // Nearly every server echoes the question uncompressed: then it is our name exactly when the
    // bytes match, letters in any case (length octets are at most 63, below every letter, so a
    // case-insensitive match of those is exact). Anything else takes the label-by-label walk.
    let end = match msg.get(HEADER_LEN..HEADER_LEN + qname_wire.len()) {
        Some(q) if q.eq_ignore_ascii_case(qname_wire) => HEADER_LEN + qname_wire.len(),
        _ => {
            let end = walk_name(msg, HEADER_LEN, |_| {})?;
            if !names_equal(msg, HEADER_LEN, qname_wire, 0) {
                return None;
            }
            end
        }
    };
    if u16_at(msg, end)? != qtype || u16_at(msg, end + 2)? != CLASS_IN {
        return None;
    }
    Some(end + 4)
}

/// One resource record's fixed fields, located in the message.
#[derive(Debug, Clone, Copy)]
struct RecordRef {
    owner: usize,
    rtype: u16,
    class: u16,
    ttl: u32,
    rdata: usize,
    rdlen: usize,
}

/// Iterates the records of a section. Stops (setting `broken`) at the first record whose header or
/// rdata length runs past the message: record boundaries are lost from there on.
struct Records<'a> {
    msg: &'a [u8],
    pos: usize,
    left: u16,
    broken: bool,
}

impl<'a> Records<'a> {
    fn new(msg: &'a [u8], pos: usize, count: u16) -> Self {
        Self {
            msg,
            pos,
            left: count,
            broken: false,
        }
    }
}

impl Iterator for Records<'_> {
    type Item = RecordRef;
    fn next(&mut self) -> Option<RecordRef> {
        if self.left == 0 || self.broken {
            return None;
        }
        self.left -= 1;
        let r = (|| {
            let owner = self.pos;
            let p = walk_name(self.msg, owner, |_| {})?;
            let rtype = u16_at(self.msg, p)?;
            let class = u16_at(self.msg, p + 2)?;
            let ttl = u32_at(self.msg, p + 4)?;
            let rdlen = u16_at(self.msg, p + 8)? as usize;
            let rdata = p + 10;
            if rdata + rdlen > self.msg.len() {
                return None;
            }
            Some(RecordRef {
                owner,
                rtype,
                class,
                ttl,
                rdata,
                rdlen,
            })
        })();
        match r {
            Some(r) => {
                self.pos = r.rdata + r.rdlen;
                Some(r)
            }
            None => {
                self.broken = true;
                None
            }
        }
    }
}

/// Where the section after `count` records starts, or `None` if the section is broken.
fn skip_section(msg: &[u8], pos: usize, count: u16) -> Option<usize> {
    let mut it = Records::new(msg, pos, count);
    for _ in it.by_ref() {}
    if it.broken { None } else { Some(it.pos) }
}

/// A name that must end exactly at `end`.
fn name_in_rdata(msg: &[u8], pos: usize, end: usize) -> Option<String> {
    if walk_name(msg, pos, |_| {})? != end {
        return None;
    }
    decode_name(msg, pos)
}

/// Decodes one record's rdata; `None` if it is malformed (B23: the caller skips it).
fn decode_rdata(msg: &[u8], r: &RecordRef) -> Option<RecordData> {
    let data = msg.get(r.rdata..r.rdata + r.rdlen)?;
    let end = r.rdata + r.rdlen;
    Some(match r.rtype {
        rtype::A => RecordData::A(Ipv4Addr::from(<[u8; 4]>::try_from(data).ok()?)),
        rtype::AAAA => RecordData::Aaaa(Ipv6Addr::from(<[u8; 16]>::try_from(data).ok()?)),
        rtype::SRV => {
            if data.len() < 7 {
                return None;
            }
            RecordData::Srv {
                priority: u16::from_be_bytes([data[0], data[1]]),
                weight: u16::from_be_bytes([data[2], data[3]]),
                port: u16::from_be_bytes([data[4], data[5]]),
                target: name_in_rdata(msg, r.rdata + 6, end)?,
            }
        }
        rtype::TXT => {
            let mut strings = Vec::new();
            let mut p = 0;
            while p < data.len() {
                let len = data[p] as usize;
                strings.push(data.get(p + 1..p + 1 + len)?.to_vec());
                p += 1 + len;
            }
            RecordData::Txt(strings)
        }
        rtype::PTR => RecordData::Ptr(name_in_rdata(msg, r.rdata, end)?),
        rtype::CNAME => RecordData::Cname(name_in_rdata(msg, r.rdata, end)?),
        _ => return None,
    })
}

/// CNAME links followed inside one reply or across chased questions before giving up.
pub const MAX_CNAME_LINKS: usize = 8;

/// What a validated reply says about our question.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Records of the asked type (possibly after CNAMEs in the reply).
    Answer {
        canonical: Option<String>,
        chain: Vec<CnameLink>,
        records: Vec<DnsRecord>,
        skipped: u16,
    },
    /// The name (or the end of the CNAME chain) does not exist.
    NxDomain { chain: Vec<CnameLink> },
    /// The name exists but has no records of this type.
    NoData { chain: Vec<CnameLink> },
    /// The reply ends at a CNAME without data or a negative answer for the target: ask for the target.
    Chase {
        chain: Vec<CnameLink>,
        target: String,
    },
    /// The CNAME chain loops.
    CnameLoop,
    /// The CNAME chain is longer than [`MAX_CNAME_LINKS`].
    CnameLimit,
    /// TC bit set.
    Truncated,
    /// An error response code.
    Rcode(u8),
    /// The reply is ours but unusable: a broken section with no usable record, or every record of the
    /// asked type malformed.
    Malformed,
}

/// Interprets a reply whose id, source and question were already checked. `question_end` is what
/// [`check_question`] returned. `links_before` counts CNAME links followed in earlier questions.
pub(crate) fn interpret(
    msg: &[u8],
    h: &ReplyHeader,
    question_end: usize,
    qtype: u16,
    over_tcp: bool,
    links_before: usize,
) -> Verdict {
    if h.truncated && !over_tcp {
        return Verdict::Truncated;
    }
    match h.rcode {
        rcode::NOERROR | rcode::NXDOMAIN => {}
        other => return Verdict::Rcode(other),
    }
    if h.qdcount == 0 {
        return Verdict::Malformed;
    }
    let an_start = question_end;
    // Follow the CNAME chain from the question name, one pass over the answers per link.
    let mut current = HEADER_LEN;
    let mut chain_pos: [usize; MAX_CNAME_LINKS + 1] = [0; MAX_CNAME_LINKS + 1];
    chain_pos[0] = HEADER_LEN;
    let mut links = 0usize;
    let mut chain: Vec<CnameLink> = Vec::new();
    let mut an_broken = false;
    if qtype != rtype::CNAME {
        loop {
            let mut it = Records::new(msg, an_start, h.ancount);
            let found = it.by_ref().find(|r| {
                r.rtype == rtype::CNAME
                    && r.class == CLASS_IN
                    && names_equal(msg, r.owner, msg, current)
            });
            an_broken |= it.broken;
            let Some(r) = found else { break };
            let end = r.rdata + r.rdlen;
            if walk_name(msg, r.rdata, |_| {}) != Some(end) {
                // A malformed CNAME: the chain cannot be followed past it.
                return Verdict::Malformed;
            }
            let (Some(owner), Some(target)) =
                (decode_name(msg, r.owner), decode_name(msg, r.rdata))
            else {
                return Verdict::Malformed;
            };
            chain.push(CnameLink {
                name: owner,
                target,
                ttl: r.ttl,
            });
            if chain_pos[..=links]
                .iter()
                .any(|&p| names_equal(msg, p, msg, r.rdata))
            {
                return Verdict::CnameLoop;
            }
            links += 1;
            if links + links_before > MAX_CNAME_LINKS {
                return Verdict::CnameLimit;
            }
            chain_pos[links] = r.rdata;
            current = r.rdata;
        }
    }
    if h.rcode == rcode::NXDOMAIN {
        return Verdict::NxDomain { chain };
    }
    let mut records = Vec::new();
    let mut skipped = 0u16;
    let mut matching = 0usize;
    let mut it = Records::new(msg, an_start, h.ancount);
    for r in it.by_ref() {
        if r.rtype != qtype || r.class != CLASS_IN || !names_equal(msg, r.owner, msg, current) {
            continue;
        }
        matching += 1;
        if records.capacity() == 0 {
            records.reserve_exact(usize::from(h.ancount).min(64));
        }
        match decode_rdata(msg, &r) {
            Some(data) => records.push(DnsRecord { ttl: r.ttl, data }),
            None => skipped += 1,
        }
    }
    an_broken |= it.broken;
    if an_broken {
        skipped = skipped.saturating_add(1);
    }
    if !records.is_empty() {
        let canonical = if links == 0 {
            None
        } else {
            decode_name(msg, current)
        };
        return Verdict::Answer {
            canonical,
            chain,
            records,
            skipped,
        };
    }
    if matching > 0 || an_broken {
        return Verdict::Malformed;
    }
    if links > 0 {
        // A chain without data: a negative answer for the target comes with the zone's SOA in the
        // authority section (RFC 2308 §2.2); a bare CNAME comes without one and must be chased.
        let has_soa = skip_section(msg, an_start, h.ancount).is_some_and(|ns_start| {
            Records::new(msg, ns_start, h.nscount).any(|r| r.rtype == rtype::SOA)
        });
        if !has_soa {
            if let Some(target) = decode_name(msg, current) {
                return Verdict::Chase { chain, target };
            }
            return Verdict::Malformed;
        }
    }
    Verdict::NoData { chain }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query as hickory-proto's encoder writes it: the reference for [`build_query`].
    fn hickory_query(id: u16, name: &str, rtype: RecordType, edns: bool) -> Vec<u8> {
        use hickory_proto::op::{Edns, Message, Query};
        use hickory_proto::rr::Name;
        let mut msg = Message::new(id, MessageType::Query, OpCode::Query);
        msg.metadata.recursion_desired = true;
        let fqdn = format!("{name}.");
        msg.add_query(Query::query(
            Name::from_ascii(&fqdn).unwrap(),
            rtype.to_hickory(),
        ));
        if edns {
            let mut e = Edns::new();
            e.set_max_payload(EDNS_PAYLOAD);
            msg.set_edns(e);
        }
        msg.to_vec().unwrap()
    }

    fn query(id: u16, name: &str, rtype: RecordType, edns: bool, tcp: bool) -> Vec<u8> {
        let mut wire = Vec::new();
        super::super::name::write_wire_name(&mut wire, name);
        build_query(id, &wire, rtype, edns, tcp)
    }

    #[test]
    fn queries_match_hickory_byte_for_byte() {
        for (name, rt) in [
            ("www.example.org", RecordType::A),
            ("_http._tcp.x", RecordType::Srv),
            ("a", RecordType::Ptr),
        ] {
            for edns in [false, true] {
                let want = hickory_query(0xbeef, name, rt, edns);
                assert_eq!(
                    query(0xbeef, name, rt, edns, false),
                    want,
                    "{name} {rt:?} {edns}"
                );
                let tcp = query(0xbeef, name, rt, edns, true);
                assert_eq!(
                    usize::from(u16::from_be_bytes([tcp[0], tcp[1]])),
                    want.len()
                );
                assert_eq!(tcp[2..], want[..]);
            }
        }
    }

    proptest::proptest! {
        /// Any valid name (LDH labels of 1-63 octets, at most 253 characters in all), any type, id
        /// and EDNS setting: the same bytes as hickory-proto.
        #[test]
        fn any_query_matches_hickory(
            labels in proptest::collection::vec("[a-zA-Z0-9_]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?", 1..8),
            id: u16,
            edns: bool,
            rt in proptest::sample::select(vec![
                RecordType::A, RecordType::Aaaa, RecordType::Srv, RecordType::Cname, RecordType::Ptr,
                RecordType::Txt,
            ]),
        ) {
            let name = labels.join(".");
            proptest::prop_assume!(name.len() <= 253);
            proptest::prop_assert_eq!(query(id, &name, rt, edns, false), hickory_query(id, &name, rt, edns));
        }
    }

    #[test]
    fn header_fields() {
        let mut q = query(0x1234, "x.example", RecordType::Aaaa, true, false);
        q[2] |= 0x80 | 0x02; // QR, TC
        q[3] = 0x83; // RA, NXDOMAIN
        let h = read_header(&q).unwrap();
        assert_eq!(
            (h.id, h.is_response, h.is_query_opcode, h.truncated, h.rcode),
            (0x1234, true, true, true, 3)
        );
        assert_eq!((h.qdcount, h.ancount, h.nscount), (1, 0, 0));
        assert!(read_header(&q[..11]).is_none());
    }

    #[test]
    fn question_check() {
        let q = query(1, "x.example", RecordType::A, false, false);
        let mut wire = Vec::new();
        super::super::name::write_wire_name(&mut wire, "X.EXAMPLE");
        let h = read_header(&q).unwrap();
        assert_eq!(check_question(&q, &h, &wire, rtype::A), Some(q.len()));
        assert_eq!(check_question(&q, &h, &wire, rtype::AAAA), None);
        let mut other = Vec::new();
        super::super::name::write_wire_name(&mut other, "y.example");
        assert_eq!(check_question(&q, &h, &other, rtype::A), None);
    }

    /// The question check without the byte-compare fast path: a label-by-label walk.
    fn check_question_by_walk(msg: &[u8], qname_wire: &[u8], qtype: u16) -> Option<usize> {
        let end = walk_name(msg, HEADER_LEN, |_| {})?;
        if !names_equal(msg, HEADER_LEN, qname_wire, 0) {
            return None;
        }
        if u16_at(msg, end)? != qtype || u16_at(msg, end + 2)? != CLASS_IN {
            return None;
        }
        Some(end + 4)
    }

    proptest::proptest! {
        /// The fast path decides exactly as the walk does: echoed questions in any case, questions
        /// that are a pointer (to a copy of the name placed after them), truncated and mangled ones.
        #[test]
        fn question_fast_path_agrees_with_the_walk(
            name in "[a-cA-C]{1,3}(\\.[a-cA-C]{1,3}){0,2}",
            other in "[a-c]{1,3}(\\.[a-c]{1,3}){0,2}",
            same in proptest::bool::weighted(0.8),
            qtype in proptest::sample::select(vec![rtype::A, rtype::AAAA]),
            form in 0u8..4,
            cut in 0usize..40,
            flip in proptest::option::of((0usize..16, proptest::num::u8::ANY)),
        ) {
            let mut msg = query(7, &name, RecordType::A, false, false);
            msg[2] |= 0x80;
            if qtype == rtype::AAAA {
                let n = msg.len();
                msg[n - 3] = 28;
            }
            match form {
                // The question's name as a pointer to a copy of it after the question.
                1 => {
                    let mut wire = Vec::new();
                    super::super::name::write_wire_name(&mut wire, &name.to_ascii_lowercase());
                    let tail = msg.split_off(HEADER_LEN + wire.len());
                    msg.truncate(HEADER_LEN);
                    let at = HEADER_LEN + 2 + tail.len();
                    msg.extend_from_slice(&[0xc0 | (at >> 8) as u8, at as u8]);
                    msg.extend_from_slice(&tail);
                    msg.extend_from_slice(&wire);
                }
                2 => msg.truncate(cut.min(msg.len())),
                3 => if let Some((at, b)) = flip {
                    if let Some(x) = msg.get_mut(HEADER_LEN + at) { *x = b; }
                },
                _ => {}
            }
            let asked = if same { name.to_ascii_lowercase() } else { other };
            let mut wire = Vec::new();
            super::super::name::write_wire_name(&mut wire, &asked);
            let fast = read_header(&msg).and_then(|h| check_question(&msg, &h, &wire, qtype));
            let walk = read_header(&msg).and_then(|h| {
                if h.qdcount != 1 { return None; }
                check_question_by_walk(&msg, &wire, qtype)
            });
            proptest::prop_assert_eq!(fast, walk);
        }
    }
}
