//! The registry: what the master must not forget across a restart — admitted and removed
//! agents, frameworks with their info and failover timeout, and the task records that
//! reconciliation needs — and the stores that keep it.
//!
//! The core produces [`Op`]s next to its outbox; the actor hands each batch to one committer
//! task that writes them through a [`RegistryStore`] before it releases what depends on
//! them (see `crate::actor`). On start the master loads a [`Snapshot`] and builds its core from
//! it ([`crate::core::Core::recover`]).
//!
//! Stores are key/value shaped on purpose: every [`Op`] becomes one [`Entry`] (a table, a
//! key, and the encoded record or a deletion), and [`Snapshot::insert_encoded`] reads the
//! encoded records back. [`JournalRegistry`] keeps them in `<work_dir>/registry.journal`;
//! [`MemoryRegistry`] keeps them in memory (tests, benchmarks); other backends (ZooKeeper)
//! implement [`RegistryStore`] the same way.

mod committer;
mod journal_store;
mod memory;
mod records;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use prost::Message;

pub(crate) use committer::{Committer, Release};
pub use journal_store::{JournalRegistry, REGISTRY_FILE};
pub use memory::MemoryRegistry;
pub use records::{AgentRecord, FrameworkRecord, MaintenanceRecord, TaskRecord};

use crate::Error;

/// Where the master keeps its registry. Object safe, so a master holds an
/// `Arc<dyn RegistryStore>` whatever the backend.
pub trait RegistryStore: Send + Sync {
    /// Everything committed so far. A store that cannot read or decode its data must fail
    /// with [`Error::RegistryCorrupt`] rather than answer with an empty snapshot.
    fn load(&self) -> BoxFuture<'_, Result<Snapshot, Error>>;

    /// Applies `ops` atomically and durably: when the future resolves `Ok`, a crash right
    /// after must not lose them. Ops apply in order (a later op on the same key wins).
    fn commit(&self, ops: Vec<Op>) -> BoxFuture<'_, Result<(), Error>>;
}

/// Which store a master uses.
#[derive(Clone, Default)]
pub enum RegistryBackend {
    /// `<work_dir>/registry.journal` (the embedded default).
    #[default]
    Journal,
    /// Nothing survives the process: for tests and benchmarks that measure the master
    /// without a disk.
    Memory,
    /// A store built by the caller (e.g. ZooKeeper in HA mode).
    Store(Arc<dyn RegistryStore>),
}

impl fmt::Debug for RegistryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Journal => f.write_str("Journal"),
            Self::Memory => f.write_str("Memory"),
            Self::Store(_) => f.write_str("Store(..)"),
        }
    }
}

/// One change to the registry.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Adds or replaces an agent (admitted, or removed for good).
    PutAgent(AgentRecord),
    /// Adds or replaces a framework (active, or removed for good).
    PutFramework(FrameworkRecord),
    /// Adds or replaces a task record (boxed: it is by far the largest op).
    PutTask(Box<TaskRecord>),
    /// Forgets a removed agent (older than the registry keeps removals).
    ForgetAgent(String),
    /// Forgets a removed framework.
    ForgetFramework(String),
    /// Forgets a task record (the framework's completed-task list let it go).
    RemoveTask {
        /// The task's framework.
        framework_id: String,
        /// The task.
        task_id: String,
    },
    /// Replaces the maintenance schedule and machine modes.
    PutMaintenance(MaintenanceRecord),
}

/// The tables a store keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// [`AgentRecord`]s keyed by agent id.
    Agents,
    /// [`FrameworkRecord`]s keyed by framework id.
    Frameworks,
    /// [`TaskRecord`]s keyed by [`task_key`].
    Tasks,
    /// The one [`MaintenanceRecord`], keyed by [`MaintenanceRecord::KEY`].
    Maintenance,
}

impl Table {
    /// Every table, in load order.
    pub const ALL: [Table; 4] = [
        Table::Agents,
        Table::Frameworks,
        Table::Tasks,
        Table::Maintenance,
    ];

