//! The hosts file parser: AnyEvent's rules (semantics doc 1.4), checked against the real module, and
//! the policy fixes (B19, B37, B38).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{Ipv4Addr, Ipv6Addr};

use anysock_core::hosts::{HostsFile, HostsWarning, HostsWarningKind};
use proptest::prelude::*;

/// One file, every name AnyEvent's `_parse_hosts` (7.17) produced for it, with its lists. Generated
/// with `perl -MAnyEvent::Socket -e 'AnyEvent::Socket::_parse_hosts $text; ...'` printing
/// `%AnyEvent::Socket::HOSTS` through format_address / format_ipv6.
const ANYEVENT_FILE: &str = "# comment line\n127.1 one ONE-alias\n  \t0x7f.0.0.2\ttwo\n010.0.0.1 octal\n\
::ffff:1.2.3.4 mapped\n::1 six one\n1.2.3.4 a#comment b\n1.2.3.5 A\n5.6.7.8\n0x100 hexone\n\
0377.0377.0377.0377 bcast\n1.2.3.300 bad\n::1.2 tail\n";

const ANYEVENT_TABLE: &[(&str, &[&str], &[&str])] = &[
    ("a", &["1.2.3.4", "1.2.3.5"], &[]),
    ("bcast", &["255.255.255.255"], &[]),
    ("hexone", &["0.0.1.0"], &[]),
    ("mapped", &[], &["::ffff:1.2.3.4"]),
    ("octal", &["8.0.0.1"], &[]),
    ("one", &["127.0.0.1"], &["::1"]),
    ("one-alias", &["127.0.0.1"], &[]),
    ("six", &[], &["::1"]),
    ("tail", &[], &["::1.0.0.2"]),
    ("two", &["127.0.0.2"], &[]),
];

fn v4s(list: &[&str]) -> Vec<Ipv4Addr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}
fn v6s(list: &[&str]) -> Vec<Ipv6Addr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

#[test]
fn same_tables_as_anyevent() {
    let h = HostsFile::parse(ANYEVENT_FILE);
    let names: Vec<&str> = h.iter().map(|(n, _)| n).collect();
    let want: Vec<&str> = ANYEVENT_TABLE.iter().map(|r| r.0).collect();
    assert_eq!(names, want, "the same set of names");
    for &(name, v4, v6) in ANYEVENT_TABLE {
        let e = h.lookup(name);
        assert_eq!(e.v4, v4s(v4), "{name} v4");
        assert_eq!(e.v6, v6s(v6), "{name} v6");
    }
    // What AnyEvent skips silently, we report: "5.6.7.8" (no names) and "1.2.3.300 bad".
    let lines: Vec<(usize, bool)> = h
        .warnings()
        .iter()
        .map(|w| (w.line, matches!(w.kind, HostsWarningKind::NoNames)))
        .collect();
    assert_eq!(lines, [(9, true), (12, false)]);
}

#[test]
fn lookups_ignore_case_and_one_trailing_dot() {
    let h = HostsFile::parse(ANYEVENT_FILE);
    for name in ["ONE", "One.", "one", "oNe."] {
        assert_eq!(h.lookup(name).v4, v4s(&["127.0.0.1"]), "{name}");
    }
    assert!(h.lookup("one..").is_empty());
    assert!(h.lookup("").is_empty());
    assert!(h.lookup(".").is_empty());
    assert!(h.contains("SIX."));
    assert!(!h.contains("seven"));
}

/// Policy fixes, one row each: (file, name, expected v4, expected v6, expected warnings as (line, kind)).
#[test]
fn policy_fixes() {
    type Row = (
        &'static str,
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
        &'static [(usize, &'static str)],
    );
    let table: &[Row] = &[
        // B37: CRLF; the last name on the line matches.
        (
            "192.0.2.1 crlf-a crlf-b\r\n",
            "crlf-b",
            &["192.0.2.1"],
            &[],
            &[],
        ),
        (
            "192.0.2.1 crlf-a crlf-b\r\n",
            "crlf-a",
            &["192.0.2.1"],
            &[],
            &[],
        ),
        // B38: one bad line does not poison the file.
        (
            "0x100000000 bad\n192.0.2.3 good\n",
            "good",
            &["192.0.2.3"],
            &[],
            &[(1, "bad address")],
        ),
        // B19: a name written with a trailing dot matches without, and the other way round.
        (
            "192.0.2.4 dotted.test.\n",
            "dotted.test",
            &["192.0.2.4"],
            &[],
            &[],
        ),
        (
            "192.0.2.4 dotted.test\n",
            "dotted.test.",
            &["192.0.2.4"],
            &[],
            &[],
        ),
        // A tab before the comment.
        ("192.0.2.5\tx\t# y\n", "y", &[], &[], &[]),
        // A zone id is not accepted (AnyEvent's parse_ipv6 rejects it too).
        (
            "fe80::1%eth0 zoned\n",
            "zoned",
            &[],
            &[],
            &[(1, "bad address")],
        ),
        // Names that can never match are reported.
        (
            "192.0.2.7 ok . a..\n",
            "ok",
            &["192.0.2.7"],
            &[],
            &[(1, "bad name"), (1, "bad name")],
        ),
        // IDN names are converted.
        (
            "192.0.2.6 bücher.test\n",
            "xn--bcher-kva.test",
            &["192.0.2.6"],
            &[],
            &[],
        ),
    ];
    for &(text, name, v4, v6, warnings) in table {
        let h = HostsFile::parse(text);
        let e = h.lookup(name);
        assert_eq!(e.v4, v4s(v4), "{text:?} {name}");
        assert_eq!(e.v6, v6s(v6), "{text:?} {name}");
        // The address parser's exact error is its business; the line and the kind are ours.
        let got: Vec<(usize, &str)> = h
            .warnings()
            .iter()
            .map(|w| (w.line, kind_name(&w.kind)))
            .collect();
        assert_eq!(got, warnings, "{text:?}");
    }
}

