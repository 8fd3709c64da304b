//! Who writes the checkpoint, and when: the changes queue in one [`Shared`] queue, in the
//! order the agent made them, and each commit takes a prefix of it as one journal record,
//! then forwards the updates among them to the status sender.
//!
//! Two writers take turns under one lock, so records and forwards keep the queue's order:
//! - **the checkpoint's thread**, which group-commits whatever queued while the previous
//!   record was syncing, lingering for company as [`Pace`] says;
//! - **the agent thread that queues an update**, which commits it in place, with whatever is
//!   queued before it, when nothing else is writing, the agent is quiet, and the last synced
//!   record took under [`wasmesos_journal::QUIET_SYNC`]. On this VM, waking the checkpoint's thread and then
//!   the status sender's worker cost 50-70 µs each, more than a commit on tmpfs and as much
//!   as an SSD's sync; under load, or on a disk whose syncs are slow, the thread does it and
//!   shares one sync among many updates.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tracing::{debug, error};
use wasmesos_journal::{QUIET_GAP, may_sync_in_place};
use wasmesos_proto::TaskStatus;

use super::store::{Change, Store};
use crate::Error;
use crate::status::StatusSender;

/// Bounds one record, so a flood of changes still commits (and forwards) steadily.
const MAX_BATCH: usize = 16 * 1024;

/// How long a batch with nothing urgent in it (acknowledgements, task records, frameworks:
/// none of them is waited on, and none is synced) waits for more changes before it commits.
/// Acknowledgements arrive one by one from frameworks that send one call per update, and a
/// commit each cost more CPU than the rest of the acknowledgement; a change that is waited
/// on (a status update, the agent's id) ends the wait at once, unless the agent is busy.
const LINGER: Duration = Duration::from_millis(2);

/// How long a batch with updates in it waits for other tasks' updates while the agent is
/// busy (see [`Pace`]). A synced commit has a large CPU cost of its own, whatever it holds,
/// so under a stream of updates sharing it keeps the checkpoint from taking a fifth of the
/// node's CPU; a lone update never waits.
const BUSY_LINGER: Duration = Duration::from_millis(1);

/// A batch ends once it holds this many update changes (a busy one stops waiting): past
/// that, the commit's own cost is small next to its records', and the updates go out sooner.
const BUSY_BATCH: usize = 256;

/// Whether the agent is busy: its previous synced commit ended this recently and held
/// updates of more than one task.
const BUSY_WINDOW: Duration = Duration::from_millis(5);

/// ... and only if fewer than this many changes wait before it (more: the thread is behind).
const INLINE_QUEUE: usize = 64;

#[allow(
    clippy::large_enum_variant,
    reason = "each change moves through the queue once; boxing would allocate per change"
)]
pub(super) enum Message {
    Change(Change),
    /// Commit what came before, close the file, and say so.
    Close(oneshot::Sender<()>),
}

/// The queue and the thread's wake-up, shared by the agent's handle and the checkpoint's
/// thread.
#[derive(Default)]
pub(super) struct Inbox {
    queue: Mutex<Queue>,
    /// Signalled when a change arrives while the thread waits for one.
    arrived: Condvar,
}

/// The inbox and the writer. Lock order: `writer`, then the inbox's queue.
pub(super) struct Shared {
    inbox: Inbox,
    writer: Mutex<Writer>,
}

/// Messages not yet committed, in order, with what the thread's timing needs to know.
#[derive(Default)]
pub(super) struct Queue {
    messages: VecDeque<Message>,
    /// What kinds of messages they are.
    counts: Counts,
    /// When the oldest of them arrived (or the last batch was taken, for those left over).
    since: Option<Instant>,
    /// The agent's handle is gone: nothing more will come.
    disconnected: bool,
    /// The store is closed: what comes now is dropped.
    closed: bool,
    /// The thread waits on `arrived` (a send must wake it); while it sleeps through a busy
    /// linger, or writes, sends do not wake it.
    waiting: bool,
    pace: Pace,
}

/// How many messages of a queue or a batch carry updates, are changes waited on, or close.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    updates: usize,
    waited_on: usize,
    closes: usize,
}

