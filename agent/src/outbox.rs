//! [`Outbox`]: the bookkeeping behind at-least-once status updates, with time as an argument.
//!
//! Every update with a uuid stays until the master forwards its acknowledgement. Updates are
//! sent in the order they were queued (so one task's updates reach the master in order),
//! batched, and resent after a delay that doubles up to a cap. Updates without a uuid
//! (answers about unknown tasks) are sent once and forgotten.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use prost::Message;
use wasmesos_proto::TaskStatus;

/// How large one `UpdateStatus` call may grow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchLimits {
    pub(crate) max_updates: usize,
    pub(crate) max_bytes: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        // Half of what the master decodes from one call: room for the message around it.
        BatchLimits {
            max_updates: 4096,
            max_bytes: wasmesos_proto::limits::MAX_CALL_BYTES / 2,
        }
    }
}

struct Pending {
    status: TaskStatus,
    /// When it is due again; `None` while it waits in `due`.
    resend_at: Option<Instant>,
    retry: Duration,
}

pub(crate) struct Outbox {
    next_seq: u64,
    pending: BTreeMap<u64, Pending>,
    by_uuid: HashMap<Vec<u8>, u64>,
    due: BTreeSet<u64>,
    resends: BTreeSet<(Instant, u64)>,
    unacked_once: Vec<TaskStatus>,
    first_retry: Duration,
    max_retry: Duration,
}

impl Outbox {
    pub(crate) fn new(first_retry: Duration, max_retry: Duration) -> Self {
        let first_retry = first_retry.max(Duration::from_millis(1));
        Outbox {
            next_seq: 0,
            pending: BTreeMap::new(),
            by_uuid: HashMap::new(),
            due: BTreeSet::new(),
            resends: BTreeSet::new(),
            unacked_once: Vec::new(),
            first_retry,
            max_retry: max_retry.max(first_retry),
        }
    }

    /// Queues an update to be sent as soon as possible.
    pub(crate) fn push(&mut self, status: TaskStatus) {
        if status.uuid.is_empty() {
            self.unacked_once.push(status);
            return;
        }
        let seq = self.next_seq;
        self.next_seq = seq.saturating_add(1);
        self.by_uuid.insert(status.uuid.clone(), seq);
        self.due.insert(seq);
        let pending = Pending {
            status,
            resend_at: None,
            retry: self.first_retry,
        };
        self.pending.insert(seq, pending);
    }

    /// Drops the update the master acknowledged. False when no such update is pending.
    pub(crate) fn ack(&mut self, framework_id: &str, task_id: &str, uuid: &[u8]) -> bool {
        let Some(&seq) = self.by_uuid.get(uuid) else {
            return false;
        };
        let matches = self
            .pending
            .get(&seq)
            .is_some_and(|p| p.status.task_id == task_id && p.status.framework_id == framework_id);
        if !matches {
            return false;
        }
        self.by_uuid.remove(uuid);
        self.due.remove(&seq);
        if let Some(pending) = self.pending.remove(&seq)
            && let Some(at) = pending.resend_at
        {
            self.resends.remove(&(at, seq));
        }
        true
    }

    /// Makes every update whose resend time has come due.
    pub(crate) fn promote(&mut self, now: Instant) {
        while let Some(&(at, seq)) = self.resends.first() {
            if at > now {
                break;
            }
            self.resends.pop_first();
            if let Some(pending) = self.pending.get_mut(&seq) {
                pending.resend_at = None;
                self.due.insert(seq);
            }
        }
    }

    /// Makes every pending update due now, e.g. after re-registering with the master.
    pub(crate) fn all_due(&mut self) {
        self.resends.clear();
        for (seq, pending) in &mut self.pending {
            pending.resend_at = None;
            self.due.insert(*seq);
        }
    }

    /// Makes one task's pending updates due now (a kill for a task that already ended).
    pub(crate) fn task_due(&mut self, framework_id: &str, task_id: &str) -> bool {
        let mut found = false;
        for (seq, pending) in &mut self.pending {
            let status = &pending.status;
            if status.task_id != task_id || status.framework_id != framework_id {
                continue;
            }
            if let Some(at) = pending.resend_at.take() {
                self.resends.remove(&(at, *seq));
            }
            self.due.insert(*seq);
            found = true;
        }
        found
    }

    /// Takes the next batch in queue order and schedules each taken update's resend.
    pub(crate) fn take_batch(&mut self, now: Instant, limits: BatchLimits) -> Vec<TaskStatus> {
        let mut batch = Vec::new();
        let mut bytes: usize = 0;
        while let Some(&seq) = self.due.first() {
            let Some(pending) = self.pending.get_mut(&seq) else {
                self.due.pop_first();
                continue;
            };
            let size = pending.status.encoded_len();
            if !batch.is_empty()
                && (batch.len() >= limits.max_updates
                    || bytes.saturating_add(size) > limits.max_bytes)
            {
                return batch;
            }
            self.due.pop_first();
            bytes = bytes.saturating_add(size);
            batch.push(pending.status.clone());
            let at = after(now, pending.retry);
            pending.resend_at = Some(at);
            pending.retry = pending.retry.saturating_mul(2).min(self.max_retry);
            self.resends.insert((at, seq));
        }
        let room = limits.max_updates.saturating_sub(batch.len());
        let once = self.unacked_once.len().min(room);
        batch.extend(self.unacked_once.drain(..once));
        batch
    }

    /// Whether a batch could be taken now.
    pub(crate) fn has_due(&self) -> bool {
        !self.due.is_empty() || !self.unacked_once.is_empty()
    }

