//! Builds every guest in `examples/guests` for `wasm32-wasip2` and writes their paths to
//! `$OUT_DIR/guests.rs`.
//!
//! The guests are a separate cargo workspace, built by a nested `cargo build` into a target
//! dir of their own under the outer target dir, so rebuilds are incremental and shared by all
//! profiles. Nothing in this script trusts the guests: it only names the files cargo reported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const WASM_TARGET: &str = "wasm32-wasip2";
const MISSING_TARGET: &str =
    "the wasm32-wasip2 target is not installed; run: rustup target add wasm32-wasip2";

fn main() {
    if !wasm_target_installed() {
        // `cargo::error` prints this as one `error:` line. Exiting successfully keeps cargo
        // from dumping this script's output around it: there is nothing else to read.
        println!("cargo::error={MISSING_TARGET}");
        return;
    }
    if let Err(message) = run() {
        println!("cargo::error={message}");
        // A failing exit makes cargo show what this script captured on stderr, which holds
        // the nested build's compiler diagnostics.
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env_var("OUT_DIR")?);
    let examples_dir = manifest_dir.parent().unwrap_or(&manifest_dir);
    let repo_dir = examples_dir.parent().unwrap_or(examples_dir);
    let guests_dir = examples_dir.join("guests");
    let sdk_dir = repo_dir.join("sdk-guest");
    declare_inputs(&guests_dir, &sdk_dir, repo_dir)?;

    let guests_target_dir = guests_target_dir(&out_dir);
    let artifacts = build_guests(&guests_dir, &guests_target_dir)?;
    let source = generated_source(&artifacts);
    let generated = out_dir.join("guests.rs");
    std::fs::write(&generated, source)
        .map_err(|err| format!("cannot write {}: {err}", generated.display()))
}

fn env_var(key: &str) -> Result<String, String> {
    std::env::var(key).map_err(|err| format!("build script needs ${key}: {err}"))
}

/// Reruns this script when a guest, the SDK or the WIT world changes.
fn declare_inputs(guests_dir: &Path, sdk_dir: &Path, repo_dir: &Path) -> Result<(), String> {
    let mut inputs = vec![
        guests_dir.join("Cargo.toml"),
        guests_dir.join("Cargo.lock"),
        guests_dir.join(".cargo"),
        sdk_dir.join("Cargo.toml"),
        sdk_dir.join("src"),
        sdk_dir.join("wit"),
        // The SDK inherits package keys and lints from the main workspace.
        repo_dir.join("Cargo.toml"),
    ];
    for member in guest_dirs(guests_dir)? {
        inputs.extend(["Cargo.toml", "src", "wit"].map(|part| member.join(part)));
    }
    // A path that does not exist would count as changed on every build.
    for input in inputs.iter().filter(|input| input.exists()) {
        println!("cargo::rerun-if-changed={}", input.display());
    }
    println!("cargo::rerun-if-env-changed=RUSTUP_TOOLCHAIN");
    Ok(())
}

/// Every directory under `examples/guests` that holds a crate.
fn guest_dirs(guests_dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(guests_dir)
        .map_err(|err| format!("cannot list {}: {err}", guests_dir.display()))?;
    let mut dirs = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|err| format!("cannot list guests: {err}"))?
            .path();
        if path.join("Cargo.toml").is_file() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn wasm_target_installed() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let libdir = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", WASM_TARGET])
        .stderr(Stdio::null())
        .output();
    let Ok(output) = libdir else { return false };
    let libdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    output.status.success() && has_std(&libdir)
}

fn has_std(libdir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(libdir) else {
        return false;
    };
    entries
        .filter_map(Result::ok)
        .any(|entry| entry.file_name().to_string_lossy().starts_with("libstd-"))
}

/// `<outer target dir>/wasmesos-guests`, found by the files cargo keeps at the root of a target
/// dir: `CACHEDIR.TAG` (written only when cargo creates the dir itself) or `.rustc_info.json`
/// (always); `$OUT_DIR` itself when there is neither.
fn guests_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .skip(1)
        .find(|dir| dir.join("CACHEDIR.TAG").is_file() || dir.join(".rustc_info.json").is_file())
        .map_or_else(|| out_dir.to_owned(), Path::to_owned)
        .join("wasmesos-guests")
}

/// Runs the nested build and returns `(guest name, absolute .wasm path)` for every guest.
fn build_guests(guests_dir: &Path, target_dir: &Path) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut cargo = nested_cargo();
    cargo
        .current_dir(guests_dir)
        .args([
            "build",
            "--release",
            "--locked",
            "--message-format=json-render-diagnostics",
        ])
        .args(["--target", WASM_TARGET, "--manifest-path"])
        .arg(guests_dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let output = cargo
        .output()
        .map_err(|err| format!("cannot run cargo to build the guests: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "building the guests in {} failed ({}); their compiler output is in this \
             script's stderr below",
            guests_dir.display(),
            output.status
        ));
    }
    let artifacts = wasm_artifacts(&String::from_utf8_lossy(&output.stdout))?;
    if artifacts.is_empty() {
        return Err("the guests build produced no .wasm files".to_owned());
    }
    Ok(artifacts)
}

/// A `cargo` that builds for the guests' workspace and not for the outer build.
///
/// The outer build's flags, target and wrappers (e.g. clippy's) would otherwise leak into the
/// nested one and change how, or for what, the guests are compiled.
fn nested_cargo() -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let leaks = key.starts_with("CARGO_")
            && key != "CARGO_HOME"
            && key != "CARGO_MAKEFLAGS"
            && !key.starts_with("CARGO_REGISTRIES_")
            && !key.starts_with("CARGO_NET_")
            && !key.starts_with("CARGO_HTTP_");
        if leaks || key == "RUSTFLAGS" || key == "RUSTC_WORKSPACE_WRAPPER" {
            command.env_remove(key.as_ref());
        }
    }
    command
}

/// Picks the `.wasm` files out of cargo's JSON messages.
fn wasm_artifacts(messages: &str) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut artifacts = BTreeMap::new();
    for line in messages.lines().filter(|line| line.starts_with('{')) {
        let message: serde_json::Value = serde_json::from_str(line)
            .map_err(|err| format!("cannot parse cargo's output {line:?}: {err}"))?;
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(name) = message["target"]["name"].as_str() else {
            continue;
        };
        let filenames = message["filenames"].as_array().into_iter().flatten();
        for file in filenames.filter_map(serde_json::Value::as_str) {
            if file.ends_with(".wasm") {
                artifacts.insert(name.replace('_', "-"), PathBuf::from(file));
            }
        }
    }
    Ok(artifacts)
}

fn generated_source(artifacts: &BTreeMap<String, PathBuf>) -> String {
    let mut source = String::from("// @generated by build.rs from examples/guests.\n");
    for (name, path) in artifacts {
        source += &format!(
            "/// The `{name}` guest component (`examples/guests/{name}`).\n\
             pub const {}: &str = {:?};\n",
            const_name(name),
            path.display().to_string()
        );
    }
    source += "/// Every guest component, as `(name, path)`, sorted by name.\n";
    source += "pub const ALL: &[(&str, &str)] = &[\n";
    for name in artifacts.keys() {
        source += &format!("    ({name:?}, {}),\n", const_name(name));
    }
    source += "];\n";
    source
}

fn const_name(guest: &str) -> String {
    guest.to_uppercase().replace('-', "_")
}
