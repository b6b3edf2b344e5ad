//! Fuzz checks for the address toolkit. Each takes arbitrary bytes and panics if an invariant breaks.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::addr::{
    Address, parse_address, parse_address_strict, parse_ipv4, parse_ipv4_strict, parse_ipv6,
    parse_ipv6_strict,
};
use crate::format::{format_address, format_ipv4, format_ipv6};
use crate::hostport::{HostPort, parse_hostport, parse_hostport_strict};
use crate::sockaddr::{pack_sockaddr, unpack_sockaddr};

/// Target `parse_address`: every address parser on the text; the strict parsers agree with `std` and
/// imply the compatible ones; formatting what was parsed parses back to the same address.
pub fn parse_address_check(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let v4 = parse_ipv4(text);
    let v4s = parse_ipv4_strict(text);
    assert_eq!(
        v4s.ok(),
        text.parse::<Ipv4Addr>().ok(),
        "strict IPv4 vs std: {text:?}"
    );
    if let Ok(a) = v4s {
        assert_eq!(
            v4,
            Ok(a),
            "strict IPv4 accepted what compat did not: {text:?}"
        );
    }
    if let Ok(a) = v4 {
        assert_eq!(parse_ipv4_strict(&format_ipv4(a)), Ok(a));
    }
    let v6 = parse_ipv6(text);
    let v6s = parse_ipv6_strict(text);
    assert_eq!(
        v6s.ok(),
        text.parse::<Ipv6Addr>().ok(),
        "strict IPv6 vs std: {text:?}"
    );
    if let Ok(a) = v6s {
        assert_eq!(
            v6,
            Ok(a),
            "strict IPv6 accepted what compat did not: {text:?}"
        );
    }
    if let Ok(a) = v6 {
        let f = format_ipv6(a);
        assert_eq!(
            parse_ipv6(&f),
            Ok(a),
            "format_ipv6 round trip: {text:?} -> {f}"
        );
        assert_eq!(
            parse_ipv6_strict(&f),
            Ok(a),
            "format_ipv6 output is strict text: {f}"
        );
    }
    let any = parse_address(text);
    let strict = parse_address_strict(text);
    if let Ok(a) = strict {
        assert_eq!(
            any,
            Ok(a),
            "strict address accepted what compat did not: {text:?}"
        );
    }
    if let Ok(a) = any {
        assert!(!matches!(a, Address::V6(v) if v.to_ipv4_mapped().is_some()));
        let f = format_address(&a);
        assert_eq!(
            parse_address(&f),
            Ok(a),
            "format_address round trip: {text:?} -> {f}"
        );
        assert_eq!(parse_address_strict(&f), Ok(a));
    }
}

/// Target `parse_hostport`: the first byte picks a default service (none, `80`, `http`, `""`), the rest
/// is the text. A parsed value is valid for [`HostPort::new`], formats to text that parses back to the
/// same value, and the strict parser accepts nothing the compatible one rejects.
pub fn parse_hostport_check(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = core::str::from_utf8(rest) else {
        return;
    };
    let default = [None, Some("80"), Some("http"), Some("")][usize::from(sel % 4)];
    let parsed = parse_hostport(text, default);
    if let Ok(s) = parse_hostport_strict(text, default) {
        assert_eq!(
            parsed,
            Ok(s),
            "strict accepted what compat did not: {text:?}"
        );
    }
    if let Ok(hp) = parsed {
        assert_eq!(
            HostPort::new(hp.host, hp.service),
            Ok(hp),
            "not constructible: {hp:?}"
        );
        let f = hp.to_string();
        assert_eq!(
            parse_hostport(&f, None),
            Ok(hp),
            "round trip: {text:?} -> {f:?}"
        );
    }
}

/// Target `unpack_sockaddr`: unpacking never panics; what unpacks packs to bytes that unpack to the
/// same value.
pub fn unpack_sockaddr_check(data: &[u8]) {
    if let Ok(sa) = unpack_sockaddr(data) {
        let packed = pack_sockaddr(&sa);
        assert_eq!(
            unpack_sockaddr(&packed),
            Ok(sa),
            "pack/unpack round trip: {data:02x?}"
        );
        assert_eq!(&packed[..2], &data[..2], "family bytes");
    }
}
