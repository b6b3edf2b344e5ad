//! Drives a [`DnsQuery`] with a script decoded from arbitrary bytes and checks its invariants.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::dns::{DnsEvent, DnsQuery, RecordType, Transmit, Transport};
use crate::resolv_conf::DnsConfig;

/// A byte reader that yields zeros once the input is used up.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

const SERVERS: [&str; 3] = ["127.0.0.1:5301", "127.0.0.2:5302", "[::1]:5303"];
const NAMES: [&str; 4] = [
    "www",
    "a.b.example",
    "abs.example.",
    "xn--bcher-kva.example",
];
const TYPES: [RecordType; 6] = [
    RecordType::A,
    RecordType::Aaaa,
    RecordType::Srv,
    RecordType::Cname,
    RecordType::Txt,
    RecordType::Ptr,
];

/// Upper bound on the steps a query may take after the script ends: every question gets at most
/// `attempts * servers * 3` tries (UDP, EDNS retry, TCP), there are at most 3 search candidates and
/// 9 chained questions per candidate.
const MAX_STEPS_AFTER_SCRIPT: usize = 5 * 3 * 3 * 3 * 9 + 16;

/// Invariant checks over one run.
struct Checker {
    servers: Vec<SocketAddr>,
    events: usize,
    last_deadline: Option<Instant>,
    sent: Vec<Transmit>,
}

impl Checker {
    fn drain(&mut self, q: &mut DnsQuery) {
        while let Some(t) = q.poll_transmit() {
            assert!(
                self.servers.contains(&t.to),
                "transmit to {} which is not configured",
                t.to
            );
            if t.transport == Transport::Tcp {
                let len = usize::from(u16::from_be_bytes([t.payload[0], t.payload[1]]));
                assert_eq!(len + 2, t.payload.len(), "TCP length prefix");
            }
            self.sent.push(t);
        }
        if let Some(ev) = q.poll_event() {
            self.events += 1;
            assert_eq!(self.events, 1, "a second event");
            if let DnsEvent::Answer(a) = &ev {
                assert!(!a.records.is_empty(), "an answer without records");
            }
            assert!(q.is_done());
        }
        assert!(
            q.poll_event().is_none(),
            "poll_event returned twice in a row"
        );
        match (q.poll_timeout(), q.is_done()) {
            (Some(_), true) => panic!("a deadline after the end"),
            (None, false) => panic!("a running machine without a deadline"),
            _ => {}
        }
        self.last_deadline = q.poll_timeout();
    }
}

/// Builds something that looks like a reply to `t`: its id and question, then fuzz-chosen flags,
/// counts and sections.
fn synth_reply(t: &Transmit, input: &mut Input<'_>) -> Vec<u8> {
    let msg = match t.transport {
        Transport::Tcp => &t.payload[2..],
        _ => &t.payload[..],
    };
    // Header (12) + question: the question ends before the OPT record if any; find it by walking.
    let mut end = 12;
    while end < msg.len() && msg[end] != 0 {
        end += 1 + usize::from(msg[end]);
    }
    let qend = (end + 5).min(msg.len());
    let mut out = msg[..qend].to_vec();
    let flags = input.u8();
    out[2] = 0x80 | (flags & 0x07); // QR, opcode QUERY, AA/TC/RD from the input
    out[3] = input.u8() & 0x8f; // RA and rcode
    let counts = input.bytes(6).to_vec();
    out[6..6 + counts.len()].copy_from_slice(&counts);
    out[6..12].iter_mut().step_by(2).for_each(|b| *b = 0); // counts below 256
    let n = usize::from(input.u8());
    out.extend_from_slice(input.bytes(n));
    out
}

