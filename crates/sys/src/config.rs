//! Reading the system configuration files that adapters hand to the core parsers.
//!
//! The core parses text (`ResolvConf::parse`, `HostsFile::parse`, `ServiceDb::parse`,
//! `ProtocolDb::parse`); this module only finds the files, reads them and notices when they change.
//!
//! | file | default | environment override |
//! |---|---|---|
//! | resolver configuration | `/etc/resolv.conf` | `ANYSOCK_RESOLV_CONF` |
//! | hosts file | `/etc/hosts` | `ANYSOCK_HOSTS` |
//! | services database | `/etc/services` | `ANYSOCK_SERVICES` |
//! | protocols database | `/etc/protocols` | `ANYSOCK_PROTOCOLS` |
//!
//! An override that is set but empty is ignored (like AnyEvent's `PERL_ANYEVENT_HOSTS`).

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use crate::error::{Op, SysError};

/// One of the system configuration files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigFile {
    /// The resolver configuration, `/etc/resolv.conf`.
    ResolvConf,
    /// The hosts file, `/etc/hosts`.
    Hosts,
    /// The services database, `/etc/services`.
    Services,
    /// The protocols database, `/etc/protocols`.
    Protocols,
}

impl ConfigFile {
    /// All four files.
    pub const ALL: [ConfigFile; 4] = [
        ConfigFile::ResolvConf,
        ConfigFile::Hosts,
        ConfigFile::Services,
        ConfigFile::Protocols,
    ];

    /// The environment variable that overrides the path.
    pub const fn env_var(self) -> &'static str {
        match self {
            ConfigFile::ResolvConf => "ANYSOCK_RESOLV_CONF",
            ConfigFile::Hosts => "ANYSOCK_HOSTS",
            ConfigFile::Services => "ANYSOCK_SERVICES",
            ConfigFile::Protocols => "ANYSOCK_PROTOCOLS",
        }
    }

    /// The system path.
    pub const fn default_path(self) -> &'static str {
        match self {
            ConfigFile::ResolvConf => "/etc/resolv.conf",
            ConfigFile::Hosts => "/etc/hosts",
            ConfigFile::Services => "/etc/services",
            ConfigFile::Protocols => "/etc/protocols",
        }
    }

    /// The path to read: the environment override if it is set and not empty, else the system path.
    pub fn path(self) -> PathBuf {
        self.path_with(|k| std::env::var_os(k))
    }

    /// [`ConfigFile::path`] with the environment given as a lookup function (for tests and for callers
    /// with their own settings).
    pub fn path_with(self, env: impl Fn(&str) -> Option<OsString>) -> PathBuf {
        match env(self.env_var()) {
            Some(v) if !v.is_empty() => PathBuf::from(v),
            _ => PathBuf::from(self.default_path()),
        }
    }
}

/// Reads a configuration file as text. A missing file is `Ok(None)`; bytes that are not UTF-8 are
/// replaced (U+FFFD), so one bad line cannot hide the rest of the file.
pub fn read_config(path: &Path) -> Result<Option<String>, SysError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SysError::io(Op::ReadConfig)(e)),
    }
}

/// What identifies one version of a file: modification time (with the file system's sub-second
/// precision), size, device and inode. A file replaced by rename gets a new inode; one rewritten in place
/// gets a new mtime or size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    mtime: Option<SystemTime>,
    len: u64,
    dev: u64,
    ino: u64,
}

fn stamp(path: &Path) -> Result<Option<Stamp>, SysError> {
    match fs::metadata(path) {
        Ok(m) => Ok(Some(Stamp {
            mtime: m.modified().ok(),
            len: m.len(),
            dev: m.dev(),
            ino: m.ino(),
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SysError::io(Op::ReadConfig)(e)),
    }
}

#[derive(Debug)]
struct Loaded<T> {
    /// The file's stamp when it was read (`None`: missing); `None` in the outer option when the file
    /// changed while it was read, so that the next call reads it again.
    stamp: Option<Option<Stamp>>,
    value: Arc<T>,
}

/// A configuration file parsed on first use and parsed again whenever it changes.
///
/// Each [`Watched::get`] costs one `stat`; the file is read and parsed only when its modification time,
/// size or inode changed since the last read. A file that disappears is parsed as empty text (AnyEvent's
/// behaviour for the hosts file); one that reappears is read again. Safe to share between threads.
#[derive(Debug)]
pub struct Watched<T> {
    path: PathBuf,
    loaded: Mutex<Option<Loaded<T>>>,
}

impl<T> Watched<T> {
    /// Watches `path`; nothing is read until the first [`Watched::get`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Watched {
            path: path.into(),
            loaded: Mutex::new(None),
        }
    }

    /// Watches one of the system files, at the path [`ConfigFile::path`] gives.
    pub fn system(file: ConfigFile) -> Self {
        Watched::new(file.path())
    }

    /// The watched path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The parsed file, reading and parsing it with `parse` if it is new or has changed. A missing file
    /// is handed to `parse` as `""`.
    pub fn get(&self, parse: impl FnOnce(&str) -> T) -> Result<Arc<T>, SysError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        let now = stamp(&self.path)?;
        if let Some(l) = loaded.as_ref()
            && l.stamp == Some(now)
        {
            return Ok(Arc::clone(&l.value));
        }
        let text = read_config(&self.path)?;
        // Stamp again after reading: if the file changed while it was read, the next call reads it again.
        let after = stamp(&self.path)?;
        let value = Arc::new(parse(text.as_deref().unwrap_or("")));
        *loaded = Some(Loaded {
            stamp: (after == now).then_some(now),
            value: Arc::clone(&value),
        });
        Ok(value)
    }
}
