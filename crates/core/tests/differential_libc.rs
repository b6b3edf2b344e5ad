//! Differential test against glibc: `inet_aton`, `inet_pton`, `inet_ntop` and the `sockaddr` structs.
//!
//! Where both accept an input, the bytes must agree. Where they differ, the difference must be one the
//! semantics document names (section 7, or a B# rule). This file is the one place in anysock-core where
//! `unsafe` appears: the FFI calls and the view of a libc struct as bytes (the crate itself forbids it).

mod addr_gen;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use addr_gen::Rng;
use anysock_core::{
    SockAddr, UnixAddr, format_ipv4, format_ipv6, pack_sockaddr, parse_ipv4, parse_ipv6,
    parse_ipv6_strict,
};

// The libc crate does not bind these three; they are in glibc's libc.so, which std links already.
unsafe extern "C" {
    fn inet_aton(cp: *const libc::c_char, inp: *mut libc::in_addr) -> libc::c_int;
    fn inet_pton(af: libc::c_int, src: *const libc::c_char, dst: *mut libc::c_void) -> libc::c_int;
    fn inet_ntop(
        af: libc::c_int,
        src: *const libc::c_void,
        dst: *mut libc::c_char,
        size: libc::socklen_t,
    ) -> *const libc::c_char;
}

fn glibc_aton(s: &str) -> Option<[u8; 4]> {
    let c = CString::new(s).ok()?;
    let mut out = libc::in_addr { s_addr: 0 };
    // SAFETY: `c` is a valid NUL-terminated string and `out` a valid in_addr.
    let ok = unsafe { inet_aton(c.as_ptr(), &mut out) };
    (ok != 0).then(|| out.s_addr.to_ne_bytes())
}

fn glibc_pton6(s: &str) -> Option<[u8; 16]> {
    let c = CString::new(s).ok()?;
    let mut out = [0u8; 16];
    // SAFETY: `c` is NUL-terminated; `out` has room for an in6_addr (16 bytes).
    let ok = unsafe { inet_pton(libc::AF_INET6, c.as_ptr(), out.as_mut_ptr().cast()) };
    (ok == 1).then_some(out)
}

fn glibc_ntop(af: libc::c_int, bytes: &[u8]) -> String {
    let mut buf = [0 as libc::c_char; 64];
    // SAFETY: `bytes` is an in_addr or in6_addr of the right size for `af`; `buf` has 64 bytes.
    let p = unsafe { inet_ntop(af, bytes.as_ptr().cast(), buf.as_mut_ptr(), 64) };
    assert!(!p.is_null());
    // SAFETY: inet_ntop wrote a NUL-terminated string into `buf`.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .to_owned()
}

fn struct_bytes<T>(v: &T) -> Vec<u8> {
    // SAFETY: any initialised value may be read as bytes; the libc sockaddr structs are built with
    // `mem::zeroed()` first, so their padding is initialised too.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
        .to_vec()
}

fn tally(counts: &mut BTreeMap<&'static str, usize>, what: &'static str) {
    *counts.entry(what).or_default() += 1;
}

#[test]
fn parse_ipv4_agrees_with_inet_aton() {
    let mut r = Rng::new(41);
    let mut counts = BTreeMap::new();
    let mut bad = Vec::new();
    let mut inputs: Vec<String> = (0..20_000).map(|_| addr_gen::ipv4_text(&mut r)).collect();
    inputs.extend(
        [
            "0X10",
            "1.2.3.4 junk",
            "1.2.3.4\r\n",
            "1.2.3.4\n\n",
            "0x100000000",
            "040000000000",
        ]
        .map(String::from),
    );
    for s in &inputs {
        let ours = parse_ipv4(s).ok().map(|a| a.octets());
        let theirs = glibc_aton(s);
        match (ours, theirs) {
            (a, b) if a == b => tally(&mut counts, "same"),
            // Section 7: glibc takes an upper-case 0X prefix.
            (None, Some(_)) if s.contains("0X") => tally(&mut counts, "glibc accepts 0X"),
            // Section 7: glibc stops at the first whitespace and ignores the rest (B2 covers "\n").
            (None, Some(_)) if s.contains(|c: char| c.is_ascii_whitespace()) => {
                tally(&mut counts, "glibc ignores text after whitespace")
            }
            _ => bad.push(format!("{s:?}: ours {ours:?}, glibc {theirs:?}")),
        }
    }
    eprintln!("inet_aton: {counts:?}");
    assert!(
        bad.is_empty(),
        "{} unexplained differences:\n{}",
        bad.len(),
        bad[..bad.len().min(30)].join("\n")
    );
    assert!(counts["same"] > 15_000);
}

