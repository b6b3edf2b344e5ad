//! RFC 8305 §5: the Connection Attempt Delay. A new attempt every 250 ms (at least 10 ms), earlier
//! attempts keep running (a stagger is not a timeout), a failure starts the next one at once, and
//! the cap on attempts in flight.

mod common;

use std::io::ErrorKind::ConnectionRefused;
use std::time::Duration;

use common::connect_script::*;

const V6: &[&str] = &[
    "[2001:db8::1]:80",
    "[2001:db8::2]:80",
    "[2001:db8::3]:80",
    "[2001:db8::4]:80",
];

#[test]
fn default_delay_is_250_ms() {
    run(
        he(),
        &[
            (0, Aaaa(V6), &["start #0 [2001:db8::1]:80"]),
            (0, Timer(Some(250)), &[]),
            (249, Tick, &[]),
            (250, Tick, &["start #1 [2001:db8::2]:80"]),
            (250, Timer(Some(500)), &[]),
            (
                2000,
                Run(2000),
                &[
                    "@500 start #2 [2001:db8::3]:80",
                    "@750 start #3 [2001:db8::4]:80",
                ],
            ),
            // Nothing left to start and no deadlines: no timer.
            (2000, Timer(None), &[]),
            (
                2000,
                Trace(&[
                    "#0 [2001:db8::1]:80 0-… in flight",
                    "#1 [2001:db8::2]:80 250-… in flight",
                    "#2 [2001:db8::3]:80 500-… in flight",
                    "#3 [2001:db8::4]:80 750-… in flight",
                ]),
                &[],
            ),
        ],
    );
}

#[test]
fn delay_is_clamped_to_10_ms() {
    run(
        he().with_attempt_delay(Duration::from_millis(1)),
        &[
            (0, Aaaa(V6), &["start #0 [2001:db8::1]:80"]),
            (
                30,
                Run(30),
                &[
                    "@10 start #1 [2001:db8::2]:80",
                    "@20 start #2 [2001:db8::3]:80",
                    "@30 start #3 [2001:db8::4]:80",
                ],
            ),
        ],
    );
    assert_eq!(
        he().with_attempt_delay(Duration::ZERO)
            .effective_attempt_delay(),
        Duration::from_millis(10)
    );
}

#[test]
fn custom_delay() {
    run(
        he().with_attempt_delay(Duration::from_millis(100)),
        &[
            (0, Aaaa(&V6[..2]), &["start #0 [2001:db8::1]:80"]),
            (0, Timer(Some(100)), &[]),
            (100, Tick, &["start #1 [2001:db8::2]:80"]),
        ],
    );
}

#[test]
fn a_stagger_is_not_a_timeout() {
    // The first attempt is slow but healthy: it wins at 600 ms while two later ones are running.
    run(
        he(),
        &[
            (0, Aaaa(&V6[..3]), &["start #0 [2001:db8::1]:80"]),
            (
                500,
                Run(500),
                &[
                    "@250 start #1 [2001:db8::2]:80",
                    "@500 start #2 [2001:db8::3]:80",
                ],
            ),
            (
                600,
                Connects(0),
                &["cancel #1", "cancel #2", "connected #0 [2001:db8::1]:80"],
            ),
            (600, Timer(None), &[]),
        ],
    );
}

#[test]
fn a_failure_starts_the_next_attempt_at_once() {
    run(
        he(),
        &[
            (0, Aaaa(V6), &["start #0 [2001:db8::1]:80"]),
            (
                40,
                Fails(0, ConnectionRefused),
                &["start #1 [2001:db8::2]:80"],
            ),
            // The stagger restarts from the new attempt.
            (40, Timer(Some(290)), &[]),
            (290, Tick, &["start #2 [2001:db8::3]:80"]),
            (
                300,
                Fails(1, ConnectionRefused),
                &["start #3 [2001:db8::4]:80"],
            ),
        ],
    );
}

#[test]
fn a_failure_of_an_older_attempt_also_frees_a_start() {
    run(
        he(),
        &[
            (0, Aaaa(V6), &["start #0 [2001:db8::1]:80"]),
            (250, Tick, &["start #1 [2001:db8::2]:80"]),
            (
                260,
                Fails(0, ConnectionRefused),
                &["start #2 [2001:db8::3]:80"],
            ),
            (260, Timer(Some(510)), &[]),
        ],
    );
}

#[test]
fn cap_on_attempts_in_flight() {
    run(
        he().with_max_in_flight(2),
        &[
            (0, Aaaa(V6), &["start #0 [2001:db8::1]:80"]),
            (250, Tick, &["start #1 [2001:db8::2]:80"]),
            // Two in flight: no timer for the next start.
            (250, Timer(None), &[]),
            (5000, Tick, &[]),
            (
                5000,
                Fails(1, ConnectionRefused),
                &["start #2 [2001:db8::3]:80"],
            ),
            (5000, Timer(None), &[]),
            (
                6000,
                Fails(0, ConnectionRefused),
                &["start #3 [2001:db8::4]:80"],
            ),
        ],
    );
}

#[test]
fn default_cap_is_six() {
    let many: &[&str] = &[
        "[2001:db8::1]:80",
        "[2001:db8::2]:80",
        "[2001:db8::3]:80",
        "[2001:db8::4]:80",
        "[2001:db8::5]:80",
        "[2001:db8::6]:80",
        "[2001:db8::7]:80",
    ];
    let mut s = run(he(), &[(0, Aaaa(many), &["start #0 [2001:db8::1]:80"])]);
    let steps = s.input(10_000, Run(10_000));
    assert_eq!(steps.len(), 5, "{steps:?}");
    assert_eq!(s.c.in_flight(), 6);
    assert_eq!(s.c.remaining(), 1);
    assert_eq!(s.c.poll_timeout(), None);
}

#[test]
fn a_late_answer_after_a_long_pause_starts_at_once() {
    run(
        he(),
        &[
            (0, Aaaa(&V6[..1]), &["start #0 [2001:db8::1]:80"]),
            (0, Timer(None), &[]),
            // The stagger time has long passed: the new address starts when it arrives.
            (900, A(&["198.51.100.1:80"]), &["start #1 198.51.100.1:80"]),
        ],
    );
}
