//! RFC 2782 ordering of SRV records: AnyEvent's exact algorithm (same draws, same order), the
//! statistics of the weighted choice, and how the planner turns the order into targets.

use anysock_core::resolve::{
    QueryOutcome, QueryType, Resolve, ResolveConfig, ResolveRequest, SrvRecord, order_srv,
    order_srv_seeded,
};
use proptest::prelude::*;

fn rec(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
    SrvRecord {
        priority,
        weight,
        port,
        target: target.to_owned(),
    }
}

/// Orders `records` with the given draws; returns the targets and the number of draws used.
fn order_with(records: Vec<SrvRecord>, draws: &[u64]) -> (Vec<String>, usize) {
    let mut it = draws.iter().copied();
    let mut used = 0;
    let out = order_srv(records, |_| {
        used += 1;
        it.next().expect("more draws than scripted")
    });
    (out.into_iter().map(|r| r.target).collect(), used)
}

/// Expected orders produced by the real AnyEvent::DNS::srv 7.17 with `rand` replaced by a script
/// (`int rand($sum + 1)` returns each draw in turn). Reproduce with perl: override CORE::GLOBAL::rand to
/// return `draw + 0.5`, stub the resolver to return the records, call AnyEvent::DNS::srv.
#[test]
fn same_draws_same_order_as_anyevent() {
    let abc = || vec![rec(10, 60, 1, "a"), rec(10, 40, 2, "b"), rec(20, 0, 3, "c")];
    let zw = || {
        vec![
            rec(5, 0, 1, "z1"),
            rec(5, 0, 2, "z2"),
            rec(5, 10, 3, "w10"),
            rec(5, 5, 4, "w5"),
        ]
    };
    let prio = || {
        vec![
            rec(30, 1, 1, "p30"),
            rec(10, 1, 2, "p10a"),
            rec(20, 1, 3, "p20"),
            rec(10, 1, 4, "p10b"),
        ]
    };
    let big = || vec![rec(1, 65535, 1, "big1"), rec(1, 65535, 2, "big2")];
    let table: Vec<(Vec<SrvRecord>, &[u64], &[&str])> = vec![
        (abc(), &[50, 0, 0], &["a", "b", "c"]),
        (abc(), &[0, 0, 0], &["b", "a", "c"]),
        (abc(), &[40, 60, 0], &["b", "a", "c"]),
        (abc(), &[41, 0, 0], &["a", "b", "c"]),
        (zw(), &[0, 0, 0, 0], &["z1", "z2", "w5", "w10"]),
        (zw(), &[15, 5, 0, 0], &["w10", "w5", "z1", "z2"]),
        (zw(), &[3, 10, 0, 0], &["w5", "w10", "z1", "z2"]),
        (prio(), &[2, 1, 0, 1], &["p10b", "p10a", "p20", "p30"]),
        (big(), &[65535, 0], &["big1", "big2"]),
        (big(), &[65536, 0], &["big2", "big1"]),
    ];
    for (i, (records, draws, want)) in table.into_iter().enumerate() {
        let (got, used) = order_with(records, draws);
        assert_eq!(got, want, "case {i}");
        assert_eq!(
            used,
            draws.len(),
            "case {i}: one draw per record, as in Perl"
        );
    }
}

#[test]
fn draws_are_bounded_by_the_remaining_weight() {
    let records = vec![rec(1, 3, 1, "a"), rec(1, 5, 1, "b"), rec(2, 7, 1, "c")];
    let mut sums = Vec::new();
    order_srv(records, |sum| {
        sums.push(sum);
        0
    });
    // Group 1: sum 8, then (a taken at draw 0) 5; group 2: 7.
    assert_eq!(sums, [8, 5, 7]);
}

#[test]
fn a_draw_above_the_sum_is_clamped() {
    let (got, _) = order_with(vec![rec(1, 1, 1, "a"), rec(1, 1, 1, "b")], &[1000, 1000]);
    assert_eq!(got, ["b", "a"]);
}

