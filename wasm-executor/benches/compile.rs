//! Compile: a cold compile of `wordcount` against loading it from the on-disk cache and from
//! memory.
//!
//! Each cold compile and each disk load uses a fresh executor, so nothing is remembered in
//! memory between them; the cache stats confirm where every load came from.
//!
//! `cargo bench -p wasmesos-wasm-executor --bench compile [-- --quick]`

mod support;

use std::time::Instant;

use support::{Samples, micros, millis, quick, table};
use wasmesos_wasm_executor::{Executor, ExecutorConfig};

fn main() {
    let repeats = if quick() { 3 } else { 7 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let bytes = std::fs::read(wasmesos_guest_artifacts::WORDCOUNT).expect("wordcount artifact");
    let cache = tempfile::tempdir().expect("temp dir");
    let config = ExecutorConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..ExecutorConfig::small()
    };

    let mut cold = Vec::new();
    for _ in 0..repeats {
        let executor = Executor::new(ExecutorConfig::small()).expect("executor");
        let start = Instant::now();
        runtime.block_on(executor.load(&bytes)).expect("compiles");
        cold.push(start.elapsed());
        assert_eq!(executor.cache_stats().compiled, 1);
    }

    // Fill the disk cache once, then load from it with fresh executors.
    runtime
        .block_on(
            Executor::new(config.clone())
                .expect("executor")
                .load(&bytes),
        )
        .expect("compiles");
    let mut disk = Vec::new();
    for _ in 0..repeats {
        let executor = Executor::new(config.clone()).expect("executor");
        let start = Instant::now();
        runtime.block_on(executor.load(&bytes)).expect("loads");
        disk.push(start.elapsed());
        let stats = executor.cache_stats();
        assert_eq!((stats.compiled, stats.loaded_from_disk), (0, 1));
    }

    let executor = Executor::new(config).expect("executor");
    runtime.block_on(executor.load(&bytes)).expect("loads");
    let mut memory = Vec::new();
    for _ in 0..repeats * 10 {
        let start = Instant::now();
        runtime.block_on(executor.load(&bytes)).expect("loads");
        memory.push(start.elapsed());
    }

    let (cold, disk, memory) = (Samples::new(cold), Samples::new(disk), Samples::new(memory));
    println!(
        "## compile: wordcount ({} KiB), median of {repeats}\n",
        bytes.len() / 1024
    );
    let faster = |load: std::time::Duration| {
        format!(
            "{:.0}x faster",
            cold.median().as_secs_f64() / load.as_secs_f64()
        )
    };
    table(
        &["load", "p50", "vs cold compile"],
        &[
            vec![
                "cold compile (Cranelift)".into(),
                millis(cold.median()),
                "baseline".into(),
            ],
            vec![
                "from the disk cache".into(),
                micros(disk.median()),
                faster(disk.median()),
            ],
            vec![
                "from memory (same digest)".into(),
                micros(memory.median()),
                faster(memory.median()),
            ],
        ],
    );
}
