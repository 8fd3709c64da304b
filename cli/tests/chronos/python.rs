//! chronos-python, the client Chronos users script with, drives jobs through add, list,
//! search, run, update, dependency, graph, kill and delete, unmodified. The test builds its
//! own virtualenv in a temp dir; without python3 or PyPI it says so in one line and passes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use wasmesos_harness::scaled;

use crate::common::Env;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/chronos/chronos_flow.py");

async fn run(program: &Path, args: &[&str]) -> Option<std::process::Output> {
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null()).kill_on_drop(true);
    tokio::time::timeout(scaled(Duration::from_secs(300)), command.output())
        .await
        .ok()?
        .ok()
}

fn ok(output: &Option<std::process::Output>) -> bool {
    output.as_ref().is_some_and(|o| o.status.success())
}

/// A virtualenv with chronos-python, or `None` (having said why).
async fn virtualenv(dir: &Path) -> Option<PathBuf> {
    let venv = dir.join("venv");
    let venv_text = venv.to_string_lossy().into_owned();
    if !ok(&run(Path::new("python3"), &["-m", "venv", &venv_text]).await) {
        println!("skipped: python3 -m venv is not available");
        return None;
    }
    let bin = venv.join(if cfg!(windows) { "Scripts" } else { "bin" });
    let installed = run(
        &bin.join("pip"),
        &["install", "-q", "chronos-python==1.2.1"],
    )
    .await;
    if !ok(&installed) {
        println!("skipped: pip cannot install chronos-python==1.2.1 from PyPI");
        return None;
    }
    Some(bin.join("python"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chronos_python_drives_jobs_through_their_lives() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let Some(python) = virtualenv(dir.path()).await else {
        return;
    };
    let env = Env::start().await;
    let server = env.url.trim_start_matches("http://").to_owned();
    let output = run(&python, &[SCRIPT, &server, &env.hello])
        .await
        .expect("the script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "chronos-python failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("chronos-python flow passed"), "{stdout}");
}
