#!/usr/bin/env bash
# Runs every wasmesos test from a fresh checkout: README.md's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each part says how long it took, so a slow CI run shows where its time went.
part_started=$SECONDS
part() {
  echo "== test.sh: $1 took $((SECONDS - part_started)) s"
  part_started=$SECONDS
}

# The guest programs are components for wasm32-wasip2; rustup does not add targets by itself.
rustup target add wasm32-wasip2 >/dev/null

# Dependencies: licenses, duplicate and wildcard bans, and sources always (deny.toml); RustSec
# advisories whenever their database can be fetched (it lives on GitHub, out of reach of an
# offline machine, which is then said in one line rather than failing the run).
if ! cargo deny --version >/dev/null 2>&1; then
  echo "cargo-deny is missing: cargo install cargo-deny --locked --version 0.20.2 (.ci/run does this)" >&2
  exit 1
fi
# `cargo deny --offline` reads the crates from cargo's local index: fetch them first, or a
# machine whose cargo registry is still empty fails with "no matching package".
cargo fetch --locked
cargo deny --log-level error --offline check licenses bans sources
if cargo deny --log-level error fetch db >/dev/null 2>&1; then
  cargo deny --log-level error check --disable-fetch advisories
else
  echo "cargo deny: advisories not checked: the RustSec advisory database could not be fetched"
fi
part "dependency checks (cargo deny)"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
part "fmt and clippy"
# Benchmarks are measured by hand (see README.md); here they only have to keep compiling and
# linking. `cargo build --benches` does that in the dev profile, whose dependencies the tests
# share, instead of a second, optimised build of wasmtime and everything else.
cargo build --workspace --benches --locked
part "benchmarks built"
cargo test --workspace --locked
part "tests"
