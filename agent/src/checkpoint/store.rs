//! [`Store`]: the checkpoint's journal, its tables, what it holds after a restart
//! ([`Recovered`]), and one journal record per batch of [`Change`]s.
//!
//! Records are the protobuf encodings of the wire types, so the file needs no schema of its
//! own beyond the table numbers, the key layout and a format number.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use prost::Message;
use tracing::{info, warn};
use wasmesos_journal::{Entry, Journal, Options};
use wasmesos_proto::{FrameworkInfo, TaskInfo, TaskStatus};

use crate::Error;
use crate::registry::TaskKey;

/// `agent_id`.
const META: u8 = 0;
/// Framework id → `FrameworkInfo`.
const FRAMEWORKS: u8 = 1;
/// [`task_key`] → `TaskInfo` (without its input `data`).
const TASKS: u8 = 2;
/// [`task_key`] → the task's latest `TaskStatus`.
const LATEST: u8 = 3;
/// Sequence number (big-endian) → an unacknowledged `TaskStatus`; the order they were sent in.
const UPDATES: u8 = 4;

const AGENT_ID_KEY: &[u8] = b"agent_id";
/// The journal's kind, checked on open.
const KIND: &str = "agent-checkpoint";
/// Bumped whenever the layout above changes meaning.
const FORMAT: u32 = 2;
/// What the checkpoint was before the journal; an agent refuses to start over one rather
/// than forget what it holds.
const OLD_FILE: &str = "checkpoint.redb";

/// One change to the checkpoint; a batch of them is one journal record.
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

/// The open checkpoint. Blocking: used from the checkpoint's own thread.
pub(crate) struct Store {
    journal: Journal,
    pending: HashMap<Vec<u8>, Pending>,
    next_seq: u64,
    /// Frameworks as last written, so a launch with an unchanged one writes nothing.
    frameworks: HashMap<String, Vec<u8>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path()).finish()
    }
}

impl Store {
    /// Opens (or creates) the checkpoint at `path` and reads what it holds. A file that is
    /// not a checkpoint, is damaged beyond a torn last write, holds undecodable records or
    /// is open in another agent is an [`Error::Checkpoint`]: the agent refuses to start
    /// rather than forget its tasks. So is a checkpoint of an older wasmesos beside it.
    pub(crate) fn open(path: &Path) -> Result<(Store, Recovered), Error> {
        let corrupt = |path: &Path, reason: String| Error::Checkpoint {
            path: path.to_path_buf(),
            reason,
        };
        let old = path.with_file_name(OLD_FILE);
        if !path.exists() && old.exists() {
            return Err(corrupt(
                &old,
                "it is the checkpoint of an older wasmesos (a redb file), which this agent \
                 cannot read"
                    .into(),
            ));
        }
        let journal = Journal::open(path, Options::new(KIND, FORMAT)).map_err(|err| match err {
            wasmesos_journal::Error::Corrupt { reason, .. } => corrupt(path, reason),
            other => corrupt(path, other.to_string()),
        })?;
        if let Some((at, bytes)) = journal.recovery().torn {
            // Only a write that was never synced can be torn: none of its updates was sent.
            warn!(
                path = %path.display(), at, bytes,
                "the checkpoint's last write was cut short by a crash; dropped it"
            );
        }
        let mut store = Store {
            journal,
            pending: HashMap::new(),
            next_seq: 0,
            frameworks: HashMap::new(),
        };
        store
            .forget_unneeded_frameworks()
            .map_err(|err| corrupt(path, format!("cannot prepare it: {err}")))?;
        let recovered = store.read().map_err(|reason| corrupt(path, reason))?;
        Ok((store, recovered))
    }

    pub(crate) fn path(&self) -> &Path {
        self.journal.path()
    }

    /// Drops frameworks that no task needs any more.
    fn forget_unneeded_frameworks(&mut self) -> Result<(), wasmesos_journal::Error> {
        let needed: HashSet<&str> = self
            .journal
            .entries()
            .filter(|(table, _, _)| *table == TASKS)
            .filter_map(|(_, key, _)| split_task_key(key).map(|(framework, _)| framework))
            .collect();
        let unneeded: Vec<Entry> = self
            .journal
            .entries()
            .filter(|(table, id, _)| {
                *table == FRAMEWORKS && !std::str::from_utf8(id).is_ok_and(|id| needed.contains(id))
            })
            .map(|(_, id, _)| Entry::delete(FRAMEWORKS, id))
            .collect();
        if unneeded.is_empty() {
            return Ok(());
        }
        self.journal.write(unneeded, true)
    }

