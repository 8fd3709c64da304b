//! The embedded registry: one journal, `<work_dir>/registry.journal`
//! ([`wasmesos_journal::Journal`]), with a table per [`Table`]. Every commit is one record,
//! synced before it returns. It is written on a blocking thread, so the master's async tasks
//! never wait on the disk while it is busy, except while its syncs stay under
//! [`wasmesos_journal::QUICK_SYNC`] (tmpfs, or a drive with a protected write cache): then the
//! hop to the blocking pool and back, two thread wake-ups, would cost more than the commit
//! itself, which runs in place. A lone change (a few ops, after a commit as small) after a
//! quiet spell runs in place too, if syncs take under [`wasmesos_journal::QUIET_SYNC`]:
//! nothing else waits for the worker then, and the hop would add its two wake-ups to the
//! latency of the launch or answer it holds back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::future::BoxFuture;
use tracing::{info, warn};
use wasmesos_journal::{Entry, Journal, Options};

use super::{Op, RegistryStore, Snapshot, Table};
use crate::Error;

/// The registry's file name inside the master's work dir.
pub const REGISTRY_FILE: &str = "registry.journal";
/// The registry before the journal: a master refuses to start beside one rather than start
/// empty.
const OLD_FILE: &str = "registry.redb";
/// The journal's kind, checked on open.
const KIND: &str = "master-registry";
/// Bumped whenever the tables' meaning changes.
const FORMAT: u32 = 1;

/// A commit of at most this many ops, after one as small, is a lone change (one launch, one
/// task ended): after a quiet spell it may run in place on a disk whose syncs are not quick.
/// A larger one means the master is busy launching or ending many tasks; it goes to the
/// pool, so that a slow sync never holds up a worker the busy master needs.
const LONE_COMMIT_OPS: usize = 4;

/// A [`RegistryStore`] in a journal file.
#[derive(Clone, Debug)]
pub struct JournalRegistry {
    journal: Arc<Mutex<Journal>>,
    path: PathBuf,
    /// How many ops the last commit held.
    last_ops: Arc<AtomicUsize>,
}

impl JournalRegistry {
    /// Opens the registry at `path`, creating it only when no file is there. A file that
    /// exists but is not a readable registry is [`Error::RegistryCorrupt`]: the master must
    /// never start empty over it. One that another master holds open is
    /// [`Error::Registry`]. Blocking.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, Error> {
        let path = path.into();
        let old = path.with_file_name(OLD_FILE);
        if !path.exists() && old.exists() {
            return Err(corrupt(
                &old,
                "it is the registry of an older wasmesos (a redb file), which this master cannot \
                 read",
            ));
        }
        let journal =
            Journal::open(&path, Options::new(KIND, FORMAT)).map_err(|err| match err {
                wasmesos_journal::Error::Locked { .. } => Error::Registry(format!(
                    "{} is in use by another master process",
                    path.display()
                )),
                wasmesos_journal::Error::Corrupt { reason, .. } => corrupt(&path, reason),
                other => corrupt(&path, other),
            })?;
        if let Some((at, bytes)) = journal.recovery().torn {
            // Only a record that was never synced can be torn: nothing was acknowledged on it.
            warn!(
                path = %path.display(), at, bytes,
                "the registry's last write was cut short by a crash; dropped it"
            );
        }
        Ok(Self {
            journal: Arc::new(Mutex::new(journal)),
            path,
            last_ops: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The file it lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn lock(&self) -> Result<std::sync::MutexGuard<'_, Journal>, Error> {
        // A panic while holding it leaves the journal as its last successful write left it.
        self.journal
            .lock()
            .map_err(|_| Error::Registry(format!("{} failed earlier", self.path.display())))
    }

    fn load_blocking(&self) -> Result<Snapshot, Error> {
        let journal = self.lock()?;
        let mut snapshot = Snapshot::default();
        for (table, key, value) in journal.entries() {
            let Some(table) = Table::ALL.get(usize::from(table)).copied() else {
                return Err(corrupt(
                    &self.path,
                    format!("a record in unknown table {table}"),
                ));
            };
            snapshot.insert_encoded(table, value).map_err(|err| {
                let key = String::from_utf8_lossy(key);
                corrupt(&self.path, format!("{} {key:?}: {err}", table.name()))
            })?;
        }
        Ok(snapshot)
    }

    /// Whether a commit of `ops` ops runs in place: syncs are quick, or it and the last
    /// commit are lone changes and the journal allows it ([`Journal::syncs_in_place`]).
    pub(super) fn in_place(&self, ops: usize) -> Result<bool, Error> {
        let journal = self.lock()?;
        let lone =
            ops <= LONE_COMMIT_OPS && self.last_ops.load(Ordering::Relaxed) <= LONE_COMMIT_OPS;
        Ok(journal.syncs_quickly() || (lone && journal.syncs_in_place(Instant::now())))
    }

    /// Appends `ops` as one synced record.
    fn write(&self, ops: Vec<Op>) -> Result<(), Error> {
        let entries = ops
            .into_iter()
            .map(|op| {
                let entry = op.into_entry();
                Entry {
                    table: entry.table as u8,
                    key: entry.key.into_bytes(),
                    value: entry.value,
                }
            })
            .collect();
        self.lock()?
            .write(entries, true)
            .map_err(|err| Error::Registry(format!("committing: {err}")))
    }

    fn needs_compaction(&self) -> Result<bool, Error> {
        Ok(self.lock()?.needs_compaction())
    }

    /// Rewrites the journal to its live entries. A failure is logged: the registry goes on
    /// growing, and nothing committed is lost.
    fn compact_blocking(&self) -> Result<(), Error> {
        match self.lock()?.compact_if_needed() {
            Ok(None) => {}
            Ok(Some((before, after))) => {
                info!(path = %self.path.display(), before, after, "compacted the registry");
            }
            Err(err) => warn!(err = %err, "cannot compact the registry; it goes on growing"),
        }
        Ok(())
    }
}

/// Runs `work` on the blocking pool.
async fn blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| Error::Registry(format!("{what} the registry: {err}")))?
}

impl RegistryStore for JournalRegistry {
    fn load(&self) -> BoxFuture<'_, Result<Snapshot, Error>> {
        let this = self.clone();
        Box::pin(blocking("loading", move || this.load_blocking()))
    }

    fn commit(&self, ops: Vec<Op>) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            let count = ops.len();
            let in_place = self.in_place(count)?;
            self.last_ops.store(count, Ordering::Relaxed);
            if in_place {
                self.write(ops)?;
            } else {
                let this = self.clone();
                blocking("committing to", move || this.write(ops)).await?;
            }
            // Always on the pool: it rewrites the whole file.
            if self.needs_compaction()? {
                let this = self.clone();
                blocking("compacting", move || this.compact_blocking()).await?;
            }
            Ok(())
        })
    }
}

fn corrupt(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::RegistryCorrupt {
        path: path.to_path_buf(),
        reason: why.to_string(),
    }
}
