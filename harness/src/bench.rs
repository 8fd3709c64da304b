//! What the benchmarks share.

/// A count a benchmark reads from the environment (`WASMESOS_BENCH_TASKS=2000`), or
/// `default` when it is unset or not a number.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}
