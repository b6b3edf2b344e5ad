//! The caller's rejection of a connected attempt: AnyEvent's `$retry` (B27 fixed). The rejected
//! attempt is recorded, and the race resumes with the remaining targets, including those whose
//! attempts were cancelled when the rejected one won.

mod common;

use std::io::ErrorKind::ConnectionRefused;

use anysock_core::connect::{AttemptOutcome, ConnectConfig, FailReason, Step};
use common::connect_script::*;

#[test]
fn b27_retry_tries_the_next_target() {
    // AnyEvent: servers on 127.0.0.1 and ::1, the callback calls $retry, ::1 is never tried.
    run(
        ConnectConfig::serial(),
        &[
            (0, A(&["127.0.0.1:8080"]), &["start #0 127.0.0.1:8080"]),
            (0, Aaaa(&["[::1]:8080"]), &[]),
            (0, Done(None), &[]),
            (1, Connects(0), &["connected #0 127.0.0.1:8080"]),
            (2, Reject(0), &["start #1 [::1]:8080"]),
            (3, Connects(1), &["connected #1 [::1]:8080"]),
            (
                3,
                Trace(&[
                    "#0 127.0.0.1:8080 0-2 rejected by the caller",
                    "#1 [::1]:8080 2-3 connected",
                ]),
                &[],
            ),
        ],
    );
}

#[test]
fn reject_with_nothing_left_fails() {
    let mut s = run(
        ConnectConfig::serial(),
        &[
            (0, A(&["127.0.0.1:8080"]), &["start #0 127.0.0.1:8080"]),
            (0, Done(None), &[]),
            (1, Connects(0), &["connected #0 127.0.0.1:8080"]),
        ],
    );
    s.c.handle_reject(s.at(2), s.ids[0]);
    let Some(Step::Failed(e)) = s.c.poll_step() else {
        panic!("expected the failure")
    };
    assert_eq!(e.reason, FailReason::AllFailed(AttemptOutcome::Rejected));
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionAborted);
}

#[test]
fn losers_of_a_rejected_win_are_tried_again() {
    run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (0, A(&["198.51.100.1:80", "198.51.100.2:80"]), &[]),
            (0, Done(None), &[]),
            (250, Tick, &["start #1 198.51.100.1:80"]),
            (
                260,
                Connects(1),
                &["cancel #0", "connected #1 198.51.100.1:80"],
            ),
            // The winner is rejected: the IPv6 attempt never got a verdict and goes back in the list.
            (300, Reject(1), &["start #2 [2001:db8::1]:80"]),
            (550, Tick, &["start #3 198.51.100.2:80"]),
            (560, Fails(2, ConnectionRefused), &[]),
            (
                570,
                Fails(3, ConnectionRefused),
                &["failed AllFailed(Failed(ConnectionRefused))"],
            ),
            (
                570,
                Trace(&[
                    "#0 [2001:db8::1]:80 0-260 cancelled",
                    "#1 198.51.100.1:80 250-300 rejected by the caller",
                    "#2 [2001:db8::1]:80 300-560 failed: connection refused",
                    "#3 198.51.100.2:80 550-570 failed: connection refused",
                ]),
                &[],
            ),
        ],
    );
}

#[test]
fn reject_of_a_non_winner_is_ignored() {
    run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80", "[2001:db8::2]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (250, Tick, &["start #1 [2001:db8::2]:80"]),
            // Not connected: nothing happens.
            (260, Reject(0), &[]),
            (
                270,
                Connects(1),
                &["cancel #0", "connected #1 [2001:db8::2]:80"],
            ),
            // The loser cannot be rejected either.
            (280, Reject(0), &[]),
            (290, Reject(1), &["start #2 [2001:db8::1]:80"]),
            // The rejected one cannot be rejected twice.
            (291, Reject(1), &[]),
        ],
    );
}

#[test]
fn reject_before_resolution_ends_waits_for_more() {
    run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (10, Connects(0), &["connected #0 [2001:db8::1]:80"]),
            (20, Reject(0), &[]),
            (20, Timer(None), &[]),
            (40, A(&["198.51.100.1:80"]), &["start #1 198.51.100.1:80"]),
            (50, Connects(1), &["connected #1 198.51.100.1:80"]),
        ],
    );
}

#[test]
fn answers_during_a_win_are_kept_for_a_reject() {
    run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (10, Connects(0), &["connected #0 [2001:db8::1]:80"]),
            (20, A(&["198.51.100.1:80"]), &[]),
            (20, Done(None), &[]),
            (30, Reject(0), &["start #1 198.51.100.1:80"]),
        ],
    );
}