impl Counts {
    fn of(message: &Message) -> Counts {
        match message {
            Message::Change(change) => Counts {
                updates: usize::from(matches!(change, Change::Updates(_))),
                waited_on: usize::from(change.is_waited_on()),
                closes: 0,
            },
            Message::Close(_) => Counts {
                updates: 0,
                waited_on: 0,
                closes: 1,
            },
        }
    }

    fn add(&mut self, other: Counts) {
        self.updates = self.updates.saturating_add(other.updates);
        self.waited_on = self.waited_on.saturating_add(other.waited_on);
        self.closes = self.closes.saturating_add(other.closes);
    }

    fn remove(&mut self, other: Counts) {
        self.updates = self.updates.saturating_sub(other.updates);
        self.waited_on = self.waited_on.saturating_sub(other.waited_on);
        self.closes = self.closes.saturating_sub(other.closes);
    }
}

impl Queue {
    fn push(&mut self, message: Message) {
        if self.closed {
            return;
        }
        self.counts.add(Counts::of(&message));
        self.since.get_or_insert_with(Instant::now);
        self.messages.push_back(message);
    }

    /// Something in it is waited on, or closes.
    fn urgent(&self) -> bool {
        self.counts.waited_on > 0 || self.counts.closes > 0
    }

    /// Takes the next batch: up to a close, [`MAX_BATCH`] changes or [`BUSY_BATCH`] updates.
    fn take_batch(&mut self) -> Batch {
        let mut batch = Batch::default();
        let mut taken = Counts::default();
        while let Some(message) = self.messages.pop_front() {
            taken.add(Counts::of(&message));
            match message {
                Message::Change(change) => batch.changes.push(change),
                Message::Close(done) => {
                    batch.close = Some(done);
                    break;
                }
            }
            if batch.changes.len() >= MAX_BATCH || taken.updates >= BUSY_BATCH {
                break;
            }
        }
        self.counts.remove(taken);
        batch.updates = taken.updates;
        batch.urgent = taken.waited_on > 0;
        self.since = (!self.messages.is_empty()).then(Instant::now);
        batch
    }

    /// Whether the next batch is complete without waiting: it ends at a close or a limit.
    fn full(&self) -> bool {
        self.messages.len() >= MAX_BATCH
            || self.counts.updates >= BUSY_BATCH
            || self.counts.closes > 0
    }
}

/// The store, and where its updates go once written.
pub(super) struct Writer {
    /// `None` once closed.
    store: Option<Store>,
    status: StatusSender,
}

/// The recent past of synced commits, which decides how long an urgent batch may wait for
/// company: not at all when updates come one at a time (a lone task's RUNNING goes out at
/// once), up to [`BUSY_LINGER`] while many tasks report at once; and whether an update may
/// be committed in place.
#[derive(Debug, Default)]
pub(super) struct Pace {
    /// When the last synced commit ended, and how many tasks' updates it held.
    last_synced: Option<(Instant, usize)>,
    /// How long the last synced commit took.
    last_took: Option<Duration>,
}

impl Pace {
    /// How long, from `now`, a batch that already holds an update may wait for more.
    pub(super) fn busy_linger(&self, now: Instant) -> Duration {
        match self.last_synced {
            Some((ended, tasks))
                if tasks > 1 && now.saturating_duration_since(ended) < BUSY_WINDOW =>
            {
                BUSY_LINGER
            }
            _ => Duration::ZERO,
        }
    }

    /// A synced commit of updates of `tasks` tasks, which took `took`, ended at `now`.
    pub(super) fn synced(&mut self, tasks: usize, took: Duration, now: Instant) {
        self.last_synced = Some((now, tasks));
        self.last_took = Some(took);
    }

    /// Whether an update queued at `now` may be committed in place: the journal's rule
    /// ([`may_sync_in_place`]) allows it, and the agent is quiet, however quick its syncs.
    pub(super) fn may_commit_in_place(&self, now: Instant) -> bool {
        let since = self.last_synced.map_or(Duration::MAX, |(ended, _)| {
            now.saturating_duration_since(ended)
        });
        let allowed = self
            .last_took
            .is_some_and(|took| may_sync_in_place(took, since));
        allowed && since >= QUIET_GAP && self.busy_linger(now).is_zero()
    }
}

