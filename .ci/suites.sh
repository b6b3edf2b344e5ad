# The test suites, shared by .ci/run and the justfile. Sourced, not run.
# BUILD_SETS: cargo arguments to pre-build before entering the network namespace, so that nothing compiles
# (and nothing is fetched) inside it.
BUILD_SETS=(
  "--workspace --all-targets"
  "-p anysock-core --tests --features perl-differential"
  "-p anysock-tests --tests --features heavy"
  "-p anysock-blocking --tests --features dnsmasq-interop"
  "-p anysock-tokio --all-targets --features tracing"
  "-p anysock-async-std --all-targets --features tracing"
)

# The README's test command, then the suites that need what .ci/run installs.
run_suites() {
  echo "--- suite: the README's test command"
  cargo test --workspace --offline
  run_extra_suites
}

run_extra_suites() {
  echo "--- suite: differential against the real AnyEvent::Socket (Perl)"
  cargo test -p anysock-core --offline --features perl-differential --test differential_perl
  echo "--- suite: reliability (load, DNS/connect/server faults, leaks) across all three adapters"
  cargo test -p anysock-tests --offline --features heavy --tests -- --nocapture
  echo "--- suite: DNS interop against a real dnsmasq on loopback"
  cargo test -p anysock-blocking --offline --features dnsmasq-interop --test interop_dnsmasq
  echo "--- suite: the async adapters with their tracing feature"
  cargo test -p anysock-tokio --offline --features tracing
  cargo test -p anysock-async-std --offline --features tracing
}
