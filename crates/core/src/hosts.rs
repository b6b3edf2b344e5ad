//! The hosts file (`/etc/hosts`), parsed from text.
//!
//! [`HostsFile::parse`] follows AnyEvent's rules (`_parse_hosts`, semantics doc 1.4) with the policy fixes:
//!
//! - a `#` starts a comment that runs to the end of the line;
//! - the first field is the address: every POSIX IPv4 form ([`parse_ipv4`]: `127.1`, `0x7f.0.0.2`) or
//!   IPv6 text ([`parse_ipv6`]); an IPv4-mapped text such as `::ffff:1.2.3.4` goes into the **IPv6** list,
//!   as AnyEvent does;
//! - every further field (canonical name and aliases alike) is a name for that address; repeated lines
//!   for a name accumulate in file order, in separate IPv4 and IPv6 lists;
//! - names match case-insensitively (ASCII), and a trailing dot is not significant: `foo.`, `FOO` and
//!   `foo` are the same name (B19 fix);
//! - a CRLF file works: `\r` is whitespace (B37 fix);
//! - a bad line (an address that does not parse, or an address without names) is skipped and reported
//!   as a [`HostsWarning`]; the rest of the file still counts (B38 fix: AnyEvent dies on a hex part
//!   above `0xffffffff` and then fails every lookup);
//! - a non-ASCII name is converted with UTS #46 ([`idna::domain_to_ascii`]), so that it matches the
//!   converted name the resolver looks up.
//!
//! Core reads no file: the caller hands over the file's text.
//!
//! ```
//! use anysock_core::hosts::HostsFile;
//! use std::net::Ipv4Addr;
//!
//! let hosts = HostsFile::parse("127.0.0.1 localhost\n10.1.2.3 db.example db # the database\r\n");
//! assert_eq!(hosts.lookup("DB.").v4, &[Ipv4Addr::new(10, 1, 2, 3)]);
//! assert!(hosts.lookup("nope").is_empty());
//! assert!(hosts.warnings().is_empty());
//! ```

use core::cmp::Ordering;
use core::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::addr::{AddrParseError, parse_ipv4, parse_ipv6};

/// A parsed hosts file: names mapped to their IPv4 and IPv6 addresses in file order.
///
/// Lookups do not allocate: names are kept sorted and compared case-insensitively in place.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HostsFile {
    /// Sorted by `name` (lowercase ASCII, no trailing dot).
    names: Vec<NameEntry>,
    v4: Vec<Ipv4Addr>,
    v6: Vec<Ipv6Addr>,
    warnings: Vec<HostsWarning>,
}

#[derive(Clone, PartialEq, Eq)]
struct NameEntry {
    name: Box<str>,
    v4: (u32, u32),
    v6: (u32, u32),
}

/// The addresses a hosts file lists for one name, in file order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostsEntry<'a> {
    /// The IPv4 addresses.
    pub v4: &'a [Ipv4Addr],
    /// The IPv6 addresses (IPv4-mapped text such as `::ffff:1.2.3.4` lands here, as in AnyEvent).
    pub v6: &'a [Ipv6Addr],
}

impl HostsEntry<'_> {
    /// True when the name has no address of either family.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

/// A line of a hosts file that was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HostsWarning {
    /// The 1-based line number.
    pub line: usize,
    /// What was wrong with it.
    pub kind: HostsWarningKind,
}

/// Why a hosts-file line (or one name on it) was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum HostsWarningKind {
    /// The first field is neither an IPv4 nor an IPv6 address; the line is skipped.
    #[error("bad address: {0}")]
    BadAddress(AddrParseError),
    /// The line has an address but no names; it is skipped.
    #[error("address without names")]
    NoNames,
    /// A name that can never match (`.`, `a..`), or a non-ASCII name that UTS #46 cannot convert; that
    /// name is skipped, the others on the line count.
    #[error("field {field} is not a usable host name")]
    BadName {
        /// The 1-based field number on the line (the address is field 1).
        field: usize,
    },
}

impl fmt::Display for HostsWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hosts line {}: {}", self.line, self.kind)
    }
}

