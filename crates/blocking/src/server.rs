//! `tcp_bind` and `tcp_server`: bind, listen and accept.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anysock_core::{SockAddr, SockType};
use anysock_sys::socket2::Socket;
use anysock_sys::{DEFAULT_BACKLOG, Listener};
use polling::{Event, Events, Poller};

use crate::error::Error;
use crate::hostspec::bind_addr;
use crate::stream::{Peer, Stream};

/// A hook called with the bound socket and its address before `listen`; it may set options and returns
/// the backlog (`None`: [`DEFAULT_BACKLOG`]). AnyEvent's `$prepare_cb` for `tcp_server`.
pub type BindPrepare = Box<dyn FnOnce(&Socket, SockAddr) -> Option<i32>>;

/// A hook told about each accept error. The accept loop backs off after one (AnyEvent B31).
pub type AcceptErrorHook = Box<dyn FnMut(&io::Error) + Send>;

/// Settings for [`tcp_bind`] and [`tcp_server`]: where to bind, a prepare hook and an accept-error hook.
///
/// ```
/// use anysock_blocking::Bind;
///
/// let listener = Bind::new(Some("127.0.0.1"), "0")
///     .prepare(|_sock, addr| {
///         println!("bound {addr}");
///         Some(16) // backlog
///     })
///     .listen()?;
/// assert_ne!(listener.local_addr().as_inet().unwrap().port(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
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
    /// Where to bind.
    ///
    /// `host`: `None` (or `""`) for every address (dual-stack `::` when IPv6 is available, else
    /// `0.0.0.0`; AnyEvent B32), an IP literal (brackets allowed), or `unix/` for a unix socket.
    /// `service`: a port number (`""` and `"0"`: ephemeral), a service name, `name=port`; for `unix/` a
    /// path (relative to the current directory if not absolute) or a Linux abstract name starting with a
    /// NUL byte.
    pub fn new(host: Option<&str>, service: &str) -> Self {
        Bind {
            host: host.map(str::to_owned),
            service: service.to_owned(),
            prepare: None,
            on_accept_error: None,
        }
    }

    /// Sets the prepare hook (see [`BindPrepare`]).
    pub fn prepare(mut self, f: impl FnOnce(&Socket, SockAddr) -> Option<i32> + 'static) -> Self {
        self.prepare = Some(Box::new(f));
        self
    }

    /// Sets the hook told about accept errors (for [`Bind::serve`]); they are counted either way
    /// ([`Server::accept_errors`]).
    pub fn on_accept_error(mut self, f: impl FnMut(&io::Error) + Send + 'static) -> Self {
        self.on_accept_error = Some(Box::new(f));
        self
    }

    fn bind_listen(self) -> Result<(Listener, Option<AcceptErrorHook>), Error> {
        let addr = bind_addr(self.host.as_deref(), &self.service)?;
        let bound = anysock_sys::bind(&addr, SockType::Stream)?;
        let backlog = match self.prepare {
            Some(p) => p(bound.socket(), bound.local_addr()).unwrap_or(DEFAULT_BACKLOG),
            None => DEFAULT_BACKLOG,
        };
        Ok((bound.listen(backlog)?, self.on_accept_error))
    }

    /// Binds and listens: [`tcp_bind`] with these settings.
    pub fn listen(self) -> io::Result<BoundListener> {
        let (listener, _) = self.bind_listen()?;
        listener.socket().set_nonblocking(false)?;
        Ok(BoundListener { listener })
    }

    /// Binds, listens and accepts on a thread of its own: [`tcp_server`] with these settings. The handler
    /// gets each connection (a blocking [`Stream`]) and its [`Peer`].
    pub fn serve<H>(self, handler: H) -> io::Result<Server>
    where
        H: FnMut(Stream, Peer) + Send + 'static,
    {
        let (listener, hook) = self.bind_listen()?;
        Server::start(listener, hook, handler)
    }
}

/// Binds and listens on `host` and `service` (see [`Bind::new`]), with `SO_REUSEADDR` and a backlog of
/// 128. The returned listener is blocking; dropping it closes it and removes its unix path (if the path
/// is still its socket).
///
/// ```
/// let listener = anysock_blocking::tcp_bind(Some("127.0.0.1"), "0")?;
/// let port = listener.local_addr().as_inet().unwrap().port();
/// let _client = std::net::TcpStream::connect(("127.0.0.1", port))?;
/// let (_stream, peer) = listener.accept()?;
/// assert_eq!(peer.host, "127.0.0.1");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn tcp_bind(host: Option<&str>, service: &str) -> io::Result<BoundListener> {
    Bind::new(host, service).listen()
}

/// Binds, listens and accepts connections on a thread of its own, calling
/// `handler(stream, peer_host, peer_port)` for each (AnyEvent's `tcp_server`). `peer_host` is the
/// textual IP address (IPv4-mapped peers of a dual-stack listener are shown as IPv4) or `unix/`, with
/// port 0, for unix peers.
///
/// The handler runs on the accept thread: one that serves a connection for long should hand it to a
/// thread of its own. Dropping the returned [`Server`] stops accepting at once, waits for a running
/// handler call to return, closes the listener and removes its unix path.
///
/// ```
/// use std::io::{Read, Write};
///
/// let server = anysock_blocking::tcp_server(Some("127.0.0.1"), "0", |mut stream, host, _port| {
///     let _ = writeln!(stream, "hello {host}");
/// })?;
/// let port = server.local_addr().as_inet().unwrap().port();
/// let mut c = std::net::TcpStream::connect(("127.0.0.1", port))?;
/// let mut s = String::new();
/// c.read_to_string(&mut s)?;
/// assert_eq!(s, "hello 127.0.0.1\n");
/// drop(server); // the port is free again
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn tcp_server<H>(host: Option<&str>, service: &str, mut handler: H) -> io::Result<Server>
where
    H: FnMut(Stream, String, u16) + Send + 'static,
{
    Bind::new(host, service).serve(move |stream, peer| handler(stream, peer.host, peer.port))
}

