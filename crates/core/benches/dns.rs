//! Handling one DNS reply: header and question validation, record extraction, answer construction.
//!
//! Measured: `DnsQuery::handle_datagram` plus `poll_event` for a typical A reply, an AAAA reply, and a
//! 20-record SRV reply (all built with hickory-proto, names compressed as servers send them). Machine
//! creation and reply building are setup, not measured. The run also counts heap allocations made
//! while handling each reply (a counting global allocator) and prints them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anysock_core::dns::{DnsEvent, DnsQuery, RecordType};
use anysock_core::resolv_conf::DnsConfig;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{Name, RData, Record};

/// Builds the answer records for an owner name.
type RecordsFn = dyn Fn(&Name) -> Vec<Record>;

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5300);

fn config() -> DnsConfig {
    DnsConfig::builder()
        .nameserver(SERVER)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

/// A running machine and the reply to its first query.
fn setup(name: &str, rtype: RecordType, records: &RecordsFn, now: Instant) -> (DnsQuery, Vec<u8>) {
    let mut q = DnsQuery::new(&config(), name, rtype, now, 0x1234_5678).unwrap();
    let t = q.poll_transmit().unwrap();
    let query = Message::from_vec(&t.payload).unwrap();
    let mut m = Message::new(
        query.metadata.id,
        MessageType::Response,
        query.metadata.op_code,
    );
    m.metadata.recursion_desired = true;
    m.metadata.recursion_available = true;
    let owner = query.queries[0].name().clone();
    m.add_queries(query.queries.clone());
    m.add_answers(records(&owner));
    (q, m.to_vec().unwrap())
}

fn a_records(owner: &Name) -> Vec<Record> {
    vec![Record::from_rdata(
        owner.clone(),
        300,
        RData::A(A(Ipv4Addr::new(203, 0, 113, 10))),
    )]
}

fn aaaa_records(owner: &Name) -> Vec<Record> {
    vec![Record::from_rdata(
        owner.clone(),
        300,
        RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 10))),
    )]
}

fn srv_records(owner: &Name) -> Vec<Record> {
    (0..20u16)
        .map(|i| {
            let target = Name::from_ascii(format!("node{i}.cluster.example.")).unwrap();
            Record::from_rdata(
                owner.clone(),
                300,
                RData::SRV(SRV::new(i % 4, 10 + i, 8000 + i, target)),
            )
        })
        .collect()
}

fn handle(q: &mut DnsQuery, reply: &[u8], now: Instant) -> DnsEvent {
    assert!(q.handle_datagram(now, SERVER, reply));
    q.poll_event().unwrap()
}

fn count_allocations(
    label: &str,
    name: &str,
    rtype: RecordType,
    records: &RecordsFn,
    now: Instant,
) {
    let (mut q, reply) = setup(name, rtype, records, now);
    let (a0, b0) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    let ev = handle(&mut q, &reply, now);
    let (a1, b1) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    let DnsEvent::Answer(ans) = &ev else {
        panic!("expected an answer")
    };
    println!(
        "{label}: reply {} bytes, {} records, {} allocations ({} bytes) while handling",
        reply.len(),
        ans.records.len(),
        a1 - a0,
        b1 - b0
    );
    black_box(ev);
}

/// Thread CPU time, so the figure printed below is not inflated by other processes on a shared machine.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is supported on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Handles prepared replies in chunks of 64 (machines and replies freshly built, so they are in
/// cache as a just-received reply would be) and prints the thread CPU time per reply.
fn cpu_time_per_reply(
    label: &str,
    name: &str,
    rtype: RecordType,
    records: &RecordsFn,
    now: Instant,
) {
    const CHUNK: usize = 64;
    const ROUNDS: usize = 400;
    let mut spent = Duration::ZERO;
    for _ in 0..ROUNDS {
        let mut prepared: Vec<(DnsQuery, Vec<u8>)> = (0..CHUNK)
            .map(|_| setup(name, rtype, records, now))
            .collect();
        let mut events = Vec::with_capacity(CHUNK);
        let start = thread_cpu_time();
        for (q, reply) in &mut prepared {
            events.push(handle(q, black_box(reply), now));
        }
        spent += thread_cpu_time() - start;
        black_box(events);
    }
    let n = CHUNK * ROUNDS;
    println!(
        "{label}: {:.0} ns thread CPU time per reply ({n} replies)",
        spent.as_nanos() as f64 / n as f64
    );
}

fn bench(c: &mut Criterion) {
    let now = anysock_testkit::clock_origin();
    count_allocations("A", "www.example.com.", RecordType::A, &a_records, now);
    count_allocations(
        "AAAA",
        "www.example.com.",
        RecordType::Aaaa,
        &aaaa_records,
        now,
    );
    count_allocations(
        "SRV x20",
        "_http._tcp.cluster.example.",
        RecordType::Srv,
        &srv_records,
        now,
    );

    cpu_time_per_reply("A", "www.example.com.", RecordType::A, &a_records, now);
    cpu_time_per_reply(
        "AAAA",
        "www.example.com.",
        RecordType::Aaaa,
        &aaaa_records,
        now,
    );
    cpu_time_per_reply(
        "SRV x20",
        "_http._tcp.cluster.example.",
        RecordType::Srv,
        &srv_records,
        now,
    );

    let mut g = c.benchmark_group("dns_reply");
    let cases: [(&str, &str, RecordType, &RecordsFn); 3] = [
        ("a", "www.example.com.", RecordType::A, &a_records),
        ("aaaa", "www.example.com.", RecordType::Aaaa, &aaaa_records),
        (
            "srv20",
            "_http._tcp.cluster.example.",
            RecordType::Srv,
            &srv_records,
        ),
    ];
    for (id, name, rtype, records) in cases {
        g.bench_function(id, |b| {
            b.iter_batched(
                || setup(name, rtype, records, now),
                |(mut q, reply)| {
                    let ev = handle(&mut q, black_box(&reply), now);
                    // Returned, so the machine and the answer are dropped outside the measurement.
                    (q, reply, ev)
                },
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
