//! Domain names: IDN conversion, validation, and the wire-format helpers the query machine uses.

use std::borrow::Cow;

/// The longest name on the wire, in octets, length bytes and the root label included (RFC 1035 §2.3.4).
pub const MAX_NAME_WIRE_LEN: usize = 255;

/// The longest label, in octets (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// Why a name cannot be queried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty (or only the root `.`).
    #[error("empty domain name")]
    Empty,
    /// The name has an empty label (`a..b`, or a leading dot).
    #[error("empty label in domain name")]
    EmptyLabel,
    /// A label is longer than 63 octets after IDN conversion.
    #[error("label longer than 63 octets in domain name")]
    LabelTooLong,
    /// The name is longer than 255 octets in wire form after IDN conversion.
    #[error("domain name longer than 255 octets in wire form")]
    NameTooLong,
    /// UTS 46 processing rejected the name (a forbidden character such as a space, `/`, `%`, `@` or a
    /// control character, an invalid Punycode `xn--` label, or a disallowed code point).
    #[error("domain name rejected by IDNA (UTS 46) processing")]
    Idna,
}

/// Converts a host name to the ASCII form that is sent on the wire.
///
/// Unicode names go through UTS 46 processing ([`idna::domain_to_ascii_cow`] with the WHATWG URL
/// forbidden-code-point list, non-transitional), which also lower-cases ASCII letters: `Bücher.Example`
/// becomes `xn--bcher-kva.example`. The result is then checked against the DNS limits: no empty label,
/// labels of at most 63 octets, at most 255 octets in wire form. One trailing dot (an absolute name) is
/// kept in the result. The planner uses the same function, so hosts-file keys and DNS questions agree.
///
/// # Errors
/// A [`NameError`] saying what is wrong with the name.
///
/// ```
/// use anysock_core::dns::name_to_ascii;
/// assert_eq!(name_to_ascii("Bücher.example").unwrap(), "xn--bcher-kva.example");
/// assert_eq!(name_to_ascii("WWW.Example.ORG.").unwrap(), "www.example.org.");
/// assert!(name_to_ascii("a..b").is_err());
/// ```
pub fn name_to_ascii(name: &str) -> Result<String, NameError> {
    let (body, absolute) = match name.strip_suffix('.') {
        Some(b) => (b, true),
        None => (name, false),
    };
    if body.is_empty() {
        return Err(NameError::Empty);
    }
    let mut out = match plain_ascii_lowercase(body) {
        Some(lower) => {
            check_ascii_name(&lower)?;
            lower
        }
        None => idna_to_ascii(body)?,
    };
    if absolute {
        out.push('.');
    }
    Ok(out)
}

/// The common case without UTS 46: a name of ASCII letters, digits, hyphens and dots only, with no
/// empty label and no label starting with the Punycode prefix `xn--`. UTS 46 only lower-cases such a
/// name (the unit tests check this against [`idna_to_ascii`] for every name over that alphabet, and
/// many more); this does it with one pass and one allocation. `None`: anything else, for UTS 46.
fn plain_ascii_lowercase(body: &str) -> Option<String> {
    let b = body.as_bytes();
    let mut label_start = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'.' => {
                if i == label_start {
                    return None;
                }
                label_start = i + 1;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => {
                if i == label_start + 3 && b[label_start..=i].eq_ignore_ascii_case(b"xn--") {
                    return None;
                }
            }
            _ => return None,
        }
    }
    if label_start == b.len() {
        return None; // an empty last label (or an empty name)
    }
    Some(body.to_ascii_lowercase())
}

/// UTS 46 processing of `body` (no trailing dot), then the DNS limits.
fn idna_to_ascii(body: &str) -> Result<String, NameError> {
    // Empty labels are checked before IDNA, which would otherwise accept `a..b`.
    if body.split('.').any(str::is_empty) {
        return Err(NameError::EmptyLabel);
    }
    let ascii: Cow<'_, str> = idna::domain_to_ascii_cow(body.as_bytes(), idna::AsciiDenyList::URL)
        .map_err(|_| NameError::Idna)?;
    check_ascii_name(&ascii)?;
    Ok(ascii.into_owned())
}

