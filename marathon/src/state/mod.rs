//! Marathon's bookkeeping: apps and their versions, tasks, deployments and launch delays,
//! kept durable in [`Durable`] and changed only through named operations. No sockets and
//! no clock: the time is an argument, and what must reach the master comes out as
//! [`Effect`]s and launches for the framework to send.

mod apps;
mod backoff;
mod deployment;
mod offers;
mod plan;
mod status;
mod task;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use apps::{Change, Killed};
pub use backoff::Delay;
pub use deployment::{Action, Deployment};
pub use task::{HealthRecord, KillReason, Task, mesos_name};
pub use wasmesos_sdk_scheduler::Launch;

use crate::Error;
use crate::durable::{Batch, Durable};
use crate::events::EventBus;
use crate::model::{App, PathId, Violation};
use crate::time::Timestamp;

const APPS: &str = "apps";
const VERSIONS: &str = "app_versions";
const TASKS: &str = "tasks";
const DEPLOYMENTS: &str = "deployments";

/// How long a task may go without any word from the master (after its launch, or after
/// Marathon restarted) before it is counted lost and replaced.
pub const UNCONFIRMED_TIMEOUT: Duration = Duration::from_secs(60);
/// How often an unanswered kill is sent again.
pub const KILL_RETRY: Duration = Duration::from_secs(5);

/// Why an operation was refused, in Marathon's terms (the API picks the status).
#[derive(Debug)]
pub enum Refusal {
    /// 404 with this message.
    NotFound(String),
    /// 409: the app is locked by these deployments.
    Locked(Vec<String>),
    /// 409 with this message.
    Conflict(String),
    /// 422 with these details.
    Invalid(Vec<Violation>),
    /// The state could not be written.
    Store(Error),
}

impl From<Error> for Refusal {
    fn from(err: Error) -> Self {
        Refusal::Store(err)
    }
}

impl From<wasmesos_sdk_scheduler::Error> for Refusal {
    fn from(err: wasmesos_sdk_scheduler::Error) -> Self {
        Refusal::Store(err.into())
    }
}

/// What the framework must tell the master.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Kill {
        task_id: String,
        grace: Option<Duration>,
    },
    /// Tasks wait for offers: clear filters so offers come.
    Revive,
}

/// An app's stored record: its current definition and its last task failure.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRecord {
    pub app: App,
    pub last_task_failure: Option<serde_json::Value>,
}

/// All of Marathon's state.
#[derive(Debug)]
pub struct State {
    store: Durable,
    events: EventBus,
    apps: BTreeMap<PathId, AppRecord>,
    tasks: BTreeMap<String, Task>,
    deployments: BTreeMap<String, Deployment>,
    delays: HashMap<PathId, Delay>,
    /// Tasks each app waits to launch, as of the last [`State::step`].
    queue: BTreeMap<PathId, u32>,
    /// When the queue last went from empty to waiting (for `/v2/queue`'s `since`).
    queued_since: HashMap<PathId, Timestamp>,
    /// When this process (re)subscribed: unconfirmed tasks are judged from then.
    subscribed_at: Option<Timestamp>,
    /// Agent attributes for constraints, by agent id.
    attributes: HashMap<String, BTreeMap<String, String>>,
    /// Tasks forgotten as unconfirmed, whose kill is still to be sent.
    unconfirmed_kills: Vec<String>,
    /// The apps that could launch at the last step: a new one there means a revive.
    launchable_before: BTreeSet<PathId>,
}

impl State {
    /// Loads everything `store` holds.
    pub fn load(store: Durable, events: EventBus) -> Result<State, Error> {
        let apps = store
            .load::<AppRecord>(APPS)?
            .into_iter()
            .map(|(_, record)| (record.app.id.clone(), record))
            .collect();
        let tasks = store.load::<Task>(TASKS)?.into_iter().collect();
        let deployments = store.load::<Deployment>(DEPLOYMENTS)?.into_iter().collect();
        Ok(State {
            store,
            events,
            apps,
            tasks,
            deployments,
            delays: HashMap::new(),
            queue: BTreeMap::new(),
            queued_since: HashMap::new(),
            subscribed_at: None,
            attributes: HashMap::new(),
            unconfirmed_kills: Vec::new(),
            launchable_before: BTreeSet::new(),
        })
    }

    pub fn store(&self) -> &Durable {
        &self.store
    }

    pub fn events(&self) -> &EventBus {
        &self.events
    }

    pub fn apps(&self) -> impl Iterator<Item = &AppRecord> {
        self.apps.values()
    }

    pub fn app(&self, id: &PathId) -> Option<&AppRecord> {
        self.apps.get(id)
    }

    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values()
    }

    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.get(id)
    }

    /// The app's tasks, oldest first.
    pub fn tasks_of<'a>(&'a self, app: &'a PathId) -> impl Iterator<Item = &'a Task> + 'a {
        let mut tasks: Vec<&Task> = self.tasks.values().filter(|t| &t.app_id == app).collect();
        tasks.sort_by_key(|t| (t.staged_at, t.id.clone()));
        tasks.into_iter()
    }

    pub fn deployments(&self) -> impl Iterator<Item = &Deployment> {
        self.deployments.values()
    }

    /// The deployments changing `app`.
    pub fn deployments_of(&self, app: &PathId) -> Vec<&Deployment> {
        self.deployments
            .values()
            .filter(|d| &d.app_id == app)
            .collect()
    }

    /// Apps waiting to launch tasks: how many, and their delay, if any.
    pub fn queue(&self) -> Vec<(&AppRecord, u32, Option<&Delay>, Timestamp)> {
        self.queue
            .iter()
            .filter_map(|(id, &count)| {
                let record = self.apps.get(id)?;
                let since = self.queued_since.get(id).copied().unwrap_or(Timestamp(0));
                Some((record, count, self.delays.get(id), since))
            })
            .collect()
    }

    /// The versions stored for `app`, newest first.
    pub fn versions(&self, app: &PathId) -> Result<Vec<App>, Error> {
        let prefix = version_key(app, "");
        let mut versions: Vec<App> = self
            .store
            .load::<App>(VERSIONS)?
            .into_iter()
            .filter(|(key, _)| key.starts_with(&prefix))
            .map(|(_, app)| app)
            .collect();
        versions.sort_by(|a, b| b.version.cmp(&a.version));
        Ok(versions)
    }

    /// The agent attributes constraints see, learned from the master's state.
    pub fn set_agent_attributes(&mut self, agent_id: String, attributes: BTreeMap<String, String>) {
        self.attributes.insert(agent_id, attributes);
    }

    pub fn knows_agent(&self, agent_id: &str) -> bool {
        self.attributes.contains_key(agent_id)
    }

    /// Marks a (re)subscription: tasks not heard of since are judged from `now`.
    pub fn subscribed(&mut self, now: Timestamp) {
        self.subscribed_at = Some(now);
    }

    /// The stored tasks with their agents, for an explicit reconciliation.
    pub fn task_agents(&self) -> Vec<(String, String)> {
        self.tasks
            .values()
            .map(|t| (t.id.clone(), t.agent_id.clone()))
            .collect()
    }

    /// Writes `batch`, logging a failure (used where no client waits for the answer).
    fn persist(&self, batch: Batch) {
        if let Err(err) = self.store.write(batch) {
            tracing::error!(%err, "cannot write Marathon's state");
        }
    }

    fn put_task(&self, batch: &mut Batch, task: &Task) {
        batch.put(TASKS, &task.id, task);
    }
}

fn version_key(app: &PathId, version: &str) -> String {
    format!("{app} {version}")
}
