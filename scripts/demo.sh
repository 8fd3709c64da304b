#!/usr/bin/env bash
# Builds wasmesos and its guest components, starts a master and two agents on loopback, counts
# the words of the bundled text with the word-count framework, and stays up until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null
exec cargo run --release --locked -p wasmesos -- dev --agents 2 --demo "$@"