/// Checks an ASCII name without a trailing dot against the DNS length limits.
pub(crate) fn check_ascii_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    // One pass over the bytes, reporting the first bad label as a walk label by label would.
    let mut label = 0usize;
    for &c in name.as_bytes() {
        if c == b'.' {
            if label == 0 {
                return Err(NameError::EmptyLabel);
            }
            label = 0;
        } else {
            label += 1;
            if label > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
        }
    }
    if label == 0 {
        return Err(NameError::EmptyLabel);
    }
    if wire_len(name) > MAX_NAME_WIRE_LEN {
        return Err(NameError::NameTooLong);
    }
    Ok(())
}

/// The wire length of an ASCII name written without its trailing dot: one length octet per label, the
/// label octets, and the root octet.
pub(crate) fn wire_len(name: &str) -> usize {
    name.len() + 2
}

/// Appends the wire form of an ASCII name (no trailing dot, validated) to `out`.
#[cfg(test)]
pub(crate) fn write_wire_name(out: &mut Vec<u8>, name: &str) {
    let w = WireName::new(name).expect("a valid name");
    out.extend_from_slice(w.as_bytes());
}

/// The wire form of a question's name, kept inline: a query machine encodes its question once per
/// name asked and compares every reply against it, with no allocation.
#[derive(Clone)]
pub(crate) struct WireName {
    len: u8,
    buf: [u8; MAX_NAME_WIRE_LEN],
}

impl WireName {
    /// Encodes an ASCII name without a trailing dot, after [`check_ascii_name`] (whose error it
    /// returns).
    pub(crate) fn new(name: &str) -> Result<Self, NameError> {
        check_ascii_name(name)?;
        let text = name.as_bytes();
        let mut buf = [0u8; MAX_NAME_WIRE_LEN];
        // `buf[at]` is the length octet of the label being written; its bytes follow it. Checked
        // above: no label is empty or over 63 octets, and the whole fits.
        let mut at = 0;
        for (i, &c) in text.iter().enumerate() {
            if c == b'.' {
                buf[at] = (i - at) as u8;
                at = i + 1;
            } else {
                buf[i + 1] = c;
            }
        }
        buf[at] = (text.len() - at) as u8;
        // The root label (the zero octet) is already there, after the last label.
        Ok(WireName {
            len: (text.len() + 2) as u8,
            buf,
        })
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for WireName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("WireName").field(&self.as_bytes()).finish()
    }
}

/// Pointers followed before a name is declared a loop. A legal name has at most 127 labels, so no
/// honest message needs more pointers than that.
const MAX_POINTERS: usize = 128;

/// Walks the labels of a possibly compressed name starting at `pos` in `msg`.
///
/// Returns the position just after the name's in-place encoding (where the next field starts), or
/// `None` if the name is malformed: it runs past the end, has a reserved label type, loops, or is longer
/// than 255 octets. `f` is called with each label, root excluded.
pub(crate) fn walk_name(msg: &[u8], mut pos: usize, mut f: impl FnMut(&[u8])) -> Option<usize> {
    let mut end = None;
    let mut total = 1usize;
    let mut pointers = 0usize;
    loop {
        let len = *msg.get(pos)? as usize;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Some(end.unwrap_or(pos + 1));
                }
                let label = msg.get(pos + 1..pos + 1 + len)?;
                total += len + 1;
                if total > MAX_NAME_WIRE_LEN {
                    return None;
                }
                f(label);
                pos += 1 + len;
            }
            0xc0 => {
                let low = *msg.get(pos + 1)? as usize;
                if end.is_none() {
                    end = Some(pos + 2);
                }
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return None;
                }
                let target = ((len & 0x3f) << 8) | low;
                // RFC 1035 pointers point backwards in practice; requiring it rules out loops cheaply,
                // the pointer budget above catches the rest.
                if target >= pos {
                    return None;
                }
                pos = target;
            }
            _ => return None, // 0x40 and 0x80: extended/reserved label types
        }
    }
}

