#!/usr/bin/env bash
# Runs every wasmesos test from a fresh checkout: README.md's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

# The guest programs are components for wasm32-wasip2; rustup does not add targets by itself.
rustup target add wasm32-wasip2 >/dev/null

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Benchmarks are measured by hand (see README.md); here they only have to keep compiling.
cargo bench --workspace --locked --no-run
cargo test --workspace --locked
