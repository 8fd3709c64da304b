//! Python clients in tests (marathon-python, chronos-python, pymesos): a program run with a
//! deadline, and a virtualenv in a temp dir with one requirement from PyPI. Without python3
//! or PyPI the test says so in one line and passes, as a client's absence is not a failure
//! of wasmesos.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::process::Command;

use crate::scaled;

/// Runs `program args…` (stdin closed) for at most 300 s, scaled; `None` if it could not
/// start or took longer.
pub async fn run(program: &Path, args: &[&str]) -> Option<Output> {
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null()).kill_on_drop(true);
    tokio::time::timeout(scaled(Duration::from_secs(300)), command.output())
        .await
        .ok()?
        .ok()
}

/// Whether `output` is of a run that exited 0.
pub fn succeeded(output: &Option<Output>) -> bool {
    output.as_ref().is_some_and(|o| o.status.success())
}

/// A virtualenv under `dir` with `requirement` (`chronos-python==1.2.1`) installed; its
/// `python`, or `None` having printed `skipped: …`.
pub async fn virtualenv(dir: &Path, requirement: &str) -> Option<PathBuf> {
    let venv = dir.join("venv");
    let venv_text = venv.to_string_lossy().into_owned();
    if !succeeded(&run(Path::new("python3"), &["-m", "venv", &venv_text]).await) {
        println!("skipped: python3 -m venv is not available");
        return None;
    }
    let bin = venv.join(if cfg!(windows) { "Scripts" } else { "bin" });
    if !succeeded(&run(&bin.join("pip"), &["install", "-q", requirement]).await) {
        println!("skipped: pip cannot install {requirement} from PyPI");
        return None;
    }
    Some(bin.join("python"))
}
