//! Address toolkit benchmarks: anysock against std (`FromStr`, `Display`) and glibc (`inet_pton`,
//! `inet_ntop`) on the same inputs in one run.
//!
//! `cargo bench -p anysock-core --bench addr -- --warm-up-time 1 --measurement-time 3`
//!
//! Each iteration handles the whole input set (8 addresses), so per-address time is the median / 8.
//! The glibc calls need `unsafe` (FFI); the crate itself forbids it.

use std::ffi::CString;
use std::fmt::Write as _;
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

use anysock_core::{
    format_ipv4, format_ipv6, parse_ipv4, parse_ipv4_strict, parse_ipv6, parse_ipv6_strict,
    write_ipv6,
};
use criterion::{Criterion, criterion_group, criterion_main};

unsafe extern "C" {
    fn inet_pton(af: libc::c_int, src: *const libc::c_char, dst: *mut libc::c_void) -> libc::c_int;
    fn inet_ntop(
        af: libc::c_int,
        src: *const libc::c_void,
        dst: *mut libc::c_char,
        size: libc::socklen_t,
    ) -> *const libc::c_char;
}

const V4: [&str; 8] = [
    "127.0.0.1",
    "10.0.0.1",
    "192.168.100.200",
    "9.8.7.6",
    "255.255.255.255",
    "0.0.0.0",
    "203.0.113.45",
    "172.16.254.1",
];

const V6: [&str; 8] = [
    "::1",
    "2001:db8::1",
    "fe80::1ff:fe23:4567:890a",
    "2001:db8:85a3:8d3:1319:8a2e:370:7348",
    "::ffff:192.0.2.128",
    "64:ff9b::c000:221",
    "ff02::fb",
    "2a00:1450:4001:81c::200e",
];

/// A fixed buffer implementing `fmt::Write`: std's write-into-a-buffer path.
struct Buf {
    b: [u8; 64],
    n: usize,
}

impl std::fmt::Write for Buf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.n + s.len();
        self.b
            .get_mut(self.n..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.n = end;
        Ok(())
    }
}

fn parse(c: &mut Criterion) {
    let v4c: Vec<CString> = V4.iter().map(|s| CString::new(*s).unwrap()).collect();
    let v6c: Vec<CString> = V6.iter().map(|s| CString::new(*s).unwrap()).collect();

    let mut g = c.benchmark_group("parse_ipv4");
    g.bench_function("anysock parse_ipv4", |b| {
        b.iter(|| {
            for s in V4 {
                black_box(parse_ipv4(black_box(s)).ok());
            }
        })
    });
    g.bench_function("anysock parse_ipv4_strict", |b| {
        b.iter(|| {
            for s in V4 {
                black_box(parse_ipv4_strict(black_box(s)).ok());
            }
        })
    });
    g.bench_function("std Ipv4Addr::from_str", |b| {
        b.iter(|| {
            for s in V4 {
                black_box(black_box(s).parse::<Ipv4Addr>().ok());
            }
        })
    });
    g.bench_function("glibc inet_pton", |b| {
        b.iter(|| {
            for s in &v4c {
                let mut out = [0u8; 4];
                // SAFETY: NUL-terminated input, 4-byte output for AF_INET.
                black_box(unsafe {
                    inet_pton(
                        libc::AF_INET,
                        black_box(s.as_ptr()),
                        out.as_mut_ptr().cast(),
                    )
                });
                black_box(out);
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("parse_ipv6");
    g.bench_function("anysock parse_ipv6", |b| {
        b.iter(|| {
            for s in V6 {
                black_box(parse_ipv6(black_box(s)).ok());
            }
        })
    });
    g.bench_function("anysock parse_ipv6_strict", |b| {
        b.iter(|| {
            for s in V6 {
                black_box(parse_ipv6_strict(black_box(s)).ok());
            }
        })
    });
    g.bench_function("std Ipv6Addr::from_str", |b| {
        b.iter(|| {
            for s in V6 {
                black_box(black_box(s).parse::<Ipv6Addr>().ok());
            }
        })
    });
    g.bench_function("glibc inet_pton", |b| {
        b.iter(|| {
            for s in &v6c {
                let mut out = [0u8; 16];
                // SAFETY: NUL-terminated input, 16-byte output for AF_INET6.
                black_box(unsafe {
                    inet_pton(
                        libc::AF_INET6,
                        black_box(s.as_ptr()),
                        out.as_mut_ptr().cast(),
                    )
                });
                black_box(out);
            }
        })
    });
    g.finish();
}

fn format(c: &mut Criterion) {
    let v4: Vec<Ipv4Addr> = V4.iter().map(|s| s.parse().unwrap()).collect();
    let v6: Vec<Ipv6Addr> = V6.iter().map(|s| s.parse().unwrap()).collect();

    let mut g = c.benchmark_group("format_ipv6");
    g.bench_function("anysock format_ipv6 (stack AddrText)", |b| {
        b.iter(|| {
            for a in &v6 {
                black_box(format_ipv6(black_box(*a)));
            }
        })
    });
    g.bench_function("anysock write_ipv6 (caller buffer)", |b| {
        let mut buf = [0u8; 64];
        b.iter(|| {
            for a in &v6 {
                black_box(write_ipv6(black_box(*a), &mut buf).ok());
            }
        })
    });
    g.bench_function("std to_string", |b| {
        b.iter(|| {
            for a in &v6 {
                black_box(black_box(a).to_string());
            }
        })
    });
    g.bench_function("std write! into a stack buffer", |b| {
        b.iter(|| {
            for a in &v6 {
                let mut w = Buf { b: [0; 64], n: 0 };
                write!(w, "{}", black_box(a)).unwrap();
                black_box(&w.b[..w.n]);
            }
        })
    });
    g.bench_function("glibc inet_ntop", |b| {
        b.iter(|| {
            for a in &v6 {
                let o = black_box(a).octets();
                let mut buf = [0 as libc::c_char; 64];
                // SAFETY: 16-byte input for AF_INET6; 64-byte output buffer.
                black_box(unsafe {
                    inet_ntop(libc::AF_INET6, o.as_ptr().cast(), buf.as_mut_ptr(), 64)
                });
                black_box(buf);
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("format_ipv4");
    g.bench_function("anysock format_ipv4 (stack AddrText)", |b| {
        b.iter(|| {
            for a in &v4 {
                black_box(format_ipv4(black_box(*a)));
            }
        })
    });
    g.bench_function("std to_string", |b| {
        b.iter(|| {
            for a in &v4 {
                black_box(black_box(a).to_string());
            }
        })
    });
    g.bench_function("std write! into a stack buffer", |b| {
        b.iter(|| {
            for a in &v4 {
                let mut w = Buf { b: [0; 64], n: 0 };
                write!(w, "{}", black_box(a)).unwrap();
                black_box(&w.b[..w.n]);
            }
        })
    });
    g.bench_function("glibc inet_ntop", |b| {
        b.iter(|| {
            for a in &v4 {
                let o = black_box(a).octets();
                let mut buf = [0 as libc::c_char; 64];
                // SAFETY: 4-byte input for AF_INET; 64-byte output buffer.
                black_box(unsafe {
                    inet_ntop(libc::AF_INET, o.as_ptr().cast(), buf.as_mut_ptr(), 64)
                });
                black_box(buf);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, parse, format);
criterion_main!(benches);
