//! A thousand tasks at once on one executor, without a thread each.

mod common;

use std::time::Duration;

use common::{Sandbox, assert_host_healthy, executor, load};
use wasmesos_guest_artifacts as guests;
use wasmesos_wasm_executor::Outcome;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sleepy_tasks_all_finish() {
    const TASKS: usize = 1_000;
    let sleepy = load(guests::SLEEPY).await;
    let sandboxes = Sandbox::new();
    let mut running = Vec::with_capacity(TASKS);
    for index in 0..TASKS {
        let mut spec = sandboxes.spec(&format!("sleepy-{index}"));
        spec.sandbox_dir = sandboxes.dir.path().join(format!("task-{index}"));
        spec.args = vec!["200".into()];
        spec.limits.timeout = Some(Duration::from_secs(120));
        running.push(executor().launch(&sleepy, spec).expect("launches"));
    }
    let threads_while_running = thread_count();
    let mut finished = 0;
    for task in running {
        let report = task.wait().await;
        assert_eq!(
            report.outcome,
            Outcome::Finished {
                exit_code: 0,
                data: Vec::new()
            }
        );
        finished += 1;
    }
    assert_eq!(finished, TASKS);
    if let Some(threads) = threads_while_running {
        assert!(threads < 100, "{threads} threads for {TASKS} tasks");
    }
    let awake = std::fs::read_to_string(sandboxes.dir.path().join("task-999").join("stdout"))
        .expect("stdout of the last task");
    assert_eq!(awake, "awake\n");
    assert_host_healthy().await;
}

/// The process's thread count, where the platform tells it cheaply.
fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("Threads:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
