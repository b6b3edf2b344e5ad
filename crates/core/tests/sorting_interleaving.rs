//! RFC 8305 §4: sorting (RFC 6724) and family interleaving, SRV priority groups (B18 policy), late
//! answers merged into the remaining list, and each endpoint tried once.

mod common;

use anysock_core::Family;
use common::connect_script::*;

#[test]
fn families_alternate_starting_with_the_preferred_one() {
    run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80", "[2001:db8::2]:80", "[2001:db8::3]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (0, A(&["198.51.100.1:80", "198.51.100.2:80"]), &[]),
            (0, Done(None), &[]),
            (
                1000,
                Run(1000),
                &[
                    "@250 start #1 198.51.100.1:80",
                    "@500 start #2 [2001:db8::2]:80",
                    "@750 start #3 198.51.100.2:80",
                    "@1000 start #4 [2001:db8::3]:80",
                ],
            ),
            (1000, Timer(None), &[]),
        ],
    );
}

#[test]
fn first_address_family_count_two() {
    run(
        he().with_first_family_count(2),
        &[
            (0, A(&["198.51.100.1:80", "198.51.100.2:80"]), &[]),
            (
                10,
                Aaaa(&["[2001:db8::1]:80", "[2001:db8::2]:80", "[2001:db8::3]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (
                1010,
                Run(1010),
                &[
                    "@260 start #1 [2001:db8::2]:80",
                    "@510 start #2 198.51.100.1:80",
                    "@760 start #3 [2001:db8::3]:80",
                    "@1010 start #4 198.51.100.2:80",
                ],
            ),
        ],
    );
}

#[test]
fn ipv4_first_when_the_sort_prefers_it() {
    // Answers arrive in the Resolution Delay; IPv6 has no route (rule 1), so IPv4 leads.
    run(
        he(),
        &[
            (
                0,
                Sourced(
                    Family::V4,
                    &[
                        ("198.51.100.1:80", Some("203.0.113.5")),
                        ("198.51.100.2:80", Some("203.0.113.5")),
                    ],
                ),
                &[],
            ),
            (
                10,
                Sourced(Family::V6, &[("[2001:db8::1]:80", None)]),
                &["start #0 198.51.100.1:80"],
            ),
            (
                510,
                Run(510),
                &[
                    "@260 start #1 [2001:db8::1]:80",
                    "@510 start #2 198.51.100.2:80",
                ],
            ),
        ],
    );
}

#[test]
fn rfc6724_within_a_family() {
    // Without sources: ::1 (precedence 50) before 2001:db8::1 (40); a 6to4 address (30) after.
    run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2002:c633:6401::1]:80", "[2001:db8::1]:80", "[::1]:80"]),
                &["start #0 [::1]:80"],
            ),
            (0, Done(None), &[]),
            (
                500,
                Run(500),
                &[
                    "@250 start #1 [2001:db8::1]:80",
                    "@500 start #2 [2002:c633:6401::1]:80",
                ],
            ),
        ],
    );
}

#[test]
fn matching_scope_with_sources() {
    // A global IPv6 destination reached from a link-local source loses to IPv4 with a matching scope.
    run(
        he(),
        &[
            (
                0,
                Sourced(Family::V4, &[("198.51.100.121:80", Some("198.51.100.117"))]),
                &[],
            ),
            (
                5,
                Sourced(Family::V6, &[("[2001:db8:1::1]:80", Some("fe80::1"))]),
                &["start #0 198.51.100.121:80"],
            ),
        ],
    );
}

#[test]
fn late_answers_are_merged_into_the_remaining_list() {
    run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (100, A(&["198.51.100.1:80"]), &[]),
            (250, Tick, &["start #1 198.51.100.1:80"]),
            (300, Aaaa(&["[2001:db8::2]:80"]), &[]),
            (300, A(&["198.51.100.2:80"]), &[]),
            // IPv4 went last, so IPv6 is next.
            (500, Tick, &["start #2 [2001:db8::2]:80"]),
            (750, Tick, &["start #3 198.51.100.2:80"]),
        ],
    );
}

