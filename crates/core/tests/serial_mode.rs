//! Serial mode: AnyEvent's `tcp_connect` order. Targets in the order handed in, one at a time, the
//! next when the previous fails or times out; no sorting, no interleaving, no Resolution Delay.

mod common;

use std::io::ErrorKind::{ConnectionRefused, NotFound};
use std::time::Duration;

use anysock_core::connect::ConnectConfig;
use common::connect_script::*;

fn serial() -> ConnectConfig {
    ConnectConfig::serial()
}

#[test]
fn targets_in_the_order_given() {
    run(
        serial(),
        &[
            // IPv4 first, as AnyEvent's default PERL_ANYEVENT_PROTOCOLS orders them; no Resolution Delay.
            (
                0,
                A(&["198.51.100.2:80", "198.51.100.1:80"]),
                &["start #0 198.51.100.2:80"],
            ),
            (5, Aaaa(&["[::1]:80", "[2001:db8::1]:80"]), &[]),
            (5, Done(None), &[]),
            (
                100,
                Fails(0, ConnectionRefused),
                &["start #1 198.51.100.1:80"],
            ),
            (200, Fails(1, ConnectionRefused), &["start #2 [::1]:80"]),
            (
                300,
                Fails(2, ConnectionRefused),
                &["start #3 [2001:db8::1]:80"],
            ),
            (
                400,
                Fails(3, ConnectionRefused),
                &["failed AllFailed(Failed(ConnectionRefused))"],
            ),
        ],
    );
}

#[test]
fn one_at_a_time_no_stagger() {
    let mut s = run(
        serial(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80", "[2001:db8::2]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (0, Timer(None), &[]),
            (60_000, Run(60_000), &[]),
        ],
    );
    assert_eq!(s.c.in_flight(), 1);
    assert_eq!(
        s.input(60_001, Connects(0)),
        ["connected #0 [2001:db8::1]:80"]
    );
}

#[test]
fn per_attempt_timeout_moves_on() {
    run(
        serial().with_attempt_timeout(Some(Duration::from_secs(1))),
        &[
            (
                0,
                A(&["198.51.100.1:80", "198.51.100.2:80"]),
                &["start #0 198.51.100.1:80 until 1000"],
            ),
            (0, Done(None), &[]),
            (0, Timer(Some(1000)), &[]),
            (
                2000,
                Run(2000),
                &[
                    "@1000 cancel #0",
                    "@1000 start #1 198.51.100.2:80 until 2000",
                    "@2000 cancel #1",
                    "@2000 failed AllFailed(TimedOut)",
                ],
            ),
        ],
    );
}

#[test]
fn unix_targets_serially() {
    run(
        serial(),
        &[
            (
                0,
                Unix(&["/run/a.sock", "/run/b.sock"]),
                &["start #0 unix/:/run/a.sock"],
            ),
            (0, Done(None), &[]),
            (1, Fails(0, NotFound), &["start #1 unix/:/run/b.sock"]),
            (2, Connects(1), &["connected #1 unix/:/run/b.sock"]),
        ],
    );
}

#[test]
fn srv_metadata_does_not_reorder_in_serial_mode() {
    // The planner already ordered the list; serial mode keeps it as handed in.
    run(
        serial(),
        &[
            (
                0,
                Srv(anysock_core::Family::V4, 20, &["198.51.100.20:80"]),
                &["start #0 198.51.100.20:80"],
            ),
            (
                0,
                Srv(anysock_core::Family::V4, 10, &["198.51.100.10:80"]),
                &[],
            ),
            (
                1,
                Fails(0, ConnectionRefused),
                &["start #1 198.51.100.10:80"],
            ),
        ],
    );
}

#[test]
fn no_targets_fails_like_anyevent_enxio() {
    run(serial(), &[(0, Done(None), &["failed NoTargets"])]);
}
