//! Proves that the parse and format paths do not touch the heap: a counting global allocator counts
//! allocations made by the current thread while each path runs.
//!
//! (Implementing `GlobalAlloc` needs `unsafe`; it only forwards to the system allocator.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use anysock_core::{
    Address, HostPort, Service, SockAddr, UnixAddr, format_address, format_ipv4, format_ipv6,
    pack_sockaddr, parse_address, parse_address_strict, parse_hostport, parse_hostport_strict,
    parse_ipv4, parse_ipv4_strict, parse_ipv6, parse_ipv6_strict, parse_unix, unpack_sockaddr,
    write_address, write_ipv4, write_ipv6,
};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a const-initialised
// thread-local Cell, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

/// A fixed buffer that implements `fmt::Write`, to format `Display` values without a `String`.
struct StackWriter {
    buf: [u8; 256],
    len: usize,
}

impl std::fmt::Write for StackWriter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

const INPUTS: &[&str] = &[
    "127.0.0.1",
    "10.1",
    "0x7f.1",
    "017700000001",
    "0377.0377.0377.0377",
    "256.1.1.1",
    "0x100000000",
    "1.2.3.4\n",
    "::",
    "::1",
    "2001:db8::1",
    "::ffff:1.2.3.4",
    "1:2:3:4::5:6:7:8",
    "::1:2:3:4:5:1.2.3.4",
    "fe80::1%eth0",
    "[::1]",
    "unix/",
    "junk",
    "",
    "1:2:3:4:5:6:7:8:9",
];

const HOSTPORTS: &[&str] = &[
    "www.x.de:https=443",
    "127.1:22",
    "::1",
    "[::1]:80",
    "[www.x.org] 17",
    "::1 443",
    "unix/:/run/s",
    "/run/s",
    " localhost:80",
    "host#80",
    "[a b]:-1",
    "host:70000",
    "::1:80",
    "日本語.jp:80",
    "[]",
    "",
];

#[test]
fn parse_and_format_paths_do_not_allocate() {
    // Warm up anything lazily initialised by the runtime on first use.
    let _ = allocations(|| {});
    for s in INPUTS {
        let n = allocations(|| {
            let _ = std::hint::black_box(parse_ipv4(s));
            let _ = std::hint::black_box(parse_ipv4_strict(s));
            let _ = std::hint::black_box(parse_ipv6(s));
            let _ = std::hint::black_box(parse_ipv6_strict(s));
            let _ = std::hint::black_box(parse_unix(s));
            let _ = std::hint::black_box(parse_address(s));
            let _ = std::hint::black_box(parse_address_strict(s));
            let _ = std::hint::black_box(Service::parse(s));
            let _ = std::hint::black_box(Service::parse_path(s));
        });
        assert_eq!(n, 0, "parsing {s:?} allocated");
    }
    for s in HOSTPORTS {
        for d in [None, Some("http")] {
            let n = allocations(|| {
                let _ = std::hint::black_box(parse_hostport(s, d));
                let _ = std::hint::black_box(parse_hostport_strict(s, d));
            });
            assert_eq!(n, 0, "parse_hostport {s:?} allocated");
        }
    }

    let v6: Ipv6Addr = "2001:db8::ffff:1".parse().unwrap();
    let addrs = [
        Address::V4(Ipv4Addr::new(255, 1, 2, 3)),
        Address::V6(v6),
        Address::V6("::ffff:1.2.3.4".parse().unwrap()),
        Address::V6("::2".parse().unwrap()),
        Address::Unix,
    ];
    let mut buf = [0u8; 64];
    let mut w = StackWriter {
        buf: [0; 256],
        len: 0,
    };
    let n = allocations(|| {
        for a in &addrs {
            std::hint::black_box(format_address(a));
            write_address(a, &mut buf).unwrap();
            write!(w, "{a} {a:>40}").unwrap();
        }
        std::hint::black_box(format_ipv4(Ipv4Addr::LOCALHOST));
        std::hint::black_box(format_ipv6(v6));
        write_ipv4(Ipv4Addr::LOCALHOST, &mut buf).unwrap();
        write_ipv6(v6, &mut buf).unwrap();
    });
    assert_eq!(n, 0, "formatting allocated");

    let hps = [
        HostPort::new("::1", Service::Port(80)).unwrap(),
        HostPort::new(
            "www.x.de",
            Service::NamePort {
                name: "https",
                port: 443,
            },
        )
        .unwrap(),
        HostPort::new("unix/", Service::Path("/run/a b")).unwrap(),
        HostPort::new("unix/", Service::Path("rel")).unwrap(),
    ];
    let n = allocations(|| {
        for hp in &hps {
            w.len = 0;
            write!(w, "{hp}").unwrap();
            std::hint::black_box(HostPort::new(hp.host, hp.service).unwrap());
        }
    });
    assert_eq!(n, 0, "HostPort Display allocated");

    let sas = [
        SockAddr::Inet("[fe80::1%3]:443".parse::<SocketAddr>().unwrap()),
        SockAddr::Inet("1.2.3.4:80".parse::<SocketAddr>().unwrap()),
        SockAddr::Unix(UnixAddr::pathname(b"/run/s").unwrap()),
        SockAddr::Unix(UnixAddr::abstract_name(b"x").unwrap()),
    ];
    let n = allocations(|| {
        for sa in &sas {
            let p = pack_sockaddr(sa);
            assert_eq!(unpack_sockaddr(&p), Ok(*sa));
        }
        let _ = std::hint::black_box(unpack_sockaddr(&[9, 9, 9]));
    });
    assert_eq!(n, 0, "pack/unpack allocated");

    // The counter works: a String allocates.
    assert!(allocations(|| drop(std::hint::black_box(String::from("x")))) > 0);
}
