#!/usr/bin/env bash
# The same wasmesos on Linux, Windows and macOS: CI's cross-platform checks (.ci/run calls this
# after scripts/test.sh), runnable alone on a Debian or Ubuntu machine.
#
#   scripts/cross.sh [setup] [deps] [windows] [dist] [macos]     (no argument: all, in order)
#
# setup    installs what the others need, idempotently: Debian's gcc-mingw-w64-x86-64 and wine
#          (64-bit), the rustup targets, and ziglang + cargo-zigbuild from PyPI in a venv under
#          ~/.cache/wasmesos/tools/py.
# deps     the `wasmesos` binary depends on no test crate and no guest build (cargo tree).
# windows  cross-builds wasmesos.exe for x86_64-pc-windows-gnu (no wasm target involved) and
#          runs it under Wine: `exec` of the hello and hostile guests must end exactly as on
#          Linux (exit code, state, reason), and `dev --demo` must count the bundled text right.
# dist     scripts/dist.sh --dev on the binaries `windows` built: packaging, SHA256SUMS checked
#          with sha256sum -c, both binaries' --version (Windows under Wine). The release build
#          itself (scripts/dist.sh without --dev) is not part of CI: it would compile everything
#          twice more.
# macos    compiles the workspace for aarch64- and x86_64-apple-darwin with zig as the C
#          compiler. Linking needs Apple's SDK (frameworks IOKit and CoreFoundation, libobjc),
#          which is not downloaded here: what is checked is compilation, C dependencies included.
#
# Every step prints how long it took; a failing case prints its command and its output.
set -euo pipefail
cd "$(dirname "$0")/.."

me=cross
# shellcheck source=scripts/lib/tools.sh
. scripts/lib/tools.sh
guests="$CARGO_TARGET_DIR/wasmesos-guests/wasm32-wasip2/release"
linux_bin="$CARGO_TARGET_DIR/debug/wasmesos"
windows_bin="$CARGO_TARGET_DIR/$windows_target/debug/wasmesos.exe"

setup() {
  step setup
  install_windows_tools
  install_wine
  install_mac_tools
  rustup target add wasm32-wasip2 >/dev/null
  done_step setup
}

deps() {
  step "deps: the wasmesos binary needs no guest toolchain"
  local tree
  tree=$(cargo tree --locked -p wasmesos -e normal,build --target all --prefix none)
  for crate in wasmesos-harness wasmesos-guest-artifacts wasmesos-test-support; do
    if grep -q "^$crate " <<<"$tree"; then
      cargo tree --locked -p wasmesos -e normal,build --target all -i "$crate" >&2 || true
      fail "the wasmesos binary depends on $crate (tree above)"
    fi
  done
  done_step deps
}

# `exec --json` of one guest on Linux and under Wine; both must give the same exit code, state
# and reason, and that must be what the case expects.
exec_case() {
  local expected="$1"
  shift
  local args=()
  for arg in "$@"; do
    case "$arg" in
      *.wasm) args+=("$guests/$arg") ;;
      *) args+=("$arg") ;;
    esac
  done
  local out="$CARGO_TARGET_DIR/cross-out"
  mkdir -p "$out"
  local linux wine
  linux=$(outcome "$out/linux" timeout 60 "$linux_bin" exec --json "${args[@]}")
  wine=$(outcome "$out/wine" timeout 180 wine "$windows_bin" exec --json "${args[@]}")
  printf '  %-45s linux: %-40s wine: %s\n' "$*" "$linux" "$wine"
  if [ "$linux" != "$expected" ] || [ "$wine" != "$expected" ]; then
    for side in linux wine; do
      echo "--- $side stdout (last 20 lines)" >&2
      tail -n 20 "$out/$side.stdout" >&2 || true
      echo "--- $side stderr (last 20 lines)" >&2
      tail -n 20 "$out/$side.stderr" >&2 || true
    done
    fail "exec $*: expected '$expected', linux gave '$linux', wine gave '$wine'"
  fi
}

