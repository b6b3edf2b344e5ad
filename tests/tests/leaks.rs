//! Leaks (heavy; `--features heavy`): 10,000 connects per adapter cancelled at random points (the
//! future dropped by a timeout on tokio and async-std, the overall connect timeout on blocking) while
//! an IPv6 attempt hangs and an IPv4 one may win; afterwards open descriptors (/proc/self/fd),
//! threads (/proc/self/task) and, on tokio, alive tasks are back to their baseline.
#![cfg(feature = "heavy")]
// These suites measure elapsed wall-clock time (the sans-IO clock rule is for anysock-core).
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anysock_tests::{Rng, dual_family_same_port, fd_count, raise_nofile, thread_count};

static SERIAL: Mutex<()> = Mutex::new(());

const TOTAL: usize = 10_000;
const BATCH: usize = 100;
/// Cancel points are drawn from 0..CANCEL_MAX_US microseconds; the attempt delay is 5 ms, so
/// cancellations land before the first attempt, during the IPv6 attempt, during the race and after
/// the IPv4 connection won.
const CANCEL_MAX_US: u64 = 15_000;
const ATTEMPT_DELAY: Duration = Duration::from_millis(5);

/// Waits up to 5 s for `f() <= baseline`; returns the last value.
fn settle(baseline: usize, f: impl Fn() -> usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let v = f();
        if v <= baseline || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn report(
    adapter: &str,
    fds: (usize, usize),
    threads: (usize, usize),
    completed: usize,
    extra: &str,
) {
    println!(
        "RESULT leaks {adapter}: {TOTAL} cancelled connects ({completed} completed before their cancel point); \
         fds {} -> {}, threads {} -> {}{extra}",
        fds.0, fds.1, threads.0, threads.1
    );
    assert!(
        fds.1 <= fds.0,
        "{adapter}: descriptors leaked: {} -> {}",
        fds.0,
        fds.1
    );
    assert!(
        threads.1 <= threads.0,
        "{adapter}: threads leaked: {} -> {}",
        threads.0,
        threads.1
    );
}

fn targets(v6: SocketAddr, v4: SocketAddr) -> [SocketAddr; 2] {
    [v6, v4]
}

#[test]
fn tokio_dropped_connects_leak_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    raise_nofile(8192);
    let (v4, v6) = dual_family_same_port();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_keep_alive(Duration::from_millis(50))
        .enable_all()
        .build()
        .expect("runtime");
    let addrs = targets(v6.addr, v4.addr);
    let connector = Arc::new(anysock_tokio::Connector::new().attempt_delay(ATTEMPT_DELAY));
    let run = |n: usize, seed: u64| -> usize {
        rt.block_on(async {
            let mut rng = Rng::new(seed);
            let mut completed = 0;
            for _ in 0..n / BATCH {
                let tasks: Vec<_> = (0..BATCH)
                    .map(|_| {
                        let c = Arc::clone(&connector);
                        let cancel = Duration::from_micros(rng.below(CANCEL_MAX_US));
                        tokio::spawn(async move {
                            tokio::time::timeout(cancel, c.connect_addrs(addrs))
                                .await
                                .is_ok()
                        })
                    })
                    .collect();
                for t in tasks {
                    completed += usize::from(t.await.expect("task"));
                }
            }
            completed
        })
    };
    run(BATCH, 1); // warm-up: lazily created runtime pieces are part of the baseline
    std::thread::sleep(Duration::from_millis(200));
    let (fd0, th0) = (fd_count(), thread_count());
    let completed = run(TOTAL, 0x5eed);
    let fd1 = settle(fd0, fd_count);
    let th1 = settle(th0, thread_count);
    // A finished task is counted until its worker thread has released it: wait for that, as for fds.
    let alive = settle(0, || rt.metrics().num_alive_tasks());
    report(
        "tokio",
        (fd0, fd1),
        (th0, th1),
        completed,
        &format!(", alive tasks {alive}"),
    );
    assert_eq!(alive, 0, "tokio: tasks left behind");
}

#[test]
fn async_std_dropped_connects_leak_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    raise_nofile(8192);
    let (v4, v6) = dual_family_same_port();
    let addrs = targets(v6.addr, v4.addr);
    let connector = Arc::new(anysock_async_std::Connector::new().attempt_delay(ATTEMPT_DELAY));
    let run = |n: usize, seed: u64| -> usize {
        async_std::task::block_on(async {
            let mut rng = Rng::new(seed);
            let mut completed = 0;
            for _ in 0..n / BATCH {
                let tasks: Vec<_> = (0..BATCH)
                    .map(|_| {
                        let c = Arc::clone(&connector);
                        let cancel = Duration::from_micros(rng.below(CANCEL_MAX_US));
                        async_std::task::spawn(async move {
                            async_std::future::timeout(cancel, c.connect_addrs(addrs))
                                .await
                                .is_ok()
                        })
                    })
                    .collect();
                for t in tasks {
                    completed += usize::from(t.await);
                }
            }
            completed
        })
    };
    run(BATCH, 1);
    std::thread::sleep(Duration::from_millis(200));
    let (fd0, th0) = (fd_count(), thread_count());
    let completed = run(TOTAL, 0x5eed);
    let fd1 = settle(fd0, fd_count);
    let th1 = settle(th0, thread_count);
    report("async-std", (fd0, fd1), (th0, th1), completed, "");
}

#[test]
fn blocking_timed_out_connects_leak_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    raise_nofile(8192);
    let (v4, v6) = dual_family_same_port();
    let addrs = targets(v6.addr, v4.addr);
    const THREADS: usize = 50;
    let run = |n: usize, seed: u64| -> usize {
        let workers: Vec<_> = (0..THREADS)
            .map(|i| {
                std::thread::spawn(move || {
                    let mut rng = Rng::new(seed + i as u64);
                    let mut completed = 0;
                    for _ in 0..n / THREADS {
                        // The overall timeout is the blocking adapter's cancellation point (at
                        // least 1 µs: a zero timeout may mean "none").
                        let cancel = Duration::from_micros(1 + rng.below(CANCEL_MAX_US));
                        let c = anysock_blocking::Connector::new()
                            .attempt_delay(ATTEMPT_DELAY)
                            .timeout(cancel);
                        completed += usize::from(c.connect_addrs(addrs).is_ok());
                    }
                    completed
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).sum()
    };
    run(BATCH, 1);
    std::thread::sleep(Duration::from_millis(200));
    let (fd0, th0) = (fd_count(), thread_count());
    let completed = run(TOTAL, 0x5eed);
    let fd1 = settle(fd0, fd_count);
    let th1 = settle(th0, thread_count);
    report("blocking", (fd0, fd1), (th0, th1), completed, "");
}
