//! The master's counters and latency histograms: bumped where things happen (one atomic add
//! per site, no locks), read by `/metrics`.
//!
//! A leaf: it knows nothing of the core or of the text format. `crate::http::prometheus`
//! writes the exposition from these and from the state snapshot's gauges.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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
        // `buckets` has a slot for every bound and one more.
        if let Some(bucket) = self.buckets.get(slot) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// How many observations.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Observations per bucket of [`LATENCY_BUCKETS`], not cumulative: slot `i` counts
    /// those in `(bound[i-1], bound[i]]`, and the last slot those above every bound.
    pub fn buckets(&self) -> [u64; LATENCY_BUCKETS.len() + 1] {
        self.buckets
            .each_ref()
            .map(|bucket| bucket.load(Ordering::Relaxed))
    }

    /// The sum of the observations, in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
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
    /// Updates dropped because their task does not run on the agent that sent them (forged,
    /// or stale retries for an earlier task of the same id).
    pub invalid_status_updates: Counter,
    /// Executor messages refused because their task does not run on the agent that sent
    /// them (Mesos's `master/invalid_executor_to_framework_messages`).
    pub invalid_executor_messages: Counter,
    /// Framework messages to executors dropped because their agent's stream already held
    /// its share of best-effort bytes (`rpc::queue::BEST_EFFORT_BYTES`).
    pub framework_messages_dropped: Counter,
    /// Components uploaded and stored.
    pub uploads: Counter,
    /// Bytes of the stored uploads.
    pub upload_bytes: Counter,
    /// Uploads refused (invalid, too big, digest mismatch).
    pub uploads_rejected: Counter,
    /// Time the actor spends building a state snapshot.
    pub snapshot_build: Histogram,
    /// Tasks killed to meet a role's quota guarantee.
    pub tasks_preempted: Counter,
    /// Tasks suspended to meet a role's quota guarantee.
    pub tasks_suspended: Counter,
    /// Suspended tasks resumed.
    pub tasks_resumed: Counter,
    /// Agents' updates of their revocable (oversubscribed) resources.
    pub oversubscribed_updates: Counter,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_slots_count_each_observation_once_and_overflow_last() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(40));
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_secs(2));
        let buckets = histogram.buckets();
        assert_eq!(buckets[0], 1);
        assert_eq!(buckets[6], 2, "3 ms falls in (2.5 ms, 5 ms]");
        assert_eq!(buckets[LATENCY_BUCKETS.len()], 1);
        assert_eq!(buckets.iter().sum::<u64>(), 4);
        assert_eq!(histogram.count(), 4);
        assert!((histogram.sum_seconds() - 2.00604).abs() < 1e-9);
    }
}
