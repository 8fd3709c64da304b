//! The checkpoint's thread: takes every change queued so far, commits them in one
//! transaction, then forwards the updates among them to the status sender.

use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tracing::{debug, error};
use wasmesos_proto::TaskStatus;

use super::store::{Change, Store};
use crate::Error;
use crate::status::StatusSender;

/// Bounds one transaction, so a flood of changes still commits (and forwards) steadily.
const MAX_BATCH: usize = 16 * 1024;

/// How long a batch with nothing urgent in it (acknowledgements, task records, frameworks:
/// none of them is waited on, and none is synced) waits for more changes before it commits.
/// Acknowledgements arrive one by one from frameworks that send one call per update, and a
/// commit each cost more CPU than the rest of the acknowledgement; a change that is waited
/// on (a status update, the agent's id) ends the wait at once.
const LINGER: Duration = Duration::from_millis(2);

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

fn run(mut store: Store, status: StatusSender, receiver: Receiver<Message>) {
    // Ends when the agent drops every handle, or at `Close`.
    while let Ok(first) = receiver.recv() {
        let mut changes = Vec::new();
        let mut close = None;
        let mut urgent = false;
        let now = Instant::now();
        let linger_until = now.checked_add(LINGER).unwrap_or(now);
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Change(change) => {
                    urgent |= change.is_waited_on();
                    changes.push(change);
                }
                Message::Close(done) => {
                    close = Some(done);
                    break;
                }
            }
            if changes.len() >= MAX_BATCH {
                break;
            }
            next = receiver.try_recv().ok();
            if next.is_none() && !urgent {
                let left = linger_until.saturating_duration_since(Instant::now());
                next = receiver.recv_timeout(left).ok();
            }
        }
        commit(&mut store, changes, &status);
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
