//! Tasks after launch: status updates from agents and their relay, kill, acknowledgements,
//! reconciliation, and messages in both directions.

use wasmesos_allocator::{AgentId, FrameworkId, Resources};
use wasmesos_proto::v1::{
    AcknowledgeRequest, ExecutorMessageRequest, FrameworkMessageRequest, KillPolicy, KillRequest,
    Reason, ReconcileRequest, StatusSource, StatusUpdates, TaskInfo, TaskState, TaskStatus,
    agent_command, event,
};

use super::convert::{MasterStatus, state_of};
use super::{Core, Time};
use crate::Error;
use crate::error::invalid;

/// The master's record of one task.
pub(super) struct Task {
    /// As launched, with `agent_id` filled in.
    pub(super) info: TaskInfo,
    pub(super) agent_id: AgentId,
    /// The role whose offer paid for it.
    pub(super) role: String,
    pub(super) resources: Resources,
    /// The latest status seen (STAGING until the agent reports).
    pub(super) status: TaskStatus,
    pub(super) started_at: f64,
    /// Whether the allocator no longer counts its resources as used.
    pub(super) freed: bool,
    /// Suspended in place by a preemption (`preemption.rs`).
    pub(super) suspended: bool,
}

impl Task {
    pub(super) fn state(&self) -> TaskState {
        state_of(&self.status).unwrap_or(TaskState::TaskStaging)
    }

    pub(super) fn is_terminal(&self) -> bool {
        self.state().is_terminal()
    }

    /// Records a status the master decided on itself (no uuid, nothing to acknowledge).
    pub(super) fn set_master_status(
        &mut self,
        state: TaskState,
        reason: Reason,
        message: String,
        timestamp: f64,
    ) -> TaskStatus {
        let status = MasterStatus {
            framework_id: &self.status.framework_id,
            agent_id: self.agent_id.as_str(),
            task_id: &self.info.task_id,
            timestamp,
        }
        .build(state, reason, message);
        self.status = status.clone();
        status
    }

    /// Records an agent's status; returns true when this is the first terminal one, so the
    /// caller frees the resources exactly once. A terminal task keeps its terminal status,
    /// and a live one never moves back (STARTING after RUNNING): an agent resends what the
    /// framework has not acknowledged, so late duplicates are relayed but do not rewrite
    /// history.
    fn record(&mut self, status: &TaskStatus) -> bool {
        if self.is_terminal() {
            return false;
        }
        let earlier = state_of(status)
            .and_then(live_progress)
            .zip(live_progress(self.state()))
            .is_some_and(|(new, now)| new < now);
        if earlier {
            return false;
        }
        self.status = status.clone();
        let first_terminal = self.is_terminal() && !self.freed;
        self.freed |= first_terminal;
        first_terminal
    }

    /// The latest status with no uuid: an answer that needs no acknowledgement.
    fn latest_unacked(&self) -> TaskStatus {
        TaskStatus {
            uuid: Vec::new(),
            ..self.status.clone()
        }
    }
}

/// How far a live task has come: STAGING, STARTING, RUNNING, KILLING. `None` for the other
/// states, which every update may lead to.
fn live_progress(state: TaskState) -> Option<u8> {
    match state {
        TaskState::TaskStaging => Some(0),
        TaskState::TaskStarting => Some(1),
        TaskState::TaskRunning => Some(2),
        TaskState::TaskKilling => Some(3),
        _ => None,
    }
}

impl Core {
    /// An agent's batch of status updates: each is recorded and relayed to its framework.
    pub fn status_updates(&mut self, req: StatusUpdates, now: Time) -> Result<(), Error> {
        let agent_id = self.registered(&req.agent_id, now)?;
        for (i, status) in req.statuses.iter().enumerate() {
            if status.task_id.is_empty() {
                return Err(invalid(&format!("statuses[{i}].task_id"), "is required"));
            }
            if state_of(status).is_none() {
                return Err(invalid(
                    &format!("statuses[{i}].state"),
                    format!("{} is not a task state", status.state),
                ));
            }
        }
        self.metrics.status_updates.add(req.statuses.len() as u64);
        for status in req.statuses {
            self.apply_status(&agent_id, status, now);
        }
        Ok(())
    }

