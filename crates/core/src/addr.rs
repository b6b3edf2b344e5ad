//! Parsing IP addresses and the `unix/` token, as AnyEvent::Socket does, plus strict variants.
//!
//! Two families of parsers:
//!
//! - **AnyEvent-compatible** ([`parse_ipv4`], [`parse_ipv6`], [`parse_address`]): every form
//!   AnyEvent::Socket accepts, including the POSIX `inet_aton` forms of IPv4 (`10.1`, `0x7f.1`,
//!   `017700000001`, `0377.0377.0377.0377`), the same forms in an IPv6 address's IPv4 tail, and plain
//!   IPv4 text given to the IPv6 parser (returned IPv4-mapped). The deviations from AnyEvent (a trailing
//!   newline is rejected, B2; out-of-range hex/octal parts are an error rather than a Perl exception, B1;
//!   `::` + five groups + an IPv4 tail is accepted, B3) are listed in `docs/deviations.md`.
//! - **Strict** ([`parse_ipv4_strict`], [`parse_ipv6_strict`], [`parse_address_strict`]): only RFC 4291
//!   text (`::` standing for at least one group) and dotted quads of four decimal parts without leading
//!   zeros. These accept exactly what `std`'s `FromStr` impls accept, and never read `010.0.0.1` as octal.
//!
//! None of the parsers allocate.
//!
//! ```
//! use std::net::{Ipv4Addr, Ipv6Addr};
//! use anysock_core::addr::{parse_address, parse_ipv4, parse_ipv4_strict, parse_ipv6, Address};
//!
//! assert_eq!(parse_ipv4("127.1"), Ok(Ipv4Addr::new(127, 0, 0, 1)));
//! assert_eq!(parse_ipv4("0x7f.1"), Ok(Ipv4Addr::new(127, 0, 0, 1)));
//! assert_eq!(parse_ipv4("017700000001"), Ok(Ipv4Addr::new(127, 0, 0, 1)));
//! assert!(parse_ipv4_strict("127.1").is_err());
//! assert_eq!(parse_ipv6("::ffff:1.2"), Ok("::ffff:1.0.0.2".parse::<Ipv6Addr>().unwrap()));
//! assert_eq!(parse_address("::ffff:10.0.0.1"), Ok(Address::V4(Ipv4Addr::new(10, 0, 0, 1))));
//! assert_eq!(parse_address("unix/"), Ok(Address::Unix));
//! ```

use core::fmt;
use core::str::FromStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::target::Family;

/// Why a text is not an address. Byte offsets (`at`) count from the start of the text given to the
/// parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum AddrParseError {
    /// The text is empty.
    #[error("address is empty")]
    Empty,
    /// A character that cannot appear at this place (this includes whitespace, a trailing newline,
    /// brackets and a sign).
    #[error("unexpected character at byte {at}")]
    InvalidChar {
        /// Byte offset of the character.
        at: usize,
    },
    /// An IPv4 part or an IPv6 group is empty (`1..2`, `1.`, `:1::2`, `1::2:`).
    #[error("empty address component at byte {at}")]
    EmptyPart {
        /// Byte offset where the component should start.
        at: usize,
    },
    /// `0x` with no hex digits after it.
    #[error("`0x` without hex digits at byte {at}")]
    HexWithoutDigits {
        /// Byte offset of the `0x`.
        at: usize,
    },
    /// A digit 8 or 9 in an octal IPv4 part (one with a leading `0`, such as `08`).
    #[error("digit 8 or 9 in octal IPv4 part at byte {at}")]
    BadOctalDigit {
        /// Byte offset of the offending digit.
        at: usize,
    },
    /// A leading zero in a decimal part, which the strict parsers reject because POSIX reads it as
    /// octal.
    #[error("leading zero in IPv4 part at byte {at} (ambiguous: octal in POSIX)")]
    LeadingZero {
        /// Byte offset of the part.
        at: usize,
    },
    /// More than four IPv4 parts.
    #[error("more than four IPv4 parts (at byte {at})")]
    TooManyParts {
        /// Byte offset of the fifth part's dot.
        at: usize,
    },
    /// The strict IPv4 parser needs exactly four parts.
    #[error("dotted quad needs four parts, found {found}")]
    TooFewParts {
        /// How many parts there were.
        found: u8,
    },
    /// An IPv4 part's value is too large for its position (`256.1.1.1`; the last part of `a.b` must be
    /// below 2^24), or a hex/octal part exceeds 2^32-1.
    #[error("IPv4 part {part} is out of range")]
    PartOutOfRange {
        /// Index of the part, from 0.
        part: u8,
    },
    /// An IPv6 group of more than four hex digits.
    #[error("IPv6 group at byte {at} has more than four hex digits")]
    GroupTooLong {
        /// Byte offset of the group.
        at: usize,
    },
    /// More than eight IPv6 groups (or more than eight colons).
    #[error("too many IPv6 groups")]
    TooManyGroups,
    /// Fewer than eight IPv6 groups and no `::`.
    #[error("too few IPv6 groups and no `::`")]
    TooFewGroups,
    /// `::` stands for zero groups, which the strict parser rejects (RFC 4291 §2.2: "one or more").
    #[error("`::` at byte {at} stands for no group")]
    EmptyDoubleColon {
        /// Byte offset of the `::`.
        at: usize,
    },
    /// An IPv4 part (a `.`) anywhere but in the last IPv6 group.
    #[error("IPv4 tail at byte {at} is not at the end of the IPv6 address")]
    MisplacedIpv4 {
        /// Byte offset of the group holding the dot.
        at: usize,
    },
    /// A zone or scope id (`%eth0`), which the address parsers do not take.
    #[error("zone id at byte {at} is not supported")]
    ZoneId {
        /// Byte offset of the `%`.
        at: usize,
    },
    /// The text is not `unix/` (from [`parse_unix`]).
    #[error("not the unix/ token")]
    NotUnix,
}