    /// Reads everything back, indexing the unacknowledged updates for their acks.
    fn read(&mut self) -> Result<Recovered, String> {
        let mut recovered = Recovered::default();
        let mut tasks = Vec::new();
        let mut latest = HashMap::new();
        let mut updates = Vec::new();
        for (table, key, value) in self.journal.entries() {
            match table {
                META if key == AGENT_ID_KEY => {
                    let id = String::from_utf8(value.to_vec())
                        .map_err(|_| "its agent id is not UTF-8".to_string())?;
                    recovered.agent_id = Some(id);
                }
                FRAMEWORKS => {
                    let info: FrameworkInfo = decode("framework", value)?;
                    self.frameworks.insert(info.id.clone(), value.to_vec());
                    recovered.frameworks.push(info);
                }
                TASKS => {
                    let (framework_id, task_id) =
                        split_task_key(key).ok_or("a task record has a malformed key")?;
                    let key = TaskKey {
                        framework_id: framework_id.to_string(),
                        task_id: task_id.to_string(),
                    };
                    tasks.push((key, decode::<TaskInfo>("task", value)?));
                }
                LATEST => {
                    latest.insert(key.to_vec(), decode::<TaskStatus>("status", value)?);
                }
                UPDATES => {
                    let seq: [u8; 8] = key
                        .try_into()
                        .map_err(|_| "an update record has a malformed key".to_string())?;
                    let status: TaskStatus = decode("status update", value)?;
                    updates.push((u64::from_be_bytes(seq), status));
                }
                other => return Err(format!("it holds a record in unknown table {other}")),
            }
        }
        recovered.frameworks.sort_by(|a, b| a.id.cmp(&b.id));
        tasks.sort_by(|a, b| {
            (&a.0.framework_id, &a.0.task_id).cmp(&(&b.0.framework_id, &b.0.task_id))
        });
        for (key, info) in tasks {
            let latest = latest.remove(&task_key(&key.framework_id, &key.task_id));
            recovered.tasks.push(RecoveredTask { key, info, latest });
        }
        updates.sort_by_key(|(seq, _)| *seq);
        for (seq, status) in updates {
            self.index(seq, &status);
            self.next_seq = seq.saturating_add(1);
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

    /// Applies `changes` in order as one journal record. It is synced to disk when it holds
    /// status updates (they must be on disk before they are sent) or the agent's identity;
    /// task records, frameworks and acknowledgements ride along with the next synced one.
    /// A crash of the agent loses none of them (they are in the OS's cache); a crash of the
    /// machine can lose only an acknowledgement (the update is resent, which at-least-once
    /// delivery allows) or a task record none of whose updates was sent yet (the master then
    /// reports the task lost when the agent re-registers).
    pub(crate) fn apply(&mut self, changes: &[Change]) -> Result<(), wasmesos_journal::Error> {
        self.write(changes)?;
        match self.journal.compact_if_needed() {
            Ok(None) => {}
            Ok(Some((before, after))) => {
                info!(path = %self.path().display(), before, after, "compacted the checkpoint");
            }
            Err(err) => warn!(err = %err, "cannot compact the checkpoint; it goes on growing"),
        }
        Ok(())
    }

    /// Like [`apply`](Self::apply), without compacting afterwards, however large the
    /// journal grew: for a commit that must stay short.
    pub(crate) fn write(&mut self, changes: &[Change]) -> Result<(), wasmesos_journal::Error> {
        let mut entries = Vec::with_capacity(changes.len().saturating_mul(2));
        for change in changes {
            self.entries_of(change, &mut entries);
        }
        let sync = changes.iter().any(Change::needs_sync);
        self.journal.write(entries, sync)
    }

    /// How long the last synced write took (see [`wasmesos_journal::QUIET_SYNC`]).
    pub(crate) fn last_synced_write(&self) -> Option<std::time::Duration> {
        self.journal.last_synced_write()
    }

    /// Whether the journal has grown enough that [`apply`](Self::apply) would compact it.
    pub(crate) fn needs_compaction(&self) -> bool {
        self.journal.needs_compaction()
    }

    /// Makes every earlier record durable.
    pub(crate) fn sync(&mut self) -> Result<(), wasmesos_journal::Error> {
        self.journal.sync()
    }

    fn entries_of(&mut self, change: &Change, entries: &mut Vec<Entry>) {
        match change {
            Change::AgentId(Some(id)) => {
                entries.push(Entry::put(META, AGENT_ID_KEY, id.as_bytes().to_vec()));
            }
            Change::AgentId(None) => entries.push(Entry::delete(META, AGENT_ID_KEY)),
            Change::Framework(info) => {
                let bytes = info.encode_to_vec();
                if self.frameworks.get(&info.id) != Some(&bytes) {
                    entries.push(Entry::put(FRAMEWORKS, info.id.as_bytes(), bytes.clone()));
                    self.frameworks.insert(info.id.clone(), bytes);
                }
            }
            Change::Task { key, info } => {
                let key = task_key(&key.framework_id, &key.task_id);
                entries.push(Entry::put(TASKS, key, info.clone()));
            }
            Change::Updates(statuses) => {
                for status in statuses {
                    let bytes = status.encode_to_vec();
                    let key = task_key(&status.framework_id, &status.task_id);
                    if !status.uuid.is_empty() {
                        let seq = self.next_seq;
                        self.next_seq = seq.saturating_add(1);
                        entries.push(Entry::put(UPDATES, seq.to_be_bytes(), bytes.clone()));
                        self.index(seq, status);
                    }
                    entries.push(Entry::put(LATEST, key, bytes));
                }
            }
            Change::Acked { uuid } => {
                // A duplicate or unknown ack changes nothing.
                if let Some(pending) = self.pending.remove(uuid) {
                    entries.push(Entry::delete(UPDATES, pending.seq.to_be_bytes()));
                    if pending.terminal {
                        // The ack of a terminal update completes its task.
                        let key = task_key(&pending.key.framework_id, &pending.key.task_id);
                        entries.push(Entry::delete(TASKS, key.clone()));
                        entries.push(Entry::delete(LATEST, key));
                    }
                }
            }
            Change::Clear => {
                // Deletes of what the journal holds, and of what this batch put before.
                let mut keys: Vec<(u8, Vec<u8>)> = self
                    .journal
                    .entries()
                    .map(|(table, key, _)| (table, key.to_vec()))
                    .collect();
                keys.extend(entries.iter().map(|entry| (entry.table, entry.key.clone())));
                entries.extend(
                    keys.into_iter()
                        .map(|(table, key)| Entry::delete(table, key)),
                );
                self.pending.clear();
                self.frameworks.clear();
            }
        }
    }
}

/// The key of a task's records: the framework id's length (u32, little-endian), the
/// framework id, the task id.
fn task_key(framework_id: &str, task_id: &str) -> Vec<u8> {
    let len = u32::try_from(framework_id.len()).unwrap_or(u32::MAX);
    let mut key = Vec::with_capacity(
        4usize
            .saturating_add(framework_id.len())
            .saturating_add(task_id.len()),
    );
    key.extend_from_slice(&len.to_le_bytes());
    key.extend_from_slice(framework_id.as_bytes());
    key.extend_from_slice(task_id.as_bytes());
    key
}

fn split_task_key(key: &[u8]) -> Option<(&str, &str)> {
    let len = u32::from_le_bytes(key.get(..4)?.try_into().ok()?) as usize;
    let end = 4usize.checked_add(len)?;
    let framework = std::str::from_utf8(key.get(4..end)?).ok()?;
    let task = std::str::from_utf8(key.get(end..)?).ok()?;
    Some((framework, task))
}

fn decode<M: Message + Default>(what: &str, bytes: &[u8]) -> Result<M, String> {
    M::decode(bytes).map_err(|err| format!("a {what} record does not decode: {err}"))
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
