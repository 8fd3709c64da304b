#!/usr/bin/env bash
# The executor's benchmarks on Linux and, in the same session, as a Windows program under Wine.
#
#   scripts/bench-wine.sh [--quick] [BENCH...]     (default benches: warm_launch density)
#
# Each bench of wasmesos-wasm-executor is built twice in release mode (`cargo bench --no-run`,
# for this machine and for x86_64-pc-windows-gnu), then run with the same arguments natively
# and with `wine`, one after the other. The guests' .wasm paths baked in at build time are Linux
# paths; Wine reaches them through its Z: drive. `density` reads the working set through the
# Win32 API (Wine fills it in from the process's own /proc/self/status). Figures printed after
# "(Wine)" are Wine's, not a real Windows's: wasmtime takes its Windows code paths (no
# copy-on-write memory images, VirtualAlloc for the pooling allocator) on Wine's Win32 API.
set -euo pipefail
cd "$(dirname "$0")/.."

me="bench-wine"
# shellcheck source=scripts/lib/tools.sh
. scripts/lib/tools.sh

args=(--bench)
benches=()
for arg in "$@"; do
  case "$arg" in
    --quick) args+=(--quick) ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) fail "unknown option '$arg'" ;;
    *) benches+=("$arg") ;;
  esac
done
[ "${#benches[@]}" -gt 0 ] || benches=(warm_launch density)

# Builds the benches for one target (none: this machine); prints "NAME PATH" for each.
build_benches() {
  local target_args=("$@") bench_args=()
  for bench in "${benches[@]}"; do
    bench_args+=(--bench "$bench")
  done
  cargo bench --locked --no-run --message-format=json -p wasmesos-wasm-executor \
    "${target_args[@]}" "${bench_args[@]}" |
    grep '"kind":\["bench"\]' |
    sed -nE 's/.*"name":"([^"]*)".*"executable":"([^"]*)".*/\1 \2/p'
}

step "install the Windows toolchain and Wine"
install_windows_tools
install_wine
rustup target add wasm32-wasip2 >/dev/null
wine_prefix
done_step setup

step "build the benches for Linux"
linux=$(build_benches)
done_step "Linux build"
step "build the benches for $windows_target"
windows=$(build_benches --target "$windows_target")
done_step "Windows build"

export RUST_LIB_BACKTRACE=0
echo "== $me: $(uname -sr), $(wine --version), $(nproc) cpus; RUST_LIB_BACKTRACE=0; args: ${args[*]}"
for bench in "${benches[@]}"; do
  linux_exe=$(awk -v b="$bench" '$1 == b { print $2 }' <<<"$linux")
  windows_exe=$(awk -v b="$bench" '$1 == b { print $2 }' <<<"$windows")
  if [ -z "$linux_exe" ] || [ -z "$windows_exe" ]; then
    fail "no executable for bench $bench"
  fi
  step "$bench (Linux): $linux_exe ${args[*]}"
  (cd wasm-executor && "$linux_exe" "${args[@]}")
  done_step "$bench (Linux)"
  step "$bench (Wine): wine $windows_exe ${args[*]}"
  (cd wasm-executor && wine "$windows_exe" "${args[@]}" </dev/null | tr -d '\r')
  done_step "$bench (Wine)"
done
