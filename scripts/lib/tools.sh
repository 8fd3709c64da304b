# shellcheck shell=bash
# Shared by scripts/cross.sh and scripts/dist.sh (sourced, never run): the cargo environment,
# step timing, and the idempotent installation of the cross toolchains. The caller sets `me`
# (its name in progress lines) and `set -euo pipefail`, and runs from the repository root.

me="${me:-wasmesos}"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/wasmesos/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}"
tools="$HOME/.cache/wasmesos/tools"
zigbuild="$tools/py/bin/cargo-zigbuild"
export WINEPREFIX="${WINEPREFIX:-$HOME/.cache/wasmesos/wine}"
export WINEDEBUG="${WINEDEBUG:--all}"
windows_target=x86_64-pc-windows-gnu
mac_targets=(aarch64-apple-darwin x86_64-apple-darwin)

step_started=0
step() {
  step_started=$SECONDS
  echo "== $me: $*"
}
done_step() {
  echo "== $me: $1 took $((SECONDS - step_started)) s"
}
fail() {
  echo "$me: FAILED: $*" >&2
  exit 1
}

# Installs Debian packages (none given: nothing to do), as root or through sudo.
apt_install() {
  [ "$#" -gt 0 ] || return 0
  local as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo)
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "$@"
}

# The Windows cross toolchain: Debian's mingw-w64 (linker and strip) and the rustup target.
install_windows_tools() {
  command -v x86_64-w64-mingw32-gcc >/dev/null || apt_install gcc-mingw-w64-x86-64
  rustup target add "$windows_target" >/dev/null
}

# Debian's 64-bit Wine, to run what the Windows toolchain builds.
install_wine() {
  command -v wine >/dev/null || apt_install wine wine64
}

# The macOS cross toolchain: ziglang and cargo-zigbuild from PyPI in a venv under $tools/py,
# and the rustup targets.
install_mac_tools() {
  if ! "$zigbuild" --version >/dev/null 2>&1 || ! "$tools/py/bin/python-zig" version >/dev/null 2>&1; then
    local need=()
    command -v python3 >/dev/null || need+=(python3)
    python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
    apt_install "${need[@]}"
    python3 -m venv "$tools/py"
    "$tools/py/bin/pip" install --quiet ziglang cargo-zigbuild
  fi
  rustup target add "${mac_targets[@]}" >/dev/null
}

# Wine 8 (Debian 12) lacks bcryptprimitives.dll, where Rust's std finds ProcessPrng; Windows 10
# and later and Wine 9 have it. Only the Wine prefix gets the shim, never a release.
wine_prefix() {
  mkdir -p "$WINEPREFIX"
  if [ ! -f "$WINEPREFIX/system.reg" ]; then
    timeout 300 wineboot --init >/dev/null 2>&1 || fail "wineboot --init in $WINEPREFIX"
  fi
  local major
  major=$(wine --version | sed -E 's/^wine-([0-9]+).*/\1/')
  local shim="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
  if [ "$major" -lt 9 ] && [ ! -f "$shim" ]; then
    x86_64-w64-mingw32-gcc -O2 -shared -o "$shim" scripts/wine/bcryptprimitives.c \
      scripts/wine/bcryptprimitives.def -lbcrypt
  fi
}
