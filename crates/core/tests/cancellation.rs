//! Cancellation: the caller's `cancel`, losers cancelled when one attempt wins, results racing
//! cancels, and silence after the final outcome.

mod common;

use std::io::ErrorKind::ConnectionRefused;

use anysock_core::connect::{Event, Step};
use common::connect_script::*;

#[test]
fn cancel_stops_every_attempt_in_flight() {
    let s = run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80", "[2001:db8::2]:80", "[2001:db8::3]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (250, Tick, &["start #1 [2001:db8::2]:80"]),
            (300, Cancel, &["cancel #0", "cancel #1", "failed Cancelled"]),
            (300, Timer(None), &[]),
            (
                300,
                Trace(&[
                    "#0 [2001:db8::1]:80 0-300 cancelled",
                    "#1 [2001:db8::2]:80 250-300 cancelled",
                ]),
                &[],
            ),
            (310, Connects(0), &[]),
            (310, Cancel, &[]),
            (600, Tick, &[]),
        ],
    );
    assert!(s.c.is_finished());
}

#[test]
fn cancel_before_any_answer() {
    let s = run(
        he(),
        &[
            (5, Cancel, &["failed Cancelled"]),
            (6, Aaaa(&["[2001:db8::1]:80"]), &[]),
        ],
    );
    assert!(s.c.attempts().is_empty());
}

#[test]
fn cancel_during_the_resolution_delay() {
    run(
        he(),
        &[
            (0, A(&["198.51.100.1:80"]), &[]),
            (20, Cancel, &["failed Cancelled"]),
            (50, Tick, &[]),
            (50, Timer(None), &[]),
        ],
    );
}

#[test]
fn a_win_cancels_the_others_and_later_results_are_ignored() {
    run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80", "[2001:db8::2]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (0, A(&["198.51.100.1:80"]), &[]),
            (
                500,
                Run(500),
                &[
                    "@250 start #1 198.51.100.1:80",
                    "@500 start #2 [2001:db8::2]:80",
                ],
            ),
            (
                510,
                Connects(1),
                &["cancel #0", "cancel #2", "connected #1 198.51.100.1:80"],
            ),
            (520, Connects(0), &[]),
            (520, Fails(2, ConnectionRefused), &[]),
            (520, A(&["198.51.100.2:80"]), &[]),
            (900, Tick, &[]),
            (900, Cancel, &[]),
            (900, Timer(None), &[]),
        ],
    );
}

#[test]
fn cancel_after_the_failure_does_nothing() {
    run(
        he(),
        &[
            (0, A(&["198.51.100.1:80"]), &[]),
            (0, Done(None), &["start #0 198.51.100.1:80"]),
            (
                1,
                Fails(0, ConnectionRefused),
                &["failed AllFailed(Failed(ConnectionRefused))"],
            ),
            (2, Cancel, &[]),
        ],
    );
}

#[test]
fn events_report_every_start_and_end() {
    let mut s = run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (0, A(&["198.51.100.1:80"]), &[]),
            (250, Tick, &["start #1 198.51.100.1:80"]),
            (260, Cancel, &["cancel #0", "cancel #1", "failed Cancelled"]),
        ],
    );
    let events: Vec<String> = std::iter::from_fn(|| s.c.poll_event())
        .map(|e| match e {
            Event::AttemptStarted(r) => format!("started {}", r.id),
            Event::AttemptEnded(r) => format!("ended {} {}", r.id, r.outcome.expect("outcome")),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        events,
        [
            "started #0",
            "started #1",
            "ended #0 cancelled",
            "ended #1 cancelled"
        ]
    );
}

#[test]
fn failed_step_is_the_last() {
    let mut s = Script::new(he());
    s.input(0, Done(None));
    s.c.handle_timeout(s.at(100));
    s.c.cancel(s.at(100));
    assert_eq!(s.c.poll_step(), None::<Step>);
}
