#!/usr/bin/env bash
# Release binaries of the `wasmesos` CLI for Linux, Windows and macOS, with a checksum file.
# Run `scripts/dist.sh --help` for what it makes and how; scripts/lib/tools.sh installs the
# cross toolchains, as for scripts/cross.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

me=dist
# shellcheck source=scripts/lib/tools.sh
. scripts/lib/tools.sh

linux_target=x86_64-unknown-linux-gnu

usage() {
  cat <<EOF
Usage: scripts/dist.sh [--out DIR] [--targets LIST] [--no-strip] [--dev]
       scripts/dist.sh --verify DIR

Builds the wasmesos CLI in release mode for each target and puts the binaries in DIR
(default: dist), named wasmesos-<version>-<target> (.exe on Windows), with SHA256SUMS:

  x86_64-unknown-linux-gnu   native build (glibc: runs where this machine's glibc or newer is)
  x86_64-pc-windows-gnu      cross-built with Debian's mingw-w64; run under Wine to check it
  aarch64-apple-darwin,      cross-built with cargo-zigbuild (ziglang from PyPI); linking needs
  x86_64-apple-darwin        Apple's SDK, so only when SDKROOT names one (MacOSX.sdk)

Missing tools are installed first (apt-get for mingw-w64 and Wine, pip in a venv under
~/.cache/wasmesos/tools/py for zig). The binaries need no wasm target and no guest toolchain:
the demo's component and text are embedded. Each step prints how long it took.

Options:
  --out DIR        where the binaries and SHA256SUMS go (emptied of old wasmesos-* files)
  --targets LIST   comma-separated: linux, windows, macos or full target triples
                   (default: linux,windows, and macos when SDKROOT is set)
  --no-strip       keep the symbol tables (strip is what makes the release binaries small)
  --dev            package debug builds instead (cargo's dev profile): how CI checks this
                   script in seconds, on the binaries scripts/cross.sh has just built
  --verify DIR     build nothing: check DIR/SHA256SUMS with sha256sum -c, and run this
                   platform's binary (and the Windows one under Wine, if installed) with --version
  -h, --help       this text

Afterwards, as a user would:  cd DIR && sha256sum -c SHA256SUMS
EOF
}

out=dist
targets=()
strip_symbols=1
profile=release
verify_only=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --targets) IFS=, read -r -a targets <<<"${2:?--targets needs a list}"; shift 2 ;;
    --no-strip) strip_symbols=""; shift ;;
    --dev) profile=dev; shift ;;
    --verify) verify_only="${2:?--verify needs a directory}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; fail "unknown argument '$1'" ;;
  esac
done

if [ "${#targets[@]}" -eq 0 ]; then
  targets=(linux windows)
  if [ -n "${SDKROOT:-}" ]; then
    targets+=(macos)
  fi
fi
triples=()
for target in "${targets[@]}"; do
  case "$target" in
    linux) triples+=("$linux_target") ;;
    windows) triples+=("$windows_target") ;;
    macos) triples+=("${mac_targets[@]}") ;;
    "$linux_target" | "$windows_target" | aarch64-apple-darwin | x86_64-apple-darwin) triples+=("$target") ;;
    *) fail "unknown target '$target' (linux, windows, macos, or one of $linux_target $windows_target ${mac_targets[*]})" ;;
  esac
done

version() {
  local id
  id=$(cargo pkgid --locked -p wasmesos)
  echo "${id##*[#@]}"
}