    /// A stable name, usable as a table name or a path segment.
    pub fn name(self) -> &'static str {
        match self {
            Table::Agents => "agents",
            Table::Frameworks => "frameworks",
            Table::Tasks => "tasks",
            Table::Maintenance => "maintenance",
        }
    }
}

/// An [`Op`] in key/value form: the encoded record, or `None` to delete the key.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Which table.
    pub table: Table,
    /// The record's key in that table.
    pub key: String,
    /// The protobuf-encoded record, or `None` for a deletion.
    pub value: Option<Vec<u8>>,
}

/// The key of a task record: `<framework_id>/<task_id>`. Task ids never contain `/` (the
/// master refuses such ids), so the last `/` splits the key unambiguously.
pub fn task_key(framework_id: &str, task_id: &str) -> String {
    format!("{framework_id}/{task_id}")
}

impl Op {
    /// The key/value form a store writes.
    pub fn into_entry(self) -> Entry {
        let put = |table, key, value: Vec<u8>| Entry {
            table,
            key,
            value: Some(value),
        };
        match self {
            Op::PutAgent(record) => put(
                Table::Agents,
                record.id().to_string(),
                record.encode_to_vec(),
            ),
            Op::PutFramework(record) => put(
                Table::Frameworks,
                record.id().to_string(),
                record.encode_to_vec(),
            ),
            Op::PutTask(record) => put(Table::Tasks, record.key(), record.encode_to_vec()),
            Op::ForgetAgent(id) => Entry {
                table: Table::Agents,
                key: id,
                value: None,
            },
            Op::ForgetFramework(id) => Entry {
                table: Table::Frameworks,
                key: id,
                value: None,
            },
            Op::RemoveTask {
                framework_id,
                task_id,
            } => Entry {
                table: Table::Tasks,
                key: task_key(&framework_id, &task_id),
                value: None,
            },
            Op::PutMaintenance(record) => put(
                Table::Maintenance,
                MaintenanceRecord::KEY.to_string(),
                record.encode_to_vec(),
            ),
        }
    }
}

/// Everything the registry holds, as loaded on start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// By agent id.
    pub agents: BTreeMap<String, AgentRecord>,
    /// By framework id.
    pub frameworks: BTreeMap<String, FrameworkRecord>,
    /// By [`task_key`].
    pub tasks: BTreeMap<String, TaskRecord>,
    /// The maintenance schedule and machine modes, once one was posted.
    pub maintenance: Option<MaintenanceRecord>,
}

impl Snapshot {
    /// Whether the registry holds nothing (a first start).
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
            && self.frameworks.is_empty()
            && self.tasks.is_empty()
            && self.maintenance.is_none()
    }

    /// Applies one op, as a store would.
    pub fn apply(&mut self, op: Op) {
        match op {
            Op::PutAgent(record) => {
                self.agents.insert(record.id().to_string(), record);
            }
            Op::PutFramework(record) => {
                self.frameworks.insert(record.id().to_string(), record);
            }
            Op::PutTask(record) => {
                self.tasks.insert(record.key(), *record);
            }
            Op::ForgetAgent(id) => {
                self.agents.remove(&id);
            }
            Op::ForgetFramework(id) => {
                self.frameworks.remove(&id);
            }
            Op::RemoveTask {
                framework_id,
                task_id,
            } => {
                self.tasks.remove(&task_key(&framework_id, &task_id));
            }
            Op::PutMaintenance(record) => self.maintenance = Some(record),
        }
    }

    /// Adds one record read back from a store. The key comes from the record itself.
    pub fn insert_encoded(&mut self, table: Table, value: &[u8]) -> Result<(), prost::DecodeError> {
        match table {
            Table::Agents => {
                let record = AgentRecord::decode(value)?;
                self.agents.insert(record.id().to_string(), record);
            }
            Table::Frameworks => {
                let record = FrameworkRecord::decode(value)?;
                self.frameworks.insert(record.id().to_string(), record);
            }
            Table::Tasks => {
                let record = TaskRecord::decode(value)?;
                self.tasks.insert(record.key(), record);
            }
            Table::Maintenance => self.maintenance = Some(MaintenanceRecord::decode(value)?),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