/// A hosts-file address, before it is sorted into its family list.
#[derive(Clone, Copy)]
enum HostAddr {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl HostsFile {
    /// An empty hosts file (no names).
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the text of a hosts file. Never fails: bad lines are skipped and listed in
    /// [`warnings`](Self::warnings).
    pub fn parse(text: &str) -> Self {
        // (name, address) in file order; a stable sort by name then groups each name's addresses in
        // file order.
        let mut records: Vec<(String, HostAddr)> = Vec::new();
        let mut warnings = Vec::new();

        for (i, raw) in text.split('\n').enumerate() {
            let line_no = i + 1;
            let line = match raw.find('#') {
                Some(at) => &raw[..at],
                None => raw,
            };
            let mut fields = line.split_ascii_whitespace();
            let Some(addr_text) = fields.next() else {
                continue; // blank or comment-only line
            };
            let addr = match parse_ipv4(addr_text) {
                Ok(a) => HostAddr::V4(a),
                Err(e4) => match parse_ipv6(addr_text) {
                    Ok(a) => HostAddr::V6(a),
                    // For text with a colon the IPv6 error says more; otherwise the IPv4 one.
                    Err(e6) => {
                        let e = if addr_text.contains(':') { e6 } else { e4 };
                        warnings.push(HostsWarning {
                            line: line_no,
                            kind: HostsWarningKind::BadAddress(e),
                        });
                        continue;
                    }
                },
            };
            let mut any_name = false;
            for (j, name) in fields.enumerate() {
                any_name = true;
                let Some(key) = normalise_name(name) else {
                    warnings.push(HostsWarning {
                        line: line_no,
                        kind: HostsWarningKind::BadName { field: j + 2 },
                    });
                    continue;
                };
                records.push((key, addr));
            }
            if !any_name {
                warnings.push(HostsWarning {
                    line: line_no,
                    kind: HostsWarningKind::NoNames,
                });
            }
        }

        records.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = HostsFile {
            names: Vec::new(),
            v4: Vec::new(),
            v6: Vec::new(),
            warnings,
        };
        let mut records = records.into_iter().peekable();
        while let Some((name, first)) = records.next() {
            let (s4, s6) = (out.v4.len() as u32, out.v6.len() as u32);
            let mut push = |a: HostAddr| match a {
                HostAddr::V4(a) => out.v4.push(a),
                HostAddr::V6(a) => out.v6.push(a),
            };
            push(first);
            while let Some((_, a)) = records.next_if(|r| r.0 == name) {
                push(a);
            }
            out.names.push(NameEntry {
                name: name.into_boxed_str(),
                v4: (s4, out.v4.len() as u32),
                v6: (s6, out.v6.len() as u32),
            });
        }
        out
    }

    /// The addresses listed for `name`: matched case-insensitively (ASCII), a trailing dot ignored.
    /// An unknown name gives an empty entry. Does not allocate.
    ///
    /// A non-ASCII `name` matches only if it is spelt exactly as the hosts file's UTS #46 conversion
    /// (that is, in its `xn--` form); callers that resolve a name convert it first, as the resolver does.
    pub fn lookup(&self, name: &str) -> HostsEntry<'_> {
        let name = name.strip_suffix('.').unwrap_or(name);
        match self.names.binary_search_by(|e| cmp_ascii_ci(&e.name, name)) {
            Ok(i) => {
                let e = &self.names[i];
                HostsEntry {
                    v4: &self.v4[e.v4.0 as usize..e.v4.1 as usize],
                    v6: &self.v6[e.v6.0 as usize..e.v6.1 as usize],
                }
            }
            Err(_) => HostsEntry::default(),
        }
    }

    /// True when `name` has at least one address (same matching as [`lookup`](Self::lookup)).
    pub fn contains(&self, name: &str) -> bool {
        !self.lookup(name).is_empty()
    }

    /// The lines that were skipped, in file order.
    pub fn warnings(&self) -> &[HostsWarning] {
        &self.warnings
    }

    /// The number of distinct names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when the file names nothing.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every name (lowercase, without a trailing dot) with its addresses, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, HostsEntry<'_>)> + '_ {
        self.names.iter().map(|e| {
            (
                &*e.name,
                HostsEntry {
                    v4: &self.v4[e.v4.0 as usize..e.v4.1 as usize],
                    v6: &self.v6[e.v6.0 as usize..e.v6.1 as usize],
                },
            )
        })
    }
}

impl fmt::Debug for HostsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostsFile")
            .field("names", &self.names.len())
            .field("v4", &self.v4.len())
            .field("v6", &self.v6.len())
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// The key a hosts name is stored under: ASCII-lowercased, one trailing dot removed, non-ASCII names
/// converted with UTS #46. `None` when the conversion fails.
fn normalise_name(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let key = if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        let ascii = idna::domain_to_ascii(name).ok()?;
        ascii.strip_suffix('.').unwrap_or(&ascii).to_owned()
    };
    // "." and "a..": no lookup could ever match them.
    (!key.is_empty() && !key.ends_with('.')).then_some(key)
}

