//! The ZooKeeper backend: `<root>/<table>/<key>`, one persistent znode per record holding
//! its JSON (keys encoded into one znode name each, as the master's registry does). A batch
//! is one multi-op transaction that first checks the leader's election znode, so it is all
//! or nothing and a process that lost its leadership writes nothing. ZooKeeper refuses any
//! request over `jute.maxbuffer` (1 MiB by default): a batch larger than [`MAX_TRANSACTION`]
//! is refused here, whole, with an error that says so.
//!
//! Everything is loaded once when the leader opens the store and kept in memory; only the
//! leader writes, so reads never go to ZooKeeper again.
//!
//! The store's API is synchronous (its callers hold their state's lock), so its ZooKeeper
//! client lives on a runtime of its own ([`ZkSession`]): a blocked caller never holds up the
//! session that would answer it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use wasmesos_detector::zk;
use wasmesos_detector::znode::{MAX_RECORD, decode_key, encode_key, read_all};

use super::Op;
use crate::Error;

/// The most a batch may write in one transaction: what a znode holds, for the request as a
/// whole (records, paths and the fence check).
pub const MAX_TRANSACTION: usize = MAX_RECORD;
/// What a path and an operation's framing add to a record in the request.
const OP_OVERHEAD: usize = 32;

/// A ZooKeeper session whose client runs on a thread of its own, shared by the election and
/// the store of one process. Dropping the last clone stops the thread.
#[derive(Clone, Debug)]
pub struct ZkSession {
    client: zk::Client,
    servers: String,
    runtime: tokio::runtime::Handle,
    _stop: std::sync::Arc<StopOnDrop>,
}

#[derive(Debug)]
struct StopOnDrop(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
    }
}

impl ZkSession {
    /// Connects to `servers` (`host:port,…`) asking for `session_timeout`.
    pub async fn connect(servers: &str, session_timeout: Duration) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| Error::Store {
                store: format!("zk://{servers}"),
                reason: format!("cannot start ZooKeeper's runtime: {err}"),
            })?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("zookeeper".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(|err| Error::Store {
                store: format!("zk://{servers}"),
                reason: format!("cannot start ZooKeeper's thread: {err}"),
            })?;
        let stop = std::sync::Arc::new(StopOnDrop(Some(stop)));
        let owned = servers.to_owned();
        let connected = handle
            .spawn(async move { wasmesos_detector::connect(&owned, session_timeout).await })
            .await
            .map_err(|err| Error::Store {
                store: format!("zk://{servers}"),
                reason: err.to_string(),
            })??;
        Ok(ZkSession {
            client: connected,
            servers: servers.to_owned(),
            runtime: handle,
            _stop: stop,
        })
    }

    /// The client (its session task runs on this session's own thread).
    pub fn client(&self) -> &zk::Client {
        &self.client
    }

    /// Runs `work` on the session's thread and blocks the caller until it ends, or until a
    /// session timeout has passed.
    fn block_on<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, zk::Error>> + Send + 'static,
    ) -> Result<T, String> {
        let limit = self.client.session_timeout();
        let task = self
            .runtime
            .spawn(async move { tokio::time::timeout(limit, work).await });
        match futures::executor::block_on(task) {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(err))) => Err(err.to_string()),
            Ok(Err(_elapsed)) => Err(format!("ZooKeeper did not answer within {limit:?}")),
            Err(err) => Err(format!("ZooKeeper's thread stopped: {err}")),
        }
    }
}

/// Records by table and key, as stored.
type Tables = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

#[derive(Debug)]
pub(super) struct ZkStore {
    session: ZkSession,
    root: String,
    fence: String,
    tables: Mutex<Tables>,
}

impl ZkStore {
    /// Creates `root` if needed and reads every record under it.
    pub(super) async fn load(session: &ZkSession, root: &str, fence: &str) -> Result<Self, Error> {
        let store = ZkStore {
            session: session.clone(),
            root: root.to_owned(),
            fence: fence.to_owned(),
            tables: Mutex::new(Tables::new()),
        };
        let client = session.client();
        let failed = |what: &str, err: zk::Error| store.failed(format!("{what}: {err}"));
        client
            .mkdir(root, &persistent())
            .await
            .map_err(|err| failed("creating it", err))?;
        let mut tables = Tables::new();
        let names = client
            .list_children(root)
            .await
            .map_err(|err| failed("listing it", err))?;
        for table in names {
            let dir = format!("{root}/{table}");
            let children = client
                .list_children(&dir)
                .await
                .map_err(|err| failed(&format!("listing {dir}"), err))?;
            let paths: Vec<String> = children
                .iter()
                .map(|name| format!("{dir}/{name}"))
                .collect();
            let data = read_all(client, &paths)
                .await
                .map_err(|err| failed(&format!("reading {dir}"), err))?;
            let mut rows = BTreeMap::new();
            for (name, bytes) in children.iter().zip(data) {
                let Some(key) = decode_key(name) else {
                    tracing::warn!(znode = %format!("{dir}/{name}"), "not a record's name; skipped");
                    continue;
                };
                rows.insert(key, bytes);
            }
            match decode_key(&table) {
                Some(name) => {
                    tables.insert(name, rows);
                }
                None => tracing::warn!(znode = %dir, "not a table's name; skipped"),
            }
        }
        let count: usize = tables.values().map(BTreeMap::len).sum();
        tracing::info!(store = %store.location(), records = count, "state loaded from ZooKeeper");
        *store.lock() = tables;
        Ok(store)
    }

