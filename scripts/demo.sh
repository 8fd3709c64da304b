#!/usr/bin/env bash
# Builds wasmesos, starts a master and two agents on loopback, counts the words of the bundled
# text with the word-count framework (its component is embedded in the binary), and stays up
# until Ctrl-C. The guests for `wasmesos run` are built too (they need the wasm32-wasip2 target).
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null
cargo build --locked --release -p wasmesos-guest-artifacts
exec cargo run --release --locked -p wasmesos -- dev --agents 2 --demo "$@"
