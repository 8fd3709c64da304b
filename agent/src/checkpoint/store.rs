//! [`Store`]: the checkpoint's redb file, its tables, what it holds after a restart
//! ([`Recovered`]), and one transaction per batch of [`Change`]s.
//!
//! Records are the protobuf encodings of the wire types, so the file needs no schema of its
//! own beyond the table layout and a format number.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use prost::Message;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, Table, TableDefinition, WriteTransaction,
};
use wasmesos_proto::{FrameworkInfo, TaskInfo, TaskStatus};

use crate::Error;
use crate::registry::TaskKey;

/// `agent_id` and `format`.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
/// Framework id → `FrameworkInfo`.
const FRAMEWORKS: TableDefinition<&str, &[u8]> = TableDefinition::new("frameworks");
/// (framework id, task id) → `TaskInfo` (without its input `data`).
const TASKS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("tasks");
/// (framework id, task id) → the task's latest `TaskStatus`.
const LATEST: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("latest");
/// Sequence number → an unacknowledged `TaskStatus`; the order they were sent in.
const UPDATES: TableDefinition<u64, &[u8]> = TableDefinition::new("updates");

const FORMAT_KEY: &str = "format";
const AGENT_ID_KEY: &str = "agent_id";
/// Bumped whenever the layout above changes meaning.
const FORMAT: u32 = 1;
/// redb's page cache; the checkpoint holds only active tasks and unacknowledged updates.
const CACHE_BYTES: usize = 16 << 20;

/// One change to the checkpoint; a batch of them is one transaction.
#[derive(Debug)]
pub(crate) enum Change {
    /// The id the master gave this agent; `None` forgets it (the master removed the agent).
    AgentId(Option<String>),
    Framework(FrameworkInfo),
    /// A task taken in: its key and its encoded `TaskInfo`.
    Task {
        key: TaskKey,
        info: Vec<u8>,
    },
    /// Status updates about to be sent, in order; each becomes its task's latest.
    Updates(Vec<TaskStatus>),
    /// The master forwarded the acknowledgement of the update with this uuid.
    Acked {
        uuid: Vec<u8>,
    },
    /// Forget every task, update and the agent id (the master removed this agent).
    Clear,
}

impl Change {
    fn needs_sync(&self) -> bool {
        matches!(
            self,
            Change::Updates(_) | Change::AgentId(_) | Change::Clear
        )
    }

    /// Whether something waits for this change's commit: the updates it forwards, or the
    /// identity and clearing a re-registration depends on. The others may wait for company.
    pub(super) fn is_waited_on(&self) -> bool {
        self.needs_sync()
    }
}

/// What an earlier run of the agent left.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    pub(crate) agent_id: Option<String>,
    pub(crate) frameworks: Vec<FrameworkInfo>,
    pub(crate) tasks: Vec<RecoveredTask>,
    /// Unacknowledged updates, in the order they were first sent.
    pub(crate) updates: Vec<TaskStatus>,
}

#[derive(Debug)]
pub(crate) struct RecoveredTask {
    pub(crate) key: TaskKey,
    pub(crate) info: TaskInfo,
    /// `None` when the task was taken in but no update about it was ever sent.
    pub(crate) latest: Option<TaskStatus>,
}

/// Where an unacknowledged update is, and what its acknowledgement completes.
struct Pending {
    seq: u64,
    key: TaskKey,
    terminal: bool,
}

