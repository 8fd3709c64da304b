//! CPU share accuracy: the share of one core a busy loop actually uses, by process CPU time
//! over wall time, for several `cpus` limits, beside the same loop unthrottled (the baseline,
//! about one core). The target for `cpus = 0.25` is 0.25 ± 0.05. The test
//! `tests/cpu_share.rs` checks only that the share is enforced; the figures are here.
//!
//! `cargo bench -p wasmesos-wasm-executor --bench cpu_share [-- --quick]`

mod support;

use std::time::{Duration, Instant};

use cpu_time::ProcessTime;
use support::{quick, table};
use wasmesos_test_support::assert_eventually;
use wasmesos_wasm_executor::{Executor, ExecutorConfig, Outcome, Program, TaskSpec};

fn main() {
    let (windows, window) = if quick() {
        (3, Duration::from_secs(1))
    } else {
        (5, Duration::from_secs(2))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let executor = Executor::new(ExecutorConfig::small()).expect("executor");
    let spin = runtime
        .block_on(executor.load_file(wasmesos_guest_artifacts::SPIN.as_ref()))
        .expect("spin loads");
    let sandboxes = tempfile::tempdir().expect("temp dir");
    let mut rows = Vec::new();
    for cpus in [None, Some(0.25), Some(0.5), Some(0.75)] {
        let mut spec = TaskSpec::new(
            format!("spin-{}", rows.len()),
            sandboxes.path().join(rows.len().to_string()),
        );
        spec.limits.cpus = cpus;
        let mut shares = runtime.block_on(measure_shares(&executor, &spin, spec, windows, window));
        shares.sort_by(f64::total_cmp);
        let median = shares[shares.len() / 2];
        let asked = cpus.unwrap_or(1.0);
        rows.push(vec![
            cpus.map_or("unthrottled".to_owned(), |cpus| cpus.to_string()),
            format!("{median:.3}"),
            format!("{:.3}", shares[0]),
            format!("{:.3}", shares[shares.len() - 1]),
            format!("{:.2}x", median / asked),
        ]);
    }
    println!(
        "## CPU share of a busy loop, median of {windows} windows of {} ms\n",
        window.as_millis()
    );
    table(&["cpus", "p50 share", "min", "max", "p50 / cpus"], &rows);
    println!("\ntarget for cpus = 0.25: 0.20–0.30");
}

/// Launches the loop, waits until it runs, then measures `windows` consecutive windows.
async fn measure_shares(
    executor: &Executor,
    program: &Program,
    spec: TaskSpec,
    windows: usize,
    window: Duration,
) -> Vec<f64> {
    let task = executor.launch(program, spec).expect("launches");
    // Start measuring once the guest is past instantiation and spinning.
    assert_eventually!(
        "the guest to spin",
        Duration::from_secs(30),
        task.cpu_time() >= Duration::from_millis(20)
    );
    let mut shares = Vec::with_capacity(windows);
    for _ in 0..windows {
        let cpu_start = ProcessTime::now();
        let wall_start = Instant::now();
        while wall_start.elapsed() < window {
            tokio::time::sleep(window.saturating_sub(wall_start.elapsed())).await;
        }
        shares.push(cpu_start.elapsed().as_secs_f64() / wall_start.elapsed().as_secs_f64());
    }
    task.kill_handle().kill();
    assert_eq!(task.wait().await.outcome, Outcome::Killed);
    shares
}