    fn apply_status(&mut self, agent_id: &AgentId, mut status: TaskStatus, now: Time) {
        status.agent_id = agent_id.to_string();
        if status.source == StatusSource::SourceUnspecified as i32 {
            status.source = StatusSource::SourceAgent as i32;
        }
        if status.timestamp == 0.0 {
            status.timestamp = self.unix(now);
        }
        if status.framework_id.is_empty() {
            status.framework_id = self.framework_of(agent_id, &status.task_id);
        }
        let framework_id = FrameworkId::from(status.framework_id.as_str());
        let _span = tracing::debug_span!("task", task_id = %status.task_id,
            framework_id = %framework_id, agent_id = %agent_id)
        .entered();
        self.explain_preemption(&framework_id, &mut status);
        let runs_here = self.frameworks.get(&framework_id).map(|framework| {
            framework
                .tasks
                .get(&status.task_id)
                .map(|task| task.agent_id == *agent_id)
        });
        if let Some(elsewhere @ (None | Some(false))) = runs_here {
            // Not a task of this agent's: a forged update, or a stale retry for an earlier
            // task of the same id. Never relayed (a framework would take it for its task's
            // state); acknowledged for the framework so that an honest agent stops resending.
            let why = if elsewhere.is_some() {
                "status from an agent the task does not run on: dropped"
            } else {
                "status for a task the master does not know: dropped"
            };
            tracing::warn!(state = status.state, "{why}");
            self.metrics.invalid_status_updates.inc();
            self.acknowledge_for_framework(agent_id, &framework_id, &mut status);
            return;
        }
        let Some(framework) = self.frameworks.get_mut(&framework_id) else {
            // A removed framework will never acknowledge: acknowledge for it so the agent
            // stops resending. An unknown one may still subscribe (after a master restart).
            if self.removed_frameworks.contains_key(&framework_id) {
                self.acknowledge_for_framework(agent_id, &framework_id, &mut status);
            }
            return;
        };
        // Checked above: the task is known and runs on this agent.
        let Some(task) = framework.tasks.get_mut(&status.task_id) else {
            return;
        };
        if !status.uuid.is_empty() && status.uuid == task.status.uuid {
            self.metrics.status_update_retries.inc();
        }
        let freed = task
            .record(&status)
            .then(|| (task.role.clone(), task.resources.clone()));
        if framework.connected {
            self.outbox.update(framework_id.as_str(), status.clone());
        }
        if let Some((role, resources)) = freed {
            self.persist_task(&framework_id, &status.task_id);
            self.task_ended(
                &framework_id,
                agent_id,
                &status.task_id,
                &role,
                &resources,
                now,
            );
        }
        tracing::debug!(state = status.state, "status update");
    }

    /// Acknowledges `status` to its agent on the framework's behalf (the framework will not:
    /// it is gone, or the update is not one it may see), so the agent stops resending it.
    fn acknowledge_for_framework(
        &mut self,
        agent_id: &AgentId,
        framework_id: &FrameworkId,
        status: &mut TaskStatus,
    ) {
        if status.uuid.is_empty() {
            return;
        }
        let uuid = std::mem::take(&mut status.uuid);
        self.outbox.ack(
            agent_id.as_str(),
            framework_id.as_str(),
            &status.task_id,
            uuid,
        );
    }