#[test]
fn srv_priority_outranks_family_b18() {
    // AnyEvent's example: prio 10 IPv6 only (A6), prio 20 IPv4 only (B4), prio 30 both (C4, C6).
    // AnyEvent orders B4, C4, A6, C6; we keep SRV priority and interleave inside a priority.
    run(
        he(),
        &[
            (
                0,
                Srv(Family::V6, 10, &["[2001:db8::a]:80"]),
                &["start #0 [2001:db8::a]:80"],
            ),
            (0, Srv(Family::V6, 30, &["[2001:db8::c]:80"]), &[]),
            (0, Srv(Family::V4, 20, &["198.51.100.11:80"]), &[]),
            (0, Srv(Family::V4, 30, &["198.51.100.12:80"]), &[]),
            (0, Done(None), &[]),
            (
                750,
                Run(750),
                &[
                    "@250 start #1 198.51.100.11:80",
                    "@500 start #2 [2001:db8::c]:80",
                    "@750 start #3 198.51.100.12:80",
                ],
            ),
        ],
    );
}

#[test]
fn srv_group_starts_with_its_best_address_whatever_went_before() {
    run(
        he(),
        &[
            (
                0,
                Srv(Family::V6, 1, &["[2001:db8::1]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (0, Srv(Family::V6, 2, &["[2001:db8::2]:80"]), &[]),
            (0, Srv(Family::V4, 2, &["198.51.100.2:80"]), &[]),
            // IPv6 went last, but the new group starts with its best: IPv6 again.
            (250, Tick, &["start #1 [2001:db8::2]:80"]),
            (500, Tick, &["start #2 198.51.100.2:80"]),
        ],
    );
}

#[test]
fn each_endpoint_is_tried_once() {
    let s = run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80", "[2001:db8::1]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (10, Aaaa(&["[2001:db8::1]:80"]), &[]),
            (20, A(&["198.51.100.1:80", "198.51.100.1:80"]), &[]),
            (20, A(&["198.51.100.1:443"]), &[]),
            (20, Done(None), &[]),
            (
                30,
                Fails(0, std::io::ErrorKind::ConnectionRefused),
                &["start #1 198.51.100.1:80"],
            ),
            (
                40,
                Fails(1, std::io::ErrorKind::ConnectionRefused),
                &["start #2 198.51.100.1:443"],
            ),
            (
                50,
                Fails(2, std::io::ErrorKind::ConnectionRefused),
                &["failed AllFailed(Failed(ConnectionRefused))"],
            ),
        ],
    );
    assert_eq!(s.c.attempts().len(), 3);
}

#[test]
fn a_family_list_of_one_kind_is_tried_in_sorted_order() {
    run(
        he(),
        &[
            (
                0,
                A(&["198.51.100.3:80", "198.51.100.1:80", "198.51.100.2:80"]),
                &[],
            ),
            (0, Done(None), &["start #0 198.51.100.3:80"]),
            (
                500,
                Run(500),
                &[
                    "@250 start #1 198.51.100.1:80",
                    "@500 start #2 198.51.100.2:80",
                ],
            ),
        ],
    );
}

#[test]
fn unix_targets_pass_through_one_attempt_each() {
    run(
        he(),
        &[
            (
                0,
                Unix(&["/run/a.sock", "/run/b.sock", "/run/a.sock"]),
                &["start #0 unix/:/run/a.sock"],
            ),
            (0, Done(None), &[]),
            (
                1,
                Fails(0, std::io::ErrorKind::NotFound),
                &["start #1 unix/:/run/b.sock"],
            ),
            (
                2,
                Fails(1, std::io::ErrorKind::NotFound),
                &["failed AllFailed(Failed(NotFound))"],
            ),
        ],
    );
}

#[test]
fn both_families_up_ipv6_wins_before_the_stagger() {
    run(
        he(),
        &[
            (
                0,
                Aaaa(&["[2001:db8::1]:80", "[2001:db8::2]:80"]),
                &["start #0 [2001:db8::1]:80"],
            ),
            (0, A(&["198.51.100.1:80", "198.51.100.2:80"]), &[]),
            (30, Connects(0), &["connected #0 [2001:db8::1]:80"]),
            (30, Timer(None), &[]),
            (30, Trace(&["#0 [2001:db8::1]:80 0-30 connected"]), &[]),
        ],
    );
}
