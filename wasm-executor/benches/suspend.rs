//! Suspension: how fast a running guest stops when suspended and runs again when resumed, and
//! what a suspended task costs. A spinning guest (pure guest code, so it pauses at an epoch
//! check) is suspended and resumed again and again; the executor times each step from the call
//! to the guest code stopping or running. Then one task stays suspended for a while, and its
//! own CPU and the whole process's CPU over that time are read.
//!
//! Targets: resume p50 ≤ 1 ms; CPU while suspended ~0.
//!
//! `cargo bench -p wasmesos-wasm-executor --bench suspend [-- --quick]`

mod support;

use std::time::{Duration, Instant};

use cpu_time::ProcessTime;
use support::{Samples, micros, millis, quick, table};
use wasmesos_test_support::assert_eventually;
use wasmesos_wasm_executor::{Executor, ExecutorConfig, KillHandle, Outcome, TaskSpec};

fn main() {
    let cycles = if quick() { 50 } else { 500 };
    let idle = if quick() {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(3)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = ExecutorConfig::small();
    let tick = config.epoch_tick;
    let executor = Executor::new(config).expect("executor");
    let sandboxes = tempfile::tempdir().expect("temp dir");
    let spin = runtime
        .block_on(executor.load_file(wasmesos_guest_artifacts::SPIN.as_ref()))
        .expect("loads");
    let task = executor
        .launch(&spin, TaskSpec::new("spin", sandboxes.path().join("spin")))
        .expect("launches");
    let handle = task.kill_handle();
    runtime.block_on(async {
        assert_eventually!(
            "the guest to run",
            Duration::from_secs(30),
            !task.cpu_time().is_zero()
        );
    });

    let (mut suspends, mut resumes) = (Vec::new(), Vec::new());
    for _ in 0..cycles {
        let (suspend, resume) = runtime.block_on(cycle(&handle));
        suspends.push(suspend);
        resumes.push(resume);
    }

    // One long suspension: the task's CPU and the process's.
    handle.suspend();
    runtime.block_on(paused(&handle));
    let (task_before, process_before, wall) = (task.cpu_time(), ProcessTime::now(), Instant::now());
    std::thread::sleep(idle);
    let task_cpu = task.cpu_time() - task_before;
    let process_cpu = process_before.elapsed();
    let wall = wall.elapsed();
    handle.resume();
    handle.kill();
    let report = runtime.block_on(task.wait());
    assert_eq!(report.outcome, Outcome::Killed);

    println!(
        "## suspend and resume of a spinning guest, {cycles} cycles (epoch tick {} µs)\n",
        tick.as_micros()
    );
    let rows = [
        ("suspend → guest stopped", suspends),
        ("resume → guest running", resumes),
    ]
    .into_iter()
    .map(|(name, samples)| {
        let samples = Samples::new(samples);
        vec![
            name.to_owned(),
            micros(samples.median()),
            micros(samples.percentile(99.0)),
            micros(samples.percentile(100.0)),
        ]
    })
    .collect::<Vec<_>>();
    table(&["step", "p50", "p99", "max"], &rows);
    println!("\ntarget: resume p50 ≤ 1 ms\n");
    println!("## CPU while suspended, {} of wall time\n", millis(wall));
    table(
        &["task CPU", "process CPU (epoch ticker, runtime)"],
        &[vec![micros(task_cpu), micros(process_cpu)]],
    );
}

/// Suspends, waits for the guest to stop, resumes, waits for it to run; the executor's own
/// timings of the two steps.
async fn cycle(handle: &KillHandle) -> (Duration, Duration) {
    handle.suspend();
    paused(handle).await;
    let suspend = handle
        .suspension()
        .last_suspend_latency
        .expect("a suspension was timed");
    handle.resume();
    assert_eventually!(
        "the guest to run again",
        Duration::from_secs(10),
        handle.suspension().last_resume_latency.is_some()
    );
    let resume = handle
        .suspension()
        .last_resume_latency
        .expect("a resume was timed");
    // Let it run a little before the next cycle, as a task would.
    tokio::time::sleep(Duration::from_millis(2)).await;
    (suspend, resume)
}

/// Waits until the guest has stopped at its epoch check.
async fn paused(handle: &KillHandle) {
    assert_eventually!(
        "the guest to pause",
        Duration::from_secs(10),
        handle.suspension().last_suspend_latency.is_some()
    );
}