    /// A task reached a terminal state for the first time: its resources return to the
    /// pool, and it joins the framework's bounded list of completed tasks.
    pub(super) fn task_ended(
        &mut self,
        framework_id: &FrameworkId,
        agent_id: &AgentId,
        task_id: &str,
        role: &str,
        resources: &Resources,
        now: Time,
    ) {
        let resources = &self.preemption_ended(framework_id, task_id, resources);
        if let Err(err) = self
            .allocator
            .recover_used(framework_id, agent_id, role, resources)
        {
            tracing::error!(task_id, %err, "allocator refused to recover a task's resources");
        }
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent
                .tasks
                .remove(&(framework_id.clone(), task_id.to_string()));
        }
        self.remember_completed(framework_id, task_id);
        self.check_drained(agent_id, now);
        self.request_allocation(now);
    }

    /// Adds a finished task to its framework's completed list, forgetting the oldest beyond
    /// the configured bound.
    pub(super) fn remember_completed(&mut self, framework_id: &FrameworkId, task_id: &str) {
        let max = self.config.max_completed_tasks_per_framework;
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        framework.completed.push_back(task_id.to_string());
        while framework.completed.len() > max {
            if let Some(old) = framework.completed.pop_front() {
                framework.tasks.remove(&old);
                self.registry_ops.push(crate::registry::Op::RemoveTask {
                    framework_id: framework_id.to_string(),
                    task_id: old,
                });
            }
        }
    }

    /// The framework of a task running on an agent, for statuses that do not name it.
    fn framework_of(&self, agent_id: &AgentId, task_id: &str) -> String {
        self.agents
            .get(agent_id)
            .and_then(|agent| agent.tasks.iter().find(|(_, t)| t == task_id))
            .map(|(framework_id, _)| framework_id.to_string())
            .unwrap_or_default()
    }

    /// KILL: asks the task's agent to kill it. An unknown or finished task is answered with
    /// its latest status, or LOST, rather than an error.
    pub fn kill(&mut self, req: KillRequest, now: Time) -> Result<(), Error> {
        let framework_id = self.subscribed(&req.framework_id)?;
        if req.task_id.is_empty() {
            return Err(invalid("task_id", "is required"));
        }
        self.kill_task(&framework_id, &req.task_id, req.kill_policy, now);
        Ok(())
    }

    /// Kills a task; `kill_policy` overrides the one it was launched with.
    pub(super) fn kill_task(
        &mut self,
        framework_id: &FrameworkId,
        task_id: &str,
        kill_policy: Option<KillPolicy>,
        now: Time,
    ) {
        let timestamp = self.unix(now);
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let answer = match framework.tasks.get(task_id) {
            None => MasterStatus {
                framework_id: framework_id.as_str(),
                agent_id: "",
                task_id,
                timestamp,
            }
            .build(
                TaskState::TaskLost,
                Reason::TaskUnknown,
                "the master does not know this task".into(),
            ),
            Some(task) if task.is_terminal() => task.latest_unacked(),
            Some(task) if self.is_unreachable(&task.agent_id) => {
                // Its agent is away: the kill goes out when it comes back.
                let (answer, agent_id) = (task.latest_unacked(), task.agent_id.clone());
                let connected = framework.connected;
                self.kill_when_back(&agent_id, framework_id, task_id);
                tracing::info!(task_id, framework_id = %framework_id, agent_id = %agent_id,
                    "kill held until the unreachable agent returns");
                if connected {
                    self.outbox.update(framework_id.as_str(), answer);
                }
                return;
            }
            Some(task) => {
                let kill = agent_command::Kill {
                    framework_id: framework_id.to_string(),
                    task_id: task_id.to_string(),
                    kill_policy,
                    reason: Reason::Unspecified as i32,
                };
                let agent_id = task.agent_id.clone();
                self.outbox
                    .command(agent_id.as_str(), agent_command::Command::Kill(kill));
                tracing::info!(task_id, framework_id = %framework_id, agent_id = %agent_id, "kill sent");
                return;
            }
        };
        if framework.connected {
            self.outbox.update(framework_id.as_str(), answer);
        }
    }

    /// ACKNOWLEDGE: forwards each acknowledgement to the agent that sent the update.
    pub fn acknowledge(&mut self, req: AcknowledgeRequest, _now: Time) -> Result<(), Error> {
        let framework_id = self.subscribed(&req.framework_id)?;
        if let Some(i) = req.acks.iter().position(|ack| ack.task_id.is_empty()) {
            return Err(invalid(&format!("acks[{i}].task_id"), "is required"));
        }
        for ack in req.acks {
            if ack.uuid.is_empty() {
                continue;
            }
            let agent_id = if ack.agent_id.is_empty() {
                self.frameworks
                    .get(&framework_id)
                    .and_then(|f| f.tasks.get(&ack.task_id))
                    .map(|task| task.agent_id.to_string())
                    .unwrap_or_default()
            } else {
                ack.agent_id
            };
            if self.agents.contains_key(agent_id.as_str()) {
                self.outbox
                    .ack(&agent_id, framework_id.as_str(), &ack.task_id, ack.uuid);
            }
        }
        Ok(())
    }

    /// RECONCILE, with Mesos's semantics: every answer carries REASON_RECONCILIATION and
    /// no uuid. Named tasks get their latest state, unknown ones TASK_LOST; none named means
    /// every task that has not ended. A task whose agent has not re-registered since a master
    /// restart is answered only once the agent re-registers or times out.
    pub fn reconcile(&mut self, req: ReconcileRequest, now: Time) -> Result<(), Error> {
        let framework_id = self.subscribed(&req.framework_id)?;
        let timestamp = self.unix(now);
        let Some(framework) = self.frameworks.get(&framework_id) else {
            return Ok(());
        };
        let answers: Vec<Answer> = if req.tasks.is_empty() {
            framework
                .tasks
                .values()
                .filter(|task| !task.is_terminal())
                .map(|task| Answer::Known(task.info.task_id.clone(), task.agent_id.clone()))
                .collect()
        } else {
            req.tasks
                .iter()
                .map(|wanted| match framework.tasks.get(&wanted.task_id) {
                    Some(task) => Answer::Known(wanted.task_id.clone(), task.agent_id.clone()),
                    None => Answer::Lost(Box::new(
                        MasterStatus {
                            framework_id: framework_id.as_str(),
                            agent_id: &wanted.agent_id,
                            task_id: &wanted.task_id,
                            timestamp,
                        }
                        .build(
                            TaskState::TaskLost,
                            Reason::Reconciliation,
                            "the master does not know this task".into(),
                        ),
                    )),
                })
                .collect()
        };
        for answer in answers {
            match answer {
                Answer::Lost(lost) => self.outbox.update(framework_id.as_str(), *lost),
                Answer::Known(task_id, agent_id) => {
                    self.reconcile_one(&framework_id, &task_id, &agent_id)
                }
            }
        }
        Ok(())
    }

    /// Answers for one known task, or holds the answer back while its agent has not
    /// re-registered since a master restart.
    fn reconcile_one(&mut self, framework_id: &FrameworkId, task_id: &str, agent_id: &AgentId) {
        let active = self
            .frameworks
            .get(framework_id)
            .and_then(|f| f.tasks.get(task_id))
            .is_some_and(|task| !task.is_terminal());
        if active && self.is_recovering(agent_id) {
            self.hold_answer(agent_id, framework_id, task_id);
        } else {
            self.answer_reconcile(framework_id, task_id);
        }
    }

    /// Sends a task's latest state as a reconciliation answer, if its framework listens.
    pub(super) fn answer_reconcile(&mut self, framework_id: &FrameworkId, task_id: &str) {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return;
        };
        let Some(task) = framework.tasks.get(task_id) else {
            return;
        };
        if framework.connected {
            let mut answer = task.latest_unacked();
            answer.reason = Reason::Reconciliation as i32;
            self.outbox.update(framework_id.as_str(), answer);
        }
    }

    /// MESSAGE from a scheduler to one of its running tasks' executor.
    pub fn message(&mut self, req: FrameworkMessageRequest, _now: Time) -> Result<(), Error> {
        let framework_id = self.subscribed(&req.framework_id)?;
        if req.task_id.is_empty() {
            return Err(invalid("task_id", "is required"));
        }
        let task = self
            .frameworks
            .get(&framework_id)
            .and_then(|f| f.tasks.get(&req.task_id))
            .filter(|task| !task.is_terminal())
            .ok_or_else(|| Error::NotFound(format!("no running task {}", req.task_id)))?;
        if !req.agent_id.is_empty() && req.agent_id != task.agent_id.as_str() {
            return Err(invalid(
                "agent_id",
                format!("task {} runs on agent {}", req.task_id, task.agent_id),
            ));
        }
        let agent_id = task.agent_id.clone();
        let message = agent_command::FrameworkMessage {
            framework_id: framework_id.to_string(),
            task_id: req.task_id,
            data: req.data,
        };
        self.outbox
            .command(agent_id.as_str(), agent_command::Command::Message(message));
        Ok(())
    }

    /// A message from an executor to its framework's scheduler (dropped, like Mesos does,
    /// while the scheduler is disconnected).
    pub fn executor_message(
        &mut self,
        req: ExecutorMessageRequest,
        now: Time,
    ) -> Result<(), Error> {
        let agent_id = self.registered(&req.agent_id, now)?;
        if req.framework_id.is_empty() {
            return Err(invalid("framework_id", "is required"));
        }
        let framework = self
            .frameworks
            .get(req.framework_id.as_str())
            .ok_or_else(|| Error::NotFound(format!("unknown framework {}", req.framework_id)))?;
        // An agent speaks only for the tasks it runs (or ran: a message may trail its task's
        // end), never for another agent's or another framework's.
        let runs_here = framework
            .tasks
            .get(&req.task_id)
            .is_some_and(|task| task.agent_id == agent_id);
        if !runs_here {
            self.metrics.invalid_executor_messages.inc();
            return Err(Error::NotFound(format!(
                "task {} of framework {} does not run on agent {agent_id}",
                req.task_id, req.framework_id
            )));
        }
        if framework.connected {
            let message = event::Message {
                agent_id: agent_id.to_string(),
                task_id: req.task_id,
                data: req.data,
            };
            self.outbox
                .event(&req.framework_id, event::Event::Message(message));
        }
        Ok(())
    }
}

/// One reconciliation answer, in the order asked.
enum Answer {
    /// A task the master knows: its id and agent.
    Known(String, AgentId),
    /// A task it does not know: TASK_LOST.
    Lost(Box<TaskStatus>),
}
