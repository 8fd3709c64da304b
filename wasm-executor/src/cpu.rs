//! CPU accounting and the fractional CPU share.
//!
//! A task's guest code runs only while its future is being polled, and always on the thread
//! polling it (a fiber never changes threads mid-poll). [`Metered`] reads a clock at the start
//! and end of every poll, so the sum is the time a thread spent running the task, safe when
//! tokio moves the task between worker threads. The epoch callback adds the running poll's
//! share so far, and [`Throttle`] turns that into pauses.
//!
//! A service runs many instances at once, each its own future with its own meter; their
//! meters add up in one [`SharedCpu`], and each instance is throttled on that sum, so the
//! share holds for the whole service. A service is also idle for long stretches: its unused
//! budget is kept only up to [`Throttle::SERVICE_MAX_CREDIT`], so that an hour of idleness does
//! not buy half an hour of every core.
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

/// Reads a running task's (or a whole service's) CPU time from anywhere, for as long as
/// the handle lives: the agent samples it to estimate unused CPU and to see when its tasks
/// need their CPU back. It counts finished polls (a running guest yields every few
/// milliseconds).
#[derive(Debug, Clone)]
pub struct CpuClock(ClockSource);

#[derive(Debug, Clone)]
enum ClockSource {
    Task(Arc<CpuMeter>),
    Service(Arc<SharedCpu>),
}

impl CpuClock {
    pub(crate) fn task(meter: Arc<CpuMeter>) -> Self {
        CpuClock(ClockSource::Task(meter))
    }

    pub(crate) fn service(shared: Arc<SharedCpu>) -> Self {
        CpuClock(ClockSource::Service(shared))
    }

    /// CPU time used so far.
    pub fn used(&self) -> Duration {
        match &self.0 {
            ClockSource::Task(meter) => meter.used(),
            ClockSource::Service(shared) => shared.used(),
        }
    }
}

/// Time one task spent being run by a thread.
#[derive(Debug)]
pub(crate) struct CpuMeter {
    clock: Clock,
    /// Nanoseconds of finished polls.
    finished_nanos: AtomicU64,
    /// The clock when the current poll began.
    poll_started_nanos: AtomicU64,
    /// The service this meter's polls also count for.
    shared: Option<Arc<SharedCpu>>,
}

/// The CPU time of all of a service's instances.
#[derive(Debug, Default)]
pub(crate) struct SharedCpu {
    /// Nanoseconds of finished polls, across all the service's meters.
    used_nanos: AtomicU64,
    /// Budget given up while idle past the service's credit cap, charged as if used.
    forgiven_nanos: AtomicU64,
}

impl SharedCpu {
    /// CPU time of all finished polls.
    pub(crate) fn used(&self) -> Duration {
        Duration::from_nanos(self.used_nanos.load(Ordering::Relaxed))
    }
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
    /// A meter on the thread CPU clock when `precise`, else on the monotonic clock counted
    /// from `origin` (a recent instant: the launch's, which saves reading the clock again).
    pub(crate) fn new(precise: bool, origin: Instant) -> Self {
        CpuMeter {
            clock: if precise {
                Clock::Thread
            } else {
                Clock::Monotonic(origin)
            },
            finished_nanos: AtomicU64::new(0),
            poll_started_nanos: AtomicU64::new(0),
            shared: None,
        }
    }

    /// A meter for one of a service's instances, whose polls also count in `shared`.
    pub(crate) fn for_service(precise: bool, shared: Arc<SharedCpu>) -> Self {
        CpuMeter {
            shared: Some(shared),
            ..CpuMeter::new(precise, Instant::now())
        }
    }

    /// Time used so far, including the poll in progress. Must be called from inside the poll
    /// (the epoch callback is), so that a thread clock is the right thread's.
    pub(crate) fn used_in_poll(&self) -> Duration {
        self.used_at_nanos(self.clock.now_nanos())
    }

