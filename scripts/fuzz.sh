#!/usr/bin/env bash
# The fuzz targets (fuzz/, see fuzz/README.md) under cargo-fuzz, on a nightly toolchain.
#
#   scripts/fuzz.sh build            build every target (what CI runs; skipped without nightly)
#   scripts/fuzz.sh TARGET [SECONDS] fuzz one target (default 600 s) on one core, growing
#                                    fuzz/corpus/TARGET; crashes land in fuzz/artifacts/TARGET
#   scripts/fuzz.sh cmin TARGET      minimize fuzz/corpus/TARGET after a run
#
# The workspace builds on the pinned stable toolchain; only this crate needs nightly. Its
# builds use their own target dir, so they never invalidate the stable one.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
export CARGO_TARGET_DIR="${WASMESOS_FUZZ_TARGET_DIR:-$HOME/.cache/wasmesos/target-fuzz}"
export PATH="$HOME/.cache/wasmesos/tools/bin:$PATH"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: no nightly toolchain (rustup toolchain install nightly): fuzz targets not built"
  exit 0
fi
if ! cargo fuzz --version 2>/dev/null | grep -q " $CARGO_FUZZ_VERSION\$"; then
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" --root "$HOME/.cache/wasmesos/tools"
fi

# The subcommand, then the fuzz dir, then its arguments (libFuzzer's after `--`).
fuzz() { cargo +nightly fuzz "$1" --fuzz-dir fuzz "${@:2}"; }

case "${1:-}" in
  build)
    fuzz build
    ;;
  cmin)
    fuzz cmin "${2:?usage: scripts/fuzz.sh cmin TARGET}" "fuzz/corpus/$2" -- -rss_limit_mb=2048
    ;;
  "" | -*)
    sed -n '2,8p' "$0" >&2
    exit 2
    ;;
  *)
    target=$1
    seconds=${2:-600}
    # Components are fuzzed up to 16 KiB: the longest seed (the demo's 109 KiB component)
    # would otherwise set the length, and the corpus would grow by megabytes a minute.
    max_len=()
    [ "$target" != component_validation ] || max_len=(-max_len=16384)
    # One process on one core (libFuzzer's default without -jobs); an input running over
    # 10 s or 2 GiB is a finding, as a crash is.
    fuzz run "$target" "fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "${max_len[@]}"
    ;;
esac
