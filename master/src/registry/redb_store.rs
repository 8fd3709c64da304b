//! The embedded registry: one redb file, `<work_dir>/registry.redb`, with a table per
//! [`Table`]. Every commit is one durable write transaction (fsync before it returns), run
//! on a blocking thread so the master's async tasks never wait on the disk.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use redb::{Database, DatabaseError, ReadableDatabase, ReadableTable, TableDefinition, TableError};

use super::{Op, RegistryStore, Snapshot, Table};
use crate::Error;

/// The registry's file name inside the master's work dir.
pub const REGISTRY_FILE: &str = "registry.redb";

/// A [`RegistryStore`] in a redb file.
#[derive(Clone, Debug)]
pub struct RedbRegistry {
    db: Arc<Database>,
    path: PathBuf,
}

fn definition(table: Table) -> TableDefinition<'static, &'static str, &'static [u8]> {
    TableDefinition::new(table.name())
}

impl RedbRegistry {
    /// Opens the registry at `path`, creating it only when no file is there. A file that
    /// exists but is not a readable registry is [`Error::RegistryCorrupt`]: the master must
    /// never start empty over it. Blocking.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, Error> {
        let path = path.into();
        let exists = path.try_exists().map_err(|err| corrupt(&path, err))?;
        let opened = guarded(&path, || {
            if exists {
                Database::open(&path)
            } else {
                Database::create(&path)
            }
        })?;
        let db = opened.map_err(|err| match err {
            DatabaseError::DatabaseAlreadyOpen => Error::Registry(format!(
                "{} is in use by another master process",
                path.display()
            )),
            err => corrupt(&path, err),
        })?;
        Ok(Self {
            db: Arc::new(db),
            path,
        })
    }

    /// The file it lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn load_blocking(&self) -> Result<Snapshot, Error> {
        let path = &self.path;
        guarded(path, || {
            let txn = self.db.begin_read().map_err(|err| corrupt(path, err))?;
            let mut snapshot = Snapshot::default();
            for table in Table::ALL {
                let opened = match txn.open_table(definition(table)) {
                    Ok(opened) => opened,
                    Err(TableError::TableDoesNotExist(_)) => continue,
                    Err(err) => return Err(corrupt(path, err)),
                };
                for row in opened.iter().map_err(|err| corrupt(path, err))? {
                    let (key, value) = row.map_err(|err| corrupt(path, err))?;
                    snapshot
                        .insert_encoded(table, value.value())
                        .map_err(|err| {
                            let what = format!("{} {:?}: {err}", table.name(), key.value());
                            corrupt(path, what)
                        })?;
                }
            }
            Ok(snapshot)
        })?
    }

    fn commit_blocking(&self, ops: Vec<Op>) -> Result<(), Error> {
        let failed = |err: &dyn std::fmt::Display| {
            Error::Registry(format!("committing to {}: {err}", self.path.display()))
        };
        let txn = self.db.begin_write().map_err(|err| failed(&err))?;
        {
            let mut tables = Vec::with_capacity(Table::ALL.len());
            for table in Table::ALL {
                tables.push(
                    txn.open_table(definition(table))
                        .map_err(|err| failed(&err))?,
                );
            }
            for op in ops {
                let entry = op.into_entry();
                let Some(opened) = tables.get_mut(entry.table as usize) else {
                    continue;
                };
                let written = match &entry.value {
                    Some(value) => opened
                        .insert(entry.key.as_str(), value.as_slice())
                        .map(drop),
                    None => opened.remove(entry.key.as_str()).map(drop),
                };
                written.map_err(|err| failed(&err))?;
            }
        }
        txn.commit().map_err(|err| failed(&err))
    }
}

impl RegistryStore for RedbRegistry {
    fn load(&self) -> BoxFuture<'_, Result<Snapshot, Error>> {
        let this = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || this.load_blocking())
                .await
                .map_err(|err| Error::Registry(format!("loading the registry: {err}")))?
        })
    }

    fn commit(&self, ops: Vec<Op>) -> BoxFuture<'_, Result<(), Error>> {
        let this = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || this.commit_blocking(ops))
                .await
                .map_err(|err| Error::Registry(format!("committing to the registry: {err}")))?
        })
    }
}

fn corrupt(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::RegistryCorrupt {
        path: path.to_path_buf(),
        reason: why.to_string(),
    }
}

/// Runs `read`, turning a panic inside redb (its debug builds assert on some damaged
/// files) into [`Error::RegistryCorrupt`], so a bad file can never crash the master.
fn guarded<T>(path: &Path, read: impl FnOnce() -> T) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(read))
        .map_err(|_| corrupt(path, "the storage engine failed while reading it"))
}
