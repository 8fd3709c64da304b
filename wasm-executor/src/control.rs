//! Stopping a task from outside its guest code: kill, timeout, disk quota, and a service's
//! memory limit.
//!
//! The first reason recorded wins. A guest in a tight loop sees it at its next epoch tick (the
//! epoch callback interrupts it); a guest blocked in a host call is woken by the notification,
//! which drops its call future. A service has many such waiters (one per request), so every
//! waiter is woken.
//!
//! Suspension is the same path without the end: a suspended guest's epoch callback yields on
//! [`Control::resumed`], so its fiber is not polled (no CPU) while its store, memory and
//! sandbox stay as they were; a resume wakes it where it stopped. A guest waiting in a host
//! call pauses at its next epoch check after the call returns.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::engine::Nudge;

/// Why a task was stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    Killed = 1,
    Timeout = 2,
    DiskLimit = 3,
    /// A service's instances together asked for more memory than its limit.
    MemoryLimit = 4,
}

impl StopReason {
    fn from_u8(value: u8) -> Option<Self> {
        match value {
            1 => Some(StopReason::Killed),
            2 => Some(StopReason::Timeout),
            3 => Some(StopReason::DiskLimit),
            4 => Some(StopReason::MemoryLimit),
            _ => None,
        }
    }
}

#[derive(Default)]
pub(crate) struct Control {
    reason: AtomicU8,
    notify: Notify,
    /// Advances the engines' epochs, so that running guest code reaches its epoch check now
    /// rather than at the next tick.
    nudge: Option<Nudge>,
    /// Set while the task is suspended; its guest code yields at its next epoch check.
    suspended: AtomicBool,
    /// Wakes a guest waiting in [`Control::resumed`].
    resume: Notify,
    /// Nanoseconds spent suspended (suspend to resume, whether or not guest code was
    /// running), summed over finished suspensions.
    suspended_nanos: AtomicU64,
    /// How the last suspension and resume went, for [`KillHandle::suspension`].
    timing: Mutex<Timing>,
}

/// When the last suspend and resume were asked for, and how long each took to take effect.
#[derive(Debug, Default, Clone, Copy)]
struct Timing {
    suspend_requested: Option<Instant>,
    /// When the current suspension began.
    suspended_since: Option<Instant>,
    resume_requested: Option<Instant>,
    stats: Suspension,
}

/// How a task's suspensions went.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Suspension {
    /// Whether it is suspended now (asked to be; its guest stops at its next epoch check).
    pub suspended: bool,
    /// Time its guest code spent paused, over every finished suspension.
    pub total: Duration,
    /// From the last `suspend` to its guest code stopping; `None` until it has stopped (a
    /// guest waiting in a host call stops when the call returns).
    pub last_suspend_latency: Option<Duration>,
    /// From the last `resume` to its guest code running again; `None` until it runs.
    pub last_resume_latency: Option<Duration>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("reason", &self.reason())
            .finish()
    }
}

impl Control {
    pub(crate) fn new(nudge: Nudge) -> Self {
        Control {
            nudge: Some(nudge),
            ..Control::default()
        }
    }

