//! The system services and protocols databases, read once per process from `/etc/services` and
//! `/etc/protocols` (or `ANYSOCK_SERVICES`, `ANYSOCK_PROTOCOLS`) when first needed. A missing, empty or
//! unreadable file leaves the core's built-in table in charge. (Unlike the hosts file and resolv.conf,
//! which are checked for changes at every use, these tables are not re-read: they do not change while a
//! system runs, and checking would cost a `stat` per connect.)

use std::sync::{Arc, OnceLock};

use anysock_core::{ProtocolDb, ServiceDb};
use anysock_sys::{ConfigFile, read_config};

/// The system services database, or `None` (use the built-in table).
pub(crate) fn services() -> Option<Arc<ServiceDb>> {
    static DB: OnceLock<Option<Arc<ServiceDb>>> = OnceLock::new();
    DB.get_or_init(|| {
        let text = read_config(&ConfigFile::Services.path()).ok()??;
        Some(Arc::new(ServiceDb::parse(&text))).filter(|db| !db.entries().is_empty())
    })
    .clone()
}

/// The system protocols database, or `None` (use the built-in table).
pub(crate) fn protocols() -> Option<Arc<ProtocolDb>> {
    static DB: OnceLock<Option<Arc<ProtocolDb>>> = OnceLock::new();
    DB.get_or_init(|| {
        let text = read_config(&ConfigFile::Protocols.path()).ok()??;
        Some(Arc::new(ProtocolDb::parse(&text))).filter(|db| db.iter().next().is_some())
    })
    .clone()
}

/// Looks a service name up for `proto`: the system file first, then the built-in table.
pub(crate) fn service_port(name: &str, proto: &str) -> Option<u16> {
    services()
        .and_then(|db| db.getservbyname(name, proto))
        .or_else(|| ServiceDb::builtin().getservbyname(name, proto))
}
