//! `tcp_bind` and `tcp_server`: bind, listen and accept on async-io's reactor.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::TcpStream;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use anysock_core::{SockAddr, SockType};
use anysock_sys::socket2::Socket;
use anysock_sys::{DEFAULT_BACKLOG, UnixPathOwner};
use async_io::{Async, Timer};

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
/// use anysock_async_std::Bind;
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

    fn bind_listen(self) -> Result<(BoundListener, Option<AcceptErrorHook>), Error> {
        let addr = bind_addr(self.host.as_deref(), &self.service)?;
        let bound = anysock_sys::bind(&addr, SockType::Stream)?;
        let backlog = match self.prepare {
            Some(p) => p(bound.socket(), bound.local_addr()).unwrap_or(DEFAULT_BACKLOG),
            None => DEFAULT_BACKLOG,
        };
        let listener = bound.listen(backlog)?;
        let local = listener.local_addr();
        let (socket, owner) = listener.into_parts();
        Ok((
            BoundListener {
                sock: Async::new_nonblocking(socket)?,
                local,
                unix: local.as_unix().is_some(),
                _owner: owner,
            },
            self.on_accept_error,
        ))
    }

    /// Binds and listens: [`tcp_bind`] with these settings.
    pub fn listen(self) -> io::Result<BoundListener> {
        Ok(self.bind_listen()?.0)
    }

    /// Binds, listens and accepts on a thread of its own: [`tcp_server`] with these settings. The handler
    /// gets each connection (an async [`Stream`]) and its [`Peer`].
    pub fn serve<H>(self, handler: H) -> io::Result<Server>
    where
        H: FnMut(Stream, Peer) + Send + 'static,
    {
        let (listener, hook) = self.bind_listen()?;
        Server::start(listener, hook, handler)
    }
}

/// Binds and listens on `host` and `service` (see [`Bind::new`]), with `SO_REUSEADDR` and a backlog of
/// 128. The listener is registered with async-io's reactor; accept with [`BoundListener::accept`].
/// Dropping it closes it and removes its unix path (if the path is still its socket).
///
/// ```
/// # async_io::block_on(async {
/// let listener = anysock_async_std::tcp_bind(Some("127.0.0.1"), "0")?;
/// let port = listener.local_addr().as_inet().unwrap().port();
/// let _client = std::net::TcpStream::connect(("127.0.0.1", port))?;
/// let (_stream, peer) = listener.accept().await?;
/// assert_eq!(peer.host, "127.0.0.1");
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub fn tcp_bind(host: Option<&str>, service: &str) -> io::Result<BoundListener> {
    Bind::new(host, service).listen()
}

/// Binds, listens and accepts connections, calling `handler(stream, peer_host, peer_port)` for each
/// (AnyEvent's `tcp_server`). `peer_host` is the textual IP address (IPv4-mapped peers of a dual-stack
/// listener are shown as IPv4) or `unix/`, with port 0, for unix peers.
///
/// The accept loop runs on a thread of its own under `async_io::block_on`, so it works the same under
/// async-std and smol and needs no spawner. The handler runs on that thread: it should hand each
/// connection to a task of the caller's runtime (`smol::spawn(..).detach()`,
/// `async_std::task::spawn(..)`). Dropping the returned [`Server`] stops accepting at once, waits for a
/// running handler call to return, closes the listener and removes its unix path.
///
/// Accept errors such as `EMFILE` are counted, passed to the accept-error hook, and followed by a
/// pause (10 ms, doubling up to 1 s) instead of an immediate retry (AnyEvent B31).
pub fn tcp_server<H>(host: Option<&str>, service: &str, mut handler: H) -> io::Result<Server>
where
    H: FnMut(Stream, String, u16) + Send + 'static,
{
    Bind::new(host, service).serve(move |stream, peer| handler(stream, peer.host, peer.port))
}

/// A listening socket from [`tcp_bind`], registered with async-io's reactor. Dropping it closes the
/// socket and removes its unix path if that is still the socket bound here.
#[derive(Debug)]
pub struct BoundListener {
    sock: Async<Socket>,
    local: SockAddr,
    unix: bool,
    _owner: Option<UnixPathOwner>,
}

impl BoundListener {
    /// The bound address (with the kernel-chosen port for port 0).
    pub fn local_addr(&self) -> SockAddr {
        self.local
    }

