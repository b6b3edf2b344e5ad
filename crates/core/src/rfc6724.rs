//! RFC 6724 destination address selection, as a pure function.
//!
//! The kernel knows which source address it would use for a destination (and whether there is a route
//! at all); this module does not ask it. The adapter finds out (on Linux: a UDP socket `connect()` +
//! `getsockname()`, which sends nothing) and passes, for each destination, a [`Source`]:
//! [`Source::Addr`] with the source address, [`Source::Unreachable`] when there is no route, or
//! [`Source::Unknown`] when it did not look.
//!
//! # Rules implemented (RFC 6724 §6)
//!
//! | rule | what | needs the source |
//! |---|---|---|
//! | 1 | avoid unusable destinations | yes (`Unreachable` sorts last) |
//! | 2 | prefer matching scope | yes |
//! | 3 | avoid deprecated addresses | *not implemented*: address lifetimes are not known here |
//! | 4 | prefer home addresses | *not implemented*: mobile IPv6 is not supported |
//! | 5 | prefer matching label | yes |
//! | 6 | prefer higher precedence | no |
//! | 7 | prefer native transport | *not implemented*: the interface type is not known here |
//! | 8 | prefer smaller scope | no |
//! | 9 | use longest matching prefix | yes; applied to IPv6 pairs only, as Go and glibc's `gai.conf` default do, because IPv4 prefix matching defeats DNS round-robin |
//! | 10 | otherwise, leave the order unchanged | no (the sort is stable) |
//!
//! A rule that needs the source is skipped for a pair when either source is [`Source::Unknown`].
//! IPv4 addresses are looked up in the policy table as IPv4-mapped IPv6 addresses (§2.1), and their
//! scope is link-local for 127.0.0.0/8 and 169.254.0.0/16, global otherwise (§3.2).
//!
//! ```
//! use std::net::IpAddr;
//! use anysock_core::rfc6724;
//!
//! let mut dst: [IpAddr; 3] = ["198.51.100.7".parse().unwrap(), "2001:db8::1".parse().unwrap(),
//!                             "::1".parse().unwrap()];
//! let mut src = [Some("203.0.113.2".parse().unwrap()), None, Some("::1".parse().unwrap())];
//! rfc6724::sort(&mut dst, &mut src);
//! // ::1 matches its source's scope and has the highest precedence; 2001:db8::1 has no route.
//! assert_eq!(dst[0], "::1".parse::<IpAddr>().unwrap());
//! assert_eq!(dst[1], "198.51.100.7".parse::<IpAddr>().unwrap());
//! assert_eq!(dst[2], "2001:db8::1".parse::<IpAddr>().unwrap());
//! ```

use core::cmp::Ordering;
use std::net::{IpAddr, Ipv6Addr};

/// What the adapter knows about the source address the kernel would use for a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Source {
    /// Not looked up: the rules that need a source are skipped.
    #[default]
    Unknown,
    /// No route to the destination (rule 1 sorts it last).
    Unreachable,
    /// The source address the kernel would pick.
    Addr(IpAddr),
}

impl From<Option<IpAddr>> for Source {
    /// `None` means unreachable.
    fn from(src: Option<IpAddr>) -> Self {
        match src {
            Some(a) => Source::Addr(a),
            None => Source::Unreachable,
        }
    }
}

/// Multicast / unicast scope values (RFC 4291 §2.7, RFC 6724 §3.1).
mod scope {
    pub const LINK_LOCAL: u8 = 0x2;
    pub const SITE_LOCAL: u8 = 0x5;
    pub const GLOBAL: u8 = 0xe;
}

/// One row of the default policy table (RFC 6724 §2.1).
struct Policy {
    prefix: [u8; 16],
    len: u32,
    precedence: u8,
    label: u8,
}

const fn p(prefix: u128, len: u32, precedence: u8, label: u8) -> Policy {
    Policy {
        prefix: prefix.to_be_bytes(),
        len,
        precedence,
        label,
    }
}

