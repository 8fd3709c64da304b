//! The master's Prometheus metrics: counters bumped where things happen (one atomic add per
//! site, no locks) and gauges read from the state snapshot when `/metrics` is scraped.
//!
//! The text format is written by hand: it is a few lines per family, and doing it here keeps
//! the master free of a metrics registry whose global state tests would share.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::core::StateSnapshot;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds (seconds) of the latency histograms: 50 µs to 1 s.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0,
];

/// A latency histogram over [`LATENCY_BUCKETS`].
#[derive(Debug, Default)]
pub struct Histogram {
    /// Non-cumulative: `buckets[i]` counts observations in `(bound[i-1], bound[i]]`; the
    /// last slot counts those above every bound.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let slot = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// How many observations.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {}", self.count());
    }
}

/// Every counter and histogram the master keeps; shared by the core, the actor and the RPC
/// services through an `Arc`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Wall time of each allocation round, measured by the actor around the core's tick.
    pub allocation_round: Histogram,
    /// Allocation rounds run.
    pub allocation_rounds: Counter,
    pub offers_sent: Counter,
    pub offers_declined: Counter,
    pub offers_rescinded: Counter,
    /// Status updates received from agents.
    pub status_updates: Counter,
    /// Updates whose uuid equals the task's latest one: an agent resending an update the
    /// framework has not acknowledged yet.
    pub status_update_retries: Counter,
    /// Components uploaded and stored.
    pub uploads: Counter,
    /// Bytes of the stored uploads.
    pub upload_bytes: Counter,
    /// Uploads refused (invalid, too big, digest mismatch).
    pub uploads_rejected: Counter,
    /// Time the actor spends building a state snapshot.
    pub snapshot_build: Histogram,
}

impl Metrics {
    /// The Prometheus text exposition: these counters plus gauges from `state`.
    pub fn render(&self, state: &StateSnapshot) -> String {
        let mut out = String::with_capacity(8 * 1024);
        self.allocation_round.render(
            &mut out,
            "wasmesos_allocation_round_seconds",
            "Wall time of one allocation round.",
        );
        let counters = [
            (
                "wasmesos_allocation_rounds_total",
                "Allocation rounds run.",
                &self.allocation_rounds,
            ),
            (
                "wasmesos_offers_sent_total",
                "Offers sent to frameworks.",
                &self.offers_sent,
            ),
            (
                "wasmesos_offers_declined_total",
                "Offers declined by frameworks.",
                &self.offers_declined,
            ),
            (
                "wasmesos_offers_rescinded_total",
                "Offers rescinded by the master.",
                &self.offers_rescinded,
            ),
            (
                "wasmesos_status_updates_total",
                "Task status updates received from agents.",
                &self.status_updates,
            ),
            (
                "wasmesos_status_update_retries_total",
                "Status updates resent by agents before their acknowledgement.",
                &self.status_update_retries,
            ),
            (
                "wasmesos_uploads_total",
                "Components uploaded and stored.",
                &self.uploads,
            ),
            (
                "wasmesos_upload_bytes_total",
                "Bytes of stored uploads.",
                &self.upload_bytes,
            ),
            (
                "wasmesos_uploads_rejected_total",
                "Uploads refused.",
                &self.uploads_rejected,
            ),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.get()
            );
        }
        self.snapshot_build.render(
            &mut out,
            "wasmesos_state_snapshot_build_seconds",
            "Actor time spent building the operator's state snapshot.",
        );
        render_gauges(&mut out, state);
        out
    }
}

fn render_gauges(out: &mut String, state: &StateSnapshot) {
    let active = state.agents.iter().filter(|a| a.active).count();
    gauge_header(out, "wasmesos_agents", "Registered agents by reachability.");
    let _ = writeln!(out, "wasmesos_agents{{state=\"active\"}} {active}");
    let unreachable = state.agents.len() - active;
    let _ = writeln!(
        out,
        "wasmesos_agents{{state=\"unreachable\"}} {unreachable}"
    );
    render_tasks(out, state);
    gauge_header(
        out,
        "wasmesos_framework_dominant_share",
        "Each framework's dominant share, in [0, 1].",
    );
    for f in &state.frameworks {
        let _ = writeln!(
            out,
            "wasmesos_framework_dominant_share{{framework_id=\"{}\",name=\"{}\"}} {}",
            escape(&f.id),
            escape(&f.name),
            f.dominant_share
        );
    }
    gauge_header(
        out,
        "wasmesos_framework_weighted_dominant_share",
        "Each framework's dominant share divided by its role weight.",
    );
    for f in &state.frameworks {
        let _ = writeln!(
            out,
            "wasmesos_framework_weighted_dominant_share{{framework_id=\"{}\",name=\"{}\"}} {}",
            escape(&f.id),
            escape(&f.name),
            f.weighted_dominant_share
        );
    }
    render_resources(out, state);
    gauge_header(
        out,
        "wasmesos_artifacts",
        "Components stored on the master.",
    );
    let _ = writeln!(out, "wasmesos_artifacts {}", state.artifacts);
}

fn render_tasks(out: &mut String, state: &StateSnapshot) {
    let mut by_state: std::collections::BTreeMap<(&str, &str), u64> = Default::default();
    for task in &state.tasks {
        *by_state
            .entry((task.state.as_str(), task.reason.as_str()))
            .or_default() += 1;
    }
    gauge_header(
        out,
        "wasmesos_tasks",
        "Tasks the master knows (active and recently completed) by state and reason.",
    );
    for ((task_state, reason), n) in by_state {
        let _ = writeln!(
            out,
            "wasmesos_tasks{{state=\"{task_state}\",reason=\"{}\"}} {n}",
            escape(reason)
        );
    }
}

fn render_resources(out: &mut String, state: &StateSnapshot) {
    gauge_header(
        out,
        "wasmesos_resources",
        "Cluster resources (cpus, mem_bytes, disk_bytes, ...) by kind: total, used, offered.",
    );
    let kinds = [
        ("total", &state.resources.total),
        ("used", &state.resources.used),
        ("offered", &state.resources.offered),
    ];
    for (kind, map) in kinds {
        for (name, amount) in map {
            let _ = writeln!(
                out,
                "wasmesos_resources{{resource=\"{}\",kind=\"{kind}\"}} {amount}",
                escape(name)
            );
        }
    }
}

fn gauge_header(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

/// A label value as the text format requires: backslash, quote and newline escaped.
pub fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_count_overflow() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(40));
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_secs(2));
        let mut out = String::new();
        histogram.render(&mut out, "h", "help");
        assert!(out.contains("h_bucket{le=\"0.00005\"} 1\n"), "{out}");
        assert!(out.contains("h_bucket{le=\"0.005\"} 2\n"), "{out}");
        assert!(out.contains("h_bucket{le=\"1\"} 2\n"), "{out}");
        assert!(out.contains("h_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("h_count 3\n"), "{out}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
