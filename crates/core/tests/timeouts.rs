//! Timeouts owned by the machine: each attempt's timeout and the overall deadline. Both default to
//! none (AnyEvent has none; the kernel gives up after ~127 s).

mod common;

use std::io::ErrorKind::{self, ConnectionRefused};
use std::time::Duration;

use anysock_core::connect::ConnectConfig;
use common::connect_script::*;

fn ms(n: u64) -> Option<Duration> {
    Some(Duration::from_millis(n))
}

#[test]
fn no_timeouts_by_default() {
    let c = ConnectConfig::default();
    assert_eq!((c.attempt_timeout, c.overall_timeout), (None, None));
    run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (0, Done(None), &[]),
            (0, Timer(None), &[]),
            (200_000, Tick, &[]),
            (200_000, Connects(0), &["connected #0 [2001:db8::1]:80"]),
        ],
    );
}

#[test]
fn attempt_timeout_frees_the_slot_at_once() {
    run(
        he().with_attempt_timeout(ms(400)),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80", "[2001:db8::2]:80", "[2001:db8::3]:80"]),
                &["start #0 [2001:db8::1]:80 until 400"],
            ),
            (0, Done(None), &[]),
            (
                1200,
                Run(1200),
                &[
                    "@250 start #1 [2001:db8::2]:80 until 650",
                    "@400 cancel #0",
                    "@400 start #2 [2001:db8::3]:80 until 800",
                    "@650 cancel #1",
                    "@800 cancel #2",
                    "@800 failed AllFailed(TimedOut)",
                ],
            ),
            (
                1200,
                Trace(&[
                    "#0 [2001:db8::1]:80 0-400 timed out",
                    "#1 [2001:db8::2]:80 250-650 timed out",
                    "#2 [2001:db8::3]:80 400-800 timed out",
                ]),
                &[],
            ),
        ],
    );
}

#[test]
fn overall_deadline_cuts_everything() {
    run(
        he().with_overall_timeout(ms(600)),
        &[
            (0, Timer(Some(600)), &[]),
            (
                0,
                Aaaa(&[
                    "[2001:db8::1]:80",
                    "[2001:db8::2]:80",
                    "[2001:db8::3]:80",
                    "[2001:db8::4]:80",
                ]),
                &["start #0 [2001:db8::1]:80 until 600"],
            ),
            (
                1000,
                Run(1000),
                &[
                    "@250 start #1 [2001:db8::2]:80 until 600",
                    "@500 start #2 [2001:db8::3]:80 until 600",
                    "@600 cancel #0",
                    "@600 cancel #1",
                    "@600 cancel #2",
                    "@600 failed TimedOut",
                ],
            ),
        ],
    );
}

#[test]
fn attempt_deadline_is_the_earlier_of_both() {
    run(
        he().with_attempt_timeout(ms(400))
            .with_overall_timeout(ms(500)),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80", "[2001:db8::2]:80"]),
                &["start #0 [2001:db8::1]:80 until 400"],
            ),
            (250, Tick, &["start #1 [2001:db8::2]:80 until 500"]),
        ],
    );
}

#[test]
fn overall_deadline_while_resolving() {
    run(
        he().with_overall_timeout(ms(300)),
        &[
            (0, A(&["198.51.100.1:80"]), &[]),
            (0, Timer(Some(50)), &[]),
            (50, Tick, &["start #0 198.51.100.1:80 until 300"]),
            (60, Fails(0, ConnectionRefused), &[]),
            (60, Timer(Some(300)), &[]),
            (299, Tick, &[]),
            (300, Tick, &["failed TimedOut"]),
            (300, Timer(None), &[]),
        ],
    );
    run(
        he().with_overall_timeout(ms(100)),
        &[(150, Tick, &["failed TimedOut"])],
    );
}

#[test]
fn a_result_reported_at_the_deadline_counts() {
    // The adapter saw the connection before it looked at the timer: the success stands.
    run(
        he().with_attempt_timeout(ms(100)),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80"]),
                &["start #0 [2001:db8::1]:80 until 100"],
            ),
            (100, Connects(0), &["connected #0 [2001:db8::1]:80"]),
        ],
    );
}

#[test]
fn adapter_reported_timeouts_are_failures() {
    run(
        he().with_attempt_timeout(ms(100)),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80"]),
                &["start #0 [2001:db8::1]:80 until 100"],
            ),
            (0, Done(None), &[]),
            (
                100,
                Fails(0, ErrorKind::TimedOut),
                &["failed AllFailed(Failed(TimedOut))"],
            ),
            (100, Tick, &[]),
        ],
    );
}

#[test]
fn late_timer_fires_everything_due() {
    // The event loop was late: at 900 ms the first attempt's deadline (400) and the stagger are due.
    run(
        he().with_attempt_timeout(ms(400)),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80", "[2001:db8::2]:80", "[2001:db8::3]:80"]),
                &["start #0 [2001:db8::1]:80 until 400"],
            ),
            (
                900,
                Tick,
                &["cancel #0", "start #1 [2001:db8::2]:80 until 1300"],
            ),
            (900, Timer(Some(1150)), &[]),
        ],
    );
}
