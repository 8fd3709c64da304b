//! Density: 10,000 tasks sleeping at once in one process, and the memory they take.
//!
//! Every task is the Rust `sleepy` guest blocked in a `wasi:clocks` sleep, with its own sandbox
//! dir. RSS is the process's resident set: `/proc/self/statm` on Linux, the working set
//! (`K32GetProcessMemoryInfo`) on Windows, which is also what to read under Wine
//! (`scripts/bench-wine.sh`): Wine's own files are opened by the wineserver, so a Windows
//! program reading `/proc/self/statm` through the Z: drive would get the wineserver's RSS.
//! Elsewhere the benchmark says it cannot measure and stops.
//!
//! `cargo bench -p wasmesos-wasm-executor --bench density [-- --quick]`

mod support;

use std::time::{Duration, Instant};

use support::{quick, table};
use wasmesos_wasm_executor::{Executor, ExecutorConfig, Outcome, TaskSpec};

const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    let Some(before) = rss_bytes() else {
        println!("density: this platform gives no resident set size to read; skipped");
        return;
    };
    let tasks: u32 = if quick() { 1_000 } else { 10_000 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let executor = Executor::new(ExecutorConfig {
        max_concurrent_tasks: tasks,
        ..ExecutorConfig::default()
    })
    .expect("executor");
    let sandboxes = tempfile::tempdir().expect("temp dir");
    let with_pool = rss_bytes().unwrap_or(before);

    let (launched_in, sleeping) = runtime.block_on(async {
        let sleepy = executor
            .load_file(wasmesos_guest_artifacts::SLEEPY.as_ref())
            .await
            .expect("sleepy loads");
        let start = Instant::now();
        let mut running = Vec::with_capacity(tasks as usize);
        for index in 0..tasks {
            let mut spec = TaskSpec::new(
                format!("sleepy-{index}"),
                sandboxes.path().join(index.to_string()),
            );
            spec.args = vec!["600000".into()];
            spec.limits.mem_bytes = 16 << 20;
            running.push(executor.launch(&sleepy, spec).expect("launches"));
        }
        // A task has reached its sleep once its first poll ended (its CPU time is counted then).
        let deadline = Instant::now() + Duration::from_secs(300);
        while running.iter().any(|task| task.cpu_time().is_zero()) {
            assert!(Instant::now() < deadline, "tasks did not all start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (start.elapsed(), running)
    });
    let all_sleeping = rss_bytes().unwrap_or(0);

    runtime.block_on(async {
        for task in &sleeping {
            task.kill_handle().kill();
        }
        for task in sleeping {
            assert_eq!(task.wait().await.outcome, Outcome::Killed);
        }
    });

    let per_task = (all_sleeping.saturating_sub(with_pool)) as f64 / f64::from(tasks);
    println!("## density: {tasks} concurrently sleeping tasks\n");
    table(
        &["measure", "value"],
        &[
            vec![
                "RSS before the executor".into(),
                format!("{:.1} MiB", before as f64 / MIB),
            ],
            vec![
                "RSS with the pool reserved".into(),
                format!("{:.1} MiB", with_pool as f64 / MIB),
            ],
            vec![
                format!("RSS with {tasks} tasks asleep"),
                format!("{:.1} MiB", all_sleeping as f64 / MIB),
            ],
            vec!["per task".into(), format!("{:.1} KiB", per_task / 1024.0)],
            vec![
                "time to launch all and reach their sleep".into(),
                format!("{:.2} s", launched_in.as_secs_f64()),
            ],
        ],
    );
    println!("\ntarget: <= 2 GiB RSS in total for 10,000 tasks");
}

/// Resident set size of this process.
#[cfg(not(windows))]
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// The working set of this process, from kernel32's `K32GetProcessMemoryInfo`.
#[cfg(windows)]
#[allow(
    unsafe_code,
    reason = "one documented Win32 call with a correctly sized out-struct; a bench, not product code"
)]
fn rss_bytes() -> Option<u64> {
    /// `PROCESS_MEMORY_COUNTERS` of psapi.h.
    #[repr(C)]
    #[derive(Default)]
    struct ProcessMemoryCounters {
        cb: u32,
        page_fault_count: u32,
        peak_working_set_size: usize,
        working_set_size: usize,
        quota_peak_paged_pool_usage: usize,
        quota_paged_pool_usage: usize,
        quota_peak_non_paged_pool_usage: usize,
        quota_non_paged_pool_usage: usize,
        pagefile_usage: usize,
        peak_pagefile_usage: usize,
    }
    #[link(name = "kernel32")]
    unsafe extern "system" {
        fn GetCurrentProcess() -> *mut std::ffi::c_void;
        fn K32GetProcessMemoryInfo(
            process: *mut std::ffi::c_void,
            counters: *mut ProcessMemoryCounters,
            size: u32,
        ) -> i32;
    }
    let size = u32::try_from(std::mem::size_of::<ProcessMemoryCounters>()).ok()?;
    let mut counters = ProcessMemoryCounters {
        cb: size,
        ..ProcessMemoryCounters::default()
    };
    // SAFETY: the pseudo-handle of the current process needs no closing, and `counters` is a
    // live, writable PROCESS_MEMORY_COUNTERS whose size is passed as `size`.
    let ok = unsafe { K32GetProcessMemoryInfo(GetCurrentProcess(), &raw mut counters, size) };
    (ok != 0).then(|| counters.working_set_size as u64)
}
