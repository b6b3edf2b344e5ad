# The test suites, shared by .ci/run and the justfile. Sourced, not run.
# BUILD_SETS: cargo arguments to pre-build before entering the network namespace.
BUILD_SETS=(
  "--workspace --all-targets"
  "-p anysock-core --tests --features perl-differential"
)

run_suites() {
  echo "--- suite: the README's test command"
  cargo test --workspace --offline
  echo "--- suite: differential against the real AnyEvent::Socket (Perl)"
  cargo test -p anysock-core --offline --features perl-differential --test differential_perl
}