/// First-pick frequencies over many seeds match AnyEvent's probabilities: record 0 of the weight-sorted
/// group (w0 + 1) / (sum + 1), every other record w / (sum + 1). Chi-square with a generous bound.
#[test]
fn weighted_choice_matches_the_weights() {
    let records = vec![
        rec(1, 10, 1, "w10"),
        rec(1, 0, 1, "w0"),
        rec(1, 30, 1, "w30"),
        rec(1, 60, 1, "w60"),
    ];
    // Sorted by weight: w0, w10, w30, w60; sum 100.
    let expected = [(1.0, "w0"), (10.0, "w10"), (30.0, "w30"), (60.0, "w60")];
    let n = 40_000u64;
    let mut counts = [0u64; 4];
    for seed in 0..n {
        let first = order_srv_seeded(records.clone(), seed.wrapping_mul(0x2545_f491_4f6c_dd1d))
            .remove(0)
            .target;
        let i = expected.iter().position(|(_, t)| *t == first).unwrap();
        counts[i] += 1;
    }
    let mut chi2 = 0.0;
    for (i, (w, _)) in expected.iter().enumerate() {
        let e = n as f64 * w / 101.0;
        let d = counts[i] as f64 - e;
        chi2 += d * d / e;
    }
    // 3 degrees of freedom: P(chi2 > 25) is about 1.6e-5.
    assert!(chi2 < 25.0, "chi2 {chi2}, counts {counts:?}");
}

proptest! {
    /// Every record comes out exactly once, priorities never decrease.
    #[test]
    fn each_record_once_and_priorities_sorted(
        recs in proptest::collection::vec((0u16..4, 0u16..100, any::<u16>()), 0..24),
        seed in any::<u64>(),
    ) {
        let records: Vec<SrvRecord> = recs
            .iter()
            .enumerate()
            .map(|(i, &(p, w, port))| rec(p, w, port, &format!("t{i}")))
            .collect();
        let out = order_srv_seeded(records.clone(), seed);
        prop_assert_eq!(out.len(), records.len());
        let mut names: Vec<_> = out.iter().map(|r| r.target.clone()).collect();
        names.sort();
        let mut want: Vec<_> = records.iter().map(|r| r.target.clone()).collect();
        want.sort();
        prop_assert_eq!(names, want);
        prop_assert!(out.windows(2).all(|w| w[0].priority <= w[1].priority));
    }

    /// A record of weight w, alone with a record of weight 0 in its group, is picked first with
    /// probability w / (w + 1); binomial bound over 2000 seeds (well beyond 5 sigma).
    #[test]
    fn two_record_choice_is_binomial(w in 1u16..200, base in any::<u64>()) {
        let records = vec![rec(1, 0, 1, "zero"), rec(1, w, 1, "heavy")];
        let n = 2000u64;
        let heavy = (0..n)
            .filter(|i| order_srv_seeded(records.clone(), base ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15))[0].target == "heavy")
            .count() as f64;
        let p = f64::from(w) / (f64::from(w) + 1.0);
        let mean = n as f64 * p;
        let sd = (n as f64 * p * (1.0 - p)).sqrt();
        prop_assert!((heavy - mean).abs() <= 6.0 * sd + 1.0, "w {} heavy {} mean {}", w, heavy, mean);
    }
}

/// The planner follows the order: the same seed gives the same SRV target order, priorities first.
#[test]
fn planner_queries_srv_targets_in_order() {
    let config = ResolveConfig::default();
    let records = vec![
        rec(20, 0, 8020, "late.test"),
        rec(10, 50, 8010, "one.test"),
        rec(10, 50, 8011, "two.test"),
    ];
    let mut r = Resolve::new(ResolveRequest::new("svc.test", Some("http")), &config, 42).unwrap();
    let q = r.poll_query().unwrap();
    assert_eq!((&*q.name, q.qtype), ("_http._tcp.svc.test", QueryType::Srv));
    assert!(r.poll_query().is_none());
    r.handle_answer(q.id, QueryOutcome::Srv(records.clone()));
    let queried: Vec<String> = std::iter::from_fn(|| r.poll_query())
        .filter(|q| q.qtype == QueryType::Aaaa)
        .map(|q| q.name.to_string())
        .collect();
    let order: Vec<String> = order_srv_seeded(records, 42)
        .into_iter()
        .map(|r| format!("{}.", r.target))
        .collect();
    assert_eq!(queried, order);
    assert_eq!(queried[2], "late.test.");
    assert!(r.poll_event().is_none(), "nothing before the answers");
    assert!(!r.is_finished());
}
