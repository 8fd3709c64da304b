//! [`Agent`]: the shared core every part of a running agent holds an `Arc` of.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Semaphore, watch};
use wasmesos_detector::MasterService as Channel;
use wasmesos_proto::{AgentInfo, Resources};
use wasmesos_wasm_executor::Executor;

use crate::AgentConfig;
use crate::artifacts::ArtifactCache;
use crate::checkpoint::Checkpoint;
use crate::fetcher::Fetcher;
use crate::registry::{Registry, TaskKey};
use crate::relay::MessageRelay;
use crate::sandboxes::Sandboxes;
use crate::status::StatusSender;
use crate::updates::Update;

/// Everything a running agent shares between its master link, its task runners and its own
/// gRPC service.
pub(crate) struct Agent {
    pub(crate) config: AgentConfig,
    pub(crate) hostname: String,
    /// The URL this agent is reached at (`AgentInfo.address`).
    pub(crate) address: String,
    /// The address of `address`'s host, where tasks' ports are served and health-checked.
    pub(crate) task_ip: IpAddr,
    /// The operator's limits on tasks' network grants, and the addresses no task reaches.
    pub(crate) network: crate::network::OperatorNetwork,
    pub(crate) resources: Resources,
    /// Set by each registration; `None` before the first and after the master removed us.
    pub(crate) agent_id: watch::Sender<Option<String>>,
    /// The id an earlier run of this agent registered under, from the checkpoint: the first
    /// registration re-registers with it.
    pub(crate) recovered_id: Mutex<Option<String>>,
    /// Task records and unacknowledged updates on disk; every update with a uuid goes
    /// through it to `status`.
    pub(crate) checkpoint: Checkpoint,
    pub(crate) registry: Registry,
    pub(crate) status: StatusSender,
    pub(crate) relay: MessageRelay,
    pub(crate) artifacts: ArtifactCache,
    /// Downloads tasks' `uris` into their sandboxes.
    pub(crate) fetcher: Fetcher,
    pub(crate) executor: Executor,
    /// One HTTP/2 connection to the master, shared by every client; it reconnects by itself.
    pub(crate) channel: Channel,
    /// The credential and session stream id on every call to the master.
    pub(crate) headers: wasmesos_detector::CallHeaders,
    /// Who may call this agent's own API (`--http-credentials`); `None`: anyone.
    pub(crate) http_credentials: Option<Arc<wasmesos_detector::Credentials>>,
    pub(crate) sandboxes: Sandboxes,
    /// One permit per instance slot of the executor's pool.
    pub(crate) slots: Arc<Semaphore>,
    /// What the estimator and the QoS controller did (`oversubscription/`).
    pub(crate) oversubscription: crate::oversubscription::OversubscriptionStats,
}

impl Agent {
    /// The id the master gave this agent, or an empty string before registration.
    pub(crate) fn current_id(&self) -> String {
        self.agent_id.borrow().clone().unwrap_or_default()
    }

    /// The id to register with: the current one, else the one recovered from the checkpoint.
    pub(crate) fn registration_id(&self) -> String {
        let current = self.current_id();
        if !current.is_empty() {
            return current;
        }
        let recovered = self
            .recovered_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        recovered.clone().unwrap_or_default()
    }

    /// The master removed this agent: it registers anew, under whatever id it is given.
    pub(crate) fn forget_id(&self) {
        self.agent_id.send_replace(None);
        *self
            .recovered_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    pub(crate) fn info(&self) -> AgentInfo {
        AgentInfo {
            id: self.registration_id(),
            hostname: self.hostname.clone(),
            address: self.address.clone(),
            resources: Some(self.resources.clone()),
            attributes: Default::default(),
        }
    }

    /// Records `update` as the task's latest status and queues it for the master, through
    /// the checkpoint. Does nothing when the task is no longer on the books (the master
    /// removed this agent).
    pub(crate) fn emit(&self, key: &TaskKey, update: Update) {
        let status = update.stamp(key, self.current_id(), true);
        self.registry.record(key, vec![status], |statuses| {
            self.checkpoint.updates(statuses)
        });
    }

    /// Like [`emit`](Self::emit) for an update whose acknowledgement the task's runner waits
    /// for (`Registry::ack_signal`) before it sends the next of its kind.
    pub(crate) fn emit_watched(&self, key: &TaskKey, update: Update) {
        let status = update.stamp(key, self.current_id(), true);
        self.registry
            .record_watched(key, status, |statuses| self.checkpoint.updates(statuses));
    }

    /// Like [`emit`](Self::emit) for `updates`, queued together so that they leave in one
    /// batch, from a task's runner that yields or ends right after: they may be committed
    /// in place (see `checkpoint`), and the status sender they wake runs on this worker only
    /// once the runner's poll ends.
    pub(crate) fn report(&self, key: &TaskKey, updates: Vec<Update>) {
        let agent_id = self.current_id();
        let statuses = updates
            .into_iter()
            .map(|update| update.stamp(key, agent_id.clone(), true))
            .collect();
        self.registry.record(key, statuses, |statuses| {
            self.checkpoint.updates_in_place(statuses)
        });
    }

    /// Answers for a task the agent has no active record of; such an update needs no ack.
    pub(crate) fn answer_once(&self, key: &TaskKey, update: Update) {
        self.status
            .send(vec![update.stamp(key, self.current_id(), false)]);
    }
}
