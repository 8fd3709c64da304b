//! Helpers shared by the executor's integration tests.

#![allow(dead_code)]

pub mod http;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use wasmesos_wasm_executor::{
    Executor, ExecutorConfig, FailureReason, Outcome, Program, Report, TaskSpec,
};

/// One executor per test binary: every test's runtime can launch on it.
pub fn executor() -> &'static Executor {
    static EXECUTOR: OnceLock<Executor> = OnceLock::new();
    EXECUTOR.get_or_init(|| {
        Executor::new(ExecutorConfig {
            max_concurrent_tasks: 1_100,
            max_task_memory_bytes: 256 << 20,
            max_memories_per_task: 2,
            ..ExecutorConfig::default()
        })
        .expect("the test executor starts")
    })
}

pub async fn load(path: &str) -> Program {
    executor()
        .load_file(Path::new(path))
        .await
        .unwrap_or_else(|err| panic!("{path} loads: {err}"))
}

/// A fresh sandbox directory, removed when the guard drops.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("sandbox")
    }

    pub fn spec(&self, task_id: &str) -> TaskSpec {
        TaskSpec::new(task_id, self.path())
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(name)).unwrap_or_default()
    }
}

pub async fn run(program: &Program, spec: TaskSpec) -> Report {
    executor()
        .launch(program, spec)
        .expect("the task launches")
        .wait()
        .await
}

/// Runs `hello` and checks it finishes: the host is still healthy.
pub async fn assert_host_healthy() {
    let hello = load(wasmesos_guest_artifacts::HELLO).await;
    let sandbox = Sandbox::new();
    let report = run(&hello, sandbox.spec("health-check")).await;
    assert_eq!(
        report.outcome.reason_code(),
        "finished",
        "{:?}",
        report.outcome
    );
    assert!(sandbox.read("stdout").contains("hello from wasmesos"));
}

pub fn assert_failed(report: &Report, expected: &FailureReason) {
    match &report.outcome {
        Outcome::Failed(reason) if reason.reason_code() == expected.reason_code() => {}
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}
