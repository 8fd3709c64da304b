//! [`Checkpoint`]: what the agent must not forget when its process dies, in
//! `work_dir/checkpoint.journal` (a [`wasmesos_journal::Journal`]).
//!
//! It holds the agent's id, every task from launch until its terminal update is acknowledged
//! (its `TaskInfo`, its framework's `FrameworkInfo`, its latest `TaskStatus`), and every status
//! update that waits for its acknowledgement. An update is written *before* it is sent: the
//! checkpoint's thread hands updates to the status sender only after the journal record that
//! holds them is synced, so the master never sees an update a restarted agent could not
//! resend.
//!
//! Writes are group-committed: the checkpoint's thread appends whatever queued up while the
//! previous record was syncing as one record, so a burst of thousands of updates costs a
//! few `fdatasync`s, not thousands, and a lone update waits for one. A sync has a cost of its
//! own, so while many tasks report at once a batch of updates waits up to 1 ms for others
//! (`writer::Pace`); a lone update never does. While the agent is quiet and its syncs are
//! quick, the thread that queues an update commits it in place instead, sparing two thread
//! wake-ups (`writer`'s notes). Changes go in one queue in the order the agent made them;
//! that order is the order they are applied and the order updates are forwarded, whoever
//! writes.

mod store;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use prost::Message as _;
use tokio::sync::oneshot;
use wasmesos_proto::{FrameworkInfo, TaskInfo, TaskStatus};

pub(crate) use store::{Recovered, Store};

use crate::Error;
use crate::registry::TaskKey;
use crate::status::StatusSender;
use store::Change;
use writer::{Message, Shared};

/// The checkpoint's file name inside the agent's work dir.
pub const CHECKPOINT_FILE: &str = "checkpoint.journal";

/// The handle the agent queues checkpoint changes through; cheap to call on the hot path
/// (a push on a queue), blocking only for an update it commits in place, which it does only
/// while syncs take under `wasmesos_journal::QUIET_SYNC`.
pub(crate) struct Checkpoint {
    shared: Arc<Shared>,
    path: PathBuf,
}

impl Drop for Checkpoint {
    fn drop(&mut self) {
        self.shared.inbox().disconnect();
    }
}

impl Checkpoint {
    /// Opens the checkpoint in `work_dir` and reads it back. Blocking.
    pub(crate) fn open(work_dir: &Path) -> Result<(Store, Recovered), Error> {
        Store::open(&work_dir.join(CHECKPOINT_FILE))
    }

    /// Starts the thread that owns `store`; committed updates go on to `status`.
    pub(crate) fn start(store: Store, status: StatusSender) -> Result<Checkpoint, Error> {
        let path = store.path().to_path_buf();
        let shared = writer::spawn(store, status)?;
        Ok(Checkpoint { shared, path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn change(&self, change: Change) {
        // Dropped once the checkpoint is closed, when the agent is stopping and sends
        // nothing more.
        self.shared.inbox().send(Message::Change(change));
    }

    /// Remembers the id the master gave this agent.
    pub(crate) fn agent_id(&self, agent_id: &str) {
        self.change(Change::AgentId(Some(agent_id.to_string())));
    }

    pub(crate) fn framework(&self, framework: &FrameworkInfo) {
        self.change(Change::Framework(framework.clone()));
    }

    /// Takes a task in. Queued before any of its updates, so it is on disk before they are.
    pub(crate) fn task(&self, key: &TaskKey, info: &TaskInfo) {
        let info = info.encode_to_vec();
        self.change(Change::Task {
            key: key.clone(),
            info,
        });
    }

    /// Writes `statuses` and then, once they are on disk, queues them for the master.
    pub(crate) fn updates(&self, statuses: Vec<TaskStatus>) {
        self.change(Change::Updates(statuses));
    }

    /// Like [`updates`](Self::updates), committed on this thread when the checkpoint allows
    /// it (while the agent is quiet and syncs take under `QUIET_SYNC`). For a caller that yields or ends
    /// right after: the status sender it wakes may wait for this thread's task to yield.
    pub(crate) fn updates_in_place(&self, statuses: Vec<TaskStatus>) {
        self.shared.send_urgent(Change::Updates(statuses));
    }

    /// The master forwarded the acknowledgement of update `uuid`.
    pub(crate) fn acknowledged(&self, uuid: &[u8]) {
        self.change(Change::Acked {
            uuid: uuid.to_vec(),
        });
    }

    /// Forgets every task, update and the agent's id, and drops the updates still queued for
    /// the master (the master removed this agent; it registers anew).
    pub(crate) fn clear(&self) {
        self.change(Change::Clear);
    }

    /// Commits what is queued and closes the file, so another agent may open it.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        self.shared.inbox().send(Message::Close(done));
        // Dropped unanswered if it was closed before.
        let _ = closed.await;
    }
}
