//! Stopping a task from outside its guest code: kill, timeout, disk quota, and a service's
//! memory limit.
//!
//! The first reason recorded wins. A guest in a tight loop sees it at its next epoch tick (the
//! epoch callback interrupts it); a guest blocked in a host call is woken by the notification,
//! which drops its call future. A service has many such waiters (one per request), so every
//! waiter is woken.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

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
    async fn a_stop_before_waiting_is_not_lost() {
        let control = Control::default();
        control.stop(StopReason::DiskLimit);
        assert_eq!(control.stopped().await, StopReason::DiskLimit);
    }
}
