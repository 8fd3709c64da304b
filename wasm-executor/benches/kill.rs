//! Kill latency: from `KillHandle::kill` to `RunningTask::wait` returning, for a guest spinning
//! in a tight loop (stopped by the epoch callback) and for one sleeping in a host call
//! (stopped by dropping its call). The bound the issue sets is 10 ms; the epoch tick, the
//! granularity of the first case, is shown beside it.
//!
//! `cargo bench -p wasmesos-wasm-executor --bench kill [-- --quick]`

mod support;

use std::time::{Duration, Instant};

use support::{Samples, micros, quick, table};
use wasmesos_test_support::assert_eventually;
use wasmesos_wasm_executor::{Executor, ExecutorConfig, Outcome, Program, TaskSpec};

fn main() {
    let kills = if quick() { 20 } else { 200 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = ExecutorConfig::small();
    let tick = config.epoch_tick;
    let executor = Executor::new(config).expect("executor");
    let sandboxes = tempfile::tempdir().expect("temp dir");
    let mut rows = Vec::new();
    for (name, guest, args) in [
        ("spin (tight loop)", wasmesos_guest_artifacts::SPIN, vec![]),
        (
            "sleepy (in a host call)",
            wasmesos_guest_artifacts::SLEEPY,
            vec!["600000".to_string()],
        ),
    ] {
        let program = runtime
            .block_on(executor.load_file(guest.as_ref()))
            .expect("loads");
        let mut latencies = Vec::with_capacity(kills);
        for round in 0..kills {
            let mut spec = TaskSpec::new(
                format!("kill-{round}"),
                sandboxes.path().join(round.to_string()),
            );
            spec.args = args.clone();
            latencies.push(runtime.block_on(kill_once(&executor, &program, spec)));
        }
        let samples = Samples::new(latencies);
        rows.push(vec![
            name.to_owned(),
            micros(samples.median()),
            micros(samples.percentile(99.0)),
            micros(samples.percentile(100.0)),
        ]);
    }
    println!(
        "## kill latency, {kills} kills each (epoch tick {} µs)\n",
        tick.as_micros()
    );
    table(&["guest", "p50", "p99", "max"], &rows);
    println!("\nbound: 10 ms");
}

/// Launches, waits until the guest is running (it has used CPU), kills, and times the rest.
async fn kill_once(executor: &Executor, program: &Program, spec: TaskSpec) -> Duration {
    let task = executor.launch(program, spec).expect("launches");
    assert_eventually!(
        "the guest to run",
        Duration::from_secs(30),
        !task.cpu_time().is_zero()
    );
    // Let a spinning guest get deep into its loop.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let killer = task.kill_handle();
    let start = Instant::now();
    killer.kill();
    let report = task.wait().await;
    let latency = start.elapsed();
    assert_eq!(report.outcome, Outcome::Killed);
    latency
}
