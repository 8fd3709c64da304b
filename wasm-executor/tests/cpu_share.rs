//! The CPU share: a busy loop with `cpus = 0.25` uses 0.25 ± 0.05 of a core over 2 s.
//!
//! Alone in its own test binary, so that process CPU time measures only this task.

use std::time::{Duration, Instant};

use cpu_time::ProcessTime;
use wasmesos_wasm_executor::{Executor, ExecutorConfig, Outcome, TaskSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_loop_with_a_quarter_cpu_uses_a_quarter_of_a_core() {
    let executor = Executor::new(ExecutorConfig::small()).expect("executor");
    let spin = executor
        .load_file(wasmesos_guest_artifacts::SPIN.as_ref())
        .await
        .expect("spin loads");
    let sandbox = tempfile::tempdir().expect("temp dir");
    let mut spec = TaskSpec::new("spin-quarter", sandbox.path().join("sandbox"));
    spec.limits.cpus = Some(0.25);
    let task = executor.launch(&spin, spec).expect("launches");

    // Start measuring once the guest is past instantiation and spinning.
    let deadline = Instant::now() + Duration::from_secs(30);
    while task.cpu_time() < Duration::from_millis(20) {
        assert!(Instant::now() < deadline, "the guest never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cpu_start = ProcessTime::now();
    let wall_start = Instant::now();
    let window = Duration::from_secs(2);
    while wall_start.elapsed() < window {
        tokio::time::sleep(window.saturating_sub(wall_start.elapsed())).await;
    }
    let share = cpu_start.elapsed().as_secs_f64() / wall_start.elapsed().as_secs_f64();

    eprintln!("cpus = 0.25 used {share:.3} of a core");
    task.kill_handle().kill();
    assert_eq!(task.wait().await.outcome, Outcome::Killed);
    assert!(
        (0.20..=0.30).contains(&share),
        "cpus = 0.25 used {share:.3} of a core"
    );
}