/// Returns the next label of a compressed name, following pointers, and the position after it, or
/// `Ok(None)` at the root. Used for allocation-free comparisons.
fn next_label<'m>(
    msg: &'m [u8],
    pos: usize,
    pointers: &mut usize,
) -> Option<Option<(&'m [u8], usize)>> {
    let pos = skip_pointers(msg, pos, pointers)?;
    let len = *msg.get(pos)? as usize;
    match len {
        0 => Some(None),
        1..=0x3f => {
            let label = msg.get(pos + 1..pos + 1 + len)?;
            Some(Some((label, pos + 1 + len)))
        }
        // 0x40 and 0x80: reserved label types.
        _ => None,
    }
}

/// Follows the compression pointers at `pos` to where a label or the root octet is: each pointer must
/// point backwards, and at most [`MAX_POINTERS`] are followed in all (counted in `pointers`). `None` if
/// a pointer is malformed.
fn skip_pointers(msg: &[u8], mut pos: usize, pointers: &mut usize) -> Option<usize> {
    loop {
        let len = *msg.get(pos)? as usize;
        if len & 0xc0 != 0xc0 {
            return Some(pos);
        }
        let low = *msg.get(pos + 1)? as usize;
        *pointers += 1;
        if *pointers > MAX_POINTERS {
            return None;
        }
        let target = ((len & 0x3f) << 8) | low;
        if target >= pos {
            return None;
        }
        pos = target;
    }
}

/// Compares two (possibly compressed) names, `a` at `pa` in `ma` and `b` at `pb` in `mb`, ASCII
/// case-insensitively. Malformed names compare unequal. No allocation.
pub(crate) fn names_equal(ma: &[u8], pa: usize, mb: &[u8], pb: usize) -> bool {
    let (mut pa, mut pb) = (pa, pb);
    let (mut ca, mut cb) = (0usize, 0usize);
    if std::ptr::eq(ma, mb) {
        // Within one message (an answer's owner is usually a pointer to the question's name): once
        // both names' leading pointers lead to the same place, the rest is the same bytes, and the
        // names are equal exactly when that rest is well formed.
        let (Some(a), Some(b)) = (
            skip_pointers(ma, pa, &mut ca),
            skip_pointers(ma, pb, &mut cb),
        ) else {
            return false;
        };
        if a == b {
            let mut pointers = ca.max(cb);
            let mut pos = a;
            loop {
                match next_label(ma, pos, &mut pointers) {
                    None => return false,
                    Some(None) => return true,
                    Some(Some((_, next))) => pos = next,
                }
            }
        }
        (pa, pb) = (a, b);
    }
    loop {
        let (Some(la), Some(lb)) = (next_label(ma, pa, &mut ca), next_label(mb, pb, &mut cb))
        else {
            return false;
        };
        match (la, lb) {
            (None, None) => return true,
            (Some((a, na)), Some((b, nb))) => {
                if !a.eq_ignore_ascii_case(b) {
                    return false;
                }
                pa = na;
                pb = nb;
            }
            _ => return false,
        }
    }
}

