# The test suites, shared by .ci/run and the justfile. Sourced, not run.
# BUILD_SETS: cargo arguments to pre-build before entering the network namespace.
BUILD_SETS=(
  "--workspace --all-targets"
  "-p anysock-core --tests --features perl-differential"
  "-p anysock-tests --tests --features heavy"
)

run_suites() {
  echo "--- suite: the README's test command"
  cargo test --workspace --offline
  echo "--- suite: differential against the real AnyEvent::Socket (Perl)"
  cargo test -p anysock-core --offline --features perl-differential --test differential_perl
  echo "--- suite: reliability (load, DNS/connect/server faults, leaks) across all three adapters"
  cargo test -p anysock-tests --offline --features heavy --tests -- --nocapture
}