    /// Waits for a connection. Errors such as `EMFILE` are returned as they are: a loop around this
    /// should pause before retrying (as [`tcp_server`] does).
    pub async fn accept(&self) -> io::Result<(Stream, Peer)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection: `Pending` (with `cx` registered) when none is waiting.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Stream, Peer)>> {
        loop {
            match self.try_accept() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match self.sock.poll_readable(cx) {
                        Poll::Ready(Ok(())) => continue,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return Poll::Ready(r),
            }
        }
    }

    fn try_accept(&self) -> io::Result<(Stream, Peer)> {
        let (s, peer) = self.sock.get_ref().accept()?;
        let peer = Peer::from_addr(anysock_sys::addr::from_socket2(&peer));
        // `Async::new` makes the accepted socket non-blocking.
        let stream = if self.unix {
            Stream::Unix(Async::new(UnixStream::from(s))?)
        } else {
            Stream::Tcp(Async::new(TcpStream::from(s))?)
        };
        Ok((stream, peer))
    }

    /// The underlying socket (non-blocking, taken off the reactor) and the unix path owner (dropping
    /// the owner removes the path).
    pub fn into_parts(self) -> io::Result<(Socket, Option<UnixPathOwner>)> {
        Ok((self.sock.into_inner()?, self._owner))
    }
}

impl AsFd for BoundListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.get_ref().as_fd()
    }
}

/// The first pause after an accept error such as `EMFILE`; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(10);
/// The longest pause between accept retries after errors.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The stop signal of a server: a flag and the accept loop's waker.
#[derive(Debug, Default)]
struct Stop {
    flag: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Stop {
    fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let w = self.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Registers `cx` and tells whether the server is stopped.
    fn poll_stopped(&self, cx: &Context<'_>) -> bool {
        {
            let mut w = self.waker.lock().unwrap_or_else(|e| e.into_inner());
            if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *w = Some(cx.waker().clone());
            }
        }
        self.flag.load(Ordering::SeqCst)
    }
}

/// A running [`tcp_server`]. Dropping it stops the server (see [`tcp_server`]).
#[derive(Debug)]
pub struct Server {
    local: SockAddr,
    stop: Arc<Stop>,
    errors: Arc<AtomicU64>,
    accepted: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

struct AcceptLoop<H> {
    listener: BoundListener,
    stop: Arc<Stop>,
    errors: Arc<AtomicU64>,
    accepted: Arc<AtomicU64>,
    hook: Option<AcceptErrorHook>,
    handler: H,
    backoff: Duration,
    pause: Option<Timer>,
}

impl Server {
    fn start<H>(
        listener: BoundListener,
        hook: Option<AcceptErrorHook>,
        handler: H,
    ) -> io::Result<Server>
    where
        H: FnMut(Stream, Peer) + Send + 'static,
    {
        let stop = Arc::new(Stop::default());
        let errors = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(AtomicU64::new(0));
        let local = listener.local_addr();
        let mut lp = AcceptLoop {
            listener,
            stop: Arc::clone(&stop),
            errors: Arc::clone(&errors),
            accepted: Arc::clone(&accepted),
            hook,
            handler,
            backoff: MIN_BACKOFF,
            pause: None,
        };
        let thread = std::thread::Builder::new()
            .name(format!("anysock-server {local}"))
            .spawn(move || async_io::block_on(std::future::poll_fn(|cx| lp.poll(cx))))?;
        Ok(Server {
            local,
            stop,
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
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            // A panicking handler already ended the loop (and dropped the listener).
            let _ = t.join();
        }
    }
}

fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO | libc::EPERM)
    )
}

impl<H: FnMut(Stream, Peer)> AcceptLoop<H> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.stop.poll_stopped(cx) {
                return Poll::Ready(());
            }
            if let Some(pause) = self.pause.as_mut() {
                if Pin::new(pause).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.pause = None;
            }
            match self.listener.poll_accept(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok((stream, peer))) => {
                    self.backoff = MIN_BACKOFF;
                    self.accepted.fetch_add(1, Ordering::Relaxed);
                    (self.handler)(stream, peer);
                }
                Poll::Ready(Err(e)) if is_transient_accept_error(&e) => {}
                Poll::Ready(Err(e)) => {
                    // EMFILE, ENFILE, ENOBUFS, ENOMEM and anything unexpected: the connection stays
                    // queued and the listener stays readable, so retrying at once would spin. Report,
                    // then pause (a timer: the stop signal still wakes the loop) before trying again.
                    trace_debug!("accept on {} failed: {}", self.listener.local_addr(), e);
                    self.errors.fetch_add(1, Ordering::Relaxed);
                    if let Some(h) = self.hook.as_mut() {
                        h(&e);
                    }
                    self.pause = Some(Timer::after(self.backoff));
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}
