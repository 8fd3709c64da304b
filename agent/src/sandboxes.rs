//! Where tasks run on disk: [`Sandboxes`] hands each task an empty directory and, when the task
//! ends, either takes it back for the next task or moves it to
//! `sandboxes/<framework_id>/<task_id>/`.
//!
//! Creating and deleting a directory per task is, on some filesystems, the dearest part of a
//! short task: on a journal-less ext4 every new inode is searched for past recently deleted
//! ones, so churn makes each creation slower. Most tasks leave nothing on disk (their output is
//! held in memory, see [`OutputMemory`](wasmesos_wasm_executor::OutputMemory)), so their
//! directory is reused as it is, with no system call at all. A task that did leave files keeps
//! them under its ids, as before, until it drops out of the retained completed tasks.
//!
//! A pooled directory is only reused when it is empty and its task's output never left
//! memory: `ReadFile` for such a task reads memory, never the directory, so it cannot see the
//! files of the directory's next task. The blocking calls here run off the async threads.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;
use tracing::warn;

use crate::Error;
use crate::registry::{Expired, TaskKey};

/// The task directories of one agent.
pub(crate) struct Sandboxes {
    /// `work_dir/sandboxes`: `<framework_id>/<task_id>/` of tasks that left files.
    root: PathBuf,
    /// `work_dir/sandbox-pool`: directories tasks run in, and the empty ones waiting.
    pool: PathBuf,
    free: Mutex<Vec<PathBuf>>,
    next_name: AtomicU64,
    max_free: usize,
    settling: Arc<Mutex<Settling>>,
}

/// Disk work waiting for a blocking thread, in order, and whether one is at it: tasks that
/// end together share one trip off the async threads. One queue keeps a deletion of an
/// expired run's files ordered before a later run's files move to the same place.
#[derive(Default)]
struct Settling {
    jobs: Vec<Job>,
    draining: bool,
}

enum Job {
    /// Move a sandbox with files to its task's place.
    Settle {
        dir: PathBuf,
        target: PathBuf,
        done: oneshot::Sender<Settled>,
    },
    /// Delete files of expired tasks.
    Remove(Vec<PathBuf>),
}

impl Sandboxes {
    /// Opens (creating them if needed) `root` and `pool`, adopting the empty directories an
    /// earlier run of the agent left in the pool and deleting the rest. Blocking.
    pub(crate) fn open(root: PathBuf, pool: PathBuf, max_free: usize) -> Result<Self, Error> {
        for dir in [&root, &pool] {
            std::fs::create_dir_all(dir).map_err(|err| Error::io("creating", dir, err))?;
        }
        let entries = std::fs::read_dir(&pool).map_err(|err| Error::io("reading", &pool, err))?;
        let mut free = Vec::new();
        let mut last_name = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok());
            last_name = last_name.max(name.unwrap_or(0));
            if name.is_some() && free.len() < max_free && is_empty_dir(&path) {
                free.push(path);
            } else {
                remove_any(&path);
            }
        }
        Ok(Sandboxes {
            root,
            pool,
            free: Mutex::new(free),
            // Names count up from here and wrap, as `fetch_add` does.
            next_name: AtomicU64::new(last_name.wrapping_add(1)),
            max_free,
            settling: Arc::default(),
        })
    }

    /// Where a task that left files keeps them.
    pub(crate) fn task_dir(&self, key: &TaskKey) -> PathBuf {
        self.root.join(&key.framework_id).join(&key.task_id)
    }

    /// `work_dir/sandboxes`.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// An empty directory that waits for a task, if there is one.
    pub(crate) fn take_waiting(&self) -> Option<PathBuf> {
        self.lock_free().pop()
    }

    /// A new empty directory for a task.
    pub(crate) async fn create(&self) -> Result<PathBuf, Error> {
        let dir = self
            .pool
            .join(self.next_name.fetch_add(1, Ordering::Relaxed).to_string());
        let created = dir.clone();
        tokio::task::spawn_blocking(move || std::fs::create_dir(&created))
            .await
            .map_err(|err| Error::Internal(format!("creating a sandbox: {err}")))?
            .map_err(|err| Error::io("creating", &dir, err))?;
        Ok(dir)
    }

    /// An empty directory for a task to run in: a waiting one, or else a new one.
    #[cfg(test)]
    pub(crate) async fn take(&self) -> Result<PathBuf, Error> {
        match self.take_waiting() {
            Some(dir) => Ok(dir),
            None => self.create().await,
        }
    }

    /// Takes back a directory whose task never started; it is empty.
    pub(crate) fn give_back(&self, dir: PathBuf) {
        let mut free = self.lock_free();
        if free.len() < self.max_free {
            free.push(dir);
            return;
        }
        drop(free);
        self.queue(Job::Remove(vec![dir]));
    }

    /// Settles `dir` after its task ended: an empty one is taken back when `reusable` (the
    /// task's output never left memory); one with files moves to the task's own place,
    /// replacing what an earlier run under the same ids left there. Returns where the task's
    /// files are now, if anywhere.
    pub(crate) async fn settle(
        &self,
        dir: PathBuf,
        key: &TaskKey,
        reusable: bool,
    ) -> Option<PathBuf> {
        // Most tasks leave nothing. Checking on this thread costs one `getdents` of a directory
        // the task has just used (so cached), far less than a trip to a blocking thread.
        if reusable && is_empty_dir(&dir) {
            self.give_back(dir);
            return None;
        }
        let (done, settled) = oneshot::channel();
        self.queue(Job::Settle {
            dir: dir.clone(),
            target: self.task_dir(key),
            done,
        });
        match settled.await.unwrap_or(Settled::Kept(dir)) {
            Settled::Kept(dir) => Some(dir),
            Settled::Gone => None,
        }
    }

    /// Deletes, off the async threads, the files of tasks dropped from the retained list and
    /// whatever an earlier run under the same ids left in their place.
    pub(crate) fn expire(&self, expired: Vec<Expired>) {
        let owned = |dir: &PathBuf| {
            (dir.starts_with(&self.root) && *dir != self.root)
                || (dir.starts_with(&self.pool) && *dir != self.pool)
        };
        let mut paths = Vec::with_capacity(expired.len());
        for Expired { key, sandbox } in expired {
            let place = self.task_dir(&key);
            if let Some(sandbox) = sandbox.filter(|dir| owned(dir) && *dir != place) {
                paths.push(sandbox);
            }
            paths.push(place);
        }
        self.queue(Job::Remove(paths));
    }

    fn queue(&self, job: Job) {
        let start_draining = {
            let mut settling = lock(&self.settling);
            settling.jobs.push(job);
            !std::mem::replace(&mut settling.draining, true)
        };
        if start_draining {
            let settling = Arc::clone(&self.settling);
            tokio::task::spawn_blocking(move || drain(&settling));
        }
    }

    fn lock_free(&self) -> MutexGuard<'_, Vec<PathBuf>> {
        lock(&self.free)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Lists of paths and jobs have no invariant a panicking holder could break.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Settles queued sandboxes until none is left; runs on a blocking thread.
