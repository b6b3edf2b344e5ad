//! Turning the `host`/`service` arguments of `tcp_bind`/`tcp_server` into socket addresses, the same
//! way for every adapter.

use std::net::{IpAddr, SocketAddr};

use anysock_core::{Address, Service, SockAddr, UnixAddr, parse_address};

/// Why a `host`/`service` pair cannot be bound. Each adapter maps it into its own error type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BindSpecError {
    /// A host given to bind is not an IP address (names are not resolved for binding).
    #[error(
        "cannot bind to {host:?}: not an IP address (give a literal such as 127.0.0.1 or ::, or unix/)"
    )]
    BindHost {
        /// The host that was given.
        host: String,
    },
    /// A service that is not a port (0-65535), a service name or `name=port`.
    #[error("invalid service {service:?}: {reason}")]
    BadService {
        /// The service text that was given.
        service: String,
        /// What is wrong with it.
        reason: anysock_core::ServiceError,
    },
    /// A service name the services database does not know for this protocol.
    #[error("unknown service {service:?} for protocol {proto}")]
    UnknownService {
        /// The service name.
        service: String,
        /// The protocol (`tcp`, `udp`).
        proto: &'static str,
    },
    /// A unix socket path that cannot be a socket address.
    #[error("bad unix socket path {path:?}: {reason}")]
    BadUnixPath {
        /// The path that was given.
        path: String,
        /// Why it is not usable.
        reason: anysock_core::UnixAddrError,
    },
}

impl BindSpecError {
    /// The [`std::io::ErrorKind`] this error converts to: `NotFound` for an unknown service name,
    /// `InvalidInput` for the rest.
    pub fn kind(&self) -> std::io::ErrorKind {
        match self {
            BindSpecError::UnknownService { .. } => std::io::ErrorKind::NotFound,
            _ => std::io::ErrorKind::InvalidInput,
        }
    }
}

use BindSpecError as Error;

/// The port of a service for `proto`: a number, `name=port` (the port is used: AnyEvent B29 fixed), or a
/// name from the services database. `""` is port 0 (ephemeral), as in AnyEvent's `tcp_bind`.
pub fn service_port(service: &str, proto: &'static str) -> Result<u16, Error> {
    if service.is_empty() {
        return Ok(0);
    }
    match Service::parse(service) {
        Ok(Service::Name(name)) => {
            crate::sysdb::service_port(name, proto).ok_or_else(|| Error::UnknownService {
                service: service.into(),
                proto,
            })
        }
        Ok(s) => s.port().ok_or_else(|| Error::UnknownService {
            service: service.into(),
            proto,
        }),
        Err(reason) => Err(Error::BadService {
            service: service.into(),
            reason,
        }),
    }
}

/// Parses an IP literal for binding, in any form AnyEvent's `parse_address` takes (`127.1`, `::`,
/// brackets allowed).
fn parse_ip(host: &str) -> Option<IpAddr> {
    let inner = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match parse_address(inner).ok()? {
        Address::V4(a) => Some(IpAddr::V4(a)),
        Address::V6(a) => Some(IpAddr::V6(a)),
        _ => None,
    }
}

/// The address to bind for `host` and `service`: an IP literal in any form AnyEvent's `parse_address`
/// takes (brackets allowed), `None` or `""` for every address (dual-stack `::` when IPv6 is available,
/// else `0.0.0.0`: AnyEvent B32), or `unix/` with a path (relative paths are relative to the current
/// directory) or a Linux abstract name starting with a NUL byte. The service is a port, a service name
/// or `name=port` (B29), `""` meaning an ephemeral port.
pub fn bind_addr(host: Option<&str>, service: &str) -> Result<SockAddr, Error> {
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
        None | Some("") => Ok(SockAddr::Inet(crate::unspecified_listen_addr(
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
    fn kinds() {
        use std::io::ErrorKind;
        let unknown = service_port("no-such-service-xyz", "tcp").unwrap_err();
        assert_eq!(unknown.kind(), ErrorKind::NotFound, "{unknown}");
        assert_eq!(
            bind_addr(Some("localhost"), "0").unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            service_port("99999", "tcp").unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }

    #[test]
    fn ports() {
        assert_eq!(service_port("", "tcp").unwrap(), 0);
        assert_eq!(service_port("8080", "tcp").unwrap(), 8080);
        assert_eq!(service_port("http=8080", "tcp").unwrap(), 8080);
        assert_eq!(service_port("http", "tcp").unwrap(), 80);
        assert!(matches!(
            service_port("70000", "tcp"),
            Err(Error::BadService { .. })
        ));
        assert!(matches!(
            service_port("x=70000", "tcp"),
            Err(Error::BadService { .. })
        ));
        match service_port("nosuchservice", "tcp") {
            Err(Error::UnknownService { service, proto }) => {
                assert_eq!((service.as_str(), proto), ("nosuchservice", "tcp"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bind_addrs() {
        assert_eq!(
            bind_addr(Some("127.0.0.1"), "80").unwrap(),
            SockAddr::Inet("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(
            bind_addr(Some("127.1"), "80").unwrap(),
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
