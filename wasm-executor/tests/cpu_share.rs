//! The CPU share is enforced: a busy loop with `cpus = 0.25` stays within its budget — a
//! quarter of the wall time since its launch, plus one burst — and keeps running, while the
//! same loop unthrottled runs far past that budget (so the check would catch a share that is
//! not enforced). How close the share comes to 0.25 is measured by `benches/cpu_share.rs`.
//!
//! A loaded machine only gives a task less CPU, never more, so the budget holds however slow
//! the machine; only the waits scale with `WASMESOS_TEST_PATIENCE`.

use std::time::{Duration, Instant};

use wasmesos_test_support::{assert_eventually, scaled};
use wasmesos_wasm_executor::{Executor, ExecutorConfig, Outcome, Program, TaskSpec};

const SHARE: f64 = 0.25;

/// How long each loop is watched.
const WINDOW: Duration = Duration::from_secs(1);

/// The budget's allowance beyond `SHARE` of the wall time: the throttle's 5 ms burst, the
/// epoch tick before a pause starts, and room for the clock reads around them.
const SLACK: Duration = Duration::from_millis(100);

/// CPU time the spin guest used, and the wall time since just before its launch, after
/// [`WINDOW`] of spinning; the first reading once it is running is returned too.
struct Watched {
    running_at: Duration,
    used: Duration,
    wall: Duration,
}

async fn watch_spin(executor: &Executor, spin: &Program, cpus: Option<f64>) -> Watched {
    let sandbox = tempfile::tempdir().expect("temp dir");
    let mut spec = TaskSpec::new("spin", sandbox.path().join("sandbox"));
    spec.limits.cpus = cpus;
    let launched = Instant::now();
    let task = executor.launch(spin, spec).expect("launches");
    assert_eventually!(
        "the guest to start spinning",
        Duration::from_secs(30),
        !task.cpu_time().is_zero()
    );
    let running_at = task.cpu_time();
    tokio::time::sleep(WINDOW).await;
    let used = task.cpu_time();
    let wall = launched.elapsed();
    task.kill_handle().kill();
    let report = tokio::time::timeout(scaled(Duration::from_secs(10)), task.wait())
        .await
        .expect("the kill ends the spin");
    assert_eq!(report.outcome, Outcome::Killed);
    Watched {
        running_at,
        used,
        wall,
    }
}

fn budget(wall: Duration) -> Duration {
    wall.mul_f64(SHARE) + SLACK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_loop_with_a_quarter_cpu_stays_within_its_budget_and_keeps_running() {
    let executor = Executor::new(ExecutorConfig::small()).expect("executor");
    let spin = executor
        .load_file(wasmesos_guest_artifacts::SPIN.as_ref())
        .await
        .expect("spin loads");

    let throttled = watch_spin(&executor, &spin, Some(SHARE)).await;
    assert!(
        throttled.used <= budget(throttled.wall),
        "cpus = {SHARE} used {:?} in {:?}, over its budget {:?}",
        throttled.used,
        throttled.wall,
        budget(throttled.wall)
    );
    assert!(
        throttled.used > throttled.running_at,
        "the throttled guest made no progress in {WINDOW:?}"
    );

    let unthrottled = watch_spin(&executor, &spin, None).await;
    assert!(
        unthrottled.used > budget(unthrottled.wall),
        "unthrottled, the loop used only {:?} in {:?}: the budget check above proves nothing",
        unthrottled.used,
        unthrottled.wall
    );
}
