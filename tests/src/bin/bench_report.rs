//! `bench_report [CRITERION_DIR]`: one table of every criterion benchmark found under
//! `CRITERION_DIR` (default `$CARGO_TARGET_DIR/criterion`, else `target/criterion`).
//!
//! Each criterion group is one operation on one input. Within a group, functions whose name starts
//! with `anysock` are anysock's rows; every other function is a peer (std, glibc, tokio, async-io,
//! ...) measured on the same input in the same run. Every anysock row is paired with every peer row
//! of its group and the ratio anysock/peer of the medians is printed (below 1: anysock is faster).
//! Groups without a peer are listed with their median only. Output is a Markdown table.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// One benchmark: its group, function and median (ns), with the 95% interval of the median.
#[derive(Debug, Clone)]
struct Row {
    group: String,
    function: String,
    median: f64,
    low: f64,
    high: f64,
    /// A bench without a criterion group (`c.bench_function("a/b")`): listed alone, never paired.
    standalone: bool,
}

fn read_row(dir: &Path) -> Result<Option<Row>, String> {
    let est = dir.join("new/estimates.json");
    let meta = dir.join("new/benchmark.json");
    if !est.is_file() || !meta.is_file() {
        return Ok(None);
    }
    let parse = |p: &Path| -> Result<serde_json::Value, String> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
    };
    let est = parse(&est)?;
    let meta = parse(&meta)?;
    let num = |v: &serde_json::Value, path: &[&str]| -> Result<f64, String> {
        let mut cur = v;
        for k in path {
            cur = cur
                .get(k)
                .ok_or_else(|| format!("{}: no {}", dir.display(), path.join(".")))?;
        }
        cur.as_f64()
            .ok_or_else(|| format!("{}: {} is not a number", dir.display(), path.join(".")))
    };
    let text = |k: &str| -> String {
        meta.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let (group, mut function) = (text("group_id"), text("function_id"));
    let value = text("value_str");
    if !value.is_empty() {
        function = format!("{function}/{value}");
    }
    // A bench without a group (`c.bench_function("a/b")`): criterion stores "a/b" as the group.
    let standalone = function.is_empty();
    let (group, function) = if function.is_empty() {
        match group.split_once('/') {
            Some((g, f)) => (g.to_owned(), f.to_owned()),
            None => (group.clone(), group),
        }
    } else {
        (group, function)
    };
    Ok(Some(Row {
        group,
        function,
        median: num(&est, &["median", "point_estimate"])?,
        low: num(&est, &["median", "confidence_interval", "lower_bound"])?,
        high: num(&est, &["median", "confidence_interval", "upper_bound"])?,
        standalone,
    }))
}

/// Every benchmark directory (one with `new/estimates.json`) below `root`.
fn collect(root: &Path, out: &mut Vec<Row>) -> Result<(), String> {
    let entries = std::fs::read_dir(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "report"))
        .collect();
    dirs.sort();
    for d in dirs {
        match read_row(&d)? {
            Some(row) => out.push(row),
            None => collect(&d, out)?,
        }
    }
    Ok(())
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn is_anysock(r: &Row) -> bool {
    r.function.to_ascii_lowercase().starts_with("anysock")
}

fn main() -> ExitCode {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("target"))
                .join("criterion")
        });
    let mut rows = Vec::new();
    if let Err(e) = collect(&root, &mut rows) {
        eprintln!("bench_report: {e}");
        return ExitCode::FAILURE;
    }
    if rows.is_empty() {
        eprintln!(
            "bench_report: no criterion results under {} (run `cargo bench` first)",
            root.display()
        );
        return ExitCode::FAILURE;
    }
    let mut groups: Vec<String> = rows.iter().map(|r| r.group.clone()).collect();
    groups.dedup();
    groups.sort();
    groups.dedup();
    println!(
        "| operation (group) | anysock | anysock median (95% CI) | peer | peer median | ratio anysock/peer |"
    );
    println!("|---|---|---|---|---|---|");
    for g in &groups {
        // Standalone rows (anysock's own machines) first, alone.
        for o in rows.iter().filter(|r| &r.group == g && r.standalone) {
            println!(
                "| {g} | {} | {} ({} – {}) | – | – | – |",
                o.function,
                fmt_ns(o.median),
                fmt_ns(o.low),
                fmt_ns(o.high)
            );
        }
        let in_group: Vec<&Row> = rows
            .iter()
            .filter(|r| &r.group == g && !r.standalone)
            .collect();
        if in_group.is_empty() {
            continue;
        }
        let ours: Vec<&Row> = in_group.iter().copied().filter(|r| is_anysock(r)).collect();
        let peers: Vec<&Row> = in_group
            .iter()
            .copied()
            .filter(|r| !is_anysock(r))
            .collect();
        // A group of only anysock's own machines (core benches: no `anysock` prefix, no peer).
        let (ours, peers) =
            if ours.is_empty() && !in_group.is_empty() && !looks_like_peer_group(&peers) {
                (in_group.clone(), Vec::new())
            } else {
                (ours, peers)
            };
        for o in &ours {
            let ci = format!(
                "{} ({} – {})",
                fmt_ns(o.median),
                fmt_ns(o.low),
                fmt_ns(o.high)
            );
            if peers.is_empty() {
                println!("| {g} | {} | {ci} | – | – | – |", o.function);
            }
            for p in &peers {
                println!(
                    "| {g} | {} | {ci} | {} | {} | {:.2} |",
                    o.function,
                    p.function,
                    fmt_ns(p.median),
                    o.median / p.median
                );
            }
        }
        if ours.is_empty() {
            for p in &peers {
                println!(
                    "| {g} | – | – | {} | {} | – |",
                    p.function,
                    fmt_ns(p.median)
                );
            }
        }
    }
    ExitCode::SUCCESS
}

/// A group whose functions are all named after peers (std, glibc, tokio, async-io, ...): no
/// anysock row to pair.
fn looks_like_peer_group(rows: &[&Row]) -> bool {
    const PEERS: [&str; 6] = ["std", "glibc", "tokio", "async", "libc", "hickory"];
    !rows.is_empty()
        && rows.iter().all(|r| {
            let f = r.function.to_ascii_lowercase();
            PEERS.iter().any(|p| f.starts_with(p))
        })
}
