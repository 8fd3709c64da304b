//! The checkpoint's thread: takes every change queued so far, commits them in one
//! journal record, then forwards the updates among them to the status sender.

use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tracing::{debug, error};
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

#[allow(
    clippy::large_enum_variant,
    reason = "each change moves through the queue once; boxing would allocate per change"
)]
pub(super) enum Message {
    Change(Change),
    /// Commit what came before, close the file, and say so.
    Close(oneshot::Sender<()>),
}

pub(super) fn spawn(store: Store, status: StatusSender) -> Result<Sender<Message>, Error> {
    let (queue, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("wasmesos-checkpoint".into())
        .spawn(move || run(store, status, receiver))
        .map_err(|err| Error::Internal(format!("starting the checkpoint thread: {err}")))?;
    Ok(queue)
}

/// The recent past of synced commits, which decides how long an urgent batch may wait for
/// company: not at all when updates come one at a time (a lone task's RUNNING goes out at
/// once), up to [`BUSY_LINGER`] while many tasks report at once.
#[derive(Debug, Default)]
pub(super) struct Pace {
    /// When the last synced commit ended, and how many tasks' updates it held.
    last_synced: Option<(Instant, usize)>,
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

    /// A synced commit of updates of `tasks` tasks ended at `now`.
    pub(super) fn synced(&mut self, tasks: usize, now: Instant) {
        self.last_synced = Some((now, tasks));
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

/// Collects the changes that go in one record, starting with `first`: everything
/// already queued, then, while nothing urgent is in it, what comes within [`LINGER`]; once
/// something is urgent, what came by the end of `pace`'s busy linger (none when not busy).
pub(super) fn collect(first: Message, receiver: &Receiver<Message>, pace: &Pace) -> Batch {
    let mut batch = Batch::default();
    let started = Instant::now();
    let linger_until = started.checked_add(LINGER).unwrap_or(started);
    let mut busy_until = None;
    let mut next = Some(first);
    while let Some(message) = next.take() {
        match message {
            Message::Change(change) => {
                if matches!(change, Change::Updates(_)) {
                    batch.updates = batch.updates.saturating_add(1);
                }
                batch.urgent |= change.is_waited_on();
                batch.changes.push(change);
            }
            Message::Close(done) => {
                batch.close = Some(done);
                break;
            }
        }
        if batch.changes.len() >= MAX_BATCH || batch.updates >= BUSY_BATCH {
            break;
        }
        next = receiver.try_recv().ok();
        if next.is_some() {
            continue;
        }
        let now = Instant::now();
        let until = if batch.urgent {
            *busy_until.get_or_insert_with(|| now.checked_add(pace.busy_linger(now)).unwrap_or(now))
        } else {
            linger_until
        };
        let left = until.saturating_duration_since(now);
        if left.is_zero() {
            break;
        }
        if batch.urgent {
            // Asleep rather than parked on the queue, so that the runners' sends of the
            // coming millisecond do not each wake this thread; what they sent is taken
            // whole afterwards.
            std::thread::sleep(left);
            next = receiver.try_recv().ok();
        } else {
            next = receiver.recv_timeout(left).ok();
        }
    }
    batch
}

fn run(mut store: Store, status: StatusSender, receiver: Receiver<Message>) {
    let mut pace = Pace::default();
    // Ends when the agent drops every handle, or at `Close`.
    while let Ok(first) = receiver.recv() {
        let batch = collect(first, &receiver, &pace);
        let (urgent, tasks) = (batch.urgent, batch.tasks_reporting());
        let Batch { changes, close, .. } = batch;
        commit(&mut store, changes, &status);
        if urgent {
            pace.synced(tasks, Instant::now());
        }
        if let Some(done) = close {
            if let Err(err) = store.sync() {
                error!(path = %store.path().display(), err = %err, "cannot sync the checkpoint");
            }
            debug!(path = %store.path().display(), "checkpoint closed");
            drop(store);
            let _ = done.send(());
            return;
        }
    }
}

/// Commits one batch and forwards its updates; a `Clear` in it drops the updates queued
/// before it, here and in the status sender.
fn commit(store: &mut Store, changes: Vec<Change>, status: &StatusSender) {
    if changes.is_empty() {
        return;
    }
    if let Err(err) = store.apply(&changes) {
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
