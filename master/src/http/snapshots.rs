//! Publishing the operator's state: the actor rebuilds a [`StateSnapshot`] after something
//! changed, at most once per [`PUBLISH_INTERVAL`], and sends it through a `watch` channel.
//! Readers (HTTP handlers, the SSE stream, `/metrics`) clone the `Arc` and serialize off the
//! actor, so however hard `/state` is polled, the actor's cost stays bounded by the interval.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::core::{Core, StateSnapshot, Time};

/// The longest a change waits before it is visible in `/state`; also the shortest time
/// between two rebuilds, which caps the actor time spent on snapshots.
pub(crate) const PUBLISH_INTERVAL: Duration = Duration::from_millis(100);

/// The actor's side of the snapshot channel.
pub(crate) struct Publisher {
    tx: watch::Sender<Arc<StateSnapshot>>,
    dirty: bool,
    last: Option<Time>,
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
                .map_or(Duration::ZERO, |last| last + PUBLISH_INTERVAL),
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
        core.metrics().snapshot_build.observe(started.elapsed());
        self.dirty = false;
        self.last = Some(now);
    }
}