/// Compares a stored (already lowercase) key with a query, lowercasing the query's ASCII on the fly.
fn cmp_ascii_ci(stored: &str, query: &str) -> Ordering {
    let (a, b) = (stored.as_bytes(), query.as_bytes());
    for (&x, &y) in a.iter().zip(b) {
        let y = y.to_ascii_lowercase();
        if x != y {
            return x.cmp(&y);
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }
    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn basic_lines_and_aliases() {
        let h = HostsFile::parse("192.0.2.1 a.test a\n  \t192.0.2.2\tB.test a # c.test\n");
        assert_eq!(h.lookup("a").v4, &[v4("192.0.2.1"), v4("192.0.2.2")]);
        assert_eq!(h.lookup("a.test").v4, &[v4("192.0.2.1")]);
        assert_eq!(h.lookup("b.TEST").v4, &[v4("192.0.2.2")]);
        assert!(h.lookup("c.test").is_empty());
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn posix_ipv4_forms_and_ipv6() {
        let h = HostsFile::parse("127.1 one\n0x7f.0.0.2 two\n::1 six\n::ffff:1.2.3.4 mapped\n");
        assert_eq!(h.lookup("one").v4, &[v4("127.0.0.1")]);
        assert_eq!(h.lookup("two").v4, &[v4("127.0.0.2")]);
        assert_eq!(h.lookup("six").v6, &[v6("::1")]);
        assert_eq!(h.lookup("mapped").v6, &[v6("::ffff:1.2.3.4")]);
        assert!(h.lookup("mapped").v4.is_empty());
    }

    #[test]
    fn bad_lines_are_warnings() {
        let h = HostsFile::parse("0x100000000 bad\n192.0.2.3 good\n192.0.2.4\nnot-an-address x\n");
        assert_eq!(h.lookup("good").v4, &[v4("192.0.2.3")]);
        assert!(h.lookup("bad").is_empty());
        let w = h.warnings();
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].line, 1);
        assert!(matches!(w[0].kind, HostsWarningKind::BadAddress(_)));
        assert_eq!(
            w[1],
            HostsWarning {
                line: 3,
                kind: HostsWarningKind::NoNames
            }
        );
        assert_eq!(w[2].line, 4);
        assert!(w[0].to_string().starts_with("hosts line 1: bad address"));
    }

    #[test]
    fn crlf_and_trailing_dots() {
        let h = HostsFile::parse("192.0.2.1 crlf-a crlf-b\r\n192.0.2.9 dotted.\r\n");
        assert_eq!(h.lookup("crlf-b").v4, &[v4("192.0.2.1")]);
        assert_eq!(h.lookup("crlf-b.").v4, &[v4("192.0.2.1")]);
        assert_eq!(h.lookup("dotted").v4, &[v4("192.0.2.9")]);
        assert_eq!(h.lookup("DOTTED.").v4, &[v4("192.0.2.9")]);
        assert!(h.warnings().is_empty());
    }

    #[test]
    fn idn_names_are_converted() {
        let h = HostsFile::parse("192.0.2.7 Bücher.test\n");
        assert_eq!(h.lookup("xn--bcher-kva.test").v4, &[v4("192.0.2.7")]);
        let bad = HostsFile::parse("192.0.2.8 ok xn--a\u{e4}.test\n");
        assert_eq!(bad.lookup("ok").v4, &[v4("192.0.2.8")]);
        assert_eq!(
            bad.warnings(),
            &[HostsWarning {
                line: 1,
                kind: HostsWarningKind::BadName { field: 3 }
            }]
        );
    }

    #[test]
    fn case_insensitive_ordering_is_consistent() {
        // Keys that sort differently in upper and lower case must still be found.
        let h = HostsFile::parse("192.0.2.1 _a\n192.0.2.2 za\n192.0.2.3 Zb\n192.0.2.4 [x\n");
        for (n, a) in [
            ("_A", "192.0.2.1"),
            ("ZA", "192.0.2.2"),
            ("zb", "192.0.2.3"),
            ("[X", "192.0.2.4"),
        ] {
            assert_eq!(h.lookup(n).v4, &[v4(a)], "{n}");
        }
    }
}