/// RFC 6724 §2.1 default policy table, longest prefix first.
static POLICY: [Policy; 9] = [
    p(1, 128, 50, 0),               // ::1/128
    p(0xffff_0000_0000, 96, 35, 4), // ::ffff:0:0/96
    p(0, 96, 1, 3),                 // ::/96
    p(0x2001_0000 << 96, 32, 5, 5), // 2001::/32
    p(0x2002 << 112, 16, 30, 2),    // 2002::/16
    p(0x3ffe << 112, 16, 1, 12),    // 3ffe::/16
    p(0xfec0 << 112, 10, 1, 11),    // fec0::/10
    p(0xfc00 << 112, 7, 3, 13),     // fc00::/7
    p(0, 0, 40, 1),                 // ::/0
];

fn as_v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn common_prefix_len(a: &[u8; 16], b: &[u8; 16]) -> u32 {
    let mut n = 0;
    for (x, y) in a.iter().zip(b) {
        let d = x ^ y;
        if d == 0 {
            n += 8;
        } else {
            return n + d.leading_zeros();
        }
    }
    n
}

fn policy(a: IpAddr) -> &'static Policy {
    let o = as_v6(a).octets();
    POLICY
        .iter()
        .find(|row| common_prefix_len(&row.prefix, &o) >= row.len)
        .unwrap_or(&POLICY[POLICY.len() - 1])
}

/// The RFC 6724 precedence of an address in the default policy table.
pub fn precedence(a: IpAddr) -> u8 {
    policy(a).precedence
}

/// The RFC 6724 label of an address in the default policy table.
pub fn label(a: IpAddr) -> u8 {
    policy(a).label
}

/// The scope of an address (RFC 6724 §3.1 for IPv6, §3.2 for IPv4): 2 link-local, 5 site-local,
/// 14 global; multicast addresses carry their own scope.
pub fn scope(a: IpAddr) -> u8 {
    match a {
        IpAddr::V4(v4) => {
            if v4.is_loopback() || v4.is_link_local() {
                scope::LINK_LOCAL
            } else {
                scope::GLOBAL
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return scope(IpAddr::V4(v4));
            }
            let o = v6.octets();
            if o[0] == 0xff {
                o[1] & 0x0f
            } else if v6.is_loopback() || (o[0] == 0xfe && o[1] & 0xc0 == 0x80) {
                scope::LINK_LOCAL
            } else if o[0] == 0xfe && o[1] & 0xc0 == 0xc0 {
                scope::SITE_LOCAL
            } else {
                scope::GLOBAL
            }
        }
    }
}

/// A destination with its source and the policy-table values the rules need, computed once so that
/// sorting does no table lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Destination {
    addr: IpAddr,
    source: Source,
    precedence: u8,
    label: u8,
    scope: u8,
    /// Label and scope of the source (when it is known).
    src_label: u8,
    src_scope: u8,
}

impl Destination {
    /// Looks up the destination's (and its source's) precedence, label and scope.
    pub fn new(addr: IpAddr, source: Source) -> Self {
        let pol = policy(addr);
        let (src_label, src_scope) = match source {
            Source::Addr(s) => (label(s), scope(s)),
            _ => (0, 0),
        };
        Destination {
            addr,
            source,
            precedence: pol.precedence,
            label: pol.label,
            scope: scope(addr),
            src_label,
            src_scope,
        }
    }

    /// The destination address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The source information.
    pub fn source(&self) -> Source {
        self.source
    }
}

