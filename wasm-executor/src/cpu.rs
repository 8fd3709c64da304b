//! CPU accounting and the fractional CPU share.
//!
//! A task's guest code runs only while its future is being polled, and always on the thread
//! polling it (a fiber never changes threads mid-poll). [`Metered`] reads that thread's CPU
//! clock at the start and end of every poll, so the sum is exactly the CPU time the task
//! consumed, immune to the OS preempting the thread, and safe when tokio moves the task between
//! worker threads. The epoch callback adds the running poll's share so far, and [`Throttle`]
//! turns that into pauses.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// CPU time consumed by one task.
#[derive(Debug, Default)]
pub(crate) struct CpuMeter {
    /// Nanoseconds of finished polls.
    finished_nanos: AtomicU64,
    /// The polling thread's CPU clock when the current poll began.
    poll_started_nanos: AtomicU64,
}

impl CpuMeter {
    /// CPU time used so far, including the poll in progress. Must be called from inside the
    /// poll (the epoch callback is), so that the thread clock is the right thread's.
    pub(crate) fn used_in_poll(&self) -> Duration {
        let running =
            thread_cpu_nanos().saturating_sub(self.poll_started_nanos.load(Ordering::Relaxed));
        Duration::from_nanos(self.finished_nanos.load(Ordering::Relaxed) + running)
    }

    /// CPU time of all finished polls.
    pub(crate) fn used(&self) -> Duration {
        Duration::from_nanos(self.finished_nanos.load(Ordering::Relaxed))
    }
}

fn thread_cpu_nanos() -> u64 {
    cpu_time::ThreadTime::try_now()
        .map(|time| time.as_duration().as_nanos() as u64)
        .unwrap_or(0)
}

/// A future whose polls are charged to a [`CpuMeter`].
pub(crate) struct Metered<F> {
    inner: Pin<Box<F>>,
    meter: Arc<CpuMeter>,
}

impl<F: Future> Metered<F> {
    pub(crate) fn new(inner: F, meter: Arc<CpuMeter>) -> Self {
        Metered {
            inner: Box::pin(inner),
            meter,
        }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let started = thread_cpu_nanos();
        self.meter
            .poll_started_nanos
            .store(started, Ordering::Relaxed);
        let result = self.inner.as_mut().poll(cx);
        let spent = thread_cpu_nanos().saturating_sub(started);
        self.meter
            .finished_nanos
            .fetch_add(spent, Ordering::Relaxed);
        result
    }
}

/// Holds a task to a fraction of one core.
///
/// The budget is cumulative: by wall time `t` after the start the task may have used
/// `share * t + burst` of CPU. Past that, it pauses until the budget catches up, so an
/// oversleep in one pause is paid back by a longer run after it.
#[derive(Debug, Clone)]
pub(crate) struct Throttle {
    share: f64,
    started: Instant,
    burst: Duration,
}

impl Throttle {
    /// The longest the guest runs between pauses.
    const BURST: Duration = Duration::from_millis(5);

    /// A throttle for `share` of a core, or `None` when the share does not restrict a
    /// single-threaded guest.
    pub(crate) fn new(share: Option<f64>, started: Instant) -> Option<Self> {
        let share = share?;
        (share < 1.0).then_some(Throttle {
            share,
            started,
            burst: Self::BURST,
        })
    }

    /// How long to pause now, having used `used` of CPU.
    pub(crate) fn pause(&self, used: Duration, now: Instant) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.started);
        if used <= elapsed.mul_f64(self.share) + self.burst {
            return None;
        }
        let resume_at = self.started + used.div_f64(self.share);
        Some(resume_at.saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_throttle_for_a_whole_core_or_more() {
        let now = Instant::now();
        assert!(Throttle::new(None, now).is_none());
        assert!(Throttle::new(Some(1.0), now).is_none());
        assert!(Throttle::new(Some(0.5), now).is_some());
    }

    #[test]
    fn pauses_until_the_budget_catches_up() {
        let start = Instant::now();
        let throttle = Throttle::new(Some(0.25), start).expect("a throttle");
        let now = start + Duration::from_millis(100);
        assert_eq!(throttle.pause(Duration::from_millis(20), now), None);
        let pause = throttle.pause(Duration::from_millis(40), now);
        assert_eq!(pause, Some(Duration::from_millis(60)));
    }

    #[test]
    fn metered_futures_charge_their_polls() {
        let meter = Arc::new(CpuMeter::default());
        let busy = Metered::new(
            async {
                // Spin until this thread itself has used 20 ms of CPU, however long that takes.
                let start = cpu_time::ThreadTime::now();
                while start.elapsed() < Duration::from_millis(20) {
                    std::hint::spin_loop();
                }
            },
            Arc::clone(&meter),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        runtime.block_on(busy);
        assert!(
            meter.used() >= Duration::from_millis(20),
            "{:?}",
            meter.used()
        );
    }
}
