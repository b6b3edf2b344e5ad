//! Configuration file paths, environment overrides and reload on change.

use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use anysock_sys::{ConfigFile, Watched, read_config};

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("anysock-sys-cfg-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn paths_and_overrides() {
    let none = |_: &str| None::<OsString>;
    assert_eq!(
        ConfigFile::Hosts.path_with(none),
        PathBuf::from("/etc/hosts")
    );
    assert_eq!(
        ConfigFile::ResolvConf.path_with(none),
        PathBuf::from("/etc/resolv.conf")
    );
    let env = |k: &str| (k == "ANYSOCK_HOSTS").then(|| OsString::from("/tmp/h"));
    assert_eq!(ConfigFile::Hosts.path_with(env), PathBuf::from("/tmp/h"));
    assert_eq!(
        ConfigFile::Services.path_with(env),
        PathBuf::from("/etc/services")
    );
    // Set but empty: ignored.
    let empty = |_: &str| Some(OsString::new());
    assert_eq!(
        ConfigFile::Protocols.path_with(empty),
        PathBuf::from("/etc/protocols")
    );
    let vars: Vec<_> = ConfigFile::ALL.iter().map(|f| f.env_var()).collect();
    assert_eq!(
        vars,
        [
            "ANYSOCK_RESOLV_CONF",
            "ANYSOCK_HOSTS",
            "ANYSOCK_SERVICES",
            "ANYSOCK_PROTOCOLS"
        ]
    );
}

#[test]
fn read_config_missing_and_lossy() {
    let d = tempdir("read");
    assert_eq!(read_config(&d.join("nope")).unwrap(), None);
    let p = d.join("f");
    fs::write(&p, b"a \xff b\n").unwrap();
    assert_eq!(read_config(&p).unwrap().unwrap(), "a \u{fffd} b\n");
    // A directory is an error, not "missing".
    assert!(read_config(&d).is_err());
}

#[test]
fn watched_file_reloads_only_when_it_changes() {
    let d = tempdir("watch");
    let p = d.join("hosts");
    fs::write(&p, "127.0.0.1 one\n").unwrap();
    let w: Watched<String> = Watched::new(&p);
    let parses = AtomicUsize::new(0);
    let parse = |t: &str| {
        parses.fetch_add(1, Ordering::SeqCst);
        t.to_owned()
    };
    assert_eq!(*w.get(parse).unwrap(), "127.0.0.1 one\n");
    assert_eq!(*w.get(parse).unwrap(), "127.0.0.1 one\n");
    assert_eq!(
        parses.load(Ordering::SeqCst),
        1,
        "unchanged file: no reparse"
    );

    // Rewritten with the same length, and its mtime set explicitly to a different second.
    fs::write(&p, "127.0.0.1 two\n").unwrap();
    let f = fs::File::options().write(true).open(&p).unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000))
        .unwrap();
    drop(f);
    assert_eq!(*w.get(parse).unwrap(), "127.0.0.1 two\n");
    assert_eq!(parses.load(Ordering::SeqCst), 2);

    // Replaced by rename (new inode), like editors and resolvconf do.
    let tmp = d.join("hosts.new");
    fs::write(&tmp, "127.0.0.1 three\n").unwrap();
    fs::rename(&tmp, &p).unwrap();
    assert_eq!(*w.get(parse).unwrap(), "127.0.0.1 three\n");

    // Removed: parsed as empty. Back again: read again.
    fs::remove_file(&p).unwrap();
    assert_eq!(*w.get(parse).unwrap(), "");
    assert_eq!(*w.get(parse).unwrap(), "");
    assert_eq!(parses.load(Ordering::SeqCst), 4);
    fs::write(&p, "::1 four\n").unwrap();
    assert_eq!(*w.get(parse).unwrap(), "::1 four\n");
    assert_eq!(w.path(), p);
}