/// One record's worth of changes, and a `Close` that ended the batch.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) changes: Vec<Change>,
    pub(super) close: Option<oneshot::Sender<()>>,
    /// Changes in it that carry updates.
    pub(super) updates: usize,
    urgent: bool,
}

impl Batch {
    /// How many tasks' updates it holds, counting a task again only when another task's
    /// came in between (enough to tell one task's RUNNING and FINISHED from many tasks').
    fn tasks_reporting(&self) -> usize {
        let mut tasks = 0usize;
        let mut last: Option<&str> = None;
        for change in &self.changes {
            let Change::Updates(statuses) = change else {
                continue;
            };
            for status in statuses {
                if last != Some(status.task_id.as_str()) {
                    tasks = tasks.saturating_add(1);
                    last = Some(status.task_id.as_str());
                }
            }
        }
        tasks
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its state whole between statements; a panic in one
    // (a bug) must not stop the agent's checkpoint as well.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        lock(&self.queue)
    }

    /// Queues `message` for the thread.
    pub(super) fn send(&self, message: Message) {
        let mut queue = self.lock();
        queue.push(message);
        self.wake(&mut queue);
    }

    fn wake(&self, queue: &mut Queue) {
        if queue.waiting {
            queue.waiting = false;
            self.arrived.notify_one();
        }
    }

    /// Nothing more will come: the thread ends once it has committed what is queued.
    pub(super) fn disconnect(&self) {
        let mut queue = self.lock();
        queue.disconnected = true;
        self.arrived.notify_one();
    }

    /// The thread's side: waits until the queue holds a batch worth committing, something
    /// urgent (after the busy linger, if any) or anything after [`LINGER`]. `Some(false)`
    /// if the queue was emptied meanwhile (committed in place); `None` once disconnected
    /// and empty.
    pub(super) fn wait_for_batch(&self) -> Option<bool> {
        let mut queue = self.lock();
        while queue.messages.is_empty() {
            if queue.disconnected || queue.closed {
                return None;
            }
            queue.waiting = true;
            queue = self
                .arrived
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let mut busy_until = None;
        loop {
            if queue.messages.is_empty() {
                return Some(false);
            }
            if queue.full() || queue.disconnected {
                return Some(true);
            }
            let now = Instant::now();
            let until = if queue.urgent() {
                let linger = queue.pace.busy_linger(now);
                *busy_until.get_or_insert_with(|| now.checked_add(linger).unwrap_or(now))
            } else {
                let since = queue.since.unwrap_or(now);
                since.checked_add(LINGER).unwrap_or(now)
            };
            let left = until.saturating_duration_since(now);
            if left.is_zero() {
                return Some(true);
            }
            if queue.urgent() {
                // Asleep rather than waiting on `arrived`, so that the runners' sends of the
                // coming millisecond do not each wake this thread; what they sent is taken
                // whole afterwards.
                drop(queue);
                std::thread::sleep(left);
                queue = self.lock();
            } else {
                queue.waiting = true;
                queue = self
                    .arrived
                    .wait_timeout(queue, left)
                    .map(|(queue, _)| queue)
                    .unwrap_or_else(|poisoned| poisoned.into_inner().0);
                queue.waiting = false;
            }
        }
    }
}

impl Shared {
    pub(super) fn new(store: Store, status: StatusSender) -> Self {
        Shared {
            inbox: Inbox::default(),
            writer: Mutex::new(Writer {
                store: Some(store),
                status,
            }),
        }
    }

