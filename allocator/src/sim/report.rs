//! What a simulation measured.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A latency distribution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// How many samples.
    pub samples: usize,
    /// Median.
    pub p50: Duration,
    /// 99th percentile (nearest rank).
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
    /// Sum of all samples.
    pub total: Duration,
}

impl Latency {
    /// Summarises `samples` (any order).
    pub fn from_samples(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let rank = |q: f64| -> Duration {
            if samples.is_empty() {
                return Duration::ZERO;
            }
            let at = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[at]
        };
        Self {
            samples: samples.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            max: samples.last().copied().unwrap_or_default(),
            total: samples.iter().sum(),
        }
    }
}

/// The figures of one scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The scenario's name.
    pub name: String,
    /// Agents simulated.
    pub agents: usize,
    /// Frameworks simulated.
    pub frameworks: usize,
    /// Wall time of each `allocate` call that had work.
    pub rounds: Latency,
    /// Offers (allocations) made.
    pub offers: u64,
    /// Virtual time simulated (zero for a single-round scenario).
    pub virtual_time: Duration,
    /// Tasks launched.
    pub tasks_launched: u64,
    /// Time-averaged fraction of cpus used by tasks after warm-up.
    pub utilization_cpus: Option<f64>,
    /// Time-averaged fraction of memory used by tasks after warm-up.
    pub utilization_mem: Option<f64>,
    /// Mean over samples of Jain's index of the weighted dominant shares of the frameworks
    /// with unbounded demand, after warm-up.
    pub jain: Option<f64>,
    /// Starvation: the longest a greedy framework that wanted resources, held no offer and
    /// was below the mean share of the unbounded frameworks of its role (checked every
    /// second) went without an offer, after warm-up.
    pub worst_wait: Option<Duration>,
    /// Scenario-specific findings (quota met, reservations respected...).
    pub notes: Vec<String>,
}

impl Report {
    /// Offers per second of virtual time: the rate the cluster sees.
    pub fn offers_per_virtual_second(&self) -> Option<f64> {
        let secs = self.virtual_time.as_secs_f64();
        (secs > 0.0).then(|| self.offers as f64 / secs)
    }

    /// Offers per second of allocator wall time: how fast the allocator itself can go.
    pub fn offers_per_allocator_second(&self) -> f64 {
        let secs = self.rounds.total.as_secs_f64();
        if secs > 0.0 {
            self.offers as f64 / secs
        } else {
            0.0
        }
    }
}

/// Jain's fairness index: 1 when all values are equal, 1/n when one holds everything.
pub(crate) fn jain(values: &[f64]) -> Option<f64> {
    let sum: f64 = values.iter().sum();
    let squares: f64 = values.iter().map(|v| v * v).sum();
    (squares > 0.0).then(|| sum * sum / (values.len() as f64 * squares))
}