    /// [`used_in_poll`](Self::used_in_poll) at `now`, an instant the caller read anyway: a
    /// monotonic meter then reads no clock of its own.
    pub(crate) fn used_in_poll_at(&self, now: Instant) -> Duration {
        let now_nanos = match self.clock {
            Clock::Monotonic(origin) => {
                u64::try_from(now.saturating_duration_since(origin).as_nanos()).unwrap_or(u64::MAX)
            }
            Clock::Thread => self.clock.now_nanos(),
        };
        self.used_at_nanos(now_nanos)
    }

    fn used_at_nanos(&self, now_nanos: u64) -> Duration {
        let started = self.poll_started_nanos.load(Ordering::Relaxed);
        let running = now_nanos.saturating_sub(started);
        Duration::from_nanos(self.finished_nanos.load(Ordering::Relaxed) + running)
    }

    /// What the throttle holds against the task so far: its own time, or for a service all
    /// its instances' finished polls, this one's poll in progress, and the budget forgiven.
    /// Called from inside the poll, like [`used_in_poll`](Self::used_in_poll).
    pub(crate) fn charged_in_poll(&self) -> Duration {
        let Some(shared) = &self.shared else {
            return self.used_in_poll();
        };
        let started = self.poll_started_nanos.load(Ordering::Relaxed);
        let running = self.clock.now_nanos().saturating_sub(started);
        let charged = shared
            .used_nanos
            .load(Ordering::Relaxed)
            .saturating_add(shared.forgiven_nanos.load(Ordering::Relaxed))
            .saturating_add(running);
        Duration::from_nanos(charged)
    }

    /// Forgives the service's budget so that its charge is at least `floor` (the budget
    /// left unused past the credit cap). Racing callers agree: the larger floor wins.
    pub(crate) fn charge_at_least(&self, floor: Duration) {
        let Some(shared) = &self.shared else {
            return;
        };
        let used = shared.used_nanos.load(Ordering::Relaxed);
        let floor = u64::try_from(floor.as_nanos()).unwrap_or(u64::MAX);
        shared
            .forgiven_nanos
            .fetch_max(floor.saturating_sub(used), Ordering::Relaxed);
    }

    /// Time of all finished polls.
    pub(crate) fn used(&self) -> Duration {
        Duration::from_nanos(self.finished_nanos.load(Ordering::Relaxed))
    }
}

/// A future whose polls are charged to a [`CpuMeter`]. `F` may be unsized (`dyn Future`):
/// the task's whole runner is boxed once, here.
pub(crate) struct Metered<F: ?Sized> {
    /// `None` only while it is dropped (inside the span).
    inner: Option<Pin<Box<F>>>,
    meter: Arc<CpuMeter>,
    /// Entered around each poll. Here rather than in a `tracing::Instrumented` around the
    /// future: that would move the whole future once more at every launch.
    span: tracing::Span,
}

impl<F: Future + ?Sized> Metered<F> {
    pub(crate) fn new(inner: Pin<Box<F>>, meter: Arc<CpuMeter>) -> Self {
        Metered::in_span(inner, meter, tracing::Span::none())
    }

    /// Like [`new`](Self::new), polling `inner` inside `span`.
    pub(crate) fn in_span(inner: Pin<Box<F>>, meter: Arc<CpuMeter>, span: tracing::Span) -> Self {
        Metered {
            inner: Some(inner),
            meter,
            span,
        }
    }
}

impl<F: ?Sized> Drop for Metered<F> {
    /// What the future's drop logs (a task detached, then dropped unfinished) is in its span
    /// too, as with `tracing::Instrumented`.
    fn drop(&mut self) {
        let _entered = self.span.enter();
        drop(self.inner.take());
    }
}

impl<F: Future + ?Sized> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let _entered = this.span.enter();
        let clock = this.meter.clock;
        let started = clock.now_nanos();
        this.meter
            .poll_started_nanos
            .store(started, Ordering::Relaxed);
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Pending;
        };
        let result = inner.as_mut().poll(cx);
        let spent = clock.now_nanos().saturating_sub(started);
        this.meter
            .finished_nanos
            .fetch_add(spent, Ordering::Relaxed);
        if let Some(shared) = &this.meter.shared {
            shared.used_nanos.fetch_add(spent, Ordering::Relaxed);
        }
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
    /// The most unused budget kept; `None` keeps it all (a task's budget counts from its
    /// launch, and a task rarely idles).
    max_credit: Option<Duration>,
}