/// Compares two prepared destinations: `Less` means `a` is preferred. `Equal` when no implemented
/// rule decides (rule 10 is the caller's stable sort).
pub fn compare_destinations(a: &Destination, b: &Destination) -> Ordering {
    // Rule 1: avoid unusable destinations.
    let a_bad = a.source == Source::Unreachable;
    let b_bad = b.source == Source::Unreachable;
    if a_bad != b_bad {
        return if a_bad {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    let both_known = matches!((a.source, b.source), (Source::Addr(_), Source::Addr(_)));
    let prefer = |pa: bool, pb: bool| -> Option<Ordering> {
        match (pa, pb) {
            (true, false) => Some(Ordering::Less),
            (false, true) => Some(Ordering::Greater),
            _ => None,
        }
    };
    if both_known {
        // Rule 2: prefer matching scope.
        if let Some(o) = prefer(a.scope == a.src_scope, b.scope == b.src_scope) {
            return o;
        }
        // Rule 5: prefer matching label.
        if let Some(o) = prefer(a.label == a.src_label, b.label == b.src_label) {
            return o;
        }
    }
    // Rule 6: prefer higher precedence.
    let o = b.precedence.cmp(&a.precedence);
    if o != Ordering::Equal {
        return o;
    }
    // Rule 8: prefer smaller scope.
    let o = a.scope.cmp(&b.scope);
    if o != Ordering::Equal {
        return o;
    }
    // Rule 9: longest matching prefix (IPv6 destinations and sources only).
    if let (
        IpAddr::V6(da),
        Source::Addr(IpAddr::V6(sa)),
        IpAddr::V6(db),
        Source::Addr(IpAddr::V6(sb)),
    ) = (a.addr, a.source, b.addr, b.source)
    {
        if da.to_ipv4_mapped().is_none() && db.to_ipv4_mapped().is_none() {
            let la = common_prefix_len(&da.octets(), &sa.octets());
            let lb = common_prefix_len(&db.octets(), &sb.octets());
            return lb.cmp(&la);
        }
    }
    // Rule 10: leave the order unchanged.
    Ordering::Equal
}

/// Compares two destinations with their sources: `Less` means `a` is preferred.
///
/// Returns `Equal` when no implemented rule decides (rule 10 is the caller's stable sort).
pub fn compare(a: IpAddr, a_src: Source, b: IpAddr, b_src: Source) -> Ordering {
    compare_destinations(&Destination::new(a, a_src), &Destination::new(b, b_src))
}

/// Sorts `destinations` by RFC 6724, moving `candidate_sources` along with them.
///
/// `candidate_sources[i]` is the source address the kernel would use for `destinations[i]`, or `None`
/// when the destination is unreachable. The sort is stable (rule 10) and does not allocate.
///
/// Slices of different lengths are a caller's bug: a debug assertion fires in debug builds; release
/// builds sort the common prefix.
pub fn sort(destinations: &mut [IpAddr], candidate_sources: &mut [Option<IpAddr>]) {
    debug_assert_eq!(destinations.len(), candidate_sources.len());
    let n = destinations.len().min(candidate_sources.len());
    // Insertion sort: stable, in place, and these lists are short.
    for i in 1..n {
        let mut j = i;
        while j > 0
            && compare(
                destinations[j],
                candidate_sources[j].into(),
                destinations[j - 1],
                candidate_sources[j - 1].into(),
            ) == Ordering::Less
        {
            destinations.swap(j, j - 1);
            candidate_sources.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// Sorts any slice by RFC 6724, taking each element's destination and [`Source`] from `key`.
/// Stable and allocation-free.
pub fn sort_by_key<T>(items: &mut [T], mut key: impl FnMut(&T) -> (IpAddr, Source)) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && {
            let (a, sa) = key(&items[j]);
            let (b, sb) = key(&items[j - 1]);
            compare(a, sa, b, sb) == Ordering::Less
        } {
            items.swap(j, j - 1);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn policy_table_rows() {
        assert_eq!((precedence(ip("::1")), label(ip("::1"))), (50, 0));
        assert_eq!(
            (precedence(ip("2001:db8::1")), label(ip("2001:db8::1"))),
            (40, 1)
        );
        assert_eq!(
            (precedence(ip("198.51.100.1")), label(ip("198.51.100.1"))),
            (35, 4)
        );
        assert_eq!(
            (precedence(ip("2002:c633:6401::1")), label(ip("2002::1"))),
            (30, 2)
        );
        assert_eq!(
            (precedence(ip("2001:0:1::1")), label(ip("2001::1"))),
            (5, 5)
        );
        assert_eq!((precedence(ip("fd00::1")), label(ip("fc01::1"))), (3, 13));
        assert_eq!(
            (precedence(ip("::1.2.3.4")), label(ip("::1.2.3.4"))),
            (1, 3)
        );
        assert_eq!((precedence(ip("fec0::1")), label(ip("fec0::1"))), (1, 11));
        assert_eq!((precedence(ip("3ffe::1")), label(ip("3ffe::1"))), (1, 12));
    }

    #[test]
    fn scopes() {
        assert_eq!(scope(ip("127.0.0.1")), 2);
        assert_eq!(scope(ip("169.254.1.1")), 2);
        assert_eq!(scope(ip("10.0.0.1")), 14);
        assert_eq!(scope(ip("::1")), 2);
        assert_eq!(scope(ip("fe80::1")), 2);
        assert_eq!(scope(ip("fec0::1")), 5);
        assert_eq!(scope(ip("2001:db8::1")), 14);
        assert_eq!(scope(ip("ff05::1")), 5);
        assert_eq!(scope(ip("::ffff:127.0.0.1")), 2);
    }

    // The examples of RFC 6724 §10.2, with documentation prefixes where the RFC uses them.
    fn check(dsts: &[(&str, Option<&str>)], expect: &[&str]) {
        let mut d: Vec<IpAddr> = dsts.iter().map(|(a, _)| ip(a)).collect();
        let mut s: Vec<Option<IpAddr>> = dsts.iter().map(|(_, s)| s.map(ip)).collect();
        sort(&mut d, &mut s);
        let e: Vec<IpAddr> = expect.iter().map(|a| ip(a)).collect();
        assert_eq!(d, e);
    }

    #[test]
    fn rfc_examples() {
        // Prefer matching scope (the global IPv4 destination would use a link-local source).
        check(
            &[
                ("198.51.100.121", Some("169.254.13.78")),
                ("2001:db8:1::1", Some("2001:db8:1::2")),
            ],
            &["2001:db8:1::1", "198.51.100.121"],
        );
        // Prefer matching scope: IPv4 global vs IPv6 link-local source.
        check(
            &[
                ("2001:db8:1::1", Some("fe80::1")),
                ("198.51.100.121", Some("198.51.100.117")),
            ],
            &["198.51.100.121", "2001:db8:1::1"],
        );
        // Prefer higher precedence.
        check(
            &[
                ("2001:db8:1::1", Some("2001:db8:1::2")),
                ("10.1.2.3", Some("10.1.2.4")),
            ],
            &["2001:db8:1::1", "10.1.2.3"],
        );
        // Prefer smaller scope.
        check(
            &[
                ("2001:db8:1::1", Some("2001:db8:1::2")),
                ("fe80::1", Some("fe80::2")),
            ],
            &["fe80::1", "2001:db8:1::1"],
        );
        // Longest matching prefix.
        check(
            &[
                ("2001:db8:1::1", Some("2001:db8:1::2")),
                ("2001:db8:3ffe::1", Some("2001:db8:3f44::2")),
            ],
            &["2001:db8:1::1", "2001:db8:3ffe::1"],
        );
        // Prefer matching label: 6to4 source for a 6to4 destination.
        check(
            &[
                ("2002:c633:6401::1", Some("2002:c633:6401::2")),
                ("2001:db8:1::1", Some("2002:c633:6401::2")),
            ],
            &["2002:c633:6401::1", "2001:db8:1::1"],
        );
        // Unusable destination last.
        check(
            &[
                ("2001:db8:1::1", None),
                ("198.51.100.1", Some("203.0.113.1")),
            ],
            &["198.51.100.1", "2001:db8:1::1"],
        );
    }

    #[test]
    fn unknown_sources_use_destination_rules_only() {
        let mut d = [ip("198.51.100.1"), ip("2001:db8::1"), ip("::1")];
        let mut items: Vec<(IpAddr, Source)> = d.iter().map(|&a| (a, Source::Unknown)).collect();
        sort_by_key(&mut items, |&(a, s)| (a, s));
        d.iter_mut().zip(&items).for_each(|(x, (a, _))| *x = *a);
        assert_eq!(d, [ip("::1"), ip("2001:db8::1"), ip("198.51.100.1")]);
    }

    #[test]
    fn stable_for_equal_keys() {
        let order = ["198.51.100.3", "198.51.100.1", "198.51.100.2"];
        let mut d: Vec<IpAddr> = order.iter().map(|a| ip(a)).collect();
        let mut s = vec![Some(ip("203.0.113.9")); 3];
        sort(&mut d, &mut s);
        assert_eq!(d, order.iter().map(|a| ip(a)).collect::<Vec<_>>());
    }
}
