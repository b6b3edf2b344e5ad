//! Binding and listening, the unspecified-host rule and unix socket path ownership.

use std::fs;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anysock_core::{Family, SockAddr, SockType, UnixAddr};
use socket2::Socket;

use crate::addr::{from_socket2, to_socket2};
use crate::error::{Op, SysError};
use crate::socket::new_socket;

/// The listen backlog used unless a prepare hook returns another (AnyEvent's `$len ||= 128`).
pub const DEFAULT_BACKLOG: i32 = 128;

/// True if this host can create IPv6 sockets. Checked once per process, as AnyEvent does at load time.
pub fn ipv6_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| new_socket(Family::V6, SockType::Datagram, 0).is_ok())
}

/// The address a server binds when no host is given (AnyEvent B32, our policy): `[::]:port` when IPv6
/// is available (bound dual-stack, so IPv4 clients are accepted as well, seen as IPv4-mapped peers),
/// else `0.0.0.0:port`.
pub fn unspecified_listen_addr(port: u16) -> SocketAddr {
    if ipv6_available() {
        (Ipv6Addr::UNSPECIFIED, port).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, port).into()
    }
}

/// Owns a unix socket path this process bound: dropping it removes the path, but only if it is still the
/// same socket (same device and inode), so a path that was replaced since is left alone.
#[derive(Debug)]
pub struct UnixPathOwner {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl UnixPathOwner {
    /// Records the identity of the socket now at `path`.
    fn record(path: &Path) -> io::Result<Self> {
        let m = fs::symlink_metadata(path)?;
        Ok(UnixPathOwner {
            path: path.to_owned(),
            dev: m.dev(),
            ino: m.ino(),
        })
    }

    /// The owned path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True if the path still names the socket that was bound.
    pub fn is_still_ours(&self) -> bool {
        fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_socket() && m.dev() == self.dev && m.ino() == self.ino)
    }
}

impl Drop for UnixPathOwner {
    fn drop(&mut self) {
        if self.is_still_ours() {
            // Nothing useful can be done with an error in drop; the path may have been removed
            // concurrently.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Clears the way for binding a unix socket at `path`: a missing path is fine; a socket with no
/// listener (connecting is refused) is stale and removed; a live socket is [`SysError::PathInUse`];
/// anything that is not a socket is [`SysError::PathNotSocket`] and is never touched (AnyEvent B30).
fn clear_stale_unix_path(addr: UnixAddr, path: &Path) -> Result<(), SysError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(SysError::io(Op::StatPath)(e)),
    };
    if !meta.file_type().is_socket() {
        return Err(SysError::PathNotSocket { path: addr });
    }
    // A non-blocking probe: a unix connect never waits, it succeeds, is refused or finds the queue full.
    let probe = new_socket(Family::Unix, SockType::Stream, 0).map_err(SysError::io(Op::Socket))?;
    let sa = to_socket2(&SockAddr::Unix(addr)).map_err(SysError::io(Op::ProbePath))?;
    match probe.connect(&sa) {
        Ok(()) => Err(SysError::PathInUse { path: addr }),
        // A live listener with a full accept queue, or a live socket of another type.
        Err(e)
            if e.kind() == io::ErrorKind::WouldBlock
                || e.raw_os_error() == Some(libc::EPROTOTYPE) =>
        {
            Err(SysError::PathInUse { path: addr })
        }
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SysError::io(Op::RemovePath)(e)),
        },
        // Vanished between lstat and connect.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(SysError::io(Op::ProbePath)(e)),
    }
}

/// A bound socket that is not listening yet: the place to inspect the local address (for example the
/// port the kernel chose) or set options before [`Bound::listen`].
#[derive(Debug)]
pub struct Bound {
    socket: Socket,
    local: SockAddr,
    owner: Option<UnixPathOwner>,
}