    pub(super) fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    /// Queues `change`, and commits it (with what is queued before it) on this thread when
    /// the checkpoint allows it (see the module's notes); otherwise the thread will.
    pub(super) fn send_urgent(&self, change: Change) {
        let writer = match self.writer.try_lock() {
            Ok(writer) => Some(writer),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        };
        let Some(mut writer) = writer.filter(|writer| {
            writer
                .store
                .as_ref()
                .is_some_and(|store| !store.needs_compaction())
        }) else {
            self.inbox.send(Message::Change(change));
            return;
        };
        let mut queue = self.inbox.lock();
        let in_place = queue.pace.may_commit_in_place(Instant::now())
            && queue.messages.len() < INLINE_QUEUE
            && !queue.full();
        queue.push(Message::Change(change));
        if !in_place {
            self.inbox.wake(&mut queue);
            return;
        }
        let batch = queue.take_batch();
        drop(queue);
        self.commit(&mut writer, batch, Place::InPlace);
    }

    /// The thread's side: the next batch, taken under the writer's lock. `None` once the
    /// handle is gone and nothing is left, or the store is closed.
    fn next_batch(&self) -> Option<(MutexGuard<'_, Writer>, Batch)> {
        loop {
            if !self.inbox.wait_for_batch()? {
                continue;
            }
            let writer = lock(&self.writer);
            let batch = self.inbox.lock().take_batch();
            if batch.changes.is_empty() && batch.close.is_none() {
                // Committed in place meanwhile.
                continue;
            }
            return Some((writer, batch));
        }
    }

    /// Commits `batch`, forwards its updates, notes the pace, and closes the store if the
    /// batch ends in a close.
    fn commit(&self, writer: &mut Writer, batch: Batch, place: Place) {
        let (urgent, tasks) = (batch.urgent, batch.tasks_reporting());
        let Batch { changes, close, .. } = batch;
        let Some(store) = writer.store.as_mut() else {
            // Closed: the agent is stopping and sends nothing more.
            return;
        };
        commit(store, changes, &writer.status, place);
        if urgent {
            let took = store.last_synced_write().unwrap_or(Duration::MAX);
            self.inbox.lock().pace.synced(tasks, took, Instant::now());
        }
        if let Some(done) = close {
            if let Err(err) = store.sync() {
                error!(path = %store.path().display(), err = %err, "cannot sync the checkpoint");
            }
            debug!(path = %store.path().display(), "checkpoint closed");
            writer.store = None;
            self.inbox.lock().closed = true;
            let _ = done.send(());
        }
    }
}

pub(super) fn spawn(store: Store, status: StatusSender) -> Result<Arc<Shared>, Error> {
    let shared = Arc::new(Shared::new(store, status));
    let thread_shared = Arc::clone(&shared);
    std::thread::Builder::new()
        .name("wasmesos-checkpoint".into())
        .spawn(move || run(&thread_shared))
        .map_err(|err| Error::Internal(format!("starting the checkpoint thread: {err}")))?;
    Ok(shared)
}

fn run(shared: &Shared) {
    // Ends when the agent drops its handle, or after a close.
    while let Some((mut writer, batch)) = shared.next_batch() {
        shared.commit(&mut writer, batch, Place::Thread);
    }
}

/// Where a batch is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// On the checkpoint's thread, which also compacts the journal when it has grown.
    Thread,
    /// On the thread that queued an update, which must not be held up by a compaction.
    InPlace,
}

/// Commits one batch and forwards its updates; a `Clear` in it drops the updates queued
/// before it, here and in the status sender.
fn commit(store: &mut Store, changes: Vec<Change>, status: &StatusSender, place: Place) {
    if changes.is_empty() {
        return;
    }
    let written = match place {
        Place::Thread => store.apply(&changes),
        Place::InPlace => store.write(&changes),
    };
    if let Err(err) = written {
        // The updates still go out: the cluster keeps working, and only a crash before they
        // are acknowledged could lose them. Stopping every task's updates would be worse.
        error!(path = %store.path().display(), err = %err, "cannot write the checkpoint");
    }
    let mut forward: Vec<TaskStatus> = Vec::new();
    let mut cleared = false;
    for change in changes {
        match change {
            Change::Updates(statuses) => forward.extend(statuses),
            Change::Clear => {
                forward.clear();
                cleared = true;
            }
            _ => {}
        }
    }
    if cleared {
        status.clear();
    }
    if !forward.is_empty() {
        status.send(forward);
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
