//! Write-before-acknowledge with group commit. The actor hands each batch's registry ops
//! and its "release" (deliver the outbox, answer the RPCs) to one committer task. The
//! committer writes every op queued while its previous commit ran in one transaction, then
//! releases those batches in order. The actor never waits: it keeps processing jobs while a
//! commit is in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Op, RegistryStore};
use crate::Error;

/// What runs once a batch's ops are durable.
pub(crate) type Release = Box<dyn FnOnce() + Send>;

struct Batch {
    ops: Vec<Op>,
    release: Release,
}

/// The actor's side of the committer.
pub(crate) struct Committer {
    tx: mpsc::UnboundedSender<Batch>,
    /// Batches submitted and not yet released. At zero, a batch with no ops can be released
    /// at once without passing anything that waits for the disk.
    in_flight: Arc<AtomicUsize>,
}

impl Committer {
    /// Starts the committer task. It ends when the [`Committer`] is dropped (after
    /// releasing what it holds) or when a commit fails, with that error: nothing that
    /// waited for the failed commit is released.
    pub(crate) fn spawn(store: Arc<dyn RegistryStore>) -> (Self, JoinHandle<Result<(), Error>>) {
        #[allow(
            clippy::disallowed_methods,
            reason = "the committer's queue: the actor sends one batch per flush and the registry's commit paces it"
        )]
        let (tx, rx) = mpsc::unbounded_channel();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(run(store, rx, Arc::clone(&in_flight)));
        (Self { tx, in_flight }, task)
    }

    /// Releases `release` once `ops` (and every earlier batch's) are durable, in order.
    /// Returns whether the batch waits for the committer task (`false`: released at once).
    pub(crate) fn submit(&self, ops: Vec<Op>, release: Release) -> Result<bool, Error> {
        if ops.is_empty() && self.in_flight.load(Ordering::Acquire) == 0 {
            release();
            return Ok(false);
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.tx
            .send(Batch { ops, release })
            .map(|()| true)
            .map_err(|_| Error::Registry("the registry committer stopped".into()))
    }
}

async fn run(
    store: Arc<dyn RegistryStore>,
    mut rx: mpsc::UnboundedReceiver<Batch>,
    in_flight: Arc<AtomicUsize>,
) -> Result<(), Error> {
    while let Some(first) = rx.recv().await {
        let mut batches = vec![first];
        while let Ok(more) = rx.try_recv() {
            batches.push(more);
        }
        let ops: Vec<Op> = batches
            .iter_mut()
            .flat_map(|batch| std::mem::take(&mut batch.ops))
            .collect();
        if !ops.is_empty() {
            let count = ops.len();
            if let Err(err) = store.commit(ops).await {
                tracing::error!(%err, ops = count, "registry commit failed; the master stops");
                return Err(err);
            }
        }
        let released = batches.len();
        for batch in batches {
            (batch.release)();
        }
        in_flight.fetch_sub(released, Ordering::AcqRel);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures::future::BoxFuture;

    use super::*;
    use crate::registry::{MemoryRegistry, Snapshot};

    /// A store whose commits wait until the test lets them through, and that can fail.
    struct Gated {
        inner: MemoryRegistry,
        gate: tokio::sync::Semaphore,
        commits: Mutex<Vec<usize>>,
        fail: bool,
    }

    impl RegistryStore for Gated {
        fn load(&self) -> BoxFuture<'_, Result<Snapshot, Error>> {
            self.inner.load()
        }

        fn commit(&self, ops: Vec<Op>) -> BoxFuture<'_, Result<(), Error>> {
            Box::pin(async move {
                let permit = self.gate.acquire().await;
                drop(permit);
                if let Ok(mut commits) = self.commits.lock() {
                    commits.push(ops.len());
                }
                if self.fail {
                    return Err(Error::Registry("disk full".into()));
                }
                self.inner.commit(ops).await
            })
        }
    }

    fn op(task: &str) -> Op {
        Op::RemoveTask {
            framework_id: "f".into(),
            task_id: task.into(),
        }
    }

    fn gated(fail: bool) -> Arc<Gated> {
        Arc::new(Gated {
            inner: MemoryRegistry::new(),
            gate: tokio::sync::Semaphore::new(0),
            commits: Mutex::new(Vec::new()),
            fail,
        })
    }

    #[tokio::test]
    async fn releases_wait_for_their_commit_and_queued_batches_share_one() {
        let store = gated(false);
        let (committer, task) = Committer::spawn(store.clone());
        #[allow(
            clippy::disallowed_methods,
            reason = "a test's commit log, drained by the test"
        )]
        let (log_tx, mut log) = mpsc::unbounded_channel();
        for i in 0..4 {
            let log_tx = log_tx.clone();
            let ops = if i == 2 {
                Vec::new()
            } else {
                vec![op(&format!("t{i}"))]
            };
            let waits = committer
                .submit(
                    ops,
                    Box::new(move || {
                        let _ = log_tx.send(i);
                    }),
                )
                .expect("submit");
            assert!(waits, "batch {i} waits for the commits before it");
        }
        assert!(
            log.try_recv().is_err(),
            "nothing is released before its commit"
        );
        store.gate.add_permits(10);
        let released: Vec<i32> = vec![
            log.recv().await.expect("0"),
            log.recv().await.expect("1"),
            log.recv().await.expect("2"),
            log.recv().await.expect("3"),
        ];
        assert_eq!(
            released,
            [0, 1, 2, 3],
            "released in order, the empty batch too"
        );
        drop(committer);
        task.await.expect("join").expect("no failure");
        let commits = store.commits.lock().map(|c| c.clone()).unwrap_or_default();
        assert_eq!(commits.iter().sum::<usize>(), 3);
        assert!(
            commits.len() <= 2,
            "batches queued behind a commit share the next: {commits:?}"
        );
    }

    #[tokio::test]
    async fn a_failed_commit_releases_nothing_and_stops() {
        let store = gated(true);
        let (committer, task) = Committer::spawn(store.clone());
        #[allow(
            clippy::disallowed_methods,
            reason = "a test's commit log, drained by the test"
        )]
        let (log_tx, mut log) = mpsc::unbounded_channel::<()>();
        committer
            .submit(
                vec![op("t")],
                Box::new(move || {
                    let _ = log_tx.send(());
                }),
            )
            .expect("submit");
        store.gate.add_permits(1);
        let result = task.await.expect("join");
        assert!(matches!(result, Err(Error::Registry(_))));
        assert!(
            log.recv().await.is_none(),
            "the release was dropped, never run"
        );
        let refused = committer.submit(Vec::new(), Box::new(|| {}));
        assert!(
            refused.is_err(),
            "nothing is released after a failed commit"
        );
    }
}