/// Creates a close-on-exec, non-blocking socket of `socktype` and binds it to `addr`.
///
/// - IP: `SO_REUSEADDR` is set (not `SO_REUSEPORT`); an unspecified IPv6 address (`::`) is bound
///   dual-stack (`IPV6_V6ONLY` off), whatever the system default.
/// - Unix pathnames: an existing path is replaced only if it is a stale socket (see [`SysError`]);
///   the path is removed again when the returned value (or the [`Listener`]) is dropped, if it is still
///   the socket bound here. Relative paths are relative to the current directory.
/// - Linux abstract names: nothing touches the filesystem.
pub fn bind(addr: &SockAddr, socktype: SockType) -> Result<Bound, SysError> {
    let sock = new_socket(addr.family(), socktype, 0).map_err(SysError::io(Op::Socket))?;
    let mut unix_path = None;
    match addr {
        SockAddr::Inet(sa) => {
            sock.set_reuse_address(true)
                .map_err(SysError::io(Op::SetReuseAddr))?;
            if let SocketAddr::V6(v6) = sa
                && v6.ip().is_unspecified()
            {
                sock.set_only_v6(false)
                    .map_err(SysError::io(Op::SetOnlyV6))?;
            }
        }
        SockAddr::Unix(u) => {
            if let Some(p) = u.as_pathname() {
                let path = Path::new(std::ffi::OsStr::from_bytes(p));
                clear_stale_unix_path(*u, path)?;
                unix_path = Some(path);
            }
        }
    }
    let sa = to_socket2(addr).map_err(SysError::io(Op::Bind))?;
    sock.bind(&sa).map_err(SysError::io(Op::Bind))?;
    let owner = match unix_path {
        Some(path) => Some(UnixPathOwner::record(path).map_err(SysError::io(Op::StatPath))?),
        None => None,
    };
    let local = match addr {
        SockAddr::Unix(_) => *addr,
        SockAddr::Inet(_) => sock
            .local_addr()
            .ok()
            .and_then(|a| from_socket2(&a))
            .ok_or_else(|| {
                SysError::io(Op::LocalAddr)(io::Error::other("no local address after bind"))
            })?,
    };
    Ok(Bound {
        socket: sock,
        local,
        owner,
    })
}

impl Bound {
    /// The socket.
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// The bound address, with the kernel-chosen port for port 0.
    pub fn local_addr(&self) -> SockAddr {
        self.local
    }

    /// Starts listening with `backlog` (use [`DEFAULT_BACKLOG`] unless told otherwise; 0 is passed to the
    /// kernel as is).
    pub fn listen(self, backlog: i32) -> Result<Listener, SysError> {
        self.socket
            .listen(backlog)
            .map_err(SysError::io(Op::Listen))?;
        Ok(Listener {
            socket: self.socket,
            local: self.local,
            owner: self.owner,
        })
    }

    /// The socket and the unix path owner (drop the owner to remove the path).
    pub fn into_parts(self) -> (Socket, Option<UnixPathOwner>) {
        (self.socket, self.owner)
    }
}

/// A listening socket (non-blocking, close-on-exec). Dropping it closes the socket and removes its unix
/// path if that is still the socket bound here.
#[derive(Debug)]
pub struct Listener {
    socket: Socket,
    local: SockAddr,
    owner: Option<UnixPathOwner>,
}

/// Binds `addr` and listens with `backlog`: [`bind`] then [`Bound::listen`].
pub fn listen(addr: &SockAddr, socktype: SockType, backlog: i32) -> Result<Listener, SysError> {
    if socktype == SockType::Datagram {
        return Err(SysError::InvalidInput {
            what: "cannot listen on a datagram socket",
        });
    }
    bind(addr, socktype)?.listen(backlog)
}

impl Listener {
    /// The socket.
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// The bound address, with the kernel-chosen port for port 0.
    pub fn local_addr(&self) -> SockAddr {
        self.local
    }

    /// Accepts one connection. The new socket is close-on-exec and **blocking**; the peer address is
    /// `None` for an unnamed unix peer (the usual case).
    ///
    /// `WouldBlock` means no connection is waiting. `EMFILE`/`ENFILE` come back as they are: the caller
    /// must back off rather than retry at once (AnyEvent B31).
    pub fn accept(&self) -> io::Result<(Socket, Option<SockAddr>)> {
        let (s, peer) = self.socket.accept()?;
        // Linux's accept4 does not pass O_NONBLOCK on to the new socket; elsewhere it may be inherited.
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        s.set_nonblocking(false)?;
        Ok((s, from_socket2(&peer)))
    }

    /// The socket and the unix path owner (drop the owner to remove the path).
    pub fn into_parts(self) -> (Socket, Option<UnixPathOwner>) {
        (self.socket, self.owner)
    }
}
