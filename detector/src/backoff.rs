//! [`Backoff`]: the one pause schedule of every client of the master (agent registration,
//! artifact fetches, scheduler re-subscription) and of the detector's own ZooKeeper retries.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// Delays that double from `initial` up to `max`, each drawn from the upper half of the
/// current step, so that many clients losing one master do not all come back in the same
/// instant.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// A zero `initial` becomes 1 ms: a retry loop must always pause.
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_millis(1));
        Backoff {
            initial,
            max: max.max(initial),
            next: initial,
        }
    }

    /// The pause to take now; the step after it is twice as long, up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        step.mul_f64(0.5 + 0.5 * unit_random())
    }

    /// Starts over from `initial`, after an attempt that worked.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// A number in `[0, 1)`; std's `RandomState` is seeded randomly, which is all jitter needs.
fn unit_random() -> f64 {
    let bits = RandomState::new().hash_one(std::time::Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_within(delay: Duration, low_ms: u64, high_ms: u64) {
        assert!(
            delay >= Duration::from_millis(low_ms) && delay <= Duration::from_millis(high_ms),
            "{delay:?} not in {low_ms}..={high_ms} ms"
        );
    }

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        for cap in [100, 200, 400, 400, 400] {
            assert_within(backoff.next_delay(), cap / 2, cap);
        }
        backoff.reset();
        assert_within(backoff.next_delay(), 50, 100);
    }

    #[test]
    fn a_cap_between_doublings_is_reached_exactly() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        for (low, high) in [(50, 100), (100, 200), (175, 350), (175, 350)] {
            assert_within(backoff.next_delay(), low, high);
        }
    }

    #[test]
    fn a_zero_minimum_still_waits() {
        let mut backoff = Backoff::new(Duration::ZERO, Duration::ZERO);
        assert!(backoff.next_delay() > Duration::ZERO);
    }

    #[test]
    fn a_cap_below_the_minimum_is_the_minimum() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(10));
        for _ in 0..3 {
            assert_within(backoff.next_delay(), 50, 100);
        }
    }

    #[test]
    fn pauses_are_jittered() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        let delays: std::collections::BTreeSet<Duration> =
            (0..16).map(|_| backoff.next_delay()).collect();
        assert!(delays.len() > 1, "{delays:?}");
    }
}
