//! A framework's durable state: named tables of JSON records and the framework id, in one
//! redb file under the work dir ([`Durable::open`]) or, for frameworks that run several copies
//! of themselves, in ZooKeeper ([`Durable::zookeeper`], fenced by the leader's election
//! znode). Generic on purpose: it knows no app or job, so another framework (Marathon,
//! Chronos) keeps its own records the same way. Every [`Batch`] is all-or-nothing and durable
//! before [`Durable::write`] returns (one fsynced redb transaction, or one ZooKeeper multi-op
//! transaction), so a `kill -9` loses nothing it confirmed.

mod redb;
mod zookeeper;

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{DriverConfig, Error};

pub use zookeeper::{MAX_TRANSACTION, ZkSession};

const META: &str = "meta";
const FRAMEWORK_ID: &str = "framework_id";

/// Tables of JSON records by key, in redb or ZooKeeper.
#[derive(Clone, Debug)]
pub struct Durable {
    backend: Backend,
}

#[derive(Clone, Debug)]
enum Backend {
    Redb(Arc<redb::RedbStore>),
    ZooKeeper(Arc<zookeeper::ZkStore>),
}

/// One write of a batch: a record (`Some`) or its deletion (`None`).
#[derive(Debug)]
struct Op {
    table: &'static str,
    key: String,
    value: Option<Vec<u8>>,
}

/// Writes to apply together: puts and deletes in any tables.
#[derive(Debug, Default)]
pub struct Batch {
    ops: Vec<Op>,
}

impl Batch {
    /// Stores `value` under `key` in `table` (replacing what was there).
    pub fn put<T: Serialize>(&mut self, table: &'static str, key: &str, value: &T) {
        // Serializing plain records to JSON cannot fail (no maps with non-string keys).
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        self.ops.push(Op {
            table,
            key: key.to_owned(),
            value: Some(bytes),
        });
    }

    /// Removes `key` from `table`, if there.
    pub fn delete(&mut self, table: &'static str, key: &str) {
        self.ops.push(Op {
            table,
            key: key.to_owned(),
            value: None,
        });
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

impl Durable {
    /// Opens (or creates) `work_dir/file`, creating the directory if needed.
    pub fn open(work_dir: &Path, file: &str) -> Result<Self, Error> {
        let store = redb::RedbStore::open(work_dir, file)?;
        Ok(Durable {
            backend: Backend::Redb(Arc::new(store)),
        })
    }

    /// The store under the znode `root` of `session`'s ensemble, loaded whole. Every write
    /// also checks that the znode `fence` (the leader's own election znode) still exists, so
    /// a process that lost its leadership cannot write.
    pub async fn zookeeper(session: &ZkSession, root: &str, fence: &str) -> Result<Self, Error> {
        let store = zookeeper::ZkStore::load(session, root, fence).await?;
        Ok(Durable {
            backend: Backend::ZooKeeper(Arc::new(store)),
        })
    }

    /// Where it lives: the redb file, or `zk://servers/path`.
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Redb(store) => store.location(),
            Backend::ZooKeeper(store) => store.location(),
        }
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
        let rows = match &self.backend {
            Backend::Redb(store) => store.rows(table)?,
            Backend::ZooKeeper(store) => store.rows(table),
        };
        rows.into_iter()
            .map(|(key, bytes)| match serde_json::from_slice(&bytes) {
                Ok(record) => Ok((key, record)),
                Err(err) => Err(Error::Corrupt {
                    store: self.location(),
                    table,
                    key,
                    reason: err.to_string(),
                }),
            })
            .collect()
    }

    /// Applies `batch`, all of it or nothing, durably.
    pub fn write(&self, batch: Batch) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        match &self.backend {
            Backend::Redb(store) => store.write(&batch.ops),
            Backend::ZooKeeper(store) => store.write(&batch.ops),
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
