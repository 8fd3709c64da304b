//! [`Agent`]: the shared core every part of a running agent holds an `Arc` of.

use std::sync::Arc;

use tokio::sync::{Semaphore, watch};
use tonic::transport::Channel;
use wasmesos_proto::{AgentInfo, Resources};
use wasmesos_wasm_executor::Executor;

use crate::AgentConfig;
use crate::artifacts::ArtifactCache;
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
    pub(crate) resources: Resources,
    /// Set by each registration; `None` before the first and after the master removed us.
    pub(crate) agent_id: watch::Sender<Option<String>>,
    pub(crate) registry: Registry,
    pub(crate) status: StatusSender,
    pub(crate) relay: MessageRelay,
    pub(crate) artifacts: ArtifactCache,
    pub(crate) executor: Executor,
    /// One HTTP/2 connection to the master, shared by every client; it reconnects by itself.
    pub(crate) channel: Channel,
    pub(crate) sandboxes: Sandboxes,
    /// One permit per instance slot of the executor's pool.
    pub(crate) slots: Arc<Semaphore>,
}

impl Agent {
    /// The id the master gave this agent, or an empty string before registration.
    pub(crate) fn current_id(&self) -> String {
        self.agent_id.borrow().clone().unwrap_or_default()
    }

    pub(crate) fn info(&self) -> AgentInfo {
        AgentInfo {
            id: self.current_id(),
            hostname: self.hostname.clone(),
            address: self.address.clone(),
            resources: Some(self.resources.clone()),
            attributes: Default::default(),
        }
    }

    /// Records `update` as the task's latest status and queues it for the master. Does
    /// nothing when the task is no longer on the books (the master removed this agent).
    pub(crate) fn emit(&self, key: &TaskKey, update: Update) {
        let status = update.stamp(key, self.current_id(), true);
        self.registry
            .record(key, vec![status], |statuses| self.status.send(statuses));
    }

    /// Like [`emit`](Self::emit) for `first` then `second`, queued together so that they
    /// leave in one batch.
    pub(crate) fn emit_both(&self, key: &TaskKey, first: Update, second: Update) {
        let agent_id = self.current_id();
        let statuses = vec![
            first.stamp(key, agent_id.clone(), true),
            second.stamp(key, agent_id, true),
        ];
        self.registry
            .record(key, statuses, |statuses| self.status.send(statuses));
    }

    /// Answers for a task the agent has no active record of; such an update needs no ack.
    pub(crate) fn answer_once(&self, key: &TaskKey, update: Update) {
        self.status
            .send(vec![update.stamp(key, self.current_id(), false)]);
    }
}
