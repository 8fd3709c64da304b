//! Group commit: the writes of many runs, status updates and API changes share one durable
//! transaction. The state stages each operation's writes into the open group (under its
//! lock, without waiting for the disk); one committer writes the whole group in one fsynced
//! transaction while the next group fills. Whatever depends on writes waits for their group
//! before it leaves Chronos: a launch for the records of its runs, an acknowledgement to the
//! master for its update's writes, an API answer for its change, a kill for the record that
//! says why.
//!
//! Groups reach the disk one at a time and in order, so the disk always holds a prefix of
//! what the state did, and nothing staged after a write went out before it. A failed commit
//! stops Chronos: nothing more is written, nothing that waited goes out, and a restart
//! resumes from the prefix on disk (the master resends the updates it has no
//! acknowledgement for).

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, watch};
use wasmesos_proto::TaskStatus;
use wasmesos_sdk_scheduler::durable::{Batch, Durable};

use crate::Error;

/// A group to wait for: the one that held some writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

/// The open group and the committer's progress over one [`Durable`] store.
#[derive(Debug)]
pub struct GroupCommit {
    store: Durable,
    open: Mutex<Open>,
    /// Held while a group is written: groups reach the disk one at a time, in order.
    writing: Mutex<()>,
    progress: watch::Sender<Progress>,
    /// Wakes the committer when something is staged.
    staged: Notify,
}

#[derive(Debug)]
struct Open {
    /// This group's number; groups are numbered from 1.
    number: u64,
    batch: Batch,
    /// Updates to acknowledge once this group is durable.
    acks: Vec<TaskStatus>,
}

#[derive(Debug, Clone, Default)]
struct Progress {
    /// Every group up to this one is durable.
    durable: u64,
    /// Why a commit failed; nothing is written after it.
    failed: Option<String>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent across a panic (each change is one assignment).
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl GroupCommit {
    pub fn new(store: Durable) -> Self {
        GroupCommit {
            store,
            open: Mutex::new(Open {
                number: 1,
                batch: Batch::default(),
                acks: Vec::new(),
            }),
            writing: Mutex::new(()),
            progress: watch::Sender::new(Progress::default()),
            staged: Notify::new(),
        }
    }

    pub fn store(&self) -> &Durable {
        &self.store
    }

    /// Adds `batch` to the open group; the ticket is durable once that group is.
    pub fn stage(&self, batch: Batch) -> Ticket {
        let ticket = {
            let mut open = lock(&self.open);
            open.batch.append(batch);
            Ticket(open.number)
        };
        self.staged.notify_one();
        ticket
    }

    /// Acknowledges `status` to the master once every write staged so far is durable (the
    /// committer sends it). An update without a uuid needs no acknowledgement.
    pub fn acknowledge_when_durable(&self, status: &TaskStatus) {
        if status.uuid.is_empty() {
            return;
        }
        lock(&self.open).acks.push(status.clone());
        self.staged.notify_one();
    }

    /// Waits until the group of `ticket`, and so every one before it, is durable.
    pub async fn durable(&self, ticket: Ticket) -> Result<(), Error> {
        let mut progress = self.progress.subscribe();
        let reached = progress
            .wait_for(|p| p.durable >= ticket.0 || p.failed.is_some())
            .await
            .map(|p| p.clone());
        match reached {
            Ok(p) if p.durable >= ticket.0 => Ok(()),
            Ok(p) => Err(self.failure(p.failed.unwrap_or_default())),
            Err(_) => Err(self.failure("the committer is gone".into())),
        }
    }

    /// Resolves once something was staged since the last call (at once if it was already).
    pub async fn wait_staged(&self) {
        self.staged.notified().await;
    }

    /// Writes the open group in one durable transaction (this blocks on the disk); returns
    /// the updates that may now be acknowledged.
    pub fn commit(&self) -> Result<Vec<TaskStatus>, Error> {
        let _writing = lock(&self.writing);
        if let Some(reason) = &self.progress.borrow().failed {
            return Err(self.failure(reason.clone()));
        }
        let (number, batch, acks) = {
            let mut open = lock(&self.open);
            let number = open.number;
            open.number += 1;
            (
                number,
                std::mem::take(&mut open.batch),
                std::mem::take(&mut open.acks),
            )
        };
        let writes = batch.len();
        let started = std::time::Instant::now();
        if let Err(err) = self.store.write(batch) {
            tracing::error!(%err, group = number, "cannot write Chronos's state; Chronos stops");
            let reason = err.to_string();
            self.progress.send_modify(|p| p.failed = Some(reason));
            return Err(err.into());
        }
        self.progress.send_modify(|p| p.durable = number);
        tracing::debug!(group = number, writes, acks = acks.len(), took = ?started.elapsed(),
            "group committed");
        Ok(acks)
    }

    fn failure(&self, reason: String) -> Error {
        Error::Scheduler(wasmesos_sdk_scheduler::Error::Store {
            store: self.store.location(),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(uuid: &str) -> TaskStatus {
        TaskStatus {
            task_id: format!("t-{uuid}"),
            uuid: uuid.as_bytes().to_vec(),
            ..TaskStatus::default()
        }
    }

    #[tokio::test]
    async fn staged_writes_share_a_commit_and_release_their_waiters_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Durable::open(dir.path(), "state.redb").expect("store");
        let commit = GroupCommit::new(store.clone());
        let mut tickets = Vec::new();
        for n in 0..3u32 {
            let mut batch = Batch::default();
            batch.put("runs", &format!("r{n}"), &n);
            tickets.push(commit.stage(batch));
            commit.acknowledge_when_durable(&status(&n.to_string()));
        }
        commit.acknowledge_when_durable(&TaskStatus::default());
        assert!(tickets.iter().all(|t| *t == tickets[0]), "one open group");
        let pending = commit.durable(tickets[0]);
        tokio::pin!(pending);
        assert!(
            futures_poll_once(&mut pending).await.is_none(),
            "not durable before its commit"
        );
        let acks = commit.commit().expect("commit");
        assert_eq!(acks.len(), 3, "the updates with a uuid, after their writes");
        pending.await.expect("durable");
        let runs: Vec<(String, u32)> = store.load("runs").expect("load");
        assert_eq!(runs.len(), 3);
        // A later group is a later ticket; an empty commit still moves on.
        let later = commit.stage(Batch::default());
        assert!(later > tickets[0]);
        assert!(commit.commit().expect("commit").is_empty());
        commit.durable(later).await.expect("durable");
    }

    /// Polls `future` once: its output if it was ready.
    async fn futures_poll_once<F: Future + Unpin>(future: &mut F) -> Option<F::Output> {
        tokio::select! {
            biased;
            out = future => Some(out),
            () = std::future::ready(()) => None,
        }
    }
}