    /// Records `reason` unless another was recorded first, and wakes the task.
    pub(crate) fn stop(&self, reason: StopReason) {
        let recorded = self
            .reason
            .compare_exchange(0, reason as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if recorded {
            if let Some(nudge) = &self.nudge {
                nudge.nudge();
            }
            // Waiters register before they read the reason (see `stopped`), so none misses it.
            self.notify.notify_waiters();
            // A suspended guest wakes to see the reason at its next epoch check.
            self.resume.notify_waiters();
        }
    }

    /// Asks the guest to pause at its next epoch check (now, through the nudge). Returns
    /// whether it was running (not already suspended).
    pub(crate) fn suspend(&self) -> bool {
        {
            // The timing is written under its lock before the flag is set: the guest, which
            // reads the flag and then the timing, always finds this suspension's request.
            let Ok(mut timing) = self.timing.lock() else {
                return false;
            };
            if self.suspended.swap(true, Ordering::AcqRel) {
                return false;
            }
            let now = Instant::now();
            timing.suspend_requested = Some(now);
            timing.suspended_since = Some(now);
            timing.stats.suspended = true;
            timing.stats.last_suspend_latency = None;
        }
        if let Some(nudge) = &self.nudge {
            nudge.nudge();
        }
        true
    }

    /// Lets a suspended guest run again. Returns whether it was suspended.
    pub(crate) fn resume(&self) -> bool {
        {
            let Ok(mut timing) = self.timing.lock() else {
                return false;
            };
            if !self.suspended.swap(false, Ordering::AcqRel) {
                return false;
            }
            let now = Instant::now();
            timing.resume_requested = Some(now);
            timing.stats.suspended = false;
            timing.stats.last_resume_latency = None;
            if let Some(since) = timing.suspended_since.take() {
                let nanos = now.saturating_duration_since(since).as_nanos();
                self.suspended_nanos
                    .fetch_add(u64::try_from(nanos).unwrap_or(u64::MAX), Ordering::Relaxed);
            }
        }
        self.resume.notify_waiters();
        true
    }

    pub(crate) fn is_suspended(&self) -> bool {
        self.suspended.load(Ordering::Acquire)
    }

    /// Time spent suspended so far, over finished suspensions: a wall-clock limit does not
    /// count it.
    pub(crate) fn suspended_for(&self) -> Duration {
        Duration::from_nanos(self.suspended_nanos.load(Ordering::Relaxed))
    }

    pub(crate) fn suspension(&self) -> Suspension {
        let mut stats = self.timing.lock().map(|t| t.stats).unwrap_or_default();
        stats.total = self.suspended_for();
        stats
    }

    /// Resolves once the task is not suspended, or is stopped.
    async fn running(&self) {
        loop {
            let notified = self.resume.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the flags are read: a resume in between still wakes it.
            notified.as_mut().enable();
            if !self.is_suspended() || self.reason().is_some() {
                return;
            }
            notified.await;
        }
    }

    /// Resolves when the wall-clock `deadline` passes, moved later by the time the task
    /// spends suspended; never for `None`.
    pub(crate) async fn deadline_passes(&self, deadline: Option<Instant>) {
        let Some(deadline) = deadline else {
            return std::future::pending().await;
        };
        loop {
            tokio::time::sleep_until((deadline + self.suspended_for()).into()).await;
            if self.is_suspended() {
                self.running().await;
            } else if self.deadline_passed(deadline) {
                return;
            }
        }
    }

    /// Whether the wall-clock `deadline`, moved later by the time spent suspended, is past
    /// (never while suspended).
    pub(crate) fn deadline_passed(&self, deadline: Instant) -> bool {
        !self.is_suspended() && Instant::now() >= deadline + self.suspended_for()
    }

    /// Resolves once the task is resumed or stopped: what a suspended guest's epoch callback
    /// yields on. Records how long the pause took to begin and to end.
    pub(crate) async fn resumed(self: Arc<Self>) {
        let paused_at = Instant::now();
        if let Ok(mut timing) = self.timing.lock()
            && let Some(asked) = timing.suspend_requested.take()
        {
            timing.stats.last_suspend_latency = Some(paused_at.saturating_duration_since(asked));
        }
        self.running().await;
        let running_at = Instant::now();
        if let Ok(mut timing) = self.timing.lock()
            && let Some(asked) = timing.resume_requested.take()
        {
            timing.stats.last_resume_latency = Some(running_at.saturating_duration_since(asked));
        }
    }

    pub(crate) fn reason(&self) -> Option<StopReason> {
        StopReason::from_u8(self.reason.load(Ordering::Acquire))
    }

    /// Resolves once a reason is recorded.
    pub(crate) async fn stopped(&self) -> StopReason {
        loop {
            let notified = self.notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the reason is read: a stop in between still wakes this waiter.
            notified.as_mut().enable();
            if let Some(reason) = self.reason() {
                return reason;
            }
            notified.await;
        }
    }
}

/// Stops one task or service. Cloneable; killing one that already ended does nothing.
#[derive(Debug, Clone)]
pub struct KillHandle {
    pub(crate) control: Arc<Control>,
    /// A service's graceful stop; `None` for a task.
    pub(crate) drain: Option<Arc<crate::service::Drain>>,
}

impl KillHandle {
    /// Stops the task or service: within one epoch tick where guest code is running, at once
    /// where it waits in a host call. Its outcome is [`Outcome::Killed`](crate::Outcome::Killed)
    /// unless it had already ended another way.
    pub fn kill(&self) {
        self.control.stop(StopReason::Killed);
    }

