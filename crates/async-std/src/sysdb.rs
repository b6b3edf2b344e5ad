//! The system services and protocols databases, read from `/etc/services` and `/etc/protocols` (or
//! `ANYSOCK_SERVICES`, `ANYSOCK_PROTOCOLS`) and re-read when they change. A missing or empty file leaves
//! the core's built-in table in charge.

use std::sync::{Arc, OnceLock};

use anysock_core::{ProtocolDb, ServiceDb};
use anysock_sys::{ConfigFile, Watched};

fn services_file() -> &'static Watched<ServiceDb> {
    static DB: OnceLock<Watched<ServiceDb>> = OnceLock::new();
    DB.get_or_init(|| Watched::system(ConfigFile::Services))
}

fn protocols_file() -> &'static Watched<ProtocolDb> {
    static DB: OnceLock<Watched<ProtocolDb>> = OnceLock::new();
    DB.get_or_init(|| Watched::system(ConfigFile::Protocols))
}

/// The system services database, or `None` (use the built-in table) if the file is missing, empty or
/// unreadable.
pub(crate) fn services() -> Option<Arc<ServiceDb>> {
    services_file()
        .get(ServiceDb::parse)
        .ok()
        .filter(|db| !db.entries().is_empty())
}

/// The system protocols database, or `None` (use the built-in table) if the file is missing, empty or
/// unreadable.
pub(crate) fn protocols() -> Option<Arc<ProtocolDb>> {
    protocols_file()
        .get(ProtocolDb::parse)
        .ok()
        .filter(|db| db.iter().next().is_some())
}

/// Looks a service name up for `proto`: the system file first, then the built-in table.
pub(crate) fn service_port(name: &str, proto: &str) -> Option<u16> {
    services()
        .and_then(|db| db.getservbyname(name, proto))
        .or_else(|| ServiceDb::builtin().getservbyname(name, proto))
}