# Runs a command, keeps its output in $1.stdout/.stderr, prints "exit=N state=S reason=R".
outcome() {
  local base="$1"
  shift
  local code=0
  "$@" >"$base.stdout" 2>"$base.stderr" </dev/null || code=$?
  local summary
  summary=$(tail -n 1 "$base.stderr" | tr -d '\r')
  local state reason
  state=$(grep -o '"state":"[a-z_]*"' <<<"$summary" | cut -d'"' -f4 || true)
  reason=$(grep -o '"reason":"[a-z_]*"' <<<"$summary" | cut -d'"' -f4 || true)
  echo "exit=$code state=${state:--} reason=${reason:--}"
}

windows() {
  step "windows: cross-build wasmesos.exe for $windows_target"
  cargo build --locked -p wasmesos --target "$windows_target"
  done_step "windows build"

  step "windows: the Linux binary and the guests to compare with"
  cargo build --locked -p wasmesos -p wasmesos-guest-artifacts
  done_step "linux build"

  step "windows: wasmesos exec under Wine vs Linux"
  wine_prefix
  exec_case "exit=0 state=finished reason=finished" hello.wasm -- a b
  exec_case "exit=7 state=failed reason=exit_code" hello.wasm -- --exit 7
  exec_case "exit=1 state=failed reason=trap" trap.wasm
  exec_case "exit=1 state=failed reason=memory_limit" --mem 32MiB memory-bomb.wasm
  exec_case "exit=124 state=failed reason=timeout" --timeout 1s spin.wasm
  exec_case "exit=1 state=failed reason=fuel_exhausted" --fuel 1000000 fuel-bomb.wasm
  exec_case "exit=1 state=failed reason=disk_limit" --disk 4MiB disk-filler.wasm
  exec_case "exit=3 state=failed reason=exit_code" socket-attempt.wasm -- 127.0.0.1:9
  exec_case "exit=0 state=finished reason=finished" fs-escape.wasm
  done_step "exec under Wine"

  step "windows: wasmesos dev --demo under Wine"
  local out="$CARGO_TARGET_DIR/cross-out"
  local code=0
  timeout 600 wine "$windows_bin" dev --listen 127.0.0.1:0 --agents 2 --lines 500 \
    --demo --exit-after-demo >"$out/dev.stdout" 2>"$out/dev.stderr" </dev/null || code=$?
  local expected
  # shellcheck disable=SC2016 # the backticks are the demo's own words
  expected=$(tr -d '\r' <"$out/dev.stdout" | grep -o 'the total matches `wc -w` of the text ([0-9]*)' || true)
  if [ "$code" -ne 0 ] || [ -z "$expected" ]; then
    tail -n 30 "$out/dev.stdout" "$out/dev.stderr" >&2 || true
    fail "wasmesos dev --demo under Wine exited $code without a matching total"
  fi
  echo "  $expected"
  done_step "dev under Wine"
}

dist() {
  step "dist: scripts/dist.sh --dev (packaging and checksums of the debug builds)"
  bash scripts/dist.sh --dev --out "$CARGO_TARGET_DIR/cross-out/dist"
  done_step dist
}

macos() {
  for target in "${mac_targets[@]}"; do
    step "macos: compile the workspace for $target (zig as the C compiler; no link)"
    PATH="$tools/py/bin:$PATH" "$zigbuild" check --locked --workspace --lib --bins --target "$target"
    done_step "macos $target"
  done
}

parts=("$@")
[ "${#parts[@]}" -gt 0 ] || parts=(setup deps windows dist macos)
started=$SECONDS
for part in "${parts[@]}"; do
  case "$part" in
    setup | deps | windows | dist | macos) "$part" ;;
    *) fail "unknown part '$part' (setup, deps, windows, dist, macos)" ;;
  esac
done
echo "== cross: all of ${parts[*]} passed in $((SECONDS - started)) s"
