//! The connect machine allocates nothing after it has been handed its answer lists: a whole race
//! (staggered starts, failures, timeouts, cancels, the win, events and the trace) runs on the
//! memory reserved when the targets arrived. The final failure allocates once: the attempt list it
//! carries.
//!
//! Checked with a counting global allocator that counts only on the test's own thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use anysock_core::connect::{Connect, ConnectConfig, Step};
use anysock_core::{Family, SockType, Target};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the thread-local may be gone while the thread shuts down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn counted<R>(f: impl FnOnce() -> R) -> (R, usize) {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|on| on.set(true));
    let r = f();
    COUNTING.with(|on| on.set(false));
    (r, COUNT.with(|c| c.get()))
}

fn origin() -> Instant {
    anysock_testkit::clock_origin()
}

fn targets() -> ([Target; 8], [Target; 8]) {
    let v6 = core::array::from_fn(|i| {
        let ip = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16 + 1);
        Target::new(SockType::Stream, 6, SocketAddr::from((ip, 443)).into())
    });
    let v4 = core::array::from_fn(|i| {
        let ip = Ipv4Addr::new(198, 51, 100, i as u8 + 1);
        Target::new(SockType::Stream, 6, SocketAddr::from((ip, 443)).into())
    });
    (v6, v4)
}

/// Runs the race: even-numbered attempts are refused after 20 ms, odd ones never answer, attempt
/// `win` connects. Returns the final step.
fn race(c: &mut Connect, t0: Instant, win: usize) -> Option<Step> {
    let mut now = t0;
    // Pending results: at most the cap in flight; a fixed array keeps the test itself allocation-free.
    let mut due: [Option<(Instant, anysock_core::AttemptId, bool)>; 16] = [None; 16];
    for _ in 0..10_000 {
        while let Some(step) = c.poll_step() {
            match step {
                Step::StartAttempt { id, .. } => {
                    let n = id.index();
                    if n == win {
                        due[n % 16] = Some((now + Duration::from_millis(30), id, true));
                    } else if n % 2 == 0 {
                        due[n % 16] = Some((now + Duration::from_millis(20), id, false));
                    }
                }
                Step::CancelAttempt { id } => due[id.index() % 16] = None,
                s @ (Step::Connected { .. } | Step::Failed(_)) => return Some(s),
                _ => {}
            }
        }
        while c.poll_event().is_some() {}
        let net = due.iter().flatten().min_by_key(|d| d.0).copied();
        let timer = c.poll_timeout();
        match net {
            Some((t, id, ok)) if timer.is_none_or(|d| t <= d) => {
                now = t;
                due[id.index() % 16] = None;
                let r = if ok {
                    Ok(())
                } else {
                    Err(ErrorKind::ConnectionRefused)
                };
                c.handle_attempt(now, id, r);
            }
            _ => {
                let t = timer?;
                now = t;
                c.handle_timeout(now);
            }
        }
    }
    None
}

#[test]
fn a_race_to_success_allocates_nothing() {
    let t0 = origin();
    let (v6, v4) = targets();
    let cfg = ConnectConfig::default().with_attempt_timeout(Some(Duration::from_secs(1)));
    let mut c = Connect::new(cfg, t0);
    // The answer lists: allocation allowed here.
    c.handle_targets(t0, Family::V6, v6);
    c.handle_targets(t0, Family::V4, v4);
    c.handle_resolution_done(t0, None, Ok(()));
    let (last, allocs) = counted(|| race(&mut c, t0, 11));
    assert!(matches!(last, Some(Step::Connected { .. })), "{last:?}");
    assert_eq!(allocs, 0, "allocations during the race");
    assert_eq!(c.attempts().len(), 12);
}

#[test]
fn a_race_to_failure_allocates_only_the_error() {
    let t0 = origin();
    let (v6, v4) = targets();
    let cfg = ConnectConfig::default().with_attempt_timeout(Some(Duration::from_millis(700)));
    let mut c = Connect::new(cfg, t0);
    c.handle_targets(t0, Family::V6, v6);
    c.handle_targets(t0, Family::V4, v4);
    c.handle_resolution_done(t0, None, Ok(()));
    let (last, allocs) = counted(|| {
        let last = race(&mut c, t0, usize::MAX);
        // Dropping the error frees, never allocates; keep it out of the count anyway.
        core::mem::forget(last.clone());
        last
    });
    let Some(Step::Failed(e)) = last else {
        panic!("expected a failure, got {last:?}")
    };
    assert_eq!(e.attempts.len(), 16);
    // One for the error's attempt list, one for the test's own clone above.
    assert_eq!(allocs, 2, "allocations during the race");
}

#[test]
fn late_answers_reserve_when_they_arrive() {
    let t0 = origin();
    let (v6, v4) = targets();
    let cfg = ConnectConfig::default().with_attempt_timeout(Some(Duration::from_secs(1)));
    let mut c = Connect::new(cfg, t0);
    c.handle_targets(t0, Family::V6, v6);
    let (_, allocs) = counted(|| {
        let mut now = t0;
        for _ in 0..3 {
            while c.poll_step().is_some() {}
            now = c.poll_timeout().expect("stagger timer");
            c.handle_timeout(now);
        }
        while c.poll_step().is_some() {}
        now
    });
    assert_eq!(allocs, 0);
    // A late answer may grow the lists (that is the allowance), and the race goes on without more.
    c.handle_targets(t0 + Duration::from_millis(800), Family::V4, v4);
    let (last, allocs) = counted(|| race(&mut c, t0 + Duration::from_millis(800), 9));
    assert!(matches!(last, Some(Step::Connected { .. })), "{last:?}");
    assert_eq!(allocs, 0);
}
