//! Which requests get an instance now, which wait, and which are turned away.
//!
//! The queue's owner is the service; its bound is `queue_capacity`; when it is full a request
//! is shed with 503 at once. Waiting requests are served first come, first served (tokio's
//! semaphore is fair). A request whose client goes away leaves the queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::{ServiceConfig, ServiceStats};

/// One instance's right to run; the instance holds it until its store is dropped.
pub(super) type Slot = OwnedSemaphorePermit;

pub(super) struct Admission {
    slots: Arc<Semaphore>,
    max_concurrency: u32,
    queue_capacity: u32,
    queued: AtomicU32,
    requests: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

/// Why a request got no instance.
pub(super) enum Refused {
    /// The queue is full.
    QueueFull,
    /// The service is ending.
    Closed,
}

impl Admission {
    pub(super) fn new(config: &ServiceConfig) -> Self {
        Admission {
            slots: Arc::new(Semaphore::new(config.max_concurrency as usize)),
            max_concurrency: config.max_concurrency,
            queue_capacity: config.queue_capacity,
            queued: AtomicU32::new(0),
            requests: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// An instance slot: at once if one is free, else after waiting in the queue if it has
    /// room. Cancel-safe: dropping the future leaves the queue.
    pub(super) async fn admit(&self) -> Result<Slot, Refused> {
        match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot) => return Ok(self.admitted(slot)),
            Err(TryAcquireError::Closed) => return Err(Refused::Closed),
            Err(TryAcquireError::NoPermits) => {}
        }
        let capacity = self.queue_capacity;
        let entered = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued < capacity).then_some(queued + 1)
            });
        if entered.is_err() {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(Refused::QueueFull);
        }
        let _leave = Queued(&self.queued);
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| Refused::Closed)?;
        Ok(self.admitted(slot))
    }

    fn admitted(&self, slot: Slot) -> Slot {
        self.requests.fetch_add(1, Ordering::Relaxed);
        slot
    }

    /// Counts a request whose instance failed.
    pub(super) fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Resolves once no instance runs, and admits none after that.
    pub(super) async fn idle(&self) {
        // Every slot back means every instance has dropped its store.
        if let Ok(all) = self.slots.acquire_many(self.max_concurrency).await {
            all.forget();
        }
        self.slots.close();
    }

    pub(super) fn stats(&self) -> ServiceStats {
        let free = u32::try_from(self.slots.available_permits()).unwrap_or(u32::MAX);
        ServiceStats {
            requests: self.requests.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            running: self.max_concurrency.saturating_sub(free),
            queued: self.queued.load(Ordering::Relaxed),
        }
    }
}

/// A place in the queue, given back when the request leaves it (admitted or gone).
struct Queued<'a>(&'a AtomicU32);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn admission(max_concurrency: u32, queue_capacity: u32) -> Admission {
        Admission::new(&ServiceConfig {
            max_concurrency,
            queue_capacity,
            ..ServiceConfig::default()
        })
    }

    #[tokio::test]
    async fn requests_past_the_slots_queue_and_past_the_queue_are_refused() {
        let admission = Arc::new(admission(1, 1));
        let first = admission.admit().await.ok().expect("a free slot");
        let waiting = {
            let admission = Arc::clone(&admission);
            tokio::spawn(async move { admission.admit().await.is_ok() })
        };
        let one_queued = async || admission.stats().queued == 1;
        wasmesos_test_support::eventually("one request queued", Duration::from_secs(5), one_queued)
            .await
            .expect("the second request queues");
        assert!(matches!(admission.admit().await, Err(Refused::QueueFull)));
        drop(first);
        assert!(waiting.await.expect("joins"));
        let stats = admission.stats();
        assert_eq!((stats.requests, stats.rejected, stats.queued), (2, 1, 0));
    }

    #[tokio::test]
    async fn idle_waits_for_every_slot_and_then_admits_none() {
        let admission = Arc::new(admission(2, 4));
        let slot = admission.admit().await.ok().expect("a free slot");
        let idle = {
            let admission = Arc::clone(&admission);
            tokio::spawn(async move { admission.idle().await })
        };
        tokio::task::yield_now().await;
        assert!(!idle.is_finished());
        drop(slot);
        idle.await.expect("joins");
        assert!(matches!(admission.admit().await, Err(Refused::Closed)));
    }
}
