//! Formatting addresses exactly as AnyEvent::Socket does, without heap allocation.
//!
//! [`format_ipv4`], [`format_ipv6`] and [`format_address`] return an [`AddrText`], a small `Copy` stack
//! buffer that dereferences to `&str`. [`write_ipv4`], [`write_ipv6`] and [`write_address`] write into a
//! caller's byte buffer instead. Call `.to_string()` on an [`AddrText`] when a `String` is wanted.
//!
//! IPv6 text follows AnyEvent (and RFC 5952 §4): lower-case hex without leading zeros, the longest run
//! of two or more zero groups becomes `::` (the leftmost on ties; a single zero group is never
//! compressed). Addresses whose first 64 bits are zero get AnyEvent's mixed forms (B8, kept):
//! `::a.b.c.d` (IPv4-compatible, for every `0::/96` address other than `::` and `::1`),
//! `::ffff:a.b.c.d` (mapped) and `::ffff:0:a.b.c.d` (SIIT).
//!
//! ```
//! use std::net::Ipv6Addr;
//! use anysock_core::format::{format_ipv6, write_ipv6};
//!
//! assert_eq!(&*format_ipv6(Ipv6Addr::new(1, 0, 0, 2, 0, 0, 0, 3)), "1:0:0:2::3");
//! assert_eq!(&*format_ipv6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 2)), "::0.0.0.2");
//! let mut buf = [0u8; 64];
//! let n = write_ipv6(Ipv6Addr::LOCALHOST, &mut buf).unwrap();
//! assert_eq!(&buf[..n], b"::1");
//! ```

use core::fmt;
use core::ops::Deref;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::addr::Address;

/// The longest text [`format_ipv4`] produces (`255.255.255.255`).
pub const IPV4_TEXT_MAX: usize = 15;
/// The longest text [`format_ipv6`] produces (eight four-digit groups).
pub const IPV6_TEXT_MAX: usize = 39;
/// The longest text [`format_address`] produces.
pub const ADDRESS_TEXT_MAX: usize = IPV6_TEXT_MAX;

/// An address as text, in a fixed stack buffer. Dereferences to `&str`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddrText {
    len: u8,
    buf: [u8; ADDRESS_TEXT_MAX],
}

impl AddrText {
    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written, so this cannot fail; an empty string would show a bug.
        core::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl Deref for AddrText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for AddrText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for AddrText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for AddrText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for AddrText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for AddrText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The caller's buffer is too small for the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("buffer of {have} bytes is too small; the text needs {need}")]
pub struct BufferTooSmall {
    /// Bytes the text needs.
    pub need: usize,
    /// Bytes the buffer has.
    pub have: usize,
}

/// A dotted quad (`1.2.3.4`); AnyEvent's `format_ipv4`.
pub fn format_ipv4(addr: Ipv4Addr) -> AddrText {
    let mut t = AddrText {
        len: 0,
        buf: [0; ADDRESS_TEXT_MAX],
    };
    t.len = put_ipv4(&mut t.buf, 0, addr.octets()) as u8;
    t
}

/// IPv6 text exactly as AnyEvent's `format_ipv6` writes it (see the module docs).
pub fn format_ipv6(addr: Ipv6Addr) -> AddrText {
    let mut t = AddrText {
        len: 0,
        buf: [0; ADDRESS_TEXT_MAX],
    };
    t.len = put_ipv6(&mut t.buf, addr) as u8;
    t
}

/// AnyEvent's `format_address`: a dotted quad for IPv4 **and for IPv4-mapped IPv6** (B9, kept),
/// [`format_ipv6`] for other IPv6 addresses, `unix/` for [`Address::Unix`].
pub fn format_address(addr: &Address) -> AddrText {
    match *addr {
        Address::V4(a) => format_ipv4(a),
        Address::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => format_ipv4(v4),
            None => format_ipv6(a),
        },
        Address::Unix => {
            let mut t = AddrText {
                len: 5,
                buf: [0; ADDRESS_TEXT_MAX],
            };
            t.buf[..5].copy_from_slice(b"unix/");
            t
        }
    }
}

fn copy_out(text: &AddrText, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let n = usize::from(text.len);
    match out.get_mut(..n) {
        Some(dst) => {
            dst.copy_from_slice(&text.buf[..n]);
            Ok(n)
        }
        None => Err(BufferTooSmall {
            need: n,
            have: out.len(),
        }),
    }
}

/// Writes [`format_ipv4`]'s text into `out`, returning its length.
pub fn write_ipv4(addr: Ipv4Addr, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    copy_out(&format_ipv4(addr), out)
}

/// Writes [`format_ipv6`]'s text into `out`, returning its length.
pub fn write_ipv6(addr: Ipv6Addr, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    copy_out(&format_ipv6(addr), out)
}

/// Writes [`format_address`]'s text into `out`, returning its length.
pub fn write_address(addr: &Address, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    copy_out(&format_address(addr), out)
}

const DIGITS2: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

#[inline]
fn put_u8(buf: &mut [u8], mut at: usize, v: u8) -> usize {
    if v >= 100 {
        buf[at] = b'0' + v / 100;
        at += 1;
        let r = usize::from(v % 100) * 2;
        buf[at..at + 2].copy_from_slice(&DIGITS2[r..r + 2]);
        at + 2
    } else if v >= 10 {
        let r = usize::from(v) * 2;
        buf[at..at + 2].copy_from_slice(&DIGITS2[r..r + 2]);
        at + 2
    } else {
        buf[at] = b'0' + v;
        at + 1
    }
}

