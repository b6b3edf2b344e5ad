//! `tcp_bind` and `tcp_server` on tokio listeners: bind, listen and accept as a task.

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use anysock_core::{SockAddr, SockType};
use anysock_sys::socket2::Socket;
use anysock_sys::{DEFAULT_BACKLOG, UnixPathOwner};
use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::hostspec::bind_addr;
use crate::stream::{Peer, Stream};

/// A hook called with the bound socket and its address before `listen`; it may set options and returns
/// the backlog (`None`: [`DEFAULT_BACKLOG`]). AnyEvent's `$prepare_cb` for `tcp_server`.
pub type BindPrepare = Box<dyn FnOnce(&Socket, SockAddr) -> Option<i32> + Send>;

/// A hook told about each accept error. The accept loop backs off after one (AnyEvent B31).
pub type AcceptErrorHook = Box<dyn FnMut(&io::Error) + Send>;

/// The first pause after an accept error such as `EMFILE`; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(10);
/// The longest pause between accept retries after errors.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Settings for [`tcp_bind`] and [`tcp_server`]: where to bind, a prepare hook and an accept-error hook.
pub struct Bind {
    host: Option<String>,
    service: String,
    prepare: Option<BindPrepare>,
    on_accept_error: Option<AcceptErrorHook>,
}

impl fmt::Debug for Bind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bind")
            .field("host", &self.host)
            .field("service", &self.service)
            .field("prepare", &self.prepare.is_some())
            .field("on_accept_error", &self.on_accept_error.is_some())
            .finish()
    }
}

impl Bind {
    /// Where to bind: `host` an IP literal (`None` or `""`: every address, dual-stack `::` when IPv6
    /// is available), or `unix/` with a socket path (or `\0name` for a Linux abstract name) as the
    /// service; `service` a port, `name=port`, a service name, or `""`/`0` for an ephemeral port.
    pub fn new(host: Option<&str>, service: &str) -> Self {
        Bind {
            host: host.map(str::to_owned),
            service: service.to_owned(),
            prepare: None,
            on_accept_error: None,
        }
    }

    /// Sets the prepare hook (see [`BindPrepare`]).
    pub fn prepare(
        mut self,
        f: impl FnOnce(&Socket, SockAddr) -> Option<i32> + Send + 'static,
    ) -> Self {
        self.prepare = Some(Box::new(f));
        self
    }

    /// Sets the accept-error hook (see [`AcceptErrorHook`]).
    pub fn on_accept_error(mut self, f: impl FnMut(&io::Error) + Send + 'static) -> Self {
        self.on_accept_error = Some(Box::new(f));
        self
    }

    /// Binds and listens (must be called inside a tokio runtime).
    pub fn listen(self) -> io::Result<BoundListener> {
        let addr = bind_addr(self.host.as_deref(), &self.service)?;
        let bound = anysock_sys::bind(&addr, SockType::Stream).map_err(Error::from)?;
        let backlog = match self.prepare {
            Some(f) => f(bound.socket(), bound.local_addr()).unwrap_or(DEFAULT_BACKLOG),
            None => DEFAULT_BACKLOG,
        };
        let listener = bound.listen(backlog).map_err(Error::from)?;
        let local = listener.local_addr();
        let (sock, owner) = listener.into_parts();
        sock.set_nonblocking(true)?;
        let inner = if local.as_unix().is_some() {
            let l: std::os::unix::net::UnixListener = sock.into();
            ListenerKind::Unix(UnixListener::from_std(l)?)
        } else {
            let l: std::net::TcpListener = sock.into();
            ListenerKind::Tcp(TcpListener::from_std(l)?)
        };
        Ok(BoundListener {
            inner,
            local,
            _owner: owner,
        })
    }

    /// Binds, listens and runs the accept loop as a task (see [`tcp_server`]).
    pub fn serve<H, F>(mut self, handler: H) -> io::Result<Server>
    where
        H: Fn(Stream, Peer) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let hook = self.on_accept_error.take();
        let listener = self.listen()?;
        Ok(Server::start(listener, hook, handler))
    }
}

/// AnyEvent's `tcp_bind`: binds and listens on `host` and `service` (see [`Bind::new`]). The guard
/// closes the socket on drop and removes a unix socket path it created (only if it is still the socket
/// bound here).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let l = anysock_tokio::tcp_bind(Some("127.0.0.1"), "0")?;
/// let port = l.local_addr().as_inet().unwrap().port();
/// let _c = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
/// let (_stream, peer) = l.accept().await?;
/// assert_eq!(peer.host, "127.0.0.1");
/// # Ok(())
/// # }
/// ```
pub fn tcp_bind(host: Option<&str>, service: &str) -> io::Result<BoundListener> {
    Bind::new(host, service).listen()
}