/// Runs a query driven by `data` and panics if an invariant breaks: a transmit to a server not in
/// the config, a second event, a running machine without a deadline, or a machine that does not end
/// once the script is over and only timeouts follow. `t0` is the virtual clock's origin (the caller
/// reads it; the machine and this checker only add durations to it).
pub fn dns_query(t0: Instant, data: &[u8]) {
    let mut input = Input { data };
    let nservers = usize::from(input.u8() % 3) + 1;
    let servers: Vec<SocketAddr> = SERVERS[..nservers]
        .iter()
        .map(|s| s.parse().expect("literal"))
        .collect();
    let search_len = usize::from(input.u8() % 3);
    let cfg = match DnsConfig::builder()
        .nameservers(servers.iter().copied())
        .search(["s1.example", "s2.example"].into_iter().take(search_len))
        .ndots(input.u8() % 3)
        .timeout(Duration::from_millis(u64::from(input.u16() % 5000) + 1))
        .attempts(input.u8() % 5 + 1)
        .rotate(input.u8() & 1 == 1)
        .edns0(input.u8() & 1 == 1)
        .build()
    {
        Ok(c) => c,
        Err(e) => panic!("fuzz config must be valid: {e}"),
    };
    let name = NAMES[usize::from(input.u8()) % NAMES.len()];
    let rtype = TYPES[usize::from(input.u8()) % TYPES.len()];
    let seed = u64::from(input.u16());
    let mut now = t0;
    let Ok(mut q) = DnsQuery::new(&cfg, name, rtype, now, seed) else {
        panic!("fixed names are valid")
    };
    let mut c = Checker {
        servers: servers.clone(),
        events: 0,
        last_deadline: None,
        sent: Vec::new(),
    };
    c.drain(&mut q);

    while !input.is_empty() {
        let op = input.u8();
        let server = servers[usize::from(input.u8()) % servers.len()];
        match op % 6 {
            0 => {
                now += Duration::from_millis(u64::from(input.u16()));
                q.handle_timeout(now);
            }
            1 => {
                let n = usize::from(input.u8());
                let bytes = input.bytes(n).to_vec();
                q.handle_datagram(now, server, &bytes);
            }
            2 | 3 => {
                if c.sent.is_empty() {
                    continue;
                }
                let t = c.sent[usize::from(input.u8()) % c.sent.len()].clone();
                let reply = synth_reply(&t, &mut input);
                if t.transport == Transport::Tcp {
                    let mut framed = u16::try_from(reply.len())
                        .unwrap_or(0)
                        .to_be_bytes()
                        .to_vec();
                    framed.extend_from_slice(&reply);
                    let split = usize::from(input.u8()).min(framed.len());
                    q.handle_stream(now, t.to, &framed[..split]);
                    q.handle_stream(now, t.to, &framed[split..]);
                } else {
                    q.handle_datagram(now, t.to, &reply);
                }
            }
            4 => {
                let n = usize::from(input.u8());
                let bytes = input.bytes(n).to_vec();
                q.handle_stream(now, server, &bytes);
            }
            _ => {
                q.handle_stream_error(now, server);
            }
        }
        c.drain(&mut q);
    }

    // Only timeouts from here on: the machine must end.
    let mut steps = 0;
    while let Some(deadline) = c.last_deadline {
        assert!(
            deadline >= now || steps == 0,
            "deadline in the past after a timeout step"
        );
        now = now.max(deadline);
        q.handle_timeout(now);
        c.drain(&mut q);
        steps += 1;
        assert!(steps <= MAX_STEPS_AFTER_SCRIPT, "the machine did not end");
    }
    assert_eq!(c.events, 1, "the machine ended without an event");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_small_inputs_end() {
        let t0 = anysock_testkit::clock_origin(); // the checker only adds to it
        dns_query(t0, &[]);
        dns_query(t0, &[2, 1, 1, 0, 10, 1, 1, 1, 0, 0, 0, 7]);
        for seed in 0u8..=255 {
            dns_query(
                t0,
                &[
                    seed,
                    seed.wrapping_mul(7),
                    seed,
                    1,
                    seed,
                    2,
                    seed,
                    1,
                    seed,
                    seed,
                    0,
                    seed,
                    2,
                    0,
                    0,
                    0x80,
                    0,
                    0,
                    1,
                    0,
                    0,
                    0,
                    4,
                    1,
                    2,
                    3,
                    4,
                ],
            );
        }
    }
}