/// A listening socket from [`tcp_bind`]. Dropping it closes the socket and removes its unix path if that
/// is still the socket bound here.
#[derive(Debug)]
pub struct BoundListener {
    listener: Listener,
}

impl BoundListener {
    /// The bound address (with the kernel-chosen port for port 0).
    pub fn local_addr(&self) -> SockAddr {
        self.listener.local_addr()
    }

    /// Waits for a connection (or returns `WouldBlock` in non-blocking mode).
    pub fn accept(&self) -> io::Result<(Stream, Peer)> {
        let (s, peer) = self.listener.accept()?;
        let unix = self.local_addr().as_unix().is_some();
        Ok((Stream::from_socket(s, unix), Peer::from_addr(peer)))
    }

    /// Switches non-blocking mode of the listener.
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        self.listener.socket().set_nonblocking(on)
    }

    /// The underlying socket and the unix path owner (dropping the owner removes the path).
    pub fn into_parts(self) -> (Socket, Option<anysock_sys::UnixPathOwner>) {
        self.listener.into_parts()
    }
}

impl AsFd for BoundListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.listener.socket().as_fd()
    }
}

/// The first pause after an accept error such as `EMFILE`; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(10);
/// The longest pause between accept retries after errors.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A running [`tcp_server`]. Dropping it stops the server (see [`tcp_server`]).
#[derive(Debug)]
pub struct Server {
    local: SockAddr,
    stop: Arc<AtomicBool>,
    poller: Arc<Poller>,
    errors: Arc<AtomicU64>,
    accepted: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

struct AcceptLoop<H> {
    listener: Listener,
    poller: Arc<Poller>,
    stop: Arc<AtomicBool>,
    errors: Arc<AtomicU64>,
    accepted: Arc<AtomicU64>,
    hook: Option<AcceptErrorHook>,
    handler: H,
}

impl Server {
    fn start<H>(listener: Listener, hook: Option<AcceptErrorHook>, handler: H) -> io::Result<Server>
    where
        H: FnMut(Stream, Peer) + Send + 'static,
    {
        let poller = Arc::new(Poller::new()?);
        // SAFETY: the listener is moved into the accept loop, whose `Drop` deletes it from the poller
        // before the listener itself is dropped (also when a handler panics).
        #[allow(unsafe_code)]
        unsafe {
            poller.add(listener.socket(), Event::readable(0))?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(AtomicU64::new(0));
        let local = listener.local_addr();
        let mut lp = AcceptLoop {
            listener,
            poller: Arc::clone(&poller),
            stop: Arc::clone(&stop),
            errors: Arc::clone(&errors),
            accepted: Arc::clone(&accepted),
            hook,
            handler,
        };
        let thread = std::thread::Builder::new()
            .name(format!("anysock-server {local}"))
            .spawn(move || lp.run())?;
        Ok(Server {
            local,
            stop,
            poller,
            errors,
            accepted,
            thread: Some(thread),
        })
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
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // If notify fails the loop still sees the flag at its next wake-up; nothing better can be done.
        let _ = self.poller.notify();
        if let Some(t) = self.thread.take() {
            // A panicking handler already ended the loop (and dropped the listener).
            let _ = t.join();
        }
    }
}

impl<H> Drop for AcceptLoop<H> {
    fn drop(&mut self) {
        // Runs before the fields (the listener) are dropped.
        let _ = self.poller.delete(self.listener.socket());
    }
}

fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO | libc::EPERM)
    )
}

impl<H: FnMut(Stream, Peer)> AcceptLoop<H> {
    fn run(&mut self) {
        let mut events = Events::new();
        let mut backoff = MIN_BACKOFF;
        let unix = self.listener.local_addr().as_unix().is_some();
        while !self.stop.load(Ordering::SeqCst) {
            match self.listener.accept() {
                Ok((s, peer)) => {
                    backoff = MIN_BACKOFF;
                    self.accepted.fetch_add(1, Ordering::Relaxed);
                    (self.handler)(Stream::from_socket(s, unix), Peer::from_addr(peer));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self
                        .poller
                        .modify(self.listener.socket(), Event::readable(0))
                        .is_err()
                    {
                        break;
                    }
                    events.clear();
                    if let Err(e) = self.poller.wait(&mut events, None)
                        && e.kind() != io::ErrorKind::Interrupted
                    {
                        self.report(&e);
                        break;
                    }
                }
                Err(e)
                    if e.kind() == io::ErrorKind::Interrupted || is_transient_accept_error(&e) => {}
                Err(e) => {
                    // EMFILE, ENFILE, ENOBUFS, ENOMEM and anything unexpected: the connection stays
                    // queued and the listener stays readable, so waiting for readiness would spin.
                    // Report, then sleep (interruptibly, through the poller) before trying again.
                    self.report(&e);
                    events.clear();
                    if self.poller.wait(&mut events, Some(backoff)).is_err() {
                        break;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn report(&mut self, e: &io::Error) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Some(h) = self.hook.as_mut() {
            h(e);
        }
    }
}
