//! RFC 8305 §5-6: failures. Every attempt failing, a dead IPv6 path, resolution failures, results
//! that race cancels, and the final error with every attempt.

mod common;

use std::io::ErrorKind::{self, ConnectionRefused, HostUnreachable, NotFound};

use anysock_core::Family;
use anysock_core::connect::{FailReason, Step};
use common::connect_script::*;

#[test]
fn all_refused() {
    let mut s = run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80", "[2001:db8::2]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (0, A(&["198.51.100.1:80", "198.51.100.2:80"]), &[]),
            (0, Done(None), &[]),
            (
                1,
                Fails(0, ConnectionRefused),
                &["start #1 198.51.100.1:80"],
            ),
            (
                2,
                Fails(1, ConnectionRefused),
                &["start #2 [2001:db8::2]:80"],
            ),
            (
                3,
                Fails(2, ConnectionRefused),
                &["start #3 198.51.100.2:80"],
            ),
            (
                4,
                Fails(3, ConnectionRefused),
                &["failed AllFailed(Failed(ConnectionRefused))"],
            ),
            (4, Timer(None), &[]),
            (
                4,
                Trace(&[
                    "#0 [2001:db8::1]:80 0-1 failed: connection refused",
                    "#1 198.51.100.1:80 1-2 failed: connection refused",
                    "#2 [2001:db8::2]:80 2-3 failed: connection refused",
                    "#3 198.51.100.2:80 3-4 failed: connection refused",
                ]),
                &[],
            ),
            // Nothing after the final outcome.
            (5, A(&["198.51.100.3:80"]), &[]),
            (5, Tick, &[]),
        ],
    );
    assert!(s.c.is_finished());
    assert!(s.c.poll_event().is_some());
}

#[test]
fn the_final_error_lists_every_attempt() {
    let mut s = Script::new(he());
    s.input(0, A(&["198.51.100.1:80"]));
    s.input(0, Done(None));
    s.c.handle_attempt(s.at(7), s.ids[0], Err(HostUnreachable));
    let Some(Step::Failed(e)) = s.c.poll_step() else {
        panic!("expected the failure")
    };
    assert_eq!(
        e.reason,
        FailReason::AllFailed(anysock_core::AttemptOutcome::Failed(HostUnreachable))
    );
    assert_eq!(e.kind(), HostUnreachable);
    assert_eq!(e.attempts.len(), 1);
    assert_eq!(
        e.attempts[0].elapsed(),
        Some(std::time::Duration::from_millis(7))
    );
    assert!(
        e.to_string()
            .contains("198.51.100.1:80 failed: host unreachable after 7 ms"),
        "{e}"
    );
}

#[test]
fn ipv6_black_hole_ipv4_wins() {
    run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (5, A(&["198.51.100.1:80"]), &[]),
            (5, Done(None), &[]),
            (250, Tick, &["start #1 198.51.100.1:80"]),
            (
                280,
                Connects(1),
                &["cancel #0", "connected #1 198.51.100.1:80"],
            ),
            (
                280,
                Trace(&[
                    "#0 [2001:db8::1]:80 0-280 cancelled",
                    "#1 198.51.100.1:80 250-280 connected",
                ]),
                &[],
            ),
            // The cancelled attempt's late result is ignored.
            (300, Fails(0, ErrorKind::TimedOut), &[]),
            (300, Connects(0), &[]),
        ],
    );
}

#[test]
fn waits_for_more_answers_before_failing() {
    run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (10, Fails(0, ConnectionRefused), &[]),
            (10, Timer(None), &[]),
            // The A answer arrives after the only IPv6 address failed: it starts at once.
            (30, A(&["198.51.100.1:80"]), &["start #1 198.51.100.1:80"]),
            (40, Fails(1, ConnectionRefused), &[]),
            (50, Done(Some(Family::V4)), &[]),
            (
                60,
                Done(Some(Family::V6)),
                &["failed AllFailed(Failed(ConnectionRefused))"],
            ),
        ],
    );
}

#[test]
fn no_targets() {
    run(he(), &[(3, Done(None), &["failed NoTargets"])]);
    run(
        he(),
        &[
            (1, Done(Some(Family::V4)), &[]),
            (2, Done(Some(Family::V6)), &["failed NoTargets"]),
        ],
    );
}

#[test]
fn resolution_failure_without_targets() {
    let s = run(
        he(),
        &[
            (1, DoneErr(Some(Family::V6), NotFound), &[]),
            (
                2,
                DoneErr(Some(Family::V4), NotFound),
                &["failed Resolution(NotFound)"],
            ),
        ],
    );
    assert!(s.c.attempts().is_empty());
}

#[test]
fn partial_resolution_failure_uses_the_attempts() {
    run(
        he(),
        &[
            (0, A(&["198.51.100.1:80"]), &[]),
            (
                5,
                DoneErr(Some(Family::V6), ErrorKind::TimedOut),
                &["start #0 198.51.100.1:80"],
            ),
            (6, Done(Some(Family::V4)), &[]),
            (
                9,
                Fails(0, ConnectionRefused),
                &["failed AllFailed(Failed(ConnectionRefused))"],
            ),
        ],
    );
}

#[test]
fn results_for_unknown_ids_are_ignored() {
    let mut s = Script::new(he());
    s.input(0, Aaaa(&["[2001:db8::1]:80"]));
    // An id from another machine: ignored.
    let mut other = Script::new(he());
    other.input(0, Aaaa(&["[2001:db8::1]:80", "[2001:db8::2]:80"]));
    other.input(250, Tick);
    s.c.handle_attempt(s.at(10), other.ids[1], Ok(()));
    assert_eq!(s.drain(), Vec::<String>::new());
    assert_eq!(s.c.in_flight(), 1);
    // A second result for an attempt that already failed: ignored.
    s.input(0, A(&["198.51.100.1:80"]));
    assert_eq!(
        s.input(20, Fails(0, ConnectionRefused)),
        ["start #1 198.51.100.1:80"]
    );
    assert_eq!(s.input(21, Connects(0)), Vec::<String>::new());
    assert_eq!(s.input(22, Connects(1)), ["connected #1 198.51.100.1:80"]);
}

#[test]
fn mixed_errors_report_the_last() {
    run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (0, A(&["198.51.100.1:80"]), &[]),
            (0, Done(None), &[]),
            (250, Tick, &["start #1 198.51.100.1:80"]),
            (260, Fails(1, ConnectionRefused), &[]),
            (
                270,
                Fails(0, ErrorKind::NetworkUnreachable),
                &["failed AllFailed(Failed(NetworkUnreachable))"],
            ),
        ],
    );
}
