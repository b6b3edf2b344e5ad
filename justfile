# anysock recipes for people; they mirror .ci/run. Install just with `cargo install just`.

# List the recipes.
default:
    @just --list

# The demo (the README's first command).
demo:
    cargo run -p anysock-cli -- demo

# Format, lint and docs, as CI checks them.
check:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps

# The README's test command.
test:
    cargo test --workspace

# Every suite CI runs (differential against Perl's AnyEvent::Socket, dnsmasq interop, ...), inside a fresh
# network namespace as CI does. Needs root, libanyevent-perl and dnsmasq-base (see .ci/run).
suites:
    unshare -n bash -euo pipefail -c 'ip link set lo up; source .ci/suites.sh; run_suites'

# The whole CI script.
ci:
    bash .ci/run

# Run each fuzz target for SECONDS (default 60) on stable, keeping new corpus entries in fuzz/corpus
# (replayed by `cargo test`). Prints each target's executions; a crash stops with its artifact path.
fuzz SECONDS="60":
    #!/usr/bin/env bash
    set -uo pipefail
    cd fuzz
    mkdir -p logs
    failed=0
    for t in $(cargo fuzz list); do
      mkdir -p "corpus/$t"
      if cargo fuzz run --sanitizer none "$t" "corpus/$t" -- -max_total_time={{SECONDS}} > "logs/$t.log" 2>&1; then
        echo "$t: $(grep -E '^Done [0-9]+ runs' "logs/$t.log" | tail -n 1), corpus $(ls "corpus/$t" | wc -l) files"
      else
        echo "$t: FAILED (see fuzz/logs/$t.log)"; grep -E 'panicked|SUMMARY|Test unit written' "logs/$t.log" | head -n 5
        failed=1
      fi
    done
    exit $failed

# Every criterion benchmark, then one table (docs/performance.md) pairing each anysock median with
# its peer's median on the same input in the same run. WARMUP/MEASURE are seconds per benchmark.
# The DNS groups and the unresponsive-IPv6 groups run in a private network and mount namespace with a
# loopback dnsmasq as the resolver (anysock-testkit's netns): they need root and dnsmasq (dnsmasq-base,
# as .ci/run installs it), and are skipped with the reason otherwise.
bench WARMUP="1" MEASURE="3":
    #!/usr/bin/env bash
    set -euo pipefail
    # For criterion: the DNS benches run inside their own network namespace, where criterion cannot
    # ask cargo for the target directory and would write beside the crate instead.
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
    cargo bench --workspace --bench '*' -- --warm-up-time {{WARMUP}} --measurement-time {{MEASURE}}
    cargo run -q -p anysock-tests --bin bench_report

# API docs.
doc:
    cargo doc --workspace --no-deps --open
