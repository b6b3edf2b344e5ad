//! Local source address discovery for RFC 6724 destination address selection.
//!
//! RFC 6724 rules 1-8 compare each destination with the source address the host would use to reach it.
//! The portable way to learn that source (used by glibc's `getaddrinfo` too) is to `connect` a UDP socket
//! to the destination and read `getsockname`: connecting a UDP socket only selects a route, no packet is
//! sent.

use std::io;
use std::net::{IpAddr, SocketAddr};

use anysock_core::{Family, SockType};

use crate::socket::new_socket;

/// The local address the kernel would use as the source for traffic to `dest`, or `None` if there is no
/// route (`ENETUNREACH`, `EHOSTUNREACH`, `EADDRNOTAVAIL`, or the family is not available here).
///
/// No packet is sent. A destination port of 0 is replaced by 9 (discard) for the route lookup, since
/// the port does not influence source selection but port 0 cannot be connected to.
pub fn source_address(dest: SocketAddr) -> io::Result<Option<IpAddr>> {
    let mut dest = dest;
    if dest.port() == 0 {
        dest.set_port(9);
    }
    let family = if dest.is_ipv4() {
        Family::V4
    } else {
        Family::V6
    };
    // Not bound first: connecting picks the source (and an ephemeral port) in one call.
    let sock = match new_socket(family, SockType::Datagram, 17) {
        Ok(s) => s,
        Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => return Ok(None),
        Err(e) => return Err(e),
    };
    match sock.connect(&dest.into()) {
        Ok(()) => Ok(sock.local_addr()?.as_socket().map(|a| a.ip())),
        Err(e) if is_no_route(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn is_no_route(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENETUNREACH | libc::EHOSTUNREACH | libc::EADDRNOTAVAIL | libc::EAFNOSUPPORT)
    )
}

/// [`source_address`] for each destination, in order; an error for one destination counts as "no
/// route" for it.
pub fn source_addresses<I>(dests: I) -> Vec<(SocketAddr, Option<IpAddr>)>
where
    I: IntoIterator<Item = SocketAddr>,
{
    dests
        .into_iter()
        .map(|d| (d, source_address(d).ok().flatten()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_sources() {
        let v4 = source_address("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_eq!(v4, Some("127.0.0.1".parse().unwrap()));
        // Any 127/8 destination is reached from lo's address.
        let v4b = source_address("127.1.2.3:53".parse().unwrap()).unwrap();
        assert!(v4b.unwrap().is_loopback(), "{v4b:?}");
        if crate::ipv6_available() {
            let v6 = source_address("[::1]:80".parse().unwrap()).unwrap();
            assert_eq!(v6, Some("::1".parse().unwrap()));
        }
        let all = source_addresses(["127.0.0.1:1".parse().unwrap()]);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].1, Some("127.0.0.1".parse().unwrap()));
    }
}