/// A host address: IPv4, IPv6, or the `unix/` token that stands for "a unix-domain socket".
///
/// This is what AnyEvent calls an address "in network form" (4 bytes, 16 bytes, or the `unix/` token),
/// as a typed value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Address {
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address.
    V6(Ipv6Addr),
    /// The `unix/` token: the host part of a unix-domain socket address.
    Unix,
}

impl Address {
    /// The address family ([`address_family`]).
    pub const fn family(&self) -> Family {
        match self {
            Address::V4(_) => Family::V4,
            Address::V6(_) => Family::V6,
            Address::Unix => Family::Unix,
        }
    }

    /// The IP address, or `None` for [`Address::Unix`].
    pub const fn ip(&self) -> Option<IpAddr> {
        match *self {
            Address::V4(a) => Some(IpAddr::V4(a)),
            Address::V6(a) => Some(IpAddr::V6(a)),
            Address::Unix => None,
        }
    }

    /// The address with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) turned into IPv4, as
    /// [`parse_address`] returns it.
    pub const fn to_canonical(self) -> Self {
        match self {
            Address::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Address::V4(v4),
                None => self,
            },
            other => other,
        }
    }
}

impl From<Ipv4Addr> for Address {
    fn from(a: Ipv4Addr) -> Self {
        Address::V4(a)
    }
}

impl From<Ipv6Addr> for Address {
    fn from(a: Ipv6Addr) -> Self {
        Address::V6(a)
    }
}

impl From<IpAddr> for Address {
    fn from(a: IpAddr) -> Self {
        match a {
            IpAddr::V4(a) => Address::V4(a),
            IpAddr::V6(a) => Address::V6(a),
        }
    }
}

/// Parses with the AnyEvent-compatible [`parse_address`].
impl FromStr for Address {
    type Err = AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_address(s)
    }
}

/// Writes [`format_address`](crate::format::format_address)'s text (padding and alignment flags are honoured).
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&crate::format::format_address(self))
    }
}

/// The family of an address (AnyEvent's `address_family`; [`Family::af`] gives the `AF_*` number).
///
/// Unlike AnyEvent, IPv6 availability never changes the answer (B25), and there are no byte strings
/// of other lengths to guess at (B26).
pub const fn address_family(addr: &Address) -> Family {
    addr.family()
}

/// The largest value a hex or octal IPv4 part may have before AnyEvent's Perl code dies (B1).
const PART_MAX: u64 = 0xffff_ffff;
/// A saturating cap for decimal parts: far above every limit, and no overflow in `v * 16 + d`.
const SAT: u64 = 1 << 40;

/// Parses an IPv4 address in every form AnyEvent (and POSIX `inet_aton`) accepts.
///
/// The text is one to four parts separated by single dots. Each part is decimal (`1`-`9` then digits),
/// octal (a leading `0`, digits `0`-`7`) or hex (a lower-case `0x` and at least one hex digit). Every part
/// but the last must be below 256; the last part fills the remaining bytes (`127.1` is 127.0.0.1,
/// `1.2.65535` is 1.2.255.255, `0x7f000001` is 127.0.0.1).
///
/// Deviations from AnyEvent: a trailing newline is rejected (B2); a hex or octal part above 2^32-1
/// is [`AddrParseError::PartOutOfRange`] where Perl dies (B1).
pub fn parse_ipv4(text: &str) -> Result<Ipv4Addr, AddrParseError> {
    match ipv4_fast(text.as_bytes()) {
        Some(v) => Ok(Ipv4Addr::from_bits(v)),
        None => parse_ipv4_full(text),
    }
}

/// [`parse_ipv4`] past its fast path. Kept out of line so that the fast path's caller stays a leaf
/// function (no stack frame, no saved registers) and reaches this with a tail call.
#[cold]
#[inline(never)]
fn parse_ipv4_full(text: &str) -> Result<Ipv4Addr, AddrParseError> {
    ipv4_compat(text.as_bytes(), 0).map(Ipv4Addr::from_bits)
}

/// Parses a strict dotted quad: four decimal parts 0-255 without leading zeros (`0` itself is fine).
///
/// Accepts exactly what `std::net::Ipv4Addr::from_str` accepts.
pub fn parse_ipv4_strict(text: &str) -> Result<Ipv4Addr, AddrParseError> {
    match ipv4_fast(text.as_bytes()) {
        Some(v) => Ok(Ipv4Addr::from_bits(v)),
        None => parse_ipv4_strict_full(text),
    }
}

/// [`parse_ipv4_strict`] past its fast path, out of line as [`parse_ipv4_full`] is.
#[cold]
#[inline(never)]
fn parse_ipv4_strict_full(text: &str) -> Result<Ipv4Addr, AddrParseError> {
    ipv4_strict(text.as_bytes(), 0).map(Ipv4Addr::from_bits)
}

/// Parses an IPv6 address as AnyEvent does: RFC 4291 text, with the extensions AnyEvent has.
///
/// - The IPv4 tail takes every [`parse_ipv4`] form (`::1.2` is `::1.0.0.2`; `::010.0.0.1` is octal,
///   `::8.0.0.1`) (B5).
/// - `::` may stand for zero groups (`1:2:3:4::5:6:7:8`) (B4).
/// - Plain IPv4 text without colons is returned IPv4-mapped (`127.1` gives `::ffff:127.0.0.1`) (B6).
/// - Zone ids and brackets are not accepted.
///
/// Deviations from AnyEvent: a trailing newline is rejected (B2), values that make Perl die are an
/// error (B1), and `::` plus five groups plus an IPv4 tail, valid RFC 4291 text, is accepted (B3).
pub fn parse_ipv6(text: &str) -> Result<Ipv6Addr, AddrParseError> {
    if let Some(g) = ipv6_fast(text.as_bytes()) {
        return Ok(Ipv6Addr::from(g));
    }
    ipv6_parse(text.as_bytes(), 0, false).map(Ipv6Addr::from)
}

