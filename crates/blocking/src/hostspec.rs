//! Turning the `host`/`service` arguments into socket addresses.

use std::net::{IpAddr, SocketAddr};

use anysock_core::{SockAddr, UnixAddr};

use crate::error::Error;

/// The port of a service for `proto`: a number, `name=port` (the port is used), or a name from the
/// services database.
pub(crate) fn service_port(service: &str, proto: &'static str) -> Result<u16, Error> {
    if service.is_empty() {
        return Ok(0);
    }
    if service.bytes().all(|b| b.is_ascii_digit()) {
        return service.parse::<u16>().map_err(|_| Error::BadPort {
            service: service.into(),
        });
    }
    if let Some((name, port)) = service.split_once('=')
        && !name.is_empty()
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
    {
        return port.parse::<u16>().map_err(|_| Error::BadPort {
            service: service.into(),
        });
    }
    crate::sysdb::service_port(service, proto).ok_or_else(|| Error::UnknownService {
        service: service.into(),
        proto,
    })
}

/// Parses an IP literal for binding: plain or in brackets.
fn parse_ip(host: &str) -> Option<IpAddr> {
    let inner = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    crate::sysdb::parse_ip(inner)
}

/// The address to bind for `host` and `service` (see [`crate::Bind::new`]).
pub(crate) fn bind_addr(host: Option<&str>, service: &str) -> Result<SockAddr, Error> {
    match host {
        Some("unix/") => {
            let bytes = service.as_bytes();
            let ua = match bytes.split_first() {
                Some((0, name)) => UnixAddr::abstract_name(name),
                _ => UnixAddr::pathname(bytes),
            }
            .map_err(|reason| Error::BadUnixPath {
                path: service.into(),
                reason,
            })?;
            Ok(SockAddr::Unix(ua))
        }
        None | Some("") => Ok(SockAddr::Inet(anysock_sys::unspecified_listen_addr(
            service_port(service, "tcp")?,
        ))),
        Some(h) => {
            let ip = parse_ip(h).ok_or_else(|| Error::BindHost { host: h.into() })?;
            Ok(SockAddr::Inet(SocketAddr::new(
                ip,
                service_port(service, "tcp")?,
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(service_port("", "tcp").unwrap(), 0);
        assert_eq!(service_port("8080", "tcp").unwrap(), 8080);
        assert_eq!(service_port("http=8080", "tcp").unwrap(), 8080);
        assert!(matches!(
            service_port("70000", "tcp"),
            Err(Error::BadPort { .. })
        ));
        assert!(matches!(
            service_port("x=70000", "tcp"),
            Err(Error::BadPort { .. })
        ));
    }

    #[test]
    fn bind_addrs() {
        assert_eq!(
            bind_addr(Some("127.0.0.1"), "80").unwrap(),
            SockAddr::Inet("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(
            bind_addr(Some("[::1]"), "80").unwrap(),
            SockAddr::Inet("[::1]:80".parse().unwrap())
        );
        assert!(matches!(
            bind_addr(Some("localhost"), "80"),
            Err(Error::BindHost { .. })
        ));
        assert_eq!(
            bind_addr(Some("unix/"), "\0abs").unwrap(),
            SockAddr::Unix(UnixAddr::abstract_name(b"abs").unwrap())
        );
        assert!(matches!(
            bind_addr(Some("unix/"), ""),
            Err(Error::BadUnixPath { .. })
        ));
    }
}