/// Decodes a (possibly compressed) name into presentation form without the trailing dot. Octets that
/// are not letters, digits, `-`, `_` or `*` are escaped the RFC 1035 way (`\.`, `\\`, `\DDD`). The
/// root name decodes as `"."`.
pub(crate) fn decode_name(msg: &[u8], pos: usize) -> Option<String> {
    // One pass to size the string (one allocation, escapes aside), one to fill it.
    let mut size = 0usize;
    walk_name(msg, pos, |label| size += label.len() + 1)?;
    let mut out = String::with_capacity(size.max(1));
    walk_name(msg, pos, |label| {
        if !out.is_empty() {
            out.push('.');
        }
        for &b in label {
            match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'*' => out.push(b as char),
                b'.' | b'\\' => {
                    out.push('\\');
                    out.push(b as char);
                }
                _ => {
                    out.push('\\');
                    out.push(char::from(b'0' + b / 100));
                    out.push(char::from(b'0' + (b / 10) % 10));
                    out.push(char::from(b'0' + b % 10));
                }
            }
        }
    })?;
    if out.is_empty() {
        out.push('.');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The label-by-label definitions the one-pass versions must agree with.
    fn reference_check(name: &str) -> Result<(), NameError> {
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        for label in name.split('.') {
            if label.is_empty() {
                return Err(NameError::EmptyLabel);
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
        }
        if name.len() + 2 > MAX_NAME_WIRE_LEN {
            return Err(NameError::NameTooLong);
        }
        Ok(())
    }

    fn reference_wire(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for label in name.split('.') {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out
    }

    fn one_pass_agrees(name: &str) {
        assert_eq!(check_ascii_name(name), reference_check(name), "{name:?}");
        let wire = WireName::new(name).map(|w| w.as_bytes().to_vec());
        assert_eq!(
            wire,
            reference_check(name).map(|()| reference_wire(name)),
            "{name:?}"
        );
    }

    #[test]
    fn one_pass_name_checks_and_encoding_agree_with_label_walks() {
        // Every name of up to 6 bytes over a small alphabet, then the limits.
        let alphabet = [b'a', b'.', b'Z', b'-'];
        for len in 0..=6u32 {
            for mut n in 0..4usize.pow(len) {
                let mut name = Vec::new();
                for _ in 0..len {
                    name.push(alphabet[n % 4]);
                    n /= 4;
                }
                one_pass_agrees(std::str::from_utf8(&name).unwrap());
            }
        }
        let l63 = "a".repeat(63);
        for name in [
            l63.clone(),
            format!("{l63}a"),
            format!("{l63}.{l63}.{l63}.{}", "b".repeat(61)), // 253 characters: the longest
            format!("{l63}.{l63}.{l63}.{}", "b".repeat(62)),
            format!("{l63}.{l63}.{l63}.{l63}"),
            format!("x.{l63}a.."),
            "a.".repeat(126) + "a",
            "a.".repeat(127),
        ] {
            one_pass_agrees(&name);
        }
    }

    /// The fast path gives exactly what UTS 46 gives, for every name it takes.
    fn fast_path_agrees(name: &str) {
        if let Some(fast) = plain_ascii_lowercase(name) {
            let slow = idna_to_ascii(name);
            let fast = check_ascii_name(&fast).map(|()| fast);
            assert_eq!(fast, slow, "{name:?}");
        }
    }

    #[test]
    fn fast_path_matches_uts46_exhaustively_on_short_names() {
        // Every name of up to 5 characters over an alphabet with every case the fast path
        // distinguishes: letters of both cases (x and n for the Punycode prefix), a digit, hyphen, dot.
        let alphabet = ['a', 'X', 'x', 'n', 'N', '0', '-', '.'];
        let mut names = vec![String::new()];
        for _ in 0..5 {
            let mut next = Vec::new();
            for n in &names {
                for c in alphabet {
                    let mut m = n.clone();
                    m.push(c);
                    fast_path_agrees(&m);
                    next.push(m);
                }
            }
            names = next;
        }
        for name in [
            "xn--bcher-kva.example",
            "XN--a.b",
            "a.xn--",
            "-a-.b",
            "a--b.c",
            "1.2.3.4",
        ] {
            fast_path_agrees(name);
        }
        assert_eq!(
            plain_ascii_lowercase("WWW.Example.ORG").as_deref(),
            Some("www.example.org")
        );
        assert_eq!(plain_ascii_lowercase("xN--bcher-kva.example"), None);
        assert_eq!(plain_ascii_lowercase("bücher.example"), None);
        assert_eq!(plain_ascii_lowercase("a_b.example"), None);
    }

    proptest::proptest! {
        #[test]
        fn one_pass_name_functions_agree_on_any_text(name in "[a-c.]{0,70}|[a.]{240,260}") {
            one_pass_agrees(&name);
        }

        /// Comparing two names of one message (the shortcut) gives what comparing them across two
        /// copies of it gives (label by label), for any bytes: pointers, loops, truncation.
        #[test]
        fn same_message_comparison_matches_label_by_label(
            msg in proptest::collection::vec(
                proptest::prop_oneof![
                    0u8..4, proptest::sample::select(vec![b'a', b'A', b'b', 0xc0, 0x40, 0x80]), proptest::num::u8::ANY,
                ],
                0..40,
            )
        ) {
            let copy = msg.clone();
            for pa in 0..msg.len() {
                for pb in 0..msg.len() {
                    proptest::prop_assert_eq!(
                        names_equal(&msg, pa, &msg, pb),
                        names_equal(&msg, pa, &copy, pb),
                        "{:?} at {} and {}", msg, pa, pb
                    );
                }
            }
        }

        #[test]
        fn fast_path_matches_uts46(name in "[a-zA-Z0-9.-]{0,70}|([a-zA-Z0-9-]{1,70}\\.){1,5}[xXnN-]{0,6}[a-z0-9-]{0,70}") {
            fast_path_agrees(&name);
        }
    }

    #[test]
    fn idn_and_case() {
        assert_eq!(
            name_to_ascii("Bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(name_to_ascii("EXAMPLE.com.").unwrap(), "example.com.");
        assert_eq!(
            name_to_ascii("_http._tcp.example").unwrap(),
            "_http._tcp.example"
        );
        assert_eq!(
            name_to_ascii("例え.テスト").unwrap(),
            "xn--r8jz45g.xn--zckzah"
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(name_to_ascii(""), Err(NameError::Empty));
        assert_eq!(name_to_ascii("."), Err(NameError::Empty));
        assert_eq!(name_to_ascii("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(name_to_ascii(".a"), Err(NameError::EmptyLabel));
        assert_eq!(name_to_ascii("a.."), Err(NameError::EmptyLabel));
        assert_eq!(name_to_ascii("foo bar"), Err(NameError::Idna));
        assert_eq!(name_to_ascii("foo\tbar"), Err(NameError::Idna));
        assert_eq!(name_to_ascii("xn--zz"), Err(NameError::Idna));
        let long_label = "a".repeat(64);
        assert_eq!(name_to_ascii(&long_label), Err(NameError::LabelTooLong));
        assert!(name_to_ascii(&"a".repeat(63)).is_ok());
        // 4 labels of 63 = 4*64 + 1 = 257 > 255
        let long = [&"a".repeat(63)[..]; 4].join(".");
        assert_eq!(name_to_ascii(&long), Err(NameError::NameTooLong));
        // 253 characters is the longest legal text form (255 wire octets).
        let ok = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "a".repeat(63),
            "a".repeat(63),
            "a".repeat(61)
        );
        assert_eq!(ok.len(), 253);
        assert!(name_to_ascii(&ok).is_ok());
        assert!(name_to_ascii(&format!("{ok}.")).is_ok());
        assert_eq!(
            name_to_ascii(&format!("{ok}a")),
            Err(NameError::NameTooLong)
        );
    }

    #[test]
    fn wire_roundtrip_and_compare() {
        let mut m = vec![0u8; 12];
        write_wire_name(&mut m, "www.Example.org");
        let q = 12;
        // a pointer to "example.org" inside the first name
        let p = m.len();
        m.extend_from_slice(&[3, b'f', b'o', b'o', 0xc0, 16]);
        assert_eq!(decode_name(&m, q).unwrap(), "www.Example.org");
        assert_eq!(decode_name(&m, p).unwrap(), "foo.Example.org");
        assert_eq!(walk_name(&m, p, |_| {}), Some(p + 6));
        let mut other = Vec::new();
        write_wire_name(&mut other, "WWW.EXAMPLE.ORG");
        assert!(names_equal(&m, q, &other, 0));
        assert!(!names_equal(&m, p, &other, 0));
    }

    #[test]
    fn malformed_names() {
        // forward pointer / self pointer
        assert_eq!(walk_name(&[0xc0, 0], 0, |_| {}), None);
        assert_eq!(walk_name(&[1, b'a', 0xc0, 2], 0, |_| {}), None);
        // truncated label
        assert_eq!(walk_name(&[5, b'a'], 0, |_| {}), None);
        // reserved label type
        assert_eq!(walk_name(&[0x40, 0], 0, |_| {}), None);
        // escaping
        let m = [3, b'a', b'.', 0x07, 0];
        assert_eq!(decode_name(&m, 0).unwrap(), "a\\.\\007");
        assert_eq!(decode_name(&[0], 0).unwrap(), ".");
    }
}
