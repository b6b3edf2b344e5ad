//! The system databases (services, protocols) and IP literal parsing, as the adapter uses them.

use std::net::IpAddr;

/// Parses an IP address literal.
pub(crate) fn parse_ip(text: &str) -> Option<IpAddr> {
    text.parse().ok()
}

/// Looks a service name up for `proto` in the services database.
pub(crate) fn service_port(_service: &str, _proto: &str) -> Option<u16> {
    None
}
