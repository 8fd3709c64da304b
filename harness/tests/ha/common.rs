//! What the HA tests share.

use std::time::Duration;

/// Deadline for conditions on a busy 2-core box.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The masters' session timeout in these tests (ZooKeeper runs with a 100 ms tick).
pub const SESSION_TIMEOUT: Duration = Duration::from_millis(1500);

pub fn tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The `wasmesos` binary these tests start as processes.
pub fn binary() -> std::path::PathBuf {
    wasmesos_harness::wasmesos_binary()
        .expect("the wasmesos binary: run `cargo build -p wasmesos` first, or set WASMESOS_BIN")
}
