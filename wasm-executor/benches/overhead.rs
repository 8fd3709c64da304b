//! Overhead: a CPU-bound guest with every limit on, against the same guest with none.
//!
//! The guest is `spin N`, pure arithmetic. "All limits" sets memory, a timeout, a disk quota
//! (with its 50 ms watcher) and an unrestrictive CPU share; the CPU-share row throttles to half
//! a core and compares CPU time rather than wall time, since its wall time doubles by design.
//! Fuel is reported on its own row: metering is compiled into the code, so it is the one limit
//! whose cost grows with the work.
//!
//! `cargo bench -p wasmesos-wasm-executor --bench overhead [-- --quick]`

mod support;

use std::time::Duration;

use support::{Samples, millis, quick, ratio, table};
use wasmesos_wasm_executor::{
    Executor, ExecutorConfig, Limits, Outcome, Program, Report, TaskSpec,
};

struct Case {
    name: &'static str,
    limits: Limits,
    /// Compare CPU time instead of wall time.
    by_cpu: bool,
}

fn main() {
    let (rounds, repeats) = if quick() {
        (50_000_000u64, 3)
    } else {
        (300_000_000u64, 7)
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

    let none = Limits {
        mem_bytes: 1 << 30,
        ..Limits::default()
    };
    let all = Limits {
        mem_bytes: 64 << 20,
        cpus: Some(1.0),
        fuel: None,
        timeout: Some(Duration::from_secs(600)),
        disk_bytes: Some(64 << 20),
    };
    let cases = [
        Case {
            name: "no limits",
            limits: none.clone(),
            by_cpu: false,
        },
        Case {
            name: "all limits except fuel",
            limits: all.clone(),
            by_cpu: false,
        },
        Case {
            name: "all limits, cpus = 0.5 (CPU time)",
            limits: Limits {
                cpus: Some(0.5),
                ..all.clone()
            },
            by_cpu: true,
        },
        Case {
            name: "all limits + fuel",
            limits: Limits {
                fuel: Some(u64::MAX / 2),
                ..all.clone()
            },
            by_cpu: false,
        },
        Case {
            name: "fuel only",
            limits: Limits {
                fuel: Some(u64::MAX / 2),
                ..none.clone()
            },
            by_cpu: false,
        },
    ];

    // Warm up both engines (the fuel variant compiles on first use).
    for case in [&cases[0], &cases[4]] {
        runtime.block_on(run(&executor, &spin, &case.limits, 1_000, sandboxes.path()));
    }
    let mut baseline: Option<(Duration, Duration)> = None;
    let mut rows = Vec::new();
    for case in &cases {
        let mut wall = Vec::new();
        let mut cpu = Vec::new();
        for _ in 0..repeats {
            let report = runtime.block_on(run(
                &executor,
                &spin,
                &case.limits,
                rounds,
                sandboxes.path(),
            ));
            wall.push(report.duration);
            cpu.push(report.cpu_time);
        }
        let (wall, cpu) = (Samples::new(wall).median(), Samples::new(cpu).median());
        let (base_wall, base_cpu) = *baseline.get_or_insert((wall, cpu));
        let versus = if case.by_cpu {
            ratio(cpu, base_cpu)
        } else {
            ratio(wall, base_wall)
        };
        rows.push(vec![
            case.name.to_owned(),
            millis(wall),
            millis(cpu),
            versus,
        ]);
    }
    println!("## overhead: spin {rounds} rounds, median of {repeats}\n");
    table(&["limits", "wall p50", "CPU p50", "vs no limits"], &rows);
    println!("\ntarget: all limits (fuel reported separately) <= 1.15x");
}

async fn run(
    executor: &Executor,
    spin: &Program,
    limits: &Limits,
    rounds: u64,
    dir: &std::path::Path,
) -> Report {
    let mut spec = TaskSpec::new("spin", dir.join("spin"));
    spec.args = vec![rounds.to_string()];
    spec.limits = limits.clone();
    let report = executor.launch(spin, spec).expect("launches").wait().await;
    assert!(
        matches!(report.outcome, Outcome::Finished { .. }),
        "{:?}",
        report.outcome
    );
    report
}