fn kind_name(k: &HostsWarningKind) -> &'static str {
    match k {
        HostsWarningKind::BadAddress(_) => "bad address",
        HostsWarningKind::NoNames => "no names",
        HostsWarningKind::BadName { .. } => "bad name",
        _ => "other",
    }
}

#[test]
fn warnings_display_the_line() {
    let h = HostsFile::parse("\n\nnot-an-ip host\n");
    let w: &HostsWarning = &h.warnings()[0];
    assert_eq!(w.line, 3);
    assert!(
        w.to_string().starts_with("hosts line 3: bad address"),
        "{w}"
    );
}

fn case_flip(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

proptest! {
    /// Whatever the lines, each name's addresses come back in file order, per family, under any case.
    #[test]
    fn file_order_per_family(
        lines in proptest::collection::vec(
            (prop_oneof![any::<u32>().prop_map(|v| Ipv4Addr::from_bits(v).to_string()),
                         any::<u128>().prop_map(|v| Ipv6Addr::from_bits(v).to_string())],
             proptest::collection::vec("[a-z][a-z0-9-]{0,6}(\\.[a-z]{1,3})?", 1..4)),
            0..20),
        mask in any::<u64>(),
        crlf in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let text: String = lines
            .iter()
            .map(|(a, names)| format!("{a} {}{eol}", names.join("\t")))
            .collect();
        let h = HostsFile::parse(&text);
        prop_assert!(h.warnings().is_empty());
        let mut all_names: Vec<&String> = lines.iter().flat_map(|(_, n)| n).collect();
        all_names.sort();
        all_names.dedup();
        prop_assert_eq!(h.len(), all_names.len());
        for name in all_names {
            let mut want4 = Vec::new();
            let mut want6 = Vec::new();
            for (a, names) in &lines {
                for n in names {
                    if n == name {
                        match a.parse::<std::net::IpAddr>().unwrap() {
                            std::net::IpAddr::V4(x) => want4.push(x),
                            std::net::IpAddr::V6(x) => want6.push(x),
                        }
                    }
                }
            }
            let e = h.lookup(&case_flip(name, mask));
            prop_assert_eq!(e.v4, &want4[..]);
            prop_assert_eq!(e.v6, &want6[..]);
        }
    }

    /// Arbitrary text never panics, and every warning points at an existing line.
    #[test]
    fn arbitrary_text_is_safe(text in "\\PC{0,400}") {
        let h = HostsFile::parse(&text);
        let lines = text.split('\n').count();
        prop_assert!(h.warnings().iter().all(|w| w.line >= 1 && w.line <= lines));
        // Every stored name is found again, with the same lists, in upper case too.
        for (name, entry) in h.iter() {
            prop_assert_eq!(h.lookup(name), entry);
            prop_assert_eq!(h.lookup(&name.to_ascii_uppercase()), entry);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// No allocation per lookup: a counting global allocator (forwarding to the system allocator) counts
// the allocations the current thread makes while lookups run.

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

#[test]
fn lookups_do_not_allocate() {
    let h = HostsFile::parse(ANYEVENT_FILE);
    let names = [
        "one",
        "ONE.",
        "Six",
        "nothere",
        "a",
        "MAPPED.",
        "",
        ".",
        "x".repeat(300).leak(),
    ];
    let before = ALLOCS.with(Cell::get);
    let mut found = 0usize;
    for _ in 0..100 {
        for n in names {
            let e = h.lookup(n);
            found += e.v4.len() + e.v6.len();
            found += usize::from(h.contains(n));
        }
    }
    let allocs = ALLOCS.with(Cell::get) - before;
    assert_eq!(allocs, 0, "lookups allocated");
    // Addresses plus one per name found: one 3, ONE. 3, Six 2, a 3, MAPPED. 2.
    assert_eq!(found, 100 * 13);
}