#[inline]
fn put_ipv4(buf: &mut [u8], mut at: usize, o: [u8; 4]) -> usize {
    at = put_u8(buf, at, o[0]);
    buf[at] = b'.';
    at = put_u8(buf, at + 1, o[1]);
    buf[at] = b'.';
    at = put_u8(buf, at + 1, o[2]);
    buf[at] = b'.';
    put_u8(buf, at + 1, o[3])
}

const HEX: &[u8; 16] = b"0123456789abcdef";

#[inline]
fn put_hex16(buf: &mut [u8], mut at: usize, v: u16) -> usize {
    let digits = if v >= 0x1000 {
        4
    } else if v >= 0x100 {
        3
    } else if v >= 0x10 {
        2
    } else {
        1
    };
    let mut shift = (digits - 1) * 4;
    loop {
        buf[at] = HEX[usize::from((v >> shift) & 0xf)];
        at += 1;
        if shift == 0 {
            return at;
        }
        shift -= 4;
    }
}

fn put_ipv6(buf: &mut [u8], addr: Ipv6Addr) -> usize {
    let g = addr.segments();
    let o = addr.octets();
    if g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0 {
        let prefix: &[u8] = match (g[4], g[5], g[6], g[7]) {
            (0, 0, 0, 0) => b"::",
            (0, 0, 0, 1) => b"::1",
            (0, 0, _, _) => b"::",
            (0, 0xffff, _, _) => b"::ffff:",
            (0xffff, 0, _, _) => b"::ffff:0:",
            _ => b"",
        };
        if !prefix.is_empty() {
            buf[..prefix.len()].copy_from_slice(prefix);
            if g[4..] == [0, 0, 0, 0] || g[4..] == [0, 0, 0, 1] {
                return prefix.len();
            }
            return put_ipv4(buf, prefix.len(), [o[12], o[13], o[14], o[15]]);
        }
    }
    // Longest run of >= 2 zero groups, leftmost on ties.
    let (mut best_start, mut best_len) = (8usize, 1usize);
    let mut i = 0;
    while i < 8 {
        if g[i] == 0 {
            let start = i;
            while i < 8 && g[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best_start = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    let mut at = 0;
    let mut k = 0;
    while k < 8 {
        if k == best_start {
            buf[at] = b':';
            buf[at + 1] = b':';
            at += 2;
            k += best_len;
            if k < 8 {
                at = put_hex16(buf, at, g[k]);
                k += 1;
            }
            continue;
        }
        if k > 0 {
            buf[at] = b':';
            at += 1;
        }
        at = put_hex16(buf, at, g[k]);
        k += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f6(s: &str) -> String {
        format_ipv6(s.parse().unwrap()).to_string()
    }

    #[test]
    fn anyevent_ipv6_forms() {
        assert_eq!(f6("::"), "::");
        assert_eq!(f6("::1"), "::1");
        assert_eq!(f6("::2"), "::0.0.0.2");
        assert_eq!(f6("::ffff"), "::0.0.255.255");
        assert_eq!(f6("::1:0"), "::0.1.0.0");
        assert_eq!(f6("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(f6("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(f6("::ffff:0:1.2.3.4"), "::ffff:0:1.2.3.4");
        assert_eq!(f6("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
        assert_eq!(f6("1:0:0:2:0:0:3:4"), "1::2:0:0:3:4");
        assert_eq!(f6("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
        assert_eq!(f6("0:0:0:1:0:0:0:0"), "0:0:0:1::");
        assert_eq!(f6("0:0:0:1:0:0:0:2"), "::1:0:0:0:2");
        assert_eq!(f6("64:ff9b::c000:221"), "64:ff9b::c000:221");
        assert_eq!(f6("0:0:0:0:1:0:0:0"), "::1:0:0:0");
        assert_eq!(f6("1::"), "1::");
        assert_eq!(f6("1:0:0:0:0:0:0:0"), "1::");
        assert_eq!(
            f6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        );
        assert_eq!(f6("abcd:ef01::"), "abcd:ef01::");
        assert_eq!(f6("0:0:0:0:ffff:1:0:0"), "::ffff:1:0:0");
    }

    #[test]
    fn ipv4_and_address() {
        assert_eq!(format_ipv4(Ipv4Addr::new(255, 10, 0, 199)), "255.10.0.199");
        let mapped: Ipv6Addr = "::ffff:1.2.3.4".parse().unwrap();
        assert_eq!(format_address(&Address::V6(mapped)), "1.2.3.4");
        let compat: Ipv6Addr = "::1.2.3.4".parse().unwrap();
        assert_eq!(format_address(&Address::V6(compat)), "::1.2.3.4");
        assert_eq!(format_address(&Address::Unix), "unix/");
        assert_eq!(format!("{:>9}", Address::Unix), "    unix/");
    }

    #[test]
    fn caller_buffer() {
        let mut small = [0u8; 3];
        assert_eq!(
            write_ipv4(Ipv4Addr::new(1, 2, 3, 4), &mut small),
            Err(BufferTooSmall { need: 7, have: 3 })
        );
        let mut buf = [0u8; IPV6_TEXT_MAX];
        let a = Ipv6Addr::new(
            0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
        );
        assert_eq!(write_ipv6(a, &mut buf), Ok(39));
        assert_eq!(write_address(&Address::Unix, &mut buf), Ok(5));
        assert_eq!(&buf[..5], b"unix/");
    }

    #[test]
    fn agrees_with_std_outside_mixed_forms() {
        // Outside 0::/64 the text is RFC 5952, which std also writes.
        for s in [
            "2001:db8::1",
            "1:0:0:2:0:0:0:3",
            "fe80::1:2",
            "1:2:3:4:5:6:7:8",
            "1::",
            "0:0:0:1::",
        ] {
            let a: Ipv6Addr = s.parse().unwrap();
            assert_eq!(format_ipv6(a).to_string(), a.to_string(), "{s}");
        }
    }
}