/// Parses strict RFC 4291 IPv6 text: 1-4 hex digit groups, at most one `::` standing for at least one
/// group, and an optional dotted-quad tail in [`parse_ipv4_strict`] form.
///
/// Accepts exactly what `std::net::Ipv6Addr::from_str` accepts.
pub fn parse_ipv6_strict(text: &str) -> Result<Ipv6Addr, AddrParseError> {
    if let Some(g) = ipv6_fast(text.as_bytes()) {
        return Ok(Ipv6Addr::from(g));
    }
    ipv6_parse(text.as_bytes(), 0, true).map(Ipv6Addr::from)
}

/// Recognises the `unix/` token (AnyEvent's `parse_unix`): `Ok(Address::Unix)` for exactly `unix/`.
pub fn parse_unix(text: &str) -> Result<Address, AddrParseError> {
    if text == "unix/" {
        Ok(Address::Unix)
    } else {
        Err(AddrParseError::NotUnix)
    }
}

/// Parses any address AnyEvent's `parse_address` takes: IPv6 ([`parse_ipv6`], which includes every
/// IPv4 form), or the `unix/` token.
///
/// An IPv4-mapped result (`::ffff:1.2.3.4`, and plain IPv4 text) becomes [`Address::V4`]; other IPv6
/// addresses, including the IPv4-compatible `::1.2.3.4` and `::ffff:0:1.2.3.4`, stay [`Address::V6`].
/// On failure the error is the IPv6 (or, for text without colons, the IPv4) parser's.
pub fn parse_address(text: &str) -> Result<Address, AddrParseError> {
    address_parse(text, false)
}

/// [`parse_address`] with the strict parsers: a strict dotted quad, strict RFC 4291 IPv6 text (an
/// IPv4-mapped one becomes [`Address::V4`]), or `unix/`.
pub fn parse_address_strict(text: &str) -> Result<Address, AddrParseError> {
    address_parse(text, true)
}

fn address_parse(text: &str, strict: bool) -> Result<Address, AddrParseError> {
    let b = text.as_bytes();
    if strict && !b.contains(&b':') {
        return match ipv4_strict(b, 0) {
            Ok(v) => Ok(Address::V4(Ipv4Addr::from_bits(v))),
            Err(e) => parse_unix(text).map_err(|_| e),
        };
    }
    if let Some(g) = ipv6_fast(b) {
        return Ok(Address::V6(Ipv6Addr::from(g)).to_canonical());
    }
    if let Some(v) = ipv4_fast(b) {
        return Ok(Address::V4(Ipv4Addr::from_bits(v)));
    }
    match ipv6_parse(b, 0, strict) {
        Ok(groups) => Ok(Address::V6(Ipv6Addr::from(groups)).to_canonical()),
        Err(e) => parse_unix(text).map_err(|_| e),
    }
}

/// Fast path for the common case, a decimal dotted quad without leading zeros (text that both the strict
/// and the compatible parser accept, with the same value). `None` means "use the full parser", which
/// also produces the error.
#[inline(always)]
fn ipv4_fast(b: &[u8]) -> Option<u32> {
    let n = b.len();
    if !(7..=15).contains(&n) {
        return None; // a dotted quad is 7 ("0.0.0.0") to 15 ("255.255.255.255") bytes
    }
    // A zeroed copy, so that reads past the text need no bounds checks and find a byte that is
    // neither a digit nor a dot. Two overlapping fixed-size copies fill it without a `memcpy` call.
    let mut buf = [0u8; 24];
    if n >= 8 {
        buf[..8].copy_from_slice(&b[..8]);
        buf[n - 8..n].copy_from_slice(&b[n - 8..]);
    } else {
        buf[..4].copy_from_slice(&b[..4]);
        buf[3..7].copy_from_slice(&b[3..]);
    }
    // The octets in memory order: octet k in bits 8k..8k+8.
    let mut octets = 0u32;
    let mut i = 0; // start of the current part: at most 12, so `buf[i + 3]` is in bounds
    for k in 0..3 {
        // The part ends at the first dot within three bytes. A dot at `i + 3` is tested before one
        // at `i + 2`: `ipv4_part3` rejects a dot among its three bytes.
        let (v, len) = if buf[i + 1] == b'.' {
            (ipv4_part1(&buf, i)?, 1)
        } else if buf[i + 3] == b'.' {
            (ipv4_part3(&buf, i)?, 3)
        } else if buf[i + 2] == b'.' {
            (ipv4_part2(&buf, i)?, 2)
        } else {
            return None;
        };
        octets |= v << (8 * k);
        i += len + 1;
    }
    // The last part runs to the end of the text.
    let v = match n - i {
        1 => ipv4_part1(&buf, i)?,
        2 => ipv4_part2(&buf, i)?,
        3 => ipv4_part3(&buf, i)?,
        _ => return None,
    };
    octets |= v << 24;
    Some(u32::from_be_bytes(octets.to_le_bytes()))
}

/// A one-digit IPv4 part at `buf[i]`.
#[inline(always)]
fn ipv4_part1(buf: &[u8; 24], i: usize) -> Option<u32> {
    let d = buf[i].wrapping_sub(b'0');
    (d <= 9).then_some(u32::from(d))
}

/// A two-digit IPv4 part at `buf[i..i + 2]`, 10-99.
#[inline(always)]
fn ipv4_part2(buf: &[u8; 24], i: usize) -> Option<u32> {
    let d0 = buf[i].wrapping_sub(b'0');
    let d1 = buf[i + 1].wrapping_sub(b'0');
    // `d0 - 1 <= 8`: a first digit 1-9, no leading zero.
    (d0.wrapping_sub(1) <= 8 && d1 <= 9).then_some(u32::from(d0) * 10 + u32::from(d1))
}

