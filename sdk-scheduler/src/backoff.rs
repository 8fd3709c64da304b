//! Exponential backoff with jitter between re-subscription attempts.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

/// Doubles from `min` to `max`; each pause is drawn from the upper half of the current step so
/// that many frameworks losing one master do not all come back in the same instant.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        let min = min.max(Duration::from_millis(1));
        Backoff {
            min,
            max: max.max(min),
            current: min,
        }
    }

    /// The next pause; each call doubles the step up to `max`.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let step = self.current;
        self.current = (self.current * 2).min(self.max);
        step.mul_f64(0.5 + 0.5 * unit_random())
    }

    /// Starts over from `min`, after a subscription that worked.
    pub(crate) fn reset(&mut self) {
        self.current = self.min;
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

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(400));
        let delays: Vec<Duration> = (0..5).map(|_| backoff.next_delay()).collect();
        let caps = [100, 200, 400, 400, 400];
        for (delay, cap) in delays.iter().zip(caps) {
            let cap = Duration::from_millis(cap);
            assert!(
                *delay <= cap && *delay >= cap / 2,
                "{delay:?} not in [{cap:?}/2, {cap:?}]"
            );
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn a_zero_minimum_still_waits() {
        let mut backoff = Backoff::new(Duration::ZERO, Duration::ZERO);
        assert!(backoff.next_delay() > Duration::ZERO);
    }
}
