//! The adapter's event loop pieces: a `polling` poller, registrations that deregister themselves, and
//! waiting until a deadline.

use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Instant;

use polling::{Event, Events, Poller};

use crate::clock::now;

/// What a registration waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interest {
    Read,
    Write,
}

/// One readiness report.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ready {
    pub key: usize,
}

/// A poller and its key counter. Registrations are one-shot: after a report, re-arm to wait again.
///
/// Creating a poller costs several system calls (an epoll instance, an eventfd, registering it), so
/// each thread keeps one spare: a reactor dropped with no registration left goes back to the thread's
/// spare slot and the next [`Reactor::new`] on that thread reuses it.
#[derive(Debug)]
pub(crate) struct Reactor {
    poller: Arc<Poller>,
    events: Events,
    next_key: usize,
}

thread_local! {
    static SPARE: std::cell::RefCell<Option<(Arc<Poller>, Events, usize)>> =
        const { std::cell::RefCell::new(None) };
}

/// A source registered with a [`Reactor`]'s poller; deregistered when dropped or taken back.
#[derive(Debug)]
pub(crate) struct Registered<S: AsFd> {
    poller: Arc<Poller>,
    inner: Option<S>,
    key: usize,
}

impl Reactor {
    pub(crate) fn new() -> io::Result<Self> {
        if let Some((poller, events, next_key)) = SPARE.with(|s| s.borrow_mut().take()) {
            return Ok(Reactor {
                poller,
                events,
                next_key,
            });
        }
        Ok(Reactor {
            poller: Arc::new(Poller::new()?),
            events: Events::new(),
            next_key: 0,
        })
    }

    /// Registers `source` with a fresh key, armed for `interest`.
    pub(crate) fn register<S: AsFd>(
        &mut self,
        source: S,
        interest: Interest,
    ) -> io::Result<Registered<S>> {
        let key = self.next_key;
        self.next_key += 1;
        // SAFETY: `Registered` owns the source and deletes it from the poller before the source is
        // dropped or handed back (see its `Drop` and `into_inner`).
        #[allow(unsafe_code)]
        unsafe {
            self.poller.add(&source.as_fd(), event(key, interest))?;
        }
        Ok(Registered {
            poller: Arc::clone(&self.poller),
            inner: Some(source),
            key,
        })
    }

    /// Waits for readiness until `deadline` (`None`: no deadline). Returns the ready keys; an empty
    /// result means the deadline passed (or a spurious wake-up).
    pub(crate) fn wait(&mut self, deadline: Option<Instant>) -> io::Result<Vec<Ready>> {
        let timeout = deadline.map(|d| d.saturating_duration_since(now()));
        self.events.clear();
        match self.poller.wait(&mut self.events, timeout) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
        Ok(self.events.iter().map(|e| Ready { key: e.key }).collect())
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        // Reusable only if no registration is left (each holds a reference to the poller).
        if Arc::strong_count(&self.poller) != 1 {
            return;
        }
        let events = std::mem::replace(
            &mut self.events,
            Events::with_capacity(std::num::NonZeroUsize::MIN),
        );
        let spare = (Arc::clone(&self.poller), events, self.next_key);
        // During thread exit the slot may be gone already; then the poller is simply closed.
        let _ = SPARE.try_with(|s| {
            let mut s = s.borrow_mut();
            if s.is_none() {
                *s = Some(spare);
            }
        });
    }
}

fn event(key: usize, interest: Interest) -> Event {
    match interest {
        Interest::Read => Event::readable(key),
        Interest::Write => Event::writable(key),
    }
}

impl<S: AsFd> Registered<S> {
    pub(crate) fn key(&self) -> usize {
        self.key
    }

    pub(crate) fn get(&self) -> &S {
        self.inner.as_ref().expect("present until into_inner")
    }

    pub(crate) fn get_mut(&mut self) -> &mut S {
        self.inner.as_mut().expect("present until into_inner")
    }

    /// Arms the registration again (registrations are one-shot).
    pub(crate) fn arm(&self, interest: Interest) -> io::Result<()> {
        self.poller
            .modify(self.get().as_fd(), event(self.key, interest))
    }

    /// Deregisters and hands the source back.
    pub(crate) fn into_inner(mut self) -> S {
        let s = self.inner.take().expect("present until into_inner");
        let _ = self.poller.delete(s.as_fd());
        s
    }
}

impl<S: AsFd> Drop for Registered<S> {
    fn drop(&mut self) {
        if let Some(s) = self.inner.take() {
            // Deleting can only fail if the fd is not registered, which cannot happen here.
            let _ = self.poller.delete(s.as_fd());
        }
    }
}
