//! A framework's durable state: one redb file under the work dir holding named tables of
//! JSON records and the framework id. Generic on purpose: it knows no app or job, so another
//! framework (Marathon, Chronos) keeps its own records the same way. Every [`Batch`] is one durable
//! write transaction (fsync before it returns), so a `kill -9` loses nothing it confirmed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{DriverConfig, Error};

const META: &str = "meta";
const FRAMEWORK_ID: &str = "framework_id";

/// A redb file of JSON records by table and key.
#[derive(Clone, Debug)]
pub struct Durable {
    db: Arc<Database>,
    path: PathBuf,
}

/// Writes to apply together: puts and deletes in any tables.
#[derive(Debug, Default)]
pub struct Batch {
    ops: Vec<(&'static str, String, Option<Vec<u8>>)>,
}

impl Batch {
    /// Stores `value` under `key` in `table` (replacing what was there).
    pub fn put<T: Serialize>(&mut self, table: &'static str, key: &str, value: &T) {
        // Serializing plain records to JSON cannot fail (no maps with non-string keys).
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        self.ops.push((table, key.to_owned(), Some(bytes)));
    }

    /// Removes `key` from `table`, if there.
    pub fn delete(&mut self, table: &'static str, key: &str) {
        self.ops.push((table, key.to_owned(), None));
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// How many puts and deletes it holds.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Adds `other`'s writes after these: both apply in one transaction, in order (a
    /// framework's group commit).
    pub fn append(&mut self, other: Batch) {
        self.ops.extend(other.ops);
    }
}

fn definition(table: &str) -> TableDefinition<'_, &'static str, &'static [u8]> {
    TableDefinition::new(table)
}

impl Durable {
    /// Opens (or creates) `work_dir/file`, creating the directory if needed.
    pub fn open(work_dir: &Path, file: &str) -> Result<Self, Error> {
        let path = work_dir.join(file);
        let failed = |reason: String| Error::Store {
            path: path.clone(),
            reason,
        };
        std::fs::create_dir_all(work_dir).map_err(|err| failed(err.to_string()))?;
        let db = Database::create(&path).map_err(|err| match err {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                failed("in use by another process (is another instance running?)".into())
            }
            err => failed(err.to_string()),
        })?;
        Ok(Durable {
            db: Arc::new(db),
            path,
        })
    }

    /// The file it lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The framework id the master gave this framework, once it subscribed.
    pub fn framework_id(&self) -> Result<Option<String>, Error> {
        let found = self.load::<String>(META)?;
        Ok(found
            .into_iter()
            .find(|(key, _)| key == FRAMEWORK_ID)
            .map(|(_, id)| id))
    }

    /// Readies `config` for a framework whose state lives here: its stored id, so a restart
    /// resubscribes as the same framework and keeps its tasks; `failover` as its failover
    /// timeout; checkpointing; and the TASK_KILLING state.
    pub fn resume(
        &self,
        config: &mut DriverConfig,
        failover: std::time::Duration,
    ) -> Result<(), Error> {
        if let Some(id) = self.framework_id()? {
            tracing::info!(framework_id = %id, "resubscribing with the stored framework id");
            config.framework.id = id;
        }
        config.framework.failover_timeout_seconds = failover.as_secs_f64();
        config.framework.checkpoint = true;
        let killing = wasmesos_proto::FrameworkCapability::TaskKillingState as i32;
        if !config.framework.capabilities.contains(&killing) {
            config.framework.capabilities.push(killing);
        }
        Ok(())
    }

    /// Keeps the framework id for the next start.
    pub fn set_framework_id(&self, id: &str) -> Result<(), Error> {
        let mut batch = Batch::default();
        batch.put(META, FRAMEWORK_ID, &id);
        self.write(batch)
    }

    /// Every record of `table`, in key order.
    pub fn load<T: DeserializeOwned>(
        &self,
        table: &'static str,
    ) -> Result<Vec<(String, T)>, Error> {
        let failed = |err: String| self.failed(err);
        let txn = self.db.begin_read().map_err(|e| failed(e.to_string()))?;
        let opened = match txn.open_table(definition(table)) {
            Ok(opened) => opened,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(err) => return Err(failed(err.to_string())),
        };
        let mut records = Vec::new();
        for row in opened.iter().map_err(|e| failed(e.to_string()))? {
            let (key, value) = row.map_err(|e| failed(e.to_string()))?;
            let key = key.value().to_owned();
            let record = serde_json::from_slice(value.value()).map_err(|err| Error::Corrupt {
                path: self.path.clone(),
                table,
                key: key.clone(),
                reason: err.to_string(),
            })?;
            records.push((key, record));
        }
        Ok(records)
    }

    /// Applies `batch` in one durable transaction.
    pub fn write(&self, batch: Batch) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        let failed = |err: String| self.failed(err);
        let txn = self.db.begin_write().map_err(|e| failed(e.to_string()))?;
        for (table, key, value) in &batch.ops {
            let mut opened = txn
                .open_table(definition(table))
                .map_err(|e| failed(e.to_string()))?;
            let written = match value {
                Some(bytes) => opened.insert(key.as_str(), bytes.as_slice()).map(|_| ()),
                None => opened.remove(key.as_str()).map(|_| ()),
            };
            written.map_err(|e| failed(e.to_string()))?;
        }
        txn.commit().map_err(|e| failed(e.to_string()))
    }

    fn failed(&self, reason: String) -> Error {
        Error::Store {
            path: self.path.clone(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_the_framework_id_survive_a_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let store = Durable::open(dir.path(), "state.redb").expect("open");
            assert_eq!(store.framework_id().expect("read"), None);
            store.set_framework_id("fw-1").expect("write");
            let mut batch = Batch::default();
            batch.put("apps", "/a", &1u32);
            batch.put("apps", "/b", &2u32);
            batch.delete("apps", "/a");
            store.write(batch).expect("write");
        }
        let store = Durable::open(dir.path(), "state.redb").expect("reopen");
        assert_eq!(store.framework_id().expect("read").as_deref(), Some("fw-1"));
        let apps: Vec<(String, u32)> = store.load("apps").expect("load");
        assert_eq!(apps, vec![("/b".to_owned(), 2)]);
        assert!(store.load::<u32>("missing").expect("load").is_empty());
    }
}
