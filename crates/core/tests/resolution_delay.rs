//! RFC 8305 §3: the Resolution Delay. If A answers arrive before AAAA, wait up to 50 ms for AAAA;
//! if AAAA arrives first (or AAAA resolution ends), start at once.

mod common;

use std::io::ErrorKind;
use std::time::Duration;

use anysock_core::Family;
use common::connect_script::*;

const V4: &str = "198.51.100.1:80";
const V6: &str = "[2001:db8::1]:80";

#[test]
fn aaaa_within_the_delay_starts_ipv6_first() {
    run(
        he(),
        &[
            (0, A(&[V4]), &[]),
            (0, Timer(Some(50)), &[]),
            (20, Aaaa(&[V6]), &["start #0 [2001:db8::1]:80"]),
            (20, Timer(Some(270)), &[]),
            (270, Tick, &["start #1 198.51.100.1:80"]),
        ],
    );
}

#[test]
fn aaaa_too_late_ipv4_starts_after_50_ms() {
    run(
        he(),
        &[
            (0, A(&[V4]), &[]),
            (49, Tick, &[]),
            (50, Tick, &["start #0 198.51.100.1:80"]),
            // The late AAAA is merged; it waits for the Connection Attempt Delay.
            (100, Aaaa(&[V6]), &[]),
            (100, Timer(Some(300)), &[]),
            (300, Tick, &["start #1 [2001:db8::1]:80"]),
        ],
    );
}

#[test]
fn aaaa_first_starts_at_once_and_a_waits_for_the_stagger() {
    run(
        he(),
        &[
            (0, Aaaa(&[V6]), &["start #0 [2001:db8::1]:80"]),
            (10, A(&[V4]), &[]),
            (10, Timer(Some(250)), &[]),
            (250, Tick, &["start #1 198.51.100.1:80"]),
        ],
    );
}

#[test]
fn aaaa_nodata_ends_the_delay() {
    run(
        he(),
        &[
            (0, A(&[V4]), &[]),
            (10, Done(Some(Family::V6)), &["start #0 198.51.100.1:80"]),
        ],
    );
}

#[test]
fn aaaa_failure_ends_the_delay() {
    run(
        he(),
        &[
            (0, A(&[V4]), &[]),
            (
                30,
                DoneErr(Some(Family::V6), ErrorKind::NotFound),
                &["start #0 198.51.100.1:80"],
            ),
        ],
    );
}

#[test]
fn overall_end_of_resolution_ends_the_delay() {
    run(
        he(),
        &[
            (0, A(&[V4]), &[]),
            (5, Done(None), &["start #0 198.51.100.1:80"]),
        ],
    );
}

#[test]
fn the_end_of_a_resolution_alone_does_not_end_the_delay() {
    run(
        he(),
        &[
            (0, A(&[V4]), &[]),
            (5, Done(Some(Family::V4)), &[]),
            (5, Timer(Some(50)), &[]),
            (50, Tick, &["start #0 198.51.100.1:80"]),
        ],
    );
}

#[test]
fn zero_delay_disables_it() {
    run(
        he().with_resolution_delay(Duration::ZERO),
        &[(0, A(&[V4]), &["start #0 198.51.100.1:80"])],
    );
}

#[test]
fn custom_delay() {
    run(
        he().with_resolution_delay(Duration::from_millis(120)),
        &[
            (0, A(&[V4]), &[]),
            (0, Timer(Some(120)), &[]),
            (119, Tick, &[]),
            (120, Tick, &["start #0 198.51.100.1:80"]),
        ],
    );
}

#[test]
fn early_and_repeated_timeouts_do_nothing() {
    run(
        he(),
        &[
            (0, A(&[V4]), &[]),
            (0, Tick, &[]),
            (10, Tick, &[]),
            (10, Tick, &[]),
            (49, Tick, &[]),
            (50, Tick, &["start #0 198.51.100.1:80"]),
            (50, Tick, &[]),
        ],
    );
}

#[test]
fn empty_a_answer_does_not_start_the_delay() {
    run(
        he(),
        &[
            (0, A(&[]), &[]),
            (0, Timer(None), &[]),
            (70, Aaaa(&[V6]), &["start #0 [2001:db8::1]:80"]),
        ],
    );
}

#[test]
fn unix_targets_start_at_once() {
    run(
        he(),
        &[(
            0,
            Unix(&["/run/app.sock"]),
            &["start #0 unix/:/run/app.sock"],
        )],
    );
}
