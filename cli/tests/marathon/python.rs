//! marathon-python 0.13.0, the strict Python client (unknown keys in answers break it),
//! drives an app through create, list, get, scale, kill, delete, unmodified. The test builds
//! its own virtualenv in a temp dir; without python3 or PyPI it says so in one line and passes.

use wasmesos_test_support::python::{run, virtualenv};

use crate::common::Env;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/marathon/marathon_flow.py"
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marathon_python_drives_an_app_through_its_life() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let Some(python) = virtualenv(dir.path(), "marathon==0.13.0").await else {
        return;
    };
    let env = Env::start().await;
    let output = run(&python, &[SCRIPT, &env.url, &env.hello])
        .await
        .expect("the script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "marathon-python failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("marathon-python flow passed"), "{stdout}");
}