/// AnyEvent's `tcp_server`: binds, listens and accepts in a task; each connection is handed to
/// `handler` in a task of its own. The returned [`Server`] is the guard: dropping it (or
/// [`Server::shutdown`]) stops accepting and removes a unix socket path; connections already handed
/// out stay open. After `EMFILE`/`ENFILE` and similar errors the loop backs off (10 ms doubling to
/// 1 s) instead of spinning.
///
/// ```
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let server = anysock_tokio::tcp_server(Some("127.0.0.1"), "0", |mut s, _peer| async move {
///     let _ = s.write_all(b"hi").await;
/// })?;
/// let port = server.local_addr().as_inet().unwrap().port();
/// let mut c = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
/// let mut buf = String::new();
/// c.read_to_string(&mut buf).await?;
/// assert_eq!(buf, "hi");
/// server.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub fn tcp_server<H, F>(host: Option<&str>, service: &str, handler: H) -> io::Result<Server>
where
    H: Fn(Stream, Peer) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    Bind::new(host, service).serve(handler)
}

#[derive(Debug)]
enum ListenerKind {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// A listening socket from [`tcp_bind`], with its unix path guard.
#[derive(Debug)]
pub struct BoundListener {
    inner: ListenerKind,
    local: SockAddr,
    _owner: Option<UnixPathOwner>,
}

impl BoundListener {
    /// The bound address (with the kernel-chosen port for port 0).
    pub fn local_addr(&self) -> SockAddr {
        self.local
    }

    /// Accepts one connection.
    pub async fn accept(&self) -> io::Result<(Stream, Peer)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for one connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Stream, Peer)>> {
        match &self.inner {
            ListenerKind::Tcp(l) => l
                .poll_accept(cx)
                .map_ok(|(s, a)| (Stream::Tcp(s), Peer::from_addr(Some(SockAddr::Inet(a))))),
            ListenerKind::Unix(l) => l.poll_accept(cx).map_ok(|(s, a)| {
                let addr = a
                    .as_pathname()
                    .and_then(|p| {
                        use std::os::unix::ffi::OsStrExt;
                        anysock_core::UnixAddr::pathname(p.as_os_str().as_bytes()).ok()
                    })
                    .map(SockAddr::Unix);
                (Stream::Unix(s), Peer::from_addr(addr))
            }),
        }
    }

    /// The tokio TCP listener, if it is one.
    pub fn as_tcp(&self) -> Option<&TcpListener> {
        match &self.inner {
            ListenerKind::Tcp(l) => Some(l),
            ListenerKind::Unix(_) => None,
        }
    }

    /// The tokio unix listener, if it is one.
    pub fn as_unix(&self) -> Option<&UnixListener> {
        match &self.inner {
            ListenerKind::Unix(l) => Some(l),
            ListenerKind::Tcp(_) => None,
        }
    }
}

/// A running [`tcp_server`]: the guard. Dropping it stops accepting at once (the listener and a unix
/// socket path are removed when the accept task ends, right after); [`Server::shutdown`] waits for
/// that.
#[derive(Debug)]
pub struct Server {
    local: SockAddr,
    task: Option<JoinHandle<()>>,
    errors: Arc<AtomicU64>,
    accepted: Arc<AtomicU64>,
}

impl Server {
    fn start<H, F>(listener: BoundListener, mut hook: Option<AcceptErrorHook>, handler: H) -> Server
    where
        H: Fn(Stream, Peer) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let errors = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(AtomicU64::new(0));
        let local = listener.local_addr();
        let (e2, a2) = (Arc::clone(&errors), Arc::clone(&accepted));
        let task = tokio::spawn(async move {
            let mut backoff = MIN_BACKOFF;
            loop {
                // Stopping aborts this task at an await point; the listener is dropped with it.
                match listener.accept().await {
                    Ok((s, peer)) => {
                        backoff = MIN_BACKOFF;
                        a2.fetch_add(1, Ordering::Relaxed);
                        tokio::spawn(handler(s, peer));
                    }
                    Err(e) if is_transient_accept_error(&e) => {}
                    Err(e) => {
                        // EMFILE, ENFILE, ENOBUFS, ENOMEM...: the connection stays queued and the
                        // listener stays readable; back off instead of spinning.
                        e2.fetch_add(1, Ordering::Relaxed);
                        if let Some(h) = hook.as_mut() {
                            h(&e);
                        }
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        });
        Server {
            local,
            task: Some(task),
            errors,
            accepted,
        }
    }

    /// The bound address (with the kernel-chosen port for port 0).
    pub fn local_addr(&self) -> SockAddr {
        self.local
    }

    /// How many accept calls failed so far (each one also went to the accept-error hook).
    pub fn accept_errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// How many connections were accepted and handed to the handler so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Stops accepting and waits until the listener is closed (and a unix socket path removed).
    /// Connections already handed to the handler are not touched.
    pub async fn shutdown(mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            // Resolves once the task's future (and with it the listener) has been dropped; a
            // panicking accept-error hook ended the task already.
            let _ = t.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            // Not awaited: the runtime drops the task's future (and the listener, and removes a
            // unix socket path) right after, without waiting for a connection.
            t.abort();
        }
    }
}

fn is_transient_accept_error(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
        || matches!(
            e.raw_os_error(),
            Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO | libc::EPERM)
        )
}
