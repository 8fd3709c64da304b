//! chronos-python, the client Chronos users script with, drives jobs through add, list,
//! search, run, update, dependency, graph, kill and delete, unmodified. The test builds its
//! own virtualenv in a temp dir; without python3 or PyPI it says so in one line and passes.

use wasmesos_test_support::python::{run, virtualenv};

use crate::common::Env;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/chronos/chronos_flow.py");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chronos_python_drives_jobs_through_their_lives() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let Some(python) = virtualenv(dir.path(), "chronos-python==1.2.1").await else {
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
