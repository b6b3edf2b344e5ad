//! Benchmarks of the connect machine: a full Happy Eyeballs race over 16 addresses (8 IPv6, 8 IPv4;
//! even attempts refused, odd ones silent, the 12th connects) and single steps (one input and the
//! drain of its outputs).

use std::hint::black_box;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use anysock_core::connect::{AttemptId, Connect, ConnectConfig, Step};
use anysock_core::{Family, SockType, Target};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

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

fn machine(t0: Instant) -> Connect {
    let (v6, v4) = targets();
    let cfg = ConnectConfig::default().with_attempt_timeout(Some(Duration::from_secs(1)));
    let mut c = Connect::new(cfg, t0);
    c.handle_targets(t0, Family::V6, v6);
    c.handle_targets(t0, Family::V4, v4);
    c.handle_resolution_done(t0, None, Ok(()));
    c
}

/// Runs the race to its end; returns the number of inputs fed (steps of the run loop).
fn race(c: &mut Connect, t0: Instant) -> usize {
    let mut now = t0;
    let mut due: [Option<(Instant, AttemptId, bool)>; 16] = [None; 16];
    let mut inputs = 0;
    loop {
        while let Some(step) = c.poll_step() {
            match step {
                Step::StartAttempt { id, .. } => {
                    let n = id.index();
                    if n == 11 {
                        due[n % 16] = Some((now + Duration::from_millis(30), id, true));
                    } else if n % 2 == 0 {
                        due[n % 16] = Some((now + Duration::from_millis(20), id, false));
                    }
                }
                Step::CancelAttempt { id } => due[id.index() % 16] = None,
                Step::Connected { .. } | Step::Failed(_) => return inputs,
                _ => {}
            }
        }
        while c.poll_event().is_some() {}
        let net = due.iter().flatten().min_by_key(|d| d.0).copied();
        let timer = c.poll_timeout();
        inputs += 1;
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
                let Some(t) = timer else { return inputs };
                now = t;
                c.handle_timeout(now);
            }
        }
    }
}

fn drain(c: &mut Connect) {
    while let Some(s) = c.poll_step() {
        black_box(s);
    }
}

fn bench(cr: &mut Criterion) {
    let t0 = origin();
    let inputs = race(&mut machine(t0), t0);
    eprintln!("race over 16 addresses: {inputs} inputs (steps of the run loop) to the winner");

    cr.bench_function("connect/race16_full", |b| {
        b.iter(|| {
            let mut c = machine(t0);
            black_box(race(&mut c, t0))
        })
    });
    cr.bench_function("connect/race16_run_only", |b| {
        b.iter_batched_ref(
            || machine(t0),
            |c| black_box(race(c, t0)),
            BatchSize::SmallInput,
        )
    });
    // One step: the stagger timer fires and one attempt starts (after 3 already in flight).
    cr.bench_function("connect/step_stagger_start", |b| {
        b.iter_batched_ref(
            || {
                let mut c = machine(t0);
                for _ in 0..3 {
                    drain(&mut c);
                    let t = c.poll_timeout().expect("timer");
                    c.handle_timeout(t);
                }
                drain(&mut c);
                c
            },
            |c| {
                let t = c.poll_timeout().expect("timer");
                c.handle_timeout(black_box(t));
                drain(c);
            },
            BatchSize::SmallInput,
        )
    });
    // One step: an attempt fails and the next starts at once.
    cr.bench_function("connect/step_failure_next", |b| {
        b.iter_batched_ref(
            || {
                let mut c = machine(t0);
                drain(&mut c);
                c
            },
            |c| {
                let id = c.attempts()[0].id;
                c.handle_attempt(
                    black_box(t0 + Duration::from_millis(5)),
                    id,
                    Err(ErrorKind::ConnectionRefused),
                );
                drain(c);
            },
            BatchSize::SmallInput,
        )
    });
    // One step: an early timer (nothing due) plus poll_timeout, the idle path of every run loop.
    cr.bench_function("connect/step_idle", |b| {
        let mut c = machine(t0);
        drain(&mut c);
        let now = t0 + Duration::from_millis(100);
        b.iter(|| {
            c.handle_timeout(black_box(now));
            black_box(c.poll_timeout())
        })
    });
}

/// 32 IPv6 + 32 IPv4 targets, resolution done, first attempt started.
fn big_machine(t0: Instant, cfg: ConnectConfig) -> Connect {
    let mut c = Connect::new(cfg, t0);
    let v6 = (0..32u16).map(|i| {
        let ip = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 1, i + 1);
        Target::new(SockType::Stream, 6, SocketAddr::from((ip, 443)).into())
    });
    let v4 = (0..32u8).map(|i| {
        let ip = Ipv4Addr::new(198, 51, 100, i + 1);
        Target::new(SockType::Stream, 6, SocketAddr::from((ip, 443)).into())
    });
    c.handle_targets(t0, Family::V6, v6);
    c.handle_targets(t0, Family::V4, v4);
    c.handle_resolution_done(t0, None, Ok(()));
    drain(&mut c);
    c
}

/// Per-step cost inside a running race, without setup artefacts: machines are built untimed, then
/// 63 consecutive steps of each are timed together (`iter_custom`), and the total is divided by the
/// number of steps.
fn bench_steps_in_race(cr: &mut Criterion) {
    let t0 = origin();
    // Each step: the oldest attempt is refused and the next one starts at once.
    cr.bench_function("connect/step_in_race_failure", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let mut c = big_machine(t0, ConnectConfig::default());
                let now = t0 + Duration::from_millis(1);
                let start = origin();
                for n in 0..63 {
                    let id = c.attempts()[n].id;
                    c.handle_attempt(now, id, Err(ErrorKind::ConnectionRefused));
                    drain(&mut c);
                }
                total += origin() - start;
                black_box(&c);
                done += 63;
            }
            total.mul_f64(iters as f64 / done as f64)
        })
    });
    // Each step: the stagger timer fires and the next attempt starts (nothing ends; no cap).
    cr.bench_function("connect/step_in_race_stagger", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let mut c = big_machine(t0, ConnectConfig::default().with_max_in_flight(64));
                let start = origin();
                for _ in 0..63 {
                    let t = c.poll_timeout().expect("stagger timer");
                    c.handle_timeout(t);
                    drain(&mut c);
                }
                total += origin() - start;
                black_box(&c);
                done += 63;
            }
            total.mul_f64(iters as f64 / done as f64)
        })
    });
}

criterion_group!(benches, bench, bench_steps_in_race);
criterion_main!(benches);