# Builds one target; prints the path of the binary cargo made.
build() {
  local target="$1" host profile_dir=release
  [ "$profile" = release ] || profile_dir=debug
  host=$(rustc -vV | sed -n 's/^host: //p')
  case "$target" in
    "$host")
      # No --target: the host's release artifacts are shared with `cargo bench` and friends.
      cargo build --profile "$profile" --locked -p wasmesos >&2
      echo "$CARGO_TARGET_DIR/$profile_dir/wasmesos"
      ;;
    "$windows_target")
      install_windows_tools >&2
      cargo build --profile "$profile" --locked -p wasmesos --target "$target" >&2
      echo "$CARGO_TARGET_DIR/$target/$profile_dir/wasmesos.exe"
      ;;
    *-apple-darwin)
      [ -n "${SDKROOT:-}" ] ||
        fail "$target: linking for macOS needs Apple's SDK (frameworks CoreFoundation, IOKit, Security; libobjc), which is not downloaded here: set SDKROOT to a MacOSX.sdk"
      install_mac_tools >&2
      PATH="$tools/py/bin:$PATH" "$zigbuild" build --profile "$profile" --locked -p wasmesos --target "$target" >&2
      echo "$CARGO_TARGET_DIR/$target/$profile_dir/wasmesos"
      ;;
    *)
      rustup target add "$target" >/dev/null
      cargo build --profile "$profile" --locked -p wasmesos --target "$target" >&2
      echo "$CARGO_TARGET_DIR/$target/$profile_dir/wasmesos"
      ;;
  esac
}

# Copies a built binary into the dist dir under its release name, stripped unless --no-strip.
place() {
  local built="$1" target="$2" name="$3"
  cp "$built" "$out/$name"
  chmod 755 "$out/$name"
  [ -n "$strip_symbols" ] || return 0
  case "$target" in
    "$windows_target") x86_64-w64-mingw32-strip "$out/$name" ;;
    *-linux-gnu) strip "$out/$name" ;;
    # No Mach-O strip is installed here: a macOS binary keeps its symbols.
    *) ;;
  esac
}

verify() {
  local dir="$1"
  step "verify: checksums and --version in $dir"
  [ -f "$dir/SHA256SUMS" ] || fail "$dir/SHA256SUMS is missing"
  (cd "$dir" && sha256sum --check --strict SHA256SUMS) || fail "checksums in $dir do not match"
  local host name
  host=$(rustc -vV | sed -n 's/^host: //p')
  while read -r _ name; do
    name="${name#\*}"
    case "$name" in
      *-"$host")
        "$dir/$name" --version | grep -q '^wasmesos ' || fail "$name --version"
        echo "  $name --version: $("$dir/$name" --version)"
        ;;
      *-"$windows_target.exe")
        if command -v wine >/dev/null; then
          wine_prefix
          local said
          said=$(timeout 300 wine "$dir/$name" --version </dev/null | tr -d '\r')
          grep -q '^wasmesos ' <<<"$said" || fail "$name --version under Wine said '$said'"
          echo "  $name --version under Wine: $said"
        fi
        ;;
    esac
  done <"$dir/SHA256SUMS"
  done_step verify
}

if [ -n "$verify_only" ]; then
  verify "$verify_only"
  exit 0
fi

started=$SECONDS
command -v sha256sum >/dev/null || fail "sha256sum (coreutils) is missing"
ver=$(version)
mkdir -p "$out"
rm -f "$out"/wasmesos-* "$out/SHA256SUMS"
names=()
for target in "${triples[@]}"; do
  step "build wasmesos $ver for $target ($profile profile)"
  built=$(build "$target")
  name="wasmesos-$ver-$target"
  [ "$target" != "$windows_target" ] || name="$name.exe"
  place "$built" "$target" "$name"
  names+=("$name")
  done_step "$target ($(du -h "$out/$name" | cut -f1))"
done
(cd "$out" && sha256sum "${names[@]}" >SHA256SUMS)
if [ -z "${SDKROOT:-}" ] && [[ " ${targets[*]} " != *" macos "* ]]; then
  echo "== dist: macOS binaries not made: linking for macOS needs Apple's SDK (set SDKROOT)"
fi
verify "$out"
echo "== dist: ${names[*]} and SHA256SUMS in $out, in $((SECONDS - started)) s"