/// The open checkpoint file. Blocking: used from the checkpoint's own thread.
pub(crate) struct Store {
    db: Database,
    path: PathBuf,
    pending: HashMap<Vec<u8>, Pending>,
    next_seq: u64,
    /// Frameworks as last written, so a launch with an unchanged one writes nothing.
    frameworks: HashMap<String, Vec<u8>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (or creates) the checkpoint at `path` and reads what it holds. A file that is
    /// not a checkpoint, fails its integrity check or holds undecodable records is an
    /// [`Error::Checkpoint`]: the agent refuses to start rather than forget its tasks.
    pub(crate) fn open(path: &Path) -> Result<(Store, Recovered), Error> {
        let corrupt = |reason: String| Error::Checkpoint {
            path: path.to_path_buf(),
            reason,
        };
        // Every open verifies every page's checksum: the file holds only what is in flight,
        // so this is cheap, and a damaged file is reported instead of trusted.
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .set_check_integrity_on_open(true)
            .create(path)
            .map_err(|err| corrupt(err.to_string()))?;
        let mut store = Store {
            db,
            path: path.to_path_buf(),
            pending: HashMap::new(),
            next_seq: 0,
            frameworks: HashMap::new(),
        };
        store
            .prepare()
            .map_err(|err| corrupt(format!("cannot prepare it: {err}")))?;
        let recovered = store.read().map_err(corrupt)?;
        Ok((store, recovered))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the tables, stamps a new file with its format and drops frameworks that no
    /// task needs any more.
    fn prepare(&mut self) -> Result<(), redb::Error> {
        let txn = self.db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            if meta.get(FORMAT_KEY)?.is_none() {
                meta.insert(FORMAT_KEY, FORMAT.to_le_bytes().as_slice())?;
            }
            let tasks = txn.open_table(TASKS)?;
            let mut needed = std::collections::HashSet::new();
            for entry in tasks.iter()? {
                let (key, _) = entry?;
                needed.insert(key.value().0.to_string());
            }
            let mut frameworks = txn.open_table(FRAMEWORKS)?;
            frameworks.retain(|id, _| needed.contains(id))?;
            txn.open_table(LATEST)?;
            txn.open_table(UPDATES)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Reads everything back, indexing the unacknowledged updates for their acks.
    fn read(&mut self) -> Result<Recovered, String> {
        let txn = self.db.begin_read().map_err(|err| err.to_string())?;
        let table_error = |err: redb::TableError| err.to_string();
        let storage_error = |err: redb::StorageError| err.to_string();
        let meta = txn.open_table(META).map_err(table_error)?;
        let format = meta.get(FORMAT_KEY).map_err(storage_error)?;
        let format = format.map(|value| value.value().to_vec());
        if format.as_deref() != Some(FORMAT.to_le_bytes().as_slice()) {
            return Err(format!(
                "it has format {format:?}, not {FORMAT} (written by another wasmesos version?)"
            ));
        }
        let mut recovered = Recovered {
            agent_id: match meta.get(AGENT_ID_KEY).map_err(storage_error)? {
                Some(id) => Some(
                    String::from_utf8(id.value().to_vec())
                        .map_err(|_| "its agent id is not UTF-8".to_string())?,
                ),
                None => None,
            },
            ..Recovered::default()
        };
        let frameworks = txn.open_table(FRAMEWORKS).map_err(table_error)?;
        for entry in frameworks.iter().map_err(storage_error)? {
            let (id, bytes) = entry.map_err(storage_error)?;
            let info: FrameworkInfo = decode("framework", bytes.value())?;
            self.frameworks
                .insert(id.value().to_string(), bytes.value().to_vec());
            recovered.frameworks.push(info);
        }
        let latest = txn.open_table(LATEST).map_err(table_error)?;
        let tasks = txn.open_table(TASKS).map_err(table_error)?;
        for entry in tasks.iter().map_err(storage_error)? {
            let (key, bytes) = entry.map_err(storage_error)?;
            let (framework_id, task_id) = key.value();
            let info: TaskInfo = decode("task", bytes.value())?;
            let status = latest.get((framework_id, task_id)).map_err(storage_error)?;
            let latest = match status {
                Some(bytes) => Some(decode::<TaskStatus>("status", bytes.value())?),
                None => None,
            };
            let key = TaskKey {
                framework_id: framework_id.to_string(),
                task_id: task_id.to_string(),
            };
            recovered.tasks.push(RecoveredTask { key, info, latest });
        }
        let updates = txn.open_table(UPDATES).map_err(table_error)?;
        for entry in updates.iter().map_err(storage_error)? {
            let (seq, bytes) = entry.map_err(storage_error)?;
            let status: TaskStatus = decode("status update", bytes.value())?;
            self.index(seq.value(), &status);
            self.next_seq = seq.value().saturating_add(1);
            recovered.updates.push(status);
        }
        Ok(recovered)
    }

    fn index(&mut self, seq: u64, status: &TaskStatus) {
        let pending = Pending {
            seq,
            key: TaskKey {
                framework_id: status.framework_id.clone(),
                task_id: status.task_id.clone(),
            },
            terminal: status.state().is_terminal(),
        };
        self.pending.insert(status.uuid.clone(), pending);
    }

    /// Applies `changes` in order in one transaction. It is synced to disk when it holds
    /// status updates (they must be on disk before they are sent) or the agent's identity;
    /// task records, frameworks and acknowledgements ride along with the next synced one.
    /// A crash can then lose only an acknowledgement (the update is resent, which
    /// at-least-once delivery allows) or a task record none of whose updates was sent yet
    /// (the master then reports the task lost when the agent re-registers).
    pub(crate) fn apply(&mut self, changes: &[Change]) -> Result<(), redb::Error> {
        let mut txn = self.db.begin_write()?;
        if !changes.iter().any(Change::needs_sync) {
            txn.set_durability(Durability::None)?;
        }
        {
            let mut tables = Tables::open(&txn)?;
            for change in changes {
                self.apply_one(&mut tables, change)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Makes every earlier transaction durable (an empty synced commit).
    pub(crate) fn sync(&mut self) -> Result<(), redb::Error> {
        self.db.begin_write()?.commit()?;
        Ok(())
    }

    fn apply_one(&mut self, tables: &mut Tables<'_>, change: &Change) -> Result<(), redb::Error> {
        match change {
            Change::AgentId(Some(id)) => {
                tables.meta.insert(AGENT_ID_KEY, id.as_bytes())?;
            }
            Change::AgentId(None) => {
                tables.meta.remove(AGENT_ID_KEY)?;
            }
            Change::Framework(info) => {
                let bytes = info.encode_to_vec();
                if self.frameworks.get(&info.id) != Some(&bytes) {
                    tables
                        .frameworks
                        .insert(info.id.as_str(), bytes.as_slice())?;
                    self.frameworks.insert(info.id.clone(), bytes);
                }
            }
            Change::Task { key, info } => {
                tables.tasks.insert(key_of(key), info.as_slice())?;
            }
            Change::Updates(statuses) => self.append(tables, statuses)?,
            Change::Acked { uuid } => self.acked(tables, uuid)?,
            Change::Clear => self.clear(tables)?,
        }
        Ok(())
    }

    fn append(
        &mut self,
        tables: &mut Tables<'_>,
        statuses: &[TaskStatus],
    ) -> Result<(), redb::Error> {
        for status in statuses {
            let bytes = status.encode_to_vec();
            let key = (status.framework_id.as_str(), status.task_id.as_str());
            tables.latest.insert(key, bytes.as_slice())?;
            if status.uuid.is_empty() {
                continue;
            }
            let seq = self.next_seq;
            self.next_seq = seq.saturating_add(1);
            tables.updates.insert(seq, bytes.as_slice())?;
            self.index(seq, status);
        }
        Ok(())
    }

    /// Drops an acknowledged update; the ack of a terminal one completes its task, whose
    /// records go too.
    fn acked(&mut self, tables: &mut Tables<'_>, uuid: &[u8]) -> Result<(), redb::Error> {
        let Some(pending) = self.pending.remove(uuid) else {
            return Ok(());
        };
        tables.updates.remove(pending.seq)?;
        if pending.terminal {
            let key = key_of(&pending.key);
            tables.tasks.remove(key)?;
            tables.latest.remove(key)?;
        }
        Ok(())
    }

    fn clear(&mut self, tables: &mut Tables<'_>) -> Result<(), redb::Error> {
        tables.meta.remove(AGENT_ID_KEY)?;
        tables.frameworks.retain(|_, _| false)?;
        tables.tasks.retain(|_, _| false)?;
        tables.latest.retain(|_, _| false)?;
        tables.updates.retain(|_, _| false)?;
        self.pending.clear();
        self.frameworks.clear();
        Ok(())
    }
}

/// The tables of one write transaction, opened once per batch.
struct Tables<'txn> {
    meta: Table<'txn, &'static str, &'static [u8]>,
    frameworks: Table<'txn, &'static str, &'static [u8]>,
    tasks: Table<'txn, (&'static str, &'static str), &'static [u8]>,
    latest: Table<'txn, (&'static str, &'static str), &'static [u8]>,
    updates: Table<'txn, u64, &'static [u8]>,
}

impl<'txn> Tables<'txn> {
    fn open(txn: &'txn WriteTransaction) -> Result<Self, redb::Error> {
        Ok(Tables {
            meta: txn.open_table(META)?,
            frameworks: txn.open_table(FRAMEWORKS)?,
            tasks: txn.open_table(TASKS)?,
            latest: txn.open_table(LATEST)?,
            updates: txn.open_table(UPDATES)?,
        })
    }
}

fn key_of(key: &TaskKey) -> (&str, &str) {
    (key.framework_id.as_str(), key.task_id.as_str())
}

fn decode<M: Message + Default>(what: &str, bytes: &[u8]) -> Result<M, String> {
    M::decode(bytes).map_err(|err| format!("a {what} record does not decode: {err}"))
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
