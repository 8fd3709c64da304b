//! [`ZkRegistry`]: the registry kept in ZooKeeper, for masters in an HA group.
//!
//! Layout: `<path>/registry/<table>/<key>`, one znode per record holding the protobuf-encoded
//! record (keys are percent-encoded, since `/` separates task keys). A commit batch is one
//! multi-op transaction that also checks this master's own election znode, so a master that
//! lost its candidacy cannot write. ZooKeeper refuses any request over `jute.maxbuffer`
//! (1 MiB by default): a single record larger than [`MAX_RECORD`] is refused with an error,
//! and a batch larger than [`MAX_TRANSACTION`] is split into several transactions applied in
//! order (each atomic, the batch as a whole not).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

use futures::future::BoxFuture;
use wasmesos_detector::zk;
use wasmesos_detector::znode::{encode_key, read_all};

use crate::Error;
use crate::registry::{Entry, Op, RegistryStore, Snapshot, Table};

pub use wasmesos_detector::znode::MAX_RECORD;
/// A transaction is closed once its payload passes this size.
pub const MAX_TRANSACTION: usize = 512 * 1024;

/// A [`RegistryStore`] in ZooKeeper under `<path>/registry`.
pub struct ZkRegistry {
    client: zk::Client,
    root: String,
    /// This master's election znode: every transaction checks that it still exists.
    fence: String,
    /// The znodes that exist, so a put knows whether to create or set.
    existing: Mutex<HashSet<String>>,
}

impl ZkRegistry {
    /// A registry under `<path>/registry`, fenced by the election znode `fence`.
    pub fn new(client: zk::Client, path: &str, fence: String) -> Self {
        Self {
            client,
            root: format!("{path}/registry"),
            fence,
            existing: Mutex::new(HashSet::new()),
        }
    }

    fn table_path(&self, table: Table) -> String {
        format!("{}/{}", self.root, table.name())
    }

    fn znode(&self, entry: &Entry) -> String {
        format!(
            "{}/{}",
            self.table_path(entry.table),
            encode_key(&entry.key)
        )
    }

    async fn load_all(&self) -> Result<Snapshot, Error> {
        let mut snapshot = Snapshot::default();
        let mut existing = HashSet::new();
        let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        for table in Table::ALL {
            let dir = self.table_path(table);
            self.client
                .mkdir(&dir, &persistent)
                .await
                .map_err(|err| registry_error(format!("creating {dir}"), err))?;
            let children = self
                .client
                .list_children(&dir)
                .await
                .map_err(|err| registry_error(format!("listing {dir}"), err))?;
            let paths: Vec<String> = children
                .iter()
                .map(|name| format!("{dir}/{name}"))
                .collect();
            let records = read_all(&self.client, &paths)
                .await
                .map_err(|err| registry_error(format!("reading {dir}"), err))?;
            for (path, data) in paths.iter().zip(records) {
                snapshot
                    .insert_encoded(table, &data)
                    .map_err(|err| Error::RegistryCorrupt {
                        path: PathBuf::from(path),
                        reason: err.to_string(),
                    })?;
            }
            existing.extend(paths);
        }
        *self.existing.lock().unwrap_or_else(|p| p.into_inner()) = existing;
        Ok(snapshot)
    }

    async fn commit_all(&self, ops: Vec<Op>) -> Result<(), Error> {
        let entries: Vec<Entry> = ops.into_iter().map(Op::into_entry).collect();
        for entry in &entries {
            let size = entry.value.as_ref().map_or(0, Vec::len);
            if size > MAX_RECORD {
                return Err(Error::Registry(format!(
                    "the {} record {:?} is {size} bytes, more than the {MAX_RECORD} a ZooKeeper \
                     znode holds",
                    entry.table.name(),
                    entry.key
                )));
            }
        }
        for transaction in split(&entries) {
            self.commit_transaction(transaction).await?;
        }
        Ok(())
    }

    async fn commit_transaction(&self, entries: &[Entry]) -> Result<(), Error> {
        let mut existing = self
            .existing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        let mut writer = self.client.new_multi_writer();
        let add = |result: Result<(), zk::Error>| {
            result.map_err(|err| registry_error("building a transaction".into(), err))
        };
        // Version 0: an election znode is never rewritten; gone means we lost candidacy.
        add(writer.add_check_version(&self.fence, 0))?;
        for entry in entries {
            let path = self.znode(entry);
            match (&entry.value, existing.contains(&path)) {
                (Some(value), true) => add(writer.add_set_data(&path, value, None))?,
                (Some(value), false) => {
                    add(writer.add_create(&path, value, &persistent))?;
                    existing.insert(path);
                }
                (None, true) => {
                    add(writer.add_delete(&path, None))?;
                    existing.remove(&path);
                }
                (None, false) => {}
            }
        }
        writer.commit().await.map_err(|err| {
            Error::Registry(format!(
                "ZooKeeper transaction under {} failed (is this master still a contender?): {err}",
                self.root
            ))
        })?;
        *self.existing.lock().unwrap_or_else(|p| p.into_inner()) = existing;
        Ok(())
    }
}

impl RegistryStore for ZkRegistry {
    fn load(&self) -> BoxFuture<'_, Result<Snapshot, Error>> {
        Box::pin(self.load_all())
    }

    fn commit(&self, ops: Vec<Op>) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(self.commit_all(ops))
    }
}

/// Consecutive runs of entries whose payload stays under [`MAX_TRANSACTION`] (each run holds
/// at least one entry).
fn split(entries: &[Entry]) -> Vec<&[Entry]> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut size: usize = 0;
    for (index, entry) in entries.iter().enumerate() {
        let entry_size = entry
            .value
            .as_ref()
            .map_or(0, Vec::len)
            .saturating_add(entry.key.len())
            .saturating_add(64);
        if index > start && size.saturating_add(entry_size) > MAX_TRANSACTION {
            runs.extend(entries.get(start..index));
            start = index;
            size = 0;
        }
        size = size.saturating_add(entry_size);
    }
    runs.extend(entries.get(start..).filter(|run| !run.is_empty()));
    runs
}

fn registry_error(what: String, err: zk::Error) -> Error {
    Error::Registry(format!("ZooKeeper: {what}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, size: usize) -> Entry {
        Entry {
            table: Table::Tasks,
            key: key.into(),
            value: Some(vec![0; size]),
        }
    }

    #[test]
    fn large_batches_split_in_order_and_keep_every_entry() {
        let entries: Vec<Entry> = (0..10)
            .map(|i| entry(&format!("k{i}"), MAX_TRANSACTION / 4))
            .collect();
        let runs = split(&entries);
        assert!(runs.len() >= 3, "{}", runs.len());
        let keys: Vec<&str> = runs
            .iter()
            .flat_map(|run| run.iter().map(|e| e.key.as_str()))
            .collect();
        let expected: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
        assert_eq!(keys, expected);
        assert_eq!(split(&[entry("big", MAX_TRANSACTION * 2)]).len(), 1);
        assert!(split(&[]).is_empty());
    }
}