#[test]
fn parse_ipv6_agrees_with_inet_pton() {
    let mut r = Rng::new(42);
    let mut counts = BTreeMap::new();
    let mut bad = Vec::new();
    let mut inputs: Vec<String> = (0..20_000).map(|_| addr_gen::ipv6_text(&mut r)).collect();
    inputs.extend(
        [
            "::1:2:3:4:5:1.2.3.4",
            "1:2:3:4::5:6:7:8",
            "::ffff:1.2",
            "127.1",
            "fe80::1%eth0",
        ]
        .map(String::from),
    );
    for s in &inputs {
        let ours = parse_ipv6(s).ok().map(|a| a.octets());
        let strict = parse_ipv6_strict(s).ok().map(|a| a.octets());
        let theirs = glibc_pton6(s);
        // The strict parser is RFC 4291 text, exactly what inet_pton takes.
        if strict != theirs {
            bad.push(format!("strict {s:?}: ours {strict:?}, glibc {theirs:?}"));
        }
        match (ours, theirs) {
            (a, b) if a == b => tally(&mut counts, "same"),
            (Some(_), None) if !s.contains(':') => tally(&mut counts, "B6 plain IPv4 accepted"),
            (Some(_), None) if s.contains('.') => {
                tally(&mut counts, "B5 inet_aton forms in the IPv4 tail")
            }
            (Some(_), None) if s.contains("::") => tally(&mut counts, "B4 :: for zero groups"),
            _ => bad.push(format!("{s:?}: ours {ours:?}, glibc {theirs:?}")),
        }
    }
    eprintln!("inet_pton: {counts:?}");
    assert!(
        bad.is_empty(),
        "{} unexplained differences:\n{}",
        bad.len(),
        bad[..bad.len().min(30)].join("\n")
    );
    assert!(counts["same"] > 15_000);
}

#[test]
fn format_agrees_with_inet_ntop() {
    let mut r = Rng::new(43);
    let mut counts = BTreeMap::new();
    let mut bad = Vec::new();
    for _ in 0..20_000 {
        let b = addr_gen::ipv6_bytes(&mut r);
        let ours = format_ipv6(Ipv6Addr::from(b)).to_string();
        let theirs = glibc_ntop(libc::AF_INET6, &b);
        if ours == theirs {
            tally(&mut counts, "same");
        } else if b[..8] == [0; 8]
            && (b[8..12] == [0; 4] || b[8..12] == [0xff, 0xff, 0, 0])
            && ours.contains('.')
        {
            // B8 (kept): 0::/96 and ::ffff:0:0/96 in mixed notation.
            tally(&mut counts, "B8 mixed notation");
        } else {
            bad.push(format!("{b:02x?}: ours {ours}, glibc {theirs}"));
        }
        let v4 = [b[12], b[13], b[14], b[15]];
        assert_eq!(
            format_ipv4(Ipv4Addr::from(v4)).to_string(),
            glibc_ntop(libc::AF_INET, &v4)
        );
    }
    eprintln!("inet_ntop: {counts:?}");
    assert!(
        bad.is_empty(),
        "{} unexplained differences:\n{}",
        bad.len(),
        bad[..bad.len().min(30)].join("\n")
    );
}

#[test]
fn pack_sockaddr_matches_libc_structs() {
    let mut r = Rng::new(44);
    for _ in 0..2_000 {
        let port = r.next() as u16;
        let ip4 = Ipv4Addr::from(r.next() as u32);
        // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
        let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_port = port.to_be();
        sin.sin_addr.s_addr = u32::from_ne_bytes(ip4.octets());
        let sa = SockAddr::Inet(SocketAddr::V4(SocketAddrV4::new(ip4, port)));
        assert_eq!(&pack_sockaddr(&sa)[..], &struct_bytes(&sin)[..]);

        let ip6 = Ipv6Addr::from(addr_gen::ipv6_bytes(&mut r));
        let (flow, scope) = (r.next() as u32 & 0xfffff, r.next() as u32);
        // SAFETY: as above.
        let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
        sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        sin6.sin6_port = port.to_be();
        sin6.sin6_flowinfo = flow;
        sin6.sin6_addr.s6_addr = ip6.octets();
        sin6.sin6_scope_id = scope;
        let sa = SockAddr::Inet(SocketAddr::V6(SocketAddrV6::new(ip6, port, flow, scope)));
        assert_eq!(&pack_sockaddr(&sa)[..], &struct_bytes(&sin6)[..]);

        let len = 1 + r.below(108) as usize;
        let path: Vec<u8> = (0..len).map(|_| 1 + r.below(255) as u8).collect();
        // SAFETY: as above.
        let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, s) in sun.sun_path.iter_mut().zip(&path) {
            *d = *s as libc::c_char;
        }
        let sa = SockAddr::Unix(UnixAddr::pathname(&path).unwrap());
        assert_eq!(&pack_sockaddr(&sa)[..], &struct_bytes(&sun)[..]);
    }
}
