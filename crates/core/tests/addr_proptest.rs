//! Property tests for the address toolkit: format then parse gives the value back, pack then unpack
//! likewise, format_hostport then parse_hostport likewise; the strict parsers are std's.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use anysock_core::{
    Address, HostPort, Service, SockAddr, UnixAddr, format_address, format_hostport, format_ipv4,
    format_ipv6, pack_sockaddr, parse_address, parse_address_strict, parse_hostport, parse_ipv4,
    parse_ipv4_strict, parse_ipv6, parse_ipv6_strict, unpack_sockaddr,
};
use proptest::prelude::*;

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    // Many zero groups, so that every compression and mixed form comes up.
    prop::array::uniform8(
        prop_oneof![3 => Just(0u16), 1 => Just(0xffff), 1 => 0u16..16, 3 => any::<u16>()],
    )
    .prop_map(|g| Ipv6Addr::new(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]))
}

fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        any::<u32>().prop_map(|v| Address::V4(Ipv4Addr::from(v))),
        ipv6().prop_map(Address::V6),
        Just(Address::Unix),
    ]
}

/// `v` written in a random POSIX form: 1-4 parts, each in decimal, octal or hex.
fn posix_form(v: u32, parts: usize, bases: [u8; 4]) -> String {
    let b = v.to_be_bytes();
    let vals: Vec<u64> = match parts {
        1 => vec![u64::from(v)],
        2 => vec![u64::from(b[0]), u64::from(v & 0xff_ffff)],
        3 => vec![u64::from(b[0]), u64::from(b[1]), u64::from(v & 0xffff)],
        _ => b.iter().map(|&x| u64::from(x)).collect(),
    };
    vals.iter()
        .zip(bases)
        .map(|(&x, base)| match base % 3 {
            0 => x.to_string(),
            1 => format!("0{x:o}"),
            _ => format!("0x{x:x}"),
        })
        .collect::<Vec<_>>()
        .join(".")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn ipv4_round_trip(v in any::<u32>()) {
        let a = Ipv4Addr::from(v);
        let text = format_ipv4(a);
        prop_assert_eq!(parse_ipv4(&text), Ok(a));
        prop_assert_eq!(parse_ipv4_strict(&text), Ok(a));
        prop_assert_eq!(&*text, a.to_string());
    }

    #[test]
    fn ipv4_posix_forms_parse(v in any::<u32>(), parts in 1usize..=4, bases in any::<[u8; 4]>()) {
        let text = posix_form(v, parts, bases);
        prop_assert_eq!(parse_ipv4(&text), Ok(Ipv4Addr::from(v)), "{}", text);
        // The mapped form through the IPv6 parser, and an IPv4 tail (B5, B6).
        prop_assert_eq!(parse_ipv6(&text), Ok(Ipv4Addr::from(v).to_ipv6_mapped()));
        if parts > 1 {
            // A one-part tail has no dot, so it is an IPv6 group, not an IPv4 tail.
            prop_assert_eq!(parse_ipv6(&format!("::ffff:{text}")), Ok(Ipv4Addr::from(v).to_ipv6_mapped()));
        }
    }

    #[test]
    fn ipv6_round_trip(a in ipv6()) {
        let text = format_ipv6(a);
        prop_assert_eq!(parse_ipv6(&text), Ok(a));
        prop_assert_eq!(parse_ipv6_strict(&text), Ok(a));
        prop_assert_eq!(text.parse::<Ipv6Addr>(), Ok(a));
        prop_assert!(text.len() <= anysock_core::format::IPV6_TEXT_MAX);
    }

    #[test]
    fn address_round_trip(a in address()) {
        let text = format_address(&a);
        prop_assert_eq!(parse_address(&text), Ok(a.to_canonical()));
        prop_assert_eq!(parse_address_strict(&text), Ok(a.to_canonical()));
        prop_assert_eq!(a.to_string(), text.to_string());
    }

    #[test]
    fn strict_parsers_are_std(s in "[0-9a-fA-F:.x%]{0,42}") {
        prop_assert_eq!(parse_ipv4_strict(&s).ok(), s.parse::<Ipv4Addr>().ok());
        prop_assert_eq!(parse_ipv6_strict(&s).ok(), s.parse::<Ipv6Addr>().ok());
        if let Ok(a) = parse_ipv6_strict(&s) {
            prop_assert_eq!(parse_ipv6(&s), Ok(a));
        }
    }

    /// Short texts of digits and dots with any other character mixed in: the lengths around 7-15
    /// where `parse_ipv4_strict`'s fast path decides, and what it must leave to the full parser.
    #[test]
    fn strict_ipv4_is_std_on_short_texts(
        chars in prop::collection::vec(
            prop_oneof![8 => prop::sample::select(b"0123456789..".to_vec()).prop_map(char::from), 1 => any::<char>()],
            0..=17,
        )
    ) {
        let s: String = chars.into_iter().collect();
        let std = s.parse::<Ipv4Addr>().ok();
        prop_assert_eq!(parse_ipv4_strict(&s).ok(), std, "{:?}", s);
        if let Some(a) = std {
            prop_assert_eq!(parse_ipv4(&s), Ok(a), "{:?}", s);
        }
    }

    /// Four parts of one to four digits (leading zeros, 256-9999 included), one character perhaps
    /// replaced by any byte-sized or wider character: near misses of a dotted quad.
    #[test]
    fn strict_ipv4_is_std_near_dotted_quads(
        parts in prop::array::uniform4("[0-9]{1,4}"),
        change in prop::option::of((any::<prop::sample::Index>(), any::<char>())),
    ) {
        let mut s = parts.join(".");
        if let Some((at, c)) = change {
            let at = at.index(s.len());
            s.replace_range(at..=at, c.encode_utf8(&mut [0; 4]));
        }
        let std = s.parse::<Ipv4Addr>().ok();
        prop_assert_eq!(parse_ipv4_strict(&s).ok(), std, "{:?}", s);
        if let Some(a) = std {
            prop_assert_eq!(parse_ipv4(&s), Ok(a), "{:?}", s);
        }
    }

    #[test]
    fn pack_unpack_inet(ip4 in any::<u32>(), ip6 in ipv6(), port in any::<u16>(), flow in any::<u32>(), scope in any::<u32>()) {
        let v4 = SockAddr::Inet(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip4), port)));
        prop_assert_eq!(unpack_sockaddr(&pack_sockaddr(&v4)), Ok(v4));
        let v6 = SockAddr::Inet(SocketAddr::V6(SocketAddrV6::new(ip6, port, flow, scope)));
        let packed = pack_sockaddr(&v6);
        prop_assert_eq!(packed.len(), 28);
        prop_assert_eq!(unpack_sockaddr(&packed), Ok(v6));
    }

    #[test]
    fn pack_unpack_unix(path in prop::collection::vec(1u8..=255, 1..=108), name in prop::collection::vec(any::<u8>(), 0..=107)) {
        let p = SockAddr::Unix(UnixAddr::pathname(&path).unwrap());
        let packed = pack_sockaddr(&p);
        prop_assert_eq!(packed.len(), 110);
        prop_assert_eq!(unpack_sockaddr(&packed), Ok(p));
        let a = SockAddr::Unix(UnixAddr::abstract_name(&name).unwrap());
        let packed = pack_sockaddr(&a);
        prop_assert_eq!(packed.len(), 3 + name.len());
        prop_assert_eq!(unpack_sockaddr(&packed), Ok(a));
    }

    #[test]
    fn unpack_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..130)) {
        if let Ok(sa) = unpack_sockaddr(&bytes) {
            prop_assert_eq!(unpack_sockaddr(&pack_sockaddr(&sa)), Ok(sa));
        }
    }

    #[test]
    fn hostport_round_trip_constructed(
        host in prop_oneof![
            "[a-z0-9][a-z0-9.#/-]{0,20}",
            ipv6().prop_map(|a| format_ipv6(a).to_string()),
            "[^\\s\\[\\]\\p{Cc}]{1,12}",
            Just("unix/".to_string()),
        ],
        svc in prop_oneof![
            any::<u16>().prop_map(|p| p.to_string()),
            "[a-z][a-z0-9_+.-]{0,10}",
            ("[a-z][a-z0-9-]{0,8}", any::<u16>()).prop_map(|(n, p)| format!("{n}={p}")),
            "/[^\\x00]{0,40}",
            "[a-z.]{1,10}",
        ],
    ) {
        let service = if host == "unix/" { Service::parse_path(&svc) } else { Service::parse(&svc) };
        if let Ok(service) = service {
            if let Ok(hp) = HostPort::new(&host, service) {
                let text = format_hostport(&hp);
                prop_assert_eq!(parse_hostport(&text, None), Ok(hp), "{}", text);
            }
        }
    }

    #[test]
    fn hostport_round_trip_parsed(s in "[ \\t]?[\\[]?[0-9a-f:.#/ a-z\\]]{0,24}", d in prop::option::of("[a-z0-9=]{0,6}")) {
        if let Ok(hp) = parse_hostport(&s, d.as_deref()) {
            prop_assert_eq!(HostPort::new(hp.host, hp.service), Ok(hp));
            let text = format_hostport(&hp);
            prop_assert_eq!(parse_hostport(&text, None), Ok(hp), "{:?} -> {:?}", s, text);
        }
    }
}
