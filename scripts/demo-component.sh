#!/usr/bin/env bash
# Rebuilds cli/assets/wordcount.wasm, the `wordcount` guest embedded in the `wasmesos` binary
# for `wasmesos dev --demo`, from examples/guests (needs the wasm32-wasip2 target).
# `cargo test -p wasmesos --test dev` checks that the committed bytes count as a fresh build.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-wasip2 >/dev/null
target_dir="${CARGO_TARGET_DIR:-target}/wasmesos-guests"
cargo build --release --locked --target wasm32-wasip2 \
  --manifest-path examples/guests/Cargo.toml -p wordcount --target-dir "$target_dir"
cp "$target_dir/wasm32-wasip2/release/wordcount.wasm" cli/assets/wordcount.wasm
echo "cli/assets/wordcount.wasm: $(wc -c <cli/assets/wordcount.wasm) bytes"
