//! Stopping a task from outside its guest code: kill, timeout, disk quota.
//!
//! The first reason recorded wins. A guest in a tight loop sees it at its next epoch tick (the
//! epoch callback interrupts it); a guest blocked in a host call is woken by the notification,
//! which drops its call future.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::Notify;

use crate::engine::Nudge;

/// Why a task was stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    Killed = 1,
    Timeout = 2,
    DiskLimit = 3,
}

impl StopReason {
    fn from_u8(value: u8) -> Option<Self> {
        match value {
            1 => Some(StopReason::Killed),
            2 => Some(StopReason::Timeout),
            3 => Some(StopReason::DiskLimit),
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
            // Only the task's runner waits; `notify_one` keeps a permit if it is not waiting yet.
            self.notify.notify_one();
        }
    }

    pub(crate) fn reason(&self) -> Option<StopReason> {
        StopReason::from_u8(self.reason.load(Ordering::Acquire))
    }

    /// Resolves once a reason is recorded.
    pub(crate) async fn stopped(&self) -> StopReason {
        loop {
            if let Some(reason) = self.reason() {
                return reason;
            }
            self.notify.notified().await;
        }
    }
}

/// Stops one task. Cloneable; killing a task that already ended does nothing.
#[derive(Debug, Clone)]
pub struct KillHandle {
    pub(crate) control: Arc<Control>,
}

impl KillHandle {
    /// Stops the task: within one epoch tick if it is running guest code, at once if it is
    /// waiting in a host call. Its outcome is [`Outcome::Killed`](crate::Outcome::Killed)
    /// unless it had already ended another way.
    pub fn kill(&self) {
        self.control.stop(StopReason::Killed);
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
    async fn a_stop_before_waiting_is_not_lost() {
        let control = Control::default();
        control.stop(StopReason::DiskLimit);
        assert_eq!(control.stopped().await, StopReason::DiskLimit);
    }
}
