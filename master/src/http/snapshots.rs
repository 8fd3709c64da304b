//! Publishing the operator's state: the actor rebuilds a [`StateSnapshot`] after something
//! changed, at most once per [`PUBLISH_INTERVAL`], and sends it through a `watch` channel.
//! Readers (HTTP handlers, the SSE stream, `/metrics`) clone the `Arc` and serialize off the
//! actor, so however hard `/state` is polled, the actor's cost stays bounded by the interval.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::core::{Core, StateSnapshot, Time};

/// The shortest time between two rebuilds: how long a change may wait before it is visible
/// in `/state` on a small cluster.
pub(crate) const PUBLISH_INTERVAL: Duration = Duration::from_millis(100);

/// A rebuild may take at most this share of the actor's time: on a big cluster, where one
/// build takes tens of milliseconds, rebuilds space out instead of crowding allocation.
const MAX_ACTOR_SHARE: u32 = 10;

/// The wait after a rebuild that took `build`: [`PUBLISH_INTERVAL`], or longer when the
/// build was slow enough that rebuilding every interval would exceed [`MAX_ACTOR_SHARE`].
fn interval_after(build: Duration) -> Duration {
    PUBLISH_INTERVAL.max(build.saturating_mul(MAX_ACTOR_SHARE - 1))
}

/// The actor's side of the snapshot channel.
pub(crate) struct Publisher {
    tx: watch::Sender<Arc<StateSnapshot>>,
    dirty: bool,
    last: Option<Time>,
    interval: Duration,
}

impl Publisher {
    /// A publisher whose first snapshot is built from `core` at once.
    pub(crate) fn new(core: &Core, now: Time) -> (Self, watch::Receiver<Arc<StateSnapshot>>) {
        let first = core.state_snapshot(now, &StateSnapshot::default());
        let (tx, rx) = watch::channel(Arc::new(first));
        let publisher = Self {
            tx,
            dirty: false,
            last: Some(now),
            interval: PUBLISH_INTERVAL,
        };
        (publisher, rx)
    }

    /// Something may have changed: publish at the next opportunity.
    pub(crate) fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// When the actor must wake up to publish a pending change.
    pub(crate) fn due(&self) -> Option<Time> {
        if !self.dirty {
            return None;
        }
        Some(
            self.last
                .map_or(Duration::ZERO, |last| last.saturating_add(self.interval)),
        )
    }

    /// Rebuilds and publishes when a change is pending and the interval has passed.
    pub(crate) fn publish_if_due(&mut self, core: &Core, now: Time) {
        if self.due().is_none_or(|due| due > now) {
            return;
        }
        let started = Instant::now();
        let previous = Arc::clone(&self.tx.borrow());
        let next = core.state_snapshot(now, &previous);
        drop(previous);
        self.tx.send_replace(Arc::new(next));
        let build = started.elapsed();
        core.metrics().snapshot_build.observe(build);
        self.interval = interval_after(build);
        self.dirty = false;
        self.last = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_builds_space_rebuilds_out_to_a_tenth_of_the_actor() {
        assert_eq!(interval_after(Duration::from_millis(1)), PUBLISH_INTERVAL);
        assert_eq!(
            interval_after(Duration::from_millis(20)),
            Duration::from_millis(180)
        );
    }
}