/// A three-digit IPv4 part at `buf[i..i + 3]`, 100-255, checked and converted three digits at a time.
#[inline(always)]
fn ipv4_part3(buf: &[u8; 24], i: usize) -> Option<u32> {
    // c0 c1 c2 and the byte after them as one little-endian word, c0 lowest. (`i <= 12`: the
    // fallback is never taken, and one 4-byte load remains.)
    let w = u32::from_le_bytes(*buf[i..].first_chunk().unwrap_or(&[0; 4]));
    // Each byte minus '0' by XOR: a digit becomes 0-9 and any other byte something else; nothing
    // carries between bytes.
    let d = w ^ 0x3030_3030;
    // In the three low bytes: a byte is 10 or more exactly when its low seven bits plus 0x76 reach
    // 0x80, or its top bit is already set. The masked sum stays below 0x100 per byte, so no carry
    // crosses into the next byte.
    if (((d & 0x007f_7f7f) + 0x0076_7676) | d) & 0x0080_8080 != 0 {
        return None;
    }
    // Digits compare like the numbers they spell when read most significant first: the part is
    // 100-255 exactly when c0 c1 c2, read as a big-endian number, lies between "100" and "255" (this
    // also rejects a leading zero). The shift drops the fourth byte.
    let be = w.swap_bytes() >> 8;
    const LO: u32 = u32::from_be_bytes(*b"\x00100");
    const HI: u32 = u32::from_be_bytes(*b"\x00255");
    if be.wrapping_sub(LO) > HI - LO {
        return None;
    }
    // 100*d0 + 10*d1 + d2 in one multiplication: with d0, d1, d2 at bits 0, 8, 16, the factor puts
    // 100*d0, 10*d1 and d2 at bit 24. The partial products below bit 24 add up to at most
    // 99 << 16 | 9 << 8, so nothing carries into bit 24, and those at bit 32 and above (among them
    // every product of the fourth byte) fall outside the word. The value is below 256, so the top
    // byte holds all of it.
    Some(d.wrapping_mul((100 << 24) | (10 << 16) | (1 << 8)) >> 24)
}

/// Hex digit values; 0xff for anything else.
const HEX_VAL: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Fast path for IPv6 text of hex groups only (no IPv4 tail), with at most one `::` standing for at least
/// one group: text that both the strict and the compatible parser accept, with the same value. `None`
/// means "use the full parser", which also produces the error.
#[inline]
fn ipv6_fast(b: &[u8]) -> Option<[u16; 8]> {
    let n = b.len();
    if !(2..=39).contains(&n) {
        return None;
    }
    let mut g = [0u16; 8];
    let mut ng = 0usize;
    let mut dc = usize::MAX;
    let mut i = 0;
    if b[0] == b':' {
        if b[1] != b':' {
            return None;
        }
        dc = 0;
        i = 2;
        if i == n {
            return Some(g);
        }
    }
    loop {
        let start = i;
        let mut v = 0u32;
        while i < n {
            let d = HEX_VAL[usize::from(b[i])];
            if d > 15 {
                break;
            }
            v = v << 4 | u32::from(d);
            i += 1;
        }
        if i == start || i - start > 4 || ng == 8 {
            return None;
        }
        g[ng] = v as u16;
        ng += 1;
        if i == n {
            break;
        }
        if b[i] != b':' {
            return None;
        }
        i += 1;
        if i == n {
            return None;
        }
        if b[i] == b':' {
            if dc != usize::MAX {
                return None;
            }
            dc = ng;
            i += 1;
            if i == n {
                break;
            }
        }
    }
    if dc == usize::MAX {
        return (ng == 8).then_some(g);
    }
    if ng == 8 {
        return None;
    }
    let tail = ng - dc;
    let mut out = [0u16; 8];
    out[..dc].copy_from_slice(&g[..dc]);
    out[8 - tail..].copy_from_slice(&g[dc..ng]);
    Some(out)
}

/// The compatible IPv4 parser on bytes; `base` is added to reported offsets.
pub(crate) fn ipv4_compat(b: &[u8], base: usize) -> Result<u32, AddrParseError> {
    use AddrParseError as E;
    if b.is_empty() {
        return Err(E::Empty);
    }
    let mut parts = [0u64; 4];
    let mut n = 0usize;
    let mut i = 0usize;
    let mut wide = None; // index of a hex/octal part above 2^32-1
    loop {
        let start = i;
        let v = match b[i] {
            b'0' if b.get(i + 1) == Some(&b'x') => {
                i += 2;
                let mut v = 0u64;
                while let Some(d) = b.get(i).and_then(|&c| hex_val(c)) {
                    v = (v * 16 + u64::from(d)).min(SAT);
                    i += 1;
                }
                if i == start + 2 {
                    return Err(E::HexWithoutDigits { at: base + start });
                }
                v
            }
            b'0' => {
                i += 1;
                let mut v = 0u64;
                while let Some(&c @ b'0'..=b'7') = b.get(i) {
                    v = (v * 8 + u64::from(c - b'0')).min(SAT);
                    i += 1;
                }
                if let Some(b'8' | b'9') = b.get(i) {
                    return Err(E::BadOctalDigit { at: base + i });
                }
                v
            }
            b'1'..=b'9' => {
                let mut v = 0u64;
                while let Some(&c @ b'0'..=b'9') = b.get(i) {
                    v = (v * 10 + u64::from(c - b'0')).min(SAT);
                    i += 1;
                }
                v
            }
            b'.' => return Err(E::EmptyPart { at: base + i }),
            _ => return Err(E::InvalidChar { at: base + i }),
        };
        if v > PART_MAX && b[start] == b'0' && wide.is_none() {
            wide = Some(n);
        }
        parts[n] = v;
        n += 1;
        match b.get(i) {
            None => break,
            Some(b'.') => {
                if n == 4 {
                    return Err(E::TooManyParts { at: base + i });
                }
                i += 1;
                if i == b.len() {
                    return Err(E::EmptyPart { at: base + i });
                }
            }
            Some(_) => return Err(E::InvalidChar { at: base + i }),
        }
    }
    if let Some(part) = wide {
        return Err(E::PartOutOfRange { part: part as u8 });
    }
    combine(&parts[..n])
}

