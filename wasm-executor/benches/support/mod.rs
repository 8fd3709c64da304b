//! Shared by the benchmark binaries: timing statistics and table printing.

#![allow(dead_code)]

use std::time::Duration;

/// Sorted samples with percentile lookups.
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Samples(samples)
    }

    pub fn percentile(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.0.len() - 1) as f64 * p / 100.0).round() as usize;
        self.0[rank]
    }

    pub fn median(&self) -> Duration {
        self.percentile(50.0)
    }
}

pub fn micros(duration: Duration) -> String {
    format!("{:.1} µs", duration.as_secs_f64() * 1e6)
}

pub fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

pub fn ratio(ours: Duration, baseline: Duration) -> String {
    format!("{:.2}x", ours.as_secs_f64() / baseline.as_secs_f64())
}

/// Prints a Markdown table.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    println!("| {} |", headers.join(" | "));
    println!(
        "|{}|",
        headers.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for row in rows {
        println!("| {} |", row.join(" | "));
    }
}

/// `cargo bench -- --quick` (or `WASMESOS_BENCH_QUICK=1`) shortens every benchmark.
pub fn quick() -> bool {
    std::env::args().any(|arg| arg == "--quick")
        || std::env::var_os("WASMESOS_BENCH_QUICK").is_some()
}
