//! The system services database, read from `/etc/services` (or `ANYSOCK_SERVICES`) and re-read when it
//! changes, with the core's built-in table as the fallback for names the file does not list.

use std::sync::OnceLock;

use anysock_core::ServiceDb;
use anysock_sys::{ConfigFile, Watched};

fn services() -> &'static Watched<ServiceDb> {
    static DB: OnceLock<Watched<ServiceDb>> = OnceLock::new();
    DB.get_or_init(|| Watched::system(ConfigFile::Services))
}

/// Looks a service name up for `proto`: the system file first, then the built-in table.
pub(crate) fn service_port(name: &str, proto: &str) -> Option<u16> {
    services()
        .get(ServiceDb::parse)
        .ok()
        .and_then(|db| db.getservbyname(name, proto))
        .or_else(|| ServiceDb::builtin().getservbyname(name, proto))
}