fn drain(settling: &Mutex<Settling>) {
    loop {
        let jobs = {
            let mut settling = lock(settling);
            if settling.jobs.is_empty() {
                settling.draining = false;
                return;
            }
            std::mem::take(&mut settling.jobs)
        };
        for job in jobs {
            match job {
                Job::Settle { dir, target, done } => {
                    // The task may have been dropped meanwhile; then nobody needs the answer.
                    let _ = done.send(settle_blocking(dir, target));
                }
                Job::Remove(paths) => paths.iter().for_each(|path| remove_any(path)),
            }
        }
    }
}

enum Settled {
    /// Holds the task's files, here.
    Kept(PathBuf),
    /// Nothing is left on disk.
    Gone,
}

/// Moves a sandbox that is not to be reused to its task's place, or deletes it when empty.
fn settle_blocking(dir: PathBuf, target: PathBuf) -> Settled {
    if std::fs::symlink_metadata(&target).is_ok() {
        remove_any(&target);
    }
    let empty = match std::fs::read_dir(&dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(err) if err.kind() == ErrorKind::NotFound => return Settled::Gone,
        Err(_) => false,
    };
    if empty {
        // Its output left memory, then the guest deleted the files: nothing to keep, and not
        // reusable, since `ReadFile` may still read this path.
        remove_any(&dir);
        return Settled::Gone;
    }
    let moved = target
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::rename(&dir, &target));
    match moved {
        Ok(()) => Settled::Kept(target),
        Err(err) => {
            // Windows refuses to move a directory with an open file; the files stay where
            // they are, which the registry is told.
            warn!(dir = %dir.display(), target = %target.display(), err = %err, "cannot move a sandbox to its task's place; keeping it in the pool directory");
            Settled::Kept(dir)
        }
    }
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_none())
}