impl Throttle {
    /// The longest the guest runs between pauses.
    const BURST: Duration = Duration::from_millis(5);

    /// The unused budget a service keeps: after idling, it may run this much above its share
    /// before it is paused.
    pub(crate) const SERVICE_MAX_CREDIT: Duration = Duration::from_millis(100);

    /// A throttle for `share` of a core, or `None` when the share does not restrict a
    /// single-threaded guest.
    pub(crate) fn new(share: Option<f64>, started: Instant) -> Option<Self> {
        let share = share?;
        (share < 1.0).then_some(Throttle {
            share,
            started,
            burst: Self::BURST,
            max_credit: None,
        })
    }

    /// A throttle for a service's `share`: its instances run at once, so even a share of a
    /// whole core or more restricts it, up to the machine's cores. A share of every core
    /// cannot bind and gets no throttle (then the service's meter needs no thread CPU clock,
    /// a system call on every poll).
    pub(crate) fn for_service(share: Option<f64>, started: Instant) -> Option<Self> {
        let share = share?;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        #[allow(
            clippy::cast_precision_loss,
            reason = "a count of cores is far below 2^52"
        )]
        let cores = cores as f64;
        (share < cores).then_some(Throttle {
            share,
            started,
            burst: Self::BURST,
            max_credit: Some(Self::SERVICE_MAX_CREDIT),
        })
    }

    /// The least the task must be charged at `now` for its unused budget to stay within the
    /// credit cap, when it has one and the charge is below it.
    pub(crate) fn credit_floor(&self, charged: Duration, now: Instant) -> Option<Duration> {
        let cap = self.max_credit?;
        let earned = now
            .saturating_duration_since(self.started)
            .mul_f64(self.share);
        let floor = earned.saturating_sub(cap);
        (charged < floor).then_some(floor)
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
    fn a_service_keeps_only_capped_credit() {
        let start = Instant::now();
        let task = Throttle::new(Some(0.5), start).expect("a throttle");
        let service = Throttle::for_service(Some(0.5), start).expect("a throttle");
        let after_an_hour = start + Duration::from_secs(3600);
        assert_eq!(task.credit_floor(Duration::ZERO, after_an_hour), None);
        let floor = service.credit_floor(Duration::ZERO, after_an_hour);
        assert_eq!(
            floor,
            Some(Duration::from_secs(1800) - Throttle::SERVICE_MAX_CREDIT)
        );
        // Charged at the floor, the service may run its credit and its burst, then pauses.
        let floor = floor.expect("a floor");
        let credit = Throttle::SERVICE_MAX_CREDIT;
        assert_eq!(service.pause(floor + credit, after_an_hour), None);
        assert!(
            service
                .pause(floor + credit + Duration::from_millis(10), after_an_hour)
                .is_some()
        );
    }

    #[test]
    fn a_service_share_of_every_core_gets_no_throttle() {
        let start = Instant::now();
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let every_core = f64::from(u32::try_from(cores).unwrap_or(u32::MAX));
        assert!(Throttle::for_service(Some(every_core), start).is_none());
        assert!(Throttle::for_service(Some(every_core + 1.0), start).is_none());
        assert!(Throttle::for_service(Some(every_core - 0.5), start).is_some());
        assert!(Throttle::for_service(None, start).is_none());
    }

    #[test]
    fn service_meters_add_up() {
        let shared = Arc::new(SharedCpu::default());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        for _ in 0..2 {
            let meter = Arc::new(CpuMeter::for_service(true, Arc::clone(&shared)));
            let busy = Metered::new(
                Box::pin(async {
                    let start = cpu_time::ThreadTime::now();
                    while start.elapsed() < Duration::from_millis(10) {
                        std::hint::spin_loop();
                    }
                }),
                Arc::clone(&meter),
            );
            runtime.block_on(busy);
        }
        assert!(
            shared.used() >= Duration::from_millis(20),
            "{:?}",
            shared.used()
        );
    }

    #[test]
    fn metered_futures_charge_their_polls() {
        let meter = Arc::new(CpuMeter::new(true, Instant::now()));
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