    /// Stops a service gracefully: it accepts no new connection or request from now on, lets
    /// the requests in flight finish for at most `grace`, then is [`kill`](Self::kill)ed.
    ///
    /// A task (a `wasi:cli` command or an executor component) has no way to be asked to stop,
    /// so it is killed at once, whatever the grace: waiting would only delay the same end.
    pub fn kill_within(&self, grace: Duration) {
        match &self.drain {
            Some(drain) => drain.start(grace),
            None => self.kill(),
        }
    }

    /// Pauses the task where it is: its guest code stops at its next epoch check (within
    /// microseconds where it runs: the epochs are advanced now) and uses no CPU until
    /// [`resume`](Self::resume); its memory, sandbox and open handles stay. Time suspended
    /// does not count toward its wall-clock limit. A kill still ends it at once. Returns
    /// whether it was running (not already suspended).
    pub fn suspend(&self) -> bool {
        self.control.suspend()
    }

    /// Lets a suspended task run on from where it stopped. Returns whether it was suspended.
    pub fn resume(&self) -> bool {
        self.control.resume()
    }

    /// Whether the task is suspended, for how long it has been in all, and how fast the last
    /// suspend and resume took effect.
    pub fn suspension(&self) -> Suspension {
        self.control.suspension()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins() {
        let control = Control::default();
        control.stop(StopReason::Timeout);
        control.stop(StopReason::Killed);
        assert_eq!(control.reason(), Some(StopReason::Timeout));
    }

    #[tokio::test]
    async fn every_waiter_is_woken() {
        let control = Arc::new(Control::default());
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let control = Arc::clone(&control);
                tokio::spawn(async move { control.stopped().await })
            })
            .collect();
        tokio::task::yield_now().await;
        control.stop(StopReason::MemoryLimit);
        for waiter in waiters {
            assert_eq!(waiter.await.ok(), Some(StopReason::MemoryLimit));
        }
    }

    #[tokio::test]
    async fn a_resume_wakes_a_suspended_guest_and_is_timed() {
        let control = Arc::new(Control::default());
        assert!(control.suspend());
        assert!(!control.suspend(), "already suspended");
        let paused = tokio::spawn(Arc::clone(&control).resumed());
        tokio::task::yield_now().await;
        assert!(!paused.is_finished(), "suspended until resumed");
        assert!(control.resume());
        paused.await.expect("resumed");
        let stats = control.suspension();
        assert!(!stats.suspended);
        assert!(stats.last_suspend_latency.is_some());
        assert!(stats.last_resume_latency.is_some());
        assert!(stats.total > Duration::ZERO);
    }

    #[tokio::test]
    async fn a_stop_wakes_a_suspended_guest() {
        let control = Arc::new(Control::default());
        control.suspend();
        let paused = tokio::spawn(Arc::clone(&control).resumed());
        tokio::task::yield_now().await;
        control.stop(StopReason::Killed);
        paused.await.expect("woken by the kill");
        assert!(control.is_suspended(), "a kill does not resume it");
    }

    #[tokio::test]
    async fn a_stop_before_waiting_is_not_lost() {
        let control = Control::default();
        control.stop(StopReason::DiskLimit);
        assert_eq!(control.stopped().await, StopReason::DiskLimit);
    }
}