/// Deletes a file or a directory tree; a missing one is fine.
fn remove_any(path: &Path) {
    let removed = match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(err) => Err(err),
    };
    if let Err(err) = removed
        && err.kind() != ErrorKind::NotFound
    {
        warn!(path = %path.display(), err = %err, "cannot delete a sandbox");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(task: &str) -> TaskKey {
        TaskKey {
            framework_id: "fw".into(),
            task_id: task.into(),
        }
    }

    fn open(work: &Path, max_free: usize) -> Sandboxes {
        Sandboxes::open(work.join("sandboxes"), work.join("pool"), max_free).expect("open")
    }

    #[tokio::test]
    async fn an_empty_sandbox_is_reused_and_one_with_files_moves_to_its_task() {
        let work = tempfile::tempdir().expect("temp dir");
        let sandboxes = open(work.path(), 4);
        let first = sandboxes.take().await.expect("take");
        assert!(first.is_dir());
        assert_eq!(sandboxes.settle(first.clone(), &key("a"), true).await, None);
        assert_eq!(sandboxes.take().await.expect("take"), first, "reused");

        std::fs::write(first.join("result"), b"42").expect("write");
        let kept = sandboxes.settle(first.clone(), &key("b"), true).await;
        let place = work.path().join("sandboxes").join("fw").join("b");
        assert_eq!(kept, Some(place.clone()));
        assert_eq!(std::fs::read(place.join("result")).expect("moved"), b"42");
        assert!(!first.exists());
        let next = sandboxes.take().await.expect("take");
        assert_ne!(next, first, "a new directory once the pool is empty");
        assert!(is_empty_dir(&next));
    }

    #[tokio::test]
    async fn a_rerun_with_files_replaces_the_earlier_runs_files() {
        let work = tempfile::tempdir().expect("temp dir");
        let sandboxes = open(work.path(), 4);
        let place = sandboxes.task_dir(&key("a"));
        std::fs::create_dir_all(&place).expect("mkdir");
        std::fs::write(place.join("old"), b"old").expect("write");
        let dir = sandboxes.take().await.expect("take");
        std::fs::write(dir.join("new"), b"new").expect("write");
        assert_eq!(
            sandboxes.settle(dir, &key("a"), true).await,
            Some(place.clone())
        );
        assert!(!place.join("old").exists() && place.join("new").is_file());
    }

    #[tokio::test]
    async fn expiry_deletes_a_tasks_files_and_what_an_earlier_run_left() {
        let work = tempfile::tempdir().expect("temp dir");
        let sandboxes = open(work.path(), 4);
        let kept = sandboxes.task_dir(&key("kept"));
        let stale = sandboxes.task_dir(&key("stale"));
        for dir in [&kept, &stale] {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        let outside = work.path().join("outside");
        std::fs::create_dir_all(&outside).expect("mkdir");
        sandboxes.expire(vec![
            Expired {
                key: key("kept"),
                sandbox: Some(kept.clone()),
            },
            Expired {
                key: key("stale"),
                sandbox: Some(outside.clone()),
            },
        ]);
        let (done, settled) = oneshot::channel();
        sandboxes.queue(Job::Settle {
            dir: work.path().join("missing"),
            target: work.path().join("nowhere"),
            done,
        });
        assert!(
            matches!(settled.await, Ok(Settled::Gone)),
            "the queue drained"
        );
        assert!(!kept.exists() && !stale.exists());
        assert!(
            outside.exists(),
            "only the agent's own directories are deleted"
        );
    }

    #[tokio::test]
    async fn an_empty_sandbox_whose_output_left_memory_is_not_reused() {
        let work = tempfile::tempdir().expect("temp dir");
        let sandboxes = open(work.path(), 4);
        let dir = sandboxes.take().await.expect("take");
        assert_eq!(sandboxes.settle(dir.clone(), &key("a"), false).await, None);
        assert!(!dir.exists());
        assert_ne!(sandboxes.take().await.expect("take"), dir);
    }

    #[tokio::test]
    async fn the_pool_is_bounded_and_survives_a_restart_empty() {
        let work = tempfile::tempdir().expect("temp dir");
        let sandboxes = open(work.path(), 1);
        let a = sandboxes.take().await.expect("take");
        let b = sandboxes.take().await.expect("take");
        std::fs::write(b.join("leftover"), b"x").expect("write");
        sandboxes.give_back(a.clone());
        drop(sandboxes);
        let reopened = open(work.path(), 1);
        assert!(!b.exists(), "a non-empty leftover is deleted at start");
        assert_eq!(
            reopened.take().await.expect("take"),
            a,
            "an empty one is adopted"
        );
        let fresh = reopened.take().await.expect("take");
        assert!(
            fresh != a && fresh != b,
            "new names do not collide: {fresh:?}"
        );
    }

    #[tokio::test]
    async fn a_pool_directory_with_the_largest_name_does_not_stop_the_start() {
        let work = tempfile::tempdir().expect("temp dir");
        let last = work.path().join("pool").join(u64::MAX.to_string());
        std::fs::create_dir_all(&last).expect("mkdir");
        let sandboxes = open(work.path(), 0);
        let fresh = sandboxes.take().await.expect("take");
        assert_eq!(
            fresh,
            work.path().join("pool").join("0"),
            "names wrap around"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sandboxes_settled_together_are_all_settled() {
        let work = tempfile::tempdir().expect("temp dir");
        let sandboxes = Arc::new(open(work.path(), 64));
        let mut dirs = Vec::new();
        for _ in 0..40 {
            dirs.push(sandboxes.take().await.expect("take"));
        }
        let mut settling = tokio::task::JoinSet::new();
        for (n, dir) in dirs.into_iter().enumerate() {
            if n % 2 == 1 {
                std::fs::write(dir.join("out"), b"x").expect("write");
            }
            let sandboxes = Arc::clone(&sandboxes);
            settling.spawn(async move {
                let key = key(&format!("t{n}"));
                (n, sandboxes.settle(dir, &key, true).await)
            });
        }
        let mut kept = 0;
        while let Some(joined) = settling.join_next().await {
            let (n, settled) = joined.expect("settled");
            assert_eq!(settled.is_some(), n % 2 == 1, "task {n}");
            kept += usize::from(settled.is_some());
        }
        assert_eq!(kept, 20);
        assert_eq!(sandboxes.lock_free().len(), 20, "the empty ones are back");
    }
}