fn combine(parts: &[u64]) -> Result<u32, AddrParseError> {
    let n = parts.len();
    let mut acc = 0u32;
    for (k, &p) in parts[..n - 1].iter().enumerate() {
        if p >= 256 {
            return Err(AddrParseError::PartOutOfRange { part: k as u8 });
        }
        acc |= (p as u32) << (24 - 8 * k);
    }
    let last = parts[n - 1];
    let bits = 8 * (5 - n as u32);
    if bits < 64 && last >= 1u64 << bits {
        return Err(AddrParseError::PartOutOfRange {
            part: (n - 1) as u8,
        });
    }
    Ok(acc | last as u32)
}

/// The strict dotted-quad parser on bytes.
pub(crate) fn ipv4_strict(b: &[u8], base: usize) -> Result<u32, AddrParseError> {
    use AddrParseError as E;
    if b.is_empty() {
        return Err(E::Empty);
    }
    let mut acc = 0u32;
    let mut n = 0u8;
    let mut i = 0usize;
    loop {
        let start = i;
        let mut v = 0u32;
        while let Some(&c @ b'0'..=b'9') = b.get(i) {
            if i - start == 3 {
                return Err(E::PartOutOfRange { part: n });
            }
            v = v * 10 + u32::from(c - b'0');
            i += 1;
        }
        if i == start {
            return Err(if b.get(i).is_none_or(|&c| c == b'.') {
                E::EmptyPart { at: base + i }
            } else {
                E::InvalidChar { at: base + i }
            });
        }
        if b[start] == b'0' && i - start > 1 {
            return Err(E::LeadingZero { at: base + start });
        }
        if v > 255 {
            return Err(E::PartOutOfRange { part: n });
        }
        acc = acc << 8 | v;
        n += 1;
        match b.get(i) {
            None if n == 4 => return Ok(acc),
            None => return Err(E::TooFewParts { found: n }),
            Some(b'.') if n == 4 => return Err(E::TooManyParts { at: base + i }),
            Some(b'.') => i += 1,
            Some(_) => return Err(E::InvalidChar { at: base + i }),
        }
    }
}

#[inline]
fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The IPv6 parser on bytes, compatible (`strict == false`) or strict; `base` is added to offsets.
pub(crate) fn ipv6_parse(b: &[u8], base: usize, strict: bool) -> Result<[u16; 8], AddrParseError> {
    use AddrParseError as E;
    if b.is_empty() {
        return Err(E::Empty);
    }
    let colons = b.iter().filter(|&&c| c == b':').count();
    if colons == 0 {
        if strict {
            return Err(first_bad_v6(b, base).unwrap_or(E::TooFewGroups));
        }
        let v4 = ipv4_compat(b, base)?;
        let mut g = [0u16; 8];
        g[5] = 0xffff;
        g[6] = (v4 >> 16) as u16;
        g[7] = v4 as u16;
        return Ok(g);
    }
    if colons == 1 {
        return Err(first_bad_v6(b, base).unwrap_or(E::TooFewGroups));
    }
    if colons > 8 {
        return Err(E::TooManyGroups);
    }
    let dc = b.windows(2).position(|w| w == b"::");
    let mut groups = [0u16; 8];
    let mut ng = 0usize;
    let head_len;
    match dc {
        Some(d) => {
            fields(b, 0, d, false, strict, base, &mut groups, &mut ng)?;
            head_len = ng;
            fields(b, d + 2, b.len(), true, strict, base, &mut groups, &mut ng)?;
            if strict && ng == 8 {
                return Err(E::EmptyDoubleColon { at: base + d });
            }
        }
        None => {
            fields(b, 0, b.len(), true, strict, base, &mut groups, &mut ng)?;
            if ng != 8 {
                return Err(E::TooFewGroups);
            }
            return Ok(groups);
        }
    }
    // Move the tail groups to the end; zeros fill the `::`.
    let tail = ng - head_len;
    let mut out = [0u16; 8];
    out[..head_len].copy_from_slice(&groups[..head_len]);
    out[8 - tail..].copy_from_slice(&groups[head_len..ng]);
    Ok(out)
}

/// For error reporting: the first byte that can never be in IPv6 text.
fn first_bad_v6(b: &[u8], base: usize) -> Option<AddrParseError> {
    b.iter()
        .position(|&c| !(c.is_ascii_hexdigit() || c == b':' || c == b'.'))
        .map(|at| {
            if b[at] == b'%' {
                AddrParseError::ZoneId { at: base + at }
            } else {
                AddrParseError::InvalidChar { at: base + at }
            }
        })
}

