//! Unix socket path rules (AnyEvent B30 and the guard's inode check).

use std::fs;
use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use anysock_core::{SockAddr, SockType, UnixAddr};
use anysock_sys::{DEFAULT_BACKLOG, SysError};

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("anysock-sys-unix-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn addr(p: &Path) -> SockAddr {
    SockAddr::Unix(UnixAddr::pathname(p.as_os_str().as_encoded_bytes()).unwrap())
}

fn is_socket(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket())
}

#[test]
fn regular_file_is_never_replaced() {
    let d = tempdir("regular");
    let p = d.join("victim.txt");
    fs::write(&p, "precious").unwrap();
    let err = anysock_sys::listen(&addr(&p), SockType::Stream, DEFAULT_BACKLOG).unwrap_err();
    assert!(matches!(err, SysError::PathNotSocket { .. }), "{err}");
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::AlreadyExists);
    assert_eq!(fs::read_to_string(&p).unwrap(), "precious");
}

#[test]
fn directory_and_symlink_are_never_replaced() {
    let d = tempdir("dir");
    let sub = d.join("sub");
    fs::create_dir(&sub).unwrap();
    let err = anysock_sys::listen(&addr(&sub), SockType::Stream, DEFAULT_BACKLOG).unwrap_err();
    assert!(matches!(err, SysError::PathNotSocket { .. }), "{err}");
    assert!(sub.is_dir());

    // A symlink pointing at a stale socket is not a socket itself: it is left alone.
    let target = d.join("stale.sock");
    drop(UnixListener::bind(&target).unwrap());
    let link = d.join("link.sock");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = anysock_sys::listen(&addr(&link), SockType::Stream, DEFAULT_BACKLOG).unwrap_err();
    assert!(matches!(err, SysError::PathNotSocket { .. }), "{err}");
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn stale_socket_is_replaced() {
    let d = tempdir("stale");
    let p = d.join("s.sock");
    // std's listener leaves its path behind when dropped: a stale socket.
    drop(UnixListener::bind(&p).unwrap());
    assert!(is_socket(&p));
    let l = anysock_sys::listen(&addr(&p), SockType::Stream, DEFAULT_BACKLOG).unwrap();
    let _c = UnixStream::connect(&p).unwrap();
    assert!(l.accept().is_ok());
}

#[test]
fn live_socket_is_not_stolen() {
    let d = tempdir("live");
    let p = d.join("s.sock");
    let live = UnixListener::bind(&p).unwrap();
    let err = anysock_sys::listen(&addr(&p), SockType::Stream, DEFAULT_BACKLOG).unwrap_err();
    assert!(matches!(err, SysError::PathInUse { .. }), "{err}");
    assert_eq!(io::Error::from(err).kind(), io::ErrorKind::AddrInUse);
    // The live server still gets its clients.
    let _c = UnixStream::connect(&p).unwrap();
    live.accept().unwrap();
}

#[test]
fn own_socket_is_removed_on_drop() {
    let d = tempdir("own");
    let p = d.join("s.sock");
    let l = anysock_sys::listen(&addr(&p), SockType::Stream, DEFAULT_BACKLOG).unwrap();
    assert!(is_socket(&p));
    drop(l);
    assert!(!p.exists(), "the guard removes its own socket");
}

#[test]
fn replaced_path_is_not_removed() {
    let d = tempdir("replaced");
    let p = d.join("s.sock");
    let l = anysock_sys::listen(&addr(&p), SockType::Stream, DEFAULT_BACKLOG).unwrap();
    // Someone else removes our path and binds their own socket there.
    fs::remove_file(&p).unwrap();
    let theirs = UnixListener::bind(&p).unwrap();
    drop(l);
    assert!(is_socket(&p), "a socket that is not ours stays");
    let _c = UnixStream::connect(&p).unwrap();
    theirs.accept().unwrap();

    // Same with a regular file put in place of our socket.
    let q = d.join("t.sock");
    let l = anysock_sys::listen(&addr(&q), SockType::Stream, DEFAULT_BACKLOG).unwrap();
    fs::remove_file(&q).unwrap();
    fs::write(&q, "data").unwrap();
    drop(l);
    assert_eq!(fs::read_to_string(&q).unwrap(), "data");
}

#[test]
fn into_parts_keeps_the_owner() {
    let d = tempdir("parts");
    let p = d.join("s.sock");
    let l = anysock_sys::listen(&addr(&p), SockType::Stream, DEFAULT_BACKLOG).unwrap();
    let (sock, owner) = l.into_parts();
    let owner = owner.expect("a pathname socket has an owner");
    assert_eq!(owner.path(), p);
    assert!(owner.is_still_ours());
    drop(sock);
    assert!(p.exists(), "the path lives as long as its owner");
    drop(owner);
    assert!(!p.exists());
}

#[test]
fn relative_path_binds_in_the_current_directory() {
    // Relative paths are allowed (like AnyEvent's tcp_bind); they are relative to the cwd. The test
    // does not change the cwd (shared by all tests), so it uses a unique name in it.
    let name = format!("anysock-rel-{}.sock", std::process::id());
    let p = Path::new(&name);
    let l = anysock_sys::listen(&addr(p), SockType::Stream, DEFAULT_BACKLOG).unwrap();
    assert!(is_socket(p));
    drop(l);
    assert!(!p.exists());
}