    /// When the next resend falls due.
    pub(crate) fn next_resend(&self) -> Option<Instant> {
        self.resends.first().map(|(at, _)| *at)
    }

    /// Updates still waiting for their acknowledgement.
    pub(crate) fn unacknowledged(&self) -> usize {
        self.pending.len()
    }

    /// Forgets everything (the master removed this agent and its tasks).
    pub(crate) fn clear(&mut self) {
        self.pending.clear();
        self.by_uuid.clear();
        self.due.clear();
        self.resends.clear();
        self.unacked_once.clear();
    }
}

/// `delay` after `now`. A delay no `Instant` can reach (only a retry setting of billions of
/// years) waits a year, which is never in practice.
fn after(now: Instant, delay: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(365 * 24 * 3600);
    now.checked_add(delay)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmesos_proto::TaskState;

    const SECOND: Duration = Duration::from_secs(1);

    fn update(task: &str, uuid: u8) -> TaskStatus {
        TaskStatus {
            task_id: task.into(),
            framework_id: "fw".into(),
            state: TaskState::TaskRunning as i32,
            uuid: if uuid == 0 {
                Vec::new()
            } else {
                vec![uuid; 16]
            },
            ..Default::default()
        }
    }

    fn uuids(batch: &[TaskStatus]) -> Vec<u8> {
        batch
            .iter()
            .map(|s| s.uuid.first().copied().unwrap_or(0))
            .collect()
    }

    #[test]
    fn updates_go_out_in_order_and_are_resent_with_doubling_delays_until_acked() {
        let start = Instant::now();
        let mut outbox = Outbox::new(SECOND, 3 * SECOND);
        outbox.push(update("a", 1));
        outbox.push(update("a", 2));
        let limits = BatchLimits::default();
        assert_eq!(uuids(&outbox.take_batch(start, limits)), [1, 2]);
        assert!(
            outbox.take_batch(start, limits).is_empty(),
            "nothing due before the retry"
        );
        assert_eq!(outbox.next_resend(), Some(start + SECOND));

        assert!(outbox.ack("fw", "a", &[1; 16]));
        outbox.promote(start + SECOND);
        assert_eq!(uuids(&outbox.take_batch(start + SECOND, limits)), [2]);
        assert_eq!(
            outbox.next_resend(),
            Some(start + 3 * SECOND),
            "doubled to 2 s"
        );
        outbox.promote(start + 3 * SECOND);
        outbox.take_batch(start + 3 * SECOND, limits);
        assert_eq!(
            outbox.next_resend(),
            Some(start + 6 * SECOND),
            "capped at 3 s"
        );

        assert!(outbox.ack("fw", "a", &[2; 16]));
        assert_eq!(outbox.unacknowledged(), 0);
        assert_eq!(outbox.next_resend(), None);
    }

    #[test]
    fn a_retry_delay_past_any_instant_waits_instead_of_panicking() {
        let start = Instant::now();
        let mut outbox = Outbox::new(Duration::MAX, Duration::MAX);
        outbox.push(update("a", 1));
        assert_eq!(outbox.take_batch(start, BatchLimits::default()).len(), 1);
        assert!(outbox.next_resend().is_some_and(|at| at > start));
    }

    #[test]
    fn acks_must_name_the_right_task() {
        let mut outbox = Outbox::new(SECOND, SECOND);
        outbox.push(update("a", 1));
        assert!(!outbox.ack("fw", "b", &[1; 16]));
        assert!(!outbox.ack("other", "a", &[1; 16]));
        assert!(!outbox.ack("fw", "a", &[7; 16]));
        assert_eq!(outbox.unacknowledged(), 1);
    }

    #[test]
    fn batches_respect_count_and_byte_limits() {
        let now = Instant::now();
        let mut outbox = Outbox::new(SECOND, SECOND);
        for uuid in 1..=5 {
            outbox.push(update("a", uuid));
        }
        let limits = BatchLimits {
            max_updates: 2,
            max_bytes: usize::MAX,
        };
        assert_eq!(uuids(&outbox.take_batch(now, limits)), [1, 2]);
        let tiny = BatchLimits {
            max_updates: 100,
            max_bytes: 1,
        };
        assert_eq!(uuids(&outbox.take_batch(now, tiny)), [3], "one always goes");
        assert_eq!(uuids(&outbox.take_batch(now, limits)), [4, 5]);
    }

    #[test]
    fn updates_without_uuid_are_sent_once() {
        let now = Instant::now();
        let mut outbox = Outbox::new(SECOND, SECOND);
        outbox.push(update("gone", 0));
        assert!(outbox.has_due());
        assert_eq!(outbox.take_batch(now, BatchLimits::default()).len(), 1);
        assert!(!outbox.has_due());
        assert_eq!(outbox.unacknowledged(), 0);
        assert_eq!(outbox.next_resend(), None);
    }

    #[test]
    fn reconnecting_or_a_kill_makes_pending_updates_due_at_once() {
        let now = Instant::now();
        let mut outbox = Outbox::new(SECOND, SECOND);
        outbox.push(update("a", 1));
        outbox.push(update("b", 2));
        outbox.take_batch(now, BatchLimits::default());
        assert!(outbox.task_due("fw", "b"));
        assert_eq!(uuids(&outbox.take_batch(now, BatchLimits::default())), [2]);
        outbox.all_due();
        assert_eq!(
            uuids(&outbox.take_batch(now, BatchLimits::default())),
            [1, 2]
        );
        outbox.clear();
        assert!(!outbox.has_due());
        assert_eq!(outbox.unacknowledged(), 0);
    }
}
