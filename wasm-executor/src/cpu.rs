//! CPU accounting and the fractional CPU share.
//!
//! A task's guest code runs only while its future is being polled, and always on the thread
//! polling it (a fiber never changes threads mid-poll). [`Metered`] reads a clock at the start
//! and end of every poll, so the sum is the time a thread spent running the task, safe when
//! tokio moves the task between worker threads. The epoch callback adds the running poll's
//! share so far, and [`Throttle`] turns that into pauses.
//!
//! A throttled task uses the thread's CPU clock, so that time the OS preempts the thread is not
//! charged to its share. That clock is a system call on Linux (about 9% of a trivial launch),
//! so other tasks use the monotonic clock, which is not.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Time one task spent being run by a thread.
#[derive(Debug)]
pub(crate) struct CpuMeter {
    clock: Clock,
    /// Nanoseconds of finished polls.
    finished_nanos: AtomicU64,
    /// The clock when the current poll began.
    poll_started_nanos: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
enum Clock {
    /// The polling thread's CPU time.
    Thread,
    /// Wall time since this instant.
    Monotonic(Instant),
}

impl Clock {
    fn now_nanos(self) -> u64 {
        match self {
            Clock::Thread => cpu_time::ThreadTime::try_now()
                .map(|time| time.as_duration().as_nanos() as u64)
                .unwrap_or(0),
            Clock::Monotonic(origin) => origin.elapsed().as_nanos() as u64,
        }
    }
}

impl CpuMeter {
    /// A meter on the thread CPU clock when `precise`, else on the monotonic clock.
    pub(crate) fn new(precise: bool) -> Self {
        CpuMeter {
            clock: if precise {
                Clock::Thread
            } else {
                Clock::Monotonic(Instant::now())
            },
            finished_nanos: AtomicU64::new(0),
            poll_started_nanos: AtomicU64::new(0),
        }
    }

    /// Time used so far, including the poll in progress. Must be called from inside the poll
    /// (the epoch callback is), so that a thread clock is the right thread's.
    pub(crate) fn used_in_poll(&self) -> Duration {
        let started = self.poll_started_nanos.load(Ordering::Relaxed);
        let running = self.clock.now_nanos().saturating_sub(started);
        Duration::from_nanos(self.finished_nanos.load(Ordering::Relaxed) + running)
    }

    /// Time of all finished polls.
    pub(crate) fn used(&self) -> Duration {
        Duration::from_nanos(self.finished_nanos.load(Ordering::Relaxed))
    }
}

/// A future whose polls are charged to a [`CpuMeter`]. `F` may be unsized (`dyn Future`):
/// the task's whole runner is boxed once, here.
pub(crate) struct Metered<F: ?Sized> {
    inner: Pin<Box<F>>,
    meter: Arc<CpuMeter>,
}

impl<F: Future + ?Sized> Metered<F> {
    pub(crate) fn new(inner: Pin<Box<F>>, meter: Arc<CpuMeter>) -> Self {
        Metered { inner, meter }
    }
}

impl<F: Future + ?Sized> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let clock = self.meter.clock;
        let started = clock.now_nanos();
        self.meter
            .poll_started_nanos
            .store(started, Ordering::Relaxed);
        let result = self.inner.as_mut().poll(cx);
        let spent = clock.now_nanos().saturating_sub(started);
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
        let meter = Arc::new(CpuMeter::new(true));
        let busy = Metered::new(
            Box::pin(async {
                // Spin until this thread itself has used 20 ms of CPU, however long that takes.
                let start = cpu_time::ThreadTime::now();
                while start.elapsed() < Duration::from_millis(20) {
                    std::hint::spin_loop();
                }
            }),
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