    pub(super) fn location(&self) -> String {
        format!("zk://{}{}", self.session.servers, self.root)
    }

    pub(super) fn rows(&self, table: &str) -> Vec<(String, Vec<u8>)> {
        self.lock().get(table).map_or_else(Vec::new, |rows| {
            rows.iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        })
    }

    /// Applies `ops` in one transaction, then to the copy in memory.
    pub(super) fn write(&self, ops: &[Op]) -> Result<(), Error> {
        let mut tables = self.lock();
        let steps = self.steps(&tables, ops)?;
        if steps.is_empty() {
            return Ok(());
        }
        let client = self.session.client.clone();
        let fence = self.fence.clone();
        let committed = self.session.block_on(async move {
            let mut writer = client.new_multi_writer();
            // An election znode is never rewritten (version 0); gone means no longer leading.
            writer.add_check_version(&fence, 0)?;
            for step in &steps {
                match step {
                    Step::Create(path, value) => writer.add_create(path, value, &persistent())?,
                    Step::Set(path, value) => writer.add_set_data(path, value, None)?,
                    Step::Delete(path) => writer.add_delete(path, None)?,
                }
            }
            writer.commit().await.map(|_| ()).map_err(zk::Error::from)
        });
        committed.map_err(|reason| {
            self.failed(format!(
                "transaction failed (does this process still lead?): {reason}"
            ))
        })?;
        for op in ops {
            let rows = tables.entry(op.table.to_owned()).or_default();
            match &op.value {
                Some(value) => rows.insert(op.key.clone(), value.clone()),
                None => rows.remove(&op.key),
            };
        }
        Ok(())
    }

    /// The transaction's operations for `ops` over `tables`: a table's znode created before
    /// its first record, a record created or set by whether it exists at that point of the
    /// batch, a delete only of what exists. Refuses a record or a batch ZooKeeper would.
    fn steps(&self, tables: &Tables, ops: &[Op]) -> Result<Vec<Step>, Error> {
        // What the batch has done so far: a table made, a record put (true) or deleted.
        let mut made: BTreeSet<&str> = BTreeSet::new();
        let mut done: BTreeMap<(&str, &str), bool> = BTreeMap::new();
        let mut steps = Vec::with_capacity(ops.len());
        for op in ops {
            if !tables.contains_key(op.table) && made.insert(op.table) {
                steps.push(Step::Create(self.dir(op.table), Vec::new()));
            }
            let exists = done
                .get(&(op.table, op.key.as_str()))
                .copied()
                .unwrap_or_else(|| {
                    tables
                        .get(op.table)
                        .is_some_and(|rows| rows.contains_key(&op.key))
                });
            let path = format!("{}/{}", self.dir(op.table), encode_key(&op.key));
            match &op.value {
                Some(value) if value.len() > MAX_RECORD => {
                    return Err(self.failed(format!(
                        "the {} record {:?} is {} bytes, more than the {MAX_RECORD} a ZooKeeper \
                         znode holds",
                        op.table,
                        op.key,
                        value.len()
                    )));
                }
                Some(value) if exists => steps.push(Step::Set(path, value.clone())),
                Some(value) => steps.push(Step::Create(path, value.clone())),
                None if exists => steps.push(Step::Delete(path)),
                None => {}
            }
            done.insert((op.table, op.key.as_str()), op.value.is_some());
        }
        let size = steps.iter().map(Step::size).sum::<usize>();
        if size > MAX_TRANSACTION {
            return Err(self.failed(format!(
                "a batch of {} writes comes to {size} bytes, more than the {MAX_TRANSACTION} one \
                 ZooKeeper transaction holds; nothing was written",
                steps.len()
            )));
        }
        Ok(steps)
    }

    fn dir(&self, table: &str) -> String {
        format!("{}/{}", self.root, encode_key(table))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn failed(&self, reason: String) -> Error {
        Error::Store {
            store: self.location(),
            reason,
        }
    }
}

/// One operation of a transaction.
enum Step {
    Create(String, Vec<u8>),
    Set(String, Vec<u8>),
    Delete(String),
}

impl Step {
    /// Its share of the request, roughly.
    fn size(&self) -> usize {
        let (path, value) = match self {
            Step::Create(path, value) | Step::Set(path, value) => (path, value.len()),
            Step::Delete(path) => (path, 0),
        };
        path.len().saturating_add(value).saturating_add(OP_OVERHEAD)
    }
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}