/// Parses the `:`-separated fields of `b[from..to]` into `groups`. An empty range has no fields.
/// `tail_ok`: the last field may be an IPv4 tail.
#[allow(clippy::too_many_arguments)]
fn fields(
    b: &[u8],
    from: usize,
    to: usize,
    tail_ok: bool,
    strict: bool,
    base: usize,
    groups: &mut [u16; 8],
    ng: &mut usize,
) -> Result<(), AddrParseError> {
    use AddrParseError as E;
    if from == to {
        return Ok(());
    }
    let mut i = from;
    loop {
        let start = i;
        let mut v = 0u32;
        while let Some(d) = b.get(i).filter(|_| i < to).and_then(|&c| hex_val(c)) {
            v = v << 4 | u32::from(d);
            i += 1;
        }
        let end_of_field = i == to || b[i] == b':';
        if !end_of_field {
            if b[i] == b'.' || (i < to && b[start..to].contains(&b'.')) {
                // An IPv4 tail: the field runs to the end of the range.
                if !tail_ok || b[start..to].contains(&b':') {
                    return Err(E::MisplacedIpv4 { at: base + start });
                }
                if *ng + 2 > 8 {
                    return Err(E::TooManyGroups);
                }
                let v4 = if let Some(v) = ipv4_fast(&b[start..to]) {
                    v
                } else if strict {
                    ipv4_strict(&b[start..to], base + start)?
                } else {
                    ipv4_compat(&b[start..to], base + start)?
                };
                groups[*ng] = (v4 >> 16) as u16;
                groups[*ng + 1] = v4 as u16;
                *ng += 2;
                return Ok(());
            }
            return Err(if b[i] == b'%' {
                E::ZoneId { at: base + i }
            } else {
                E::InvalidChar { at: base + i }
            });
        }
        if i == start {
            return Err(E::EmptyPart { at: base + start });
        }
        if i - start > 4 {
            return Err(E::GroupTooLong { at: base + start });
        }
        if *ng == 8 {
            return Err(E::TooManyGroups);
        }
        groups[*ng] = v as u16;
        *ng += 1;
        if i == to {
            return Ok(());
        }
        i += 1; // the ':'
        if i == to {
            return Err(E::EmptyPart { at: base + i });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Option<[u8; 4]> {
        parse_ipv4(s).ok().map(|a| a.octets())
    }
    fn v6(s: &str) -> Option<String> {
        parse_ipv6(s)
            .ok()
            .map(|a| crate::format::format_ipv6(a).to_string())
    }

    #[test]
    fn ipv4_posix_forms() {
        assert_eq!(v4("10.1"), Some([10, 0, 0, 1]));
        assert_eq!(v4("0x7f.1"), Some([127, 0, 0, 1]));
        assert_eq!(v4("017700000001"), Some([127, 0, 0, 1]));
        assert_eq!(v4("0377.0377.0377.0377"), Some([255; 4]));
        assert_eq!(v4("1.2.65535"), Some([1, 2, 255, 255]));
        assert_eq!(v4("10.0x020304"), Some([10, 2, 3, 4]));
        assert_eq!(v4("0x12345678"), Some([0x12, 0x34, 0x56, 0x78]));
        assert_eq!(v4("00000000000000000000001"), Some([0, 0, 0, 1]));
        assert_eq!(v4("0"), Some([0; 4]));
        assert_eq!(v4("4294967295"), Some([255; 4]));
        assert_eq!(v4("0xAbC"), Some([0, 0, 0x0a, 0xbc]));
    }

    #[test]
    fn ipv4_rejections() {
        use AddrParseError as E;
        assert_eq!(parse_ipv4(""), Err(E::Empty));
        assert_eq!(parse_ipv4("1.2.3.4."), Err(E::TooManyParts { at: 7 }));
        assert_eq!(parse_ipv4("1.2.3."), Err(E::EmptyPart { at: 6 }));
        assert_eq!(parse_ipv4(".1"), Err(E::EmptyPart { at: 0 }));
        assert_eq!(parse_ipv4("1..2"), Err(E::EmptyPart { at: 2 }));
        assert_eq!(parse_ipv4("0X10"), Err(E::InvalidChar { at: 1 }));
        assert_eq!(parse_ipv4("0x"), Err(E::HexWithoutDigits { at: 0 }));
        assert_eq!(parse_ipv4("08"), Err(E::BadOctalDigit { at: 1 }));
        assert_eq!(parse_ipv4("019"), Err(E::BadOctalDigit { at: 2 }));
        assert_eq!(parse_ipv4("1.2.3.4.5"), Err(E::TooManyParts { at: 7 }));
        assert_eq!(parse_ipv4("256.1"), Err(E::PartOutOfRange { part: 0 }));
        assert_eq!(parse_ipv4("1.16777216"), Err(E::PartOutOfRange { part: 1 }));
        assert_eq!(parse_ipv4("4294967296"), Err(E::PartOutOfRange { part: 0 }));
        assert_eq!(
            parse_ipv4("99999999999999999999"),
            Err(E::PartOutOfRange { part: 0 })
        );
        assert_eq!(parse_ipv4(" 1.2.3.4"), Err(E::InvalidChar { at: 0 }));
        assert_eq!(parse_ipv4("١.٢.٣.٤"), Err(E::InvalidChar { at: 0 }));
        assert_eq!(parse_ipv4("+1"), Err(E::InvalidChar { at: 0 }));
    }

    #[test]
    fn b1_wide_hex_octal_is_an_error_not_a_panic() {
        use AddrParseError as E;
        assert_eq!(
            parse_ipv4("0x100000000"),
            Err(E::PartOutOfRange { part: 0 })
        );
        assert_eq!(
            parse_ipv4("040000000000"),
            Err(E::PartOutOfRange { part: 0 })
        );
        // Perl dies here even though part 0 is already out of range: we report the wide part.
        assert_eq!(
            parse_ipv4("300.2.3.0x100000000"),
            Err(E::PartOutOfRange { part: 3 })
        );
        assert!(parse_ipv6("::1.2.3.0x100000000").is_err());
        assert!(parse_address("::1\n").is_err());
    }

    #[test]
    fn b2_trailing_newline_rejected() {
        assert_eq!(
            parse_ipv4("1.2.3.4\n"),
            Err(AddrParseError::InvalidChar { at: 7 })
        );
        assert!(parse_ipv4("010\n").is_err());
        assert!(parse_ipv6("::1.2.3.4\n").is_err());
        assert!(parse_ipv6("::1\n").is_err());
    }

    #[test]
    fn ipv6_forms() {
        assert_eq!(v6("::"), Some("::".into()));
        assert_eq!(v6("::1"), Some("::1".into()));
        assert_eq!(v6("1:2:3:4:5:6:7:8"), Some("1:2:3:4:5:6:7:8".into()));
        assert_eq!(v6("2002:5345::10.0.0.1"), Some("2002:5345::a00:1".into()));
        assert_eq!(v6("192.89.98.1"), Some("::ffff:192.89.98.1".into()));
        assert_eq!(v6("ABCD::eF"), Some("abcd::ef".into()));
        assert_eq!(v6("0000::0001"), Some("::1".into()));
        assert_eq!(v6("1::"), Some("1::".into()));
    }

    #[test]
    fn b3_b4_b5_b6() {
        // B3 (fixed): `::` + 5 groups + IPv4 tail.
        assert_eq!(
            v6("::1:2:3:4:5:1.2.3.4"),
            Some("0:1:2:3:4:5:102:304".into())
        );
        assert_eq!(
            v6("::2:3:4:5:6:1.2.3.4"),
            Some("0:2:3:4:5:6:102:304".into())
        );
        assert_eq!(v6("1:2:3:4:5:6:7::1.2.3.4"), None);
        // B4 (kept): `::` for zero groups.
        assert_eq!(v6("1:2:3:4::5:6:7:8"), Some("1:2:3:4:5:6:7:8".into()));
        assert_eq!(v6("1:2:3:4:5:6:7::"), Some("1:2:3:4:5:6:7:0".into()));
        assert!(parse_ipv6_strict("1:2:3:4::5:6:7:8").is_err());
        // B5 (kept): inet_aton tail forms.
        assert_eq!(v6("::ffff:010.0.0.1"), Some("::ffff:8.0.0.1".into()));
        assert_eq!(v6("::1.2"), Some("::1.0.0.2".into()));
        assert!(parse_ipv6_strict("::ffff:010.0.0.1").is_err());
        // B6 (kept): plain IPv4 becomes mapped.
        assert_eq!(v6("127.1"), Some("::ffff:127.0.0.1".into()));
        assert!(parse_ipv6_strict("127.0.0.1").is_err());
    }

    #[test]
    fn ipv6_rejections() {
        use AddrParseError as E;
        for bad in [
            "1::2:",
            ":1::2",
            "1:::2",
            "1::2::3",
            "00001::",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:8:9",
            "[::1]",
            "1:2",
            "::1.2.3.4:1",
            "1.2.3.4::",
            "::g",
            "",
        ] {
            assert!(parse_ipv6(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_ipv6("fe80::1%eth0"), Err(E::ZoneId { at: 7 }));
        assert_eq!(parse_ipv6("12345::"), Err(E::GroupTooLong { at: 0 }));
    }

    #[test]
    fn address_and_unix() {
        assert_eq!(
            parse_address("::ffff:1.2.3.4"),
            Ok(Address::V4(Ipv4Addr::new(1, 2, 3, 4)))
        );
        assert_eq!(
            parse_address("10.1.2.3"),
            Ok(Address::V4(Ipv4Addr::new(10, 1, 2, 3)))
        );
        assert!(matches!(parse_address("::1.2.3.4"), Ok(Address::V6(_))));
        assert!(matches!(
            parse_address("::ffff:0:1.2.3.4"),
            Ok(Address::V6(_))
        ));
        assert_eq!(parse_address("unix/"), Ok(Address::Unix));
        assert_eq!(parse_unix("unix/"), Ok(Address::Unix));
        assert_eq!(parse_unix("unix/\n"), Err(AddrParseError::NotUnix));
        assert!(parse_address("localhost").is_err());
        assert_eq!(
            "127.1".parse::<Address>(),
            Ok(Address::V4(Ipv4Addr::LOCALHOST))
        );
        assert_eq!(parse_address_strict("unix/"), Ok(Address::Unix));
        assert_eq!(
            parse_address_strict("::ffff:1.2.3.4"),
            Ok(Address::V4(Ipv4Addr::new(1, 2, 3, 4)))
        );
        assert!(parse_address_strict("127.1").is_err());
        assert_eq!(address_family(&Address::Unix), Family::Unix);
    }

    #[test]
    fn fast_paths_agree_with_full_parsers() {
        for s in [
            "1.2.3.4",
            "255.255.255.255",
            "0.0.0.0",
            "01.2.3.4",
            "1.2.3",
            "256.1.1.1",
            "1.2.3.4.5",
            "1234.1.1.1",
            "1..2.3",
            "999999999999999",
            "1.2.3.4 ",
            ".1.2.3",
        ] {
            if let Some(v) = ipv4_fast(s.as_bytes()) {
                assert_eq!(ipv4_compat(s.as_bytes(), 0), Ok(v), "{s}");
                assert_eq!(ipv4_strict(s.as_bytes(), 0), Ok(v), "{s}");
            }
        }
        for s in [
            "::",
            "::1",
            "1::",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4::5:6:7:8",
            ":1",
            "1:",
            "1:::2",
            "1::2::3",
            "12345::",
            "abcd:EF01::9",
            "1:2:3:4:5:6:7:8::",
            "::1.2.3.4",
            "fe80::1%1",
        ] {
            if let Some(g) = ipv6_fast(s.as_bytes()) {
                assert_eq!(ipv6_parse(s.as_bytes(), 0, false), Ok(g), "{s}");
                assert_eq!(ipv6_parse(s.as_bytes(), 0, true), Ok(g), "{s}");
            }
        }
        assert!(ipv4_fast(b"1.2.3.4").is_some());
        assert!(ipv6_fast(b"2001:db8::1").is_some());
        assert!(ipv6_fast(b"1:2:3:4::5:6:7:8").is_none()); // B4 form: left to the full parser
    }

    /// What `ipv4_fast` must accept, written the plain way: four parts of one to three ASCII digits
    /// without a leading zero, 0-255, separated by single dots, nothing else.
    fn ipv4_fast_reference(b: &[u8]) -> Option<u32> {
        let mut parts = b.split(|&c| c == b'.');
        let mut acc = 0u32;
        for _ in 0..4 {
            let p = parts.next()?;
            if p.is_empty()
                || p.len() > 3
                || !p.iter().all(u8::is_ascii_digit)
                || (p.len() > 1 && p[0] == b'0')
            {
                return None;
            }
            let v = p.iter().fold(0, |v, &c| v * 10 + u32::from(c - b'0'));
            if v > 255 {
                return None;
            }
            acc = acc << 8 | v;
        }
        parts.next().is_none().then_some(acc)
    }

    /// `ipv4_fast` agrees with the reference, and whatever it accepts both full parsers accept with
    /// the same value.
    fn check_ipv4_fast(b: &[u8]) {
        let got = ipv4_fast(b);
        assert_eq!(
            got,
            ipv4_fast_reference(b),
            "{:?}",
            String::from_utf8_lossy(b)
        );
        if let Some(v) = got {
            assert_eq!(ipv4_compat(b, 0), Ok(v), "{:?}", String::from_utf8_lossy(b));
            assert_eq!(ipv4_strict(b, 0), Ok(v), "{:?}", String::from_utf8_lossy(b));
        }
    }

    /// Parts of every length 0-4: the limits of each length, leading zeros, 256, 299, 999.
    const IPV4_PARTS: [&str; 21] = [
        "", "0", "7", "9", "00", "01", "10", "99", "000", "010", "100", "199", "200", "249", "250",
        "255", "256", "299", "999", "1000", "0255",
    ];

    #[test]
    fn ipv4_fast_every_part_length_combination() {
        for a in IPV4_PARTS {
            for b in IPV4_PARTS {
                for c in IPV4_PARTS {
                    for d in IPV4_PARTS {
                        check_ipv4_fast(format!("{a}.{b}.{c}.{d}").as_bytes());
                    }
                }
            }
        }
        // Three and five parts, and no dots at all.
        for a in IPV4_PARTS {
            for b in IPV4_PARTS {
                check_ipv4_fast(format!("{a}.{b}.1").as_bytes());
                check_ipv4_fast(format!("1.{a}.{b}.1.1").as_bytes());
                check_ipv4_fast(format!("1.2.3.4{a}{b}").as_bytes());
            }
        }
        assert_eq!(ipv4_fast(b"0.0.0.0"), Some(0));
        assert_eq!(ipv4_fast(b"255.255.255.255"), Some(u32::MAX));
        assert_eq!(ipv4_fast(b"192.168.100.200"), Some(0xc0a8_64c8));
        assert_eq!(ipv4_fast(b"1.22.233.4"), Some(0x0116_e904));
    }

    /// Valid quads of every length 7-15 with every byte value at every position, and with a byte
    /// inserted or removed anywhere (lengths 6-16).
    #[test]
    fn ipv4_fast_every_byte_at_every_position() {
        let mut bases = Vec::new();
        for a in ["1", "10", "255"] {
            for b in ["0", "99", "100"] {
                for c in ["9", "25", "249"] {
                    for d in ["5", "55", "200"] {
                        bases.push(format!("{a}.{b}.{c}.{d}").into_bytes());
                    }
                }
            }
        }
        for base in &bases {
            check_ipv4_fast(base);
            for at in 0..base.len() {
                let mut t = base.clone();
                for byte in 0..=255u8 {
                    t[at] = byte;
                    check_ipv4_fast(&t);
                }
                let mut t = base.clone();
                t.remove(at);
                check_ipv4_fast(&t);
            }
            for at in 0..=base.len() {
                for byte in [
                    0, b' ', b'-', b'.', b'/', b'0', b'1', b'9', b':', b'x', 0x80, 0xff,
                ] {
                    let mut t = base.clone();
                    t.insert(at, byte);
                    check_ipv4_fast(&t);
                }
            }
        }
    }

    /// Every text of 6 to 8 bytes over digits, the dot and its neighbours '/' and ':'.
    #[test]
    fn ipv4_fast_exhaustive_short_texts() {
        const ALPHABET: &[u8] = b"0125./:";
        for len in 6..=8u32 {
            for mut k in 0..(ALPHABET.len() as u64).pow(len) {
                let mut t = [0u8; 8];
                for c in &mut t[..len as usize] {
                    *c = ALPHABET[(k % ALPHABET.len() as u64) as usize];
                    k /= ALPHABET.len() as u64;
                }
                check_ipv4_fast(&t[..len as usize]);
            }
        }
    }

    #[test]
    fn strict_matches_std_on_samples() {
        for s in [
            "1.2.3.4",
            "01.2.3.4",
            "1.2.3",
            "256.0.0.0",
            "0.0.0.0",
            "255.255.255.255",
            "1.2.3.4.",
            "1.2.3.04",
            "0x1.2.3.4",
            "",
            "1..2.3",
            "1.2.3.4 ",
            "1234.1.1.1",
        ] {
            assert_eq!(
                parse_ipv4_strict(s).ok(),
                s.parse::<Ipv4Addr>().ok(),
                "{s:?}"
            );
        }
        for s in [
            "::",
            "::1",
            "1::",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4::5:6:7:8",
            "::1.2.3.4",
            "::ffff:1.2.3.4",
            "1:2:3:4:5:6:1.2.3.4",
            "::1:2:3:4:5:1.2.3.4",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::01.2.3.4",
            "::1.2",
            "1.2.3.4",
            ":::",
            "1:::2",
            "ABCD::",
            "00000::",
            "::1.2.3.4:5",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            ":1::",
            "::1:",
        ] {
            assert_eq!(
                parse_ipv6_strict(s).ok(),
                s.parse::<Ipv6Addr>().ok(),
                "{s:?}"
            );
        }
    }
}
