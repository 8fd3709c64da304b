//! What every end-to-end test needs: tracing, small tasks, uploads.

use std::time::Duration;

use wasmesos_harness::TestFramework;
use wasmesos_sdk_scheduler::TaskBuilder;

pub const MIB: u64 = 1 << 20;

/// Deadline for conditions that should hold within a second or two on a busy 2-core box.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Logs to the test's output with `RUST_LOG=wasmesos_master=debug,...`.
pub fn tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Uploads a guest from `wasmesos_guest_artifacts` and returns its digest.
pub async fn upload(framework: &TestFramework, path: &str) -> String {
    framework
        .driver
        .upload_executor(std::path::Path::new(path), None)
        .await
        .expect("upload a guest")
        .digest
}

/// A task with modest resources: 0.1 cpus, 64 MiB.
pub fn small_task(task_id: &str, digest: &str) -> TaskBuilder {
    TaskBuilder::new(task_id, digest).cpus(0.1).mem(64 * MIB)
}
