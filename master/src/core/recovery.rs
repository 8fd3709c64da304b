//! A master that restarts: the core rebuilt from the registry's [`Snapshot`], agents that
//! come back (keeping their id and their tasks), agents that do not (removed after
//! [`crate::MasterConfig::agent_reregister_timeout`], their tasks LOST), and reconciliation
//! answers held back while a task's agent has not re-registered yet.
//!
//! Recovered frameworks wait disconnected: their failover timeout counts from the master's
//! start, and a resubscription with their id keeps their tasks.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use wasmesos_allocator::{AgentId, FrameworkId, FrameworkSpec, Resources};
use wasmesos_proto::v1::{AgentInfo, MasterInfo, Reason, TaskReport, TaskState, agent_command};

use super::convert::{Amounts, resources_from_proto, state_of};
use super::frameworks::{Framework, failover_timeout, validated_roles};
use super::tasks::Task;
use super::{Core, Time};
use crate::registry::{AgentRecord, FrameworkRecord, Op, Snapshot, TaskRecord};
use crate::{Error, MasterConfig};

/// An agent the registry remembers that has not re-registered since the master started.
pub(super) struct RecoveredAgent {
    info: AgentInfo,
    registered_at: f64,
    /// Its tasks that were not terminal in the registry.
    tasks: HashSet<(FrameworkId, String)>,
    /// Reconciliation answers held back until it re-registers or times out.
    waiting: Vec<(FrameworkId, String)>,
}

impl Core {
    /// A core rebuilt from what the registry holds (an empty snapshot is a first start).
    pub fn recover(
        config: MasterConfig,
        master: MasterInfo,
        unix_origin: f64,
        snapshot: Snapshot,
    ) -> Result<Self, Error> {
        let mut core = Self::new(config, master, unix_origin)?;
        let (agents, frameworks, tasks) = (snapshot.agents, snapshot.frameworks, snapshot.tasks);
        core.recover_maintenance_record(snapshot.maintenance);
        for record in frameworks.into_values() {
            core.recover_framework(record)?;
        }
        for record in agents.into_values() {
            let id = AgentId::from(record.id());
            core.recover_maintenance(&record);
            if !record.removed && record.unreachable_at > 0.0 {
                core.recover_unreachable(record);
            } else if record.removed {
                // Removals recorded before they were dated age from this start.
                let at = Some(record.removed_at)
                    .filter(|at| *at > 0.0)
                    .unwrap_or(core.unix_origin);
                core.removed_agents.insert(id, at);
            } else {
                let recovered = RecoveredAgent {
                    info: record.info.unwrap_or_default(),
                    registered_at: record.registered_at,
                    tasks: HashSet::new(),
                    waiting: Vec::new(),
                };
                core.recovering.insert(id, recovered);
            }
        }
        let mut ended: Vec<(f64, FrameworkId, String)> = Vec::new();
        for record in tasks.into_values() {
            if let Some(end) = core.recover_task(record) {
                ended.push(end);
            }
        }
        ended.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, framework_id, task_id) in ended {
            core.remember_completed(&framework_id, &task_id);
        }
        if !core.recovering.is_empty() || !core.frameworks.is_empty() {
            tracing::info!(
                agents = core.recovering.len(),
                frameworks = core.frameworks.len(),
                "recovered from the registry; waiting for agents to re-register"
            );
        }
        Ok(core)
    }

    fn recover_framework(&mut self, record: FrameworkRecord) -> Result<(), Error> {
        let id = FrameworkId::from(record.id());
        let Some(info) = record.info.filter(|_| !record.removed) else {
            let at = Some(record.removed_at)
                .filter(|at| *at > 0.0)
                .unwrap_or(self.unix_origin);
            self.removed_frameworks.insert(id, at);
            return Ok(());
        };
        let broken = |err: Error| Error::Registry(format!("framework {id} in the registry: {err}"));
        let roles = validated_roles(&info.roles).map_err(broken)?;
        let failover_timeout = failover_timeout(info.failover_timeout_seconds).map_err(broken)?;
        let spec = FrameworkSpec::with_roles(roles.clone());
        let added = self
            .allocator
            .add_framework(id.clone(), spec)
            .and_then(|()| self.allocator.deactivate_framework(&id));
        added.map_err(|err| Error::Registry(format!("framework {id} in the registry: {err}")))?;
        let framework = Framework {
            info,
            roles,
            connected: false,
            disconnected_at: Some(Duration::ZERO),
            failover_timeout,
            tasks: HashMap::new(),
            completed: VecDeque::new(),
        };
        self.frameworks.insert(id.clone(), framework);
        self.sync_revocable_capability(&id);
        Ok(())
    }

    /// Adds a task record to its framework; returns it when it has ended (for the completed
    /// list). A task whose agent will never come back is LOST now.
    fn recover_task(&mut self, record: TaskRecord) -> Option<(f64, FrameworkId, String)> {
        let framework_id = FrameworkId::from(record.framework_id.as_str());
        let agent_id = AgentId::from(record.agent_id.as_str());
        let info = record.info?;
        let status = record.status?;
        let resources = resources_from_proto(info.resources.as_ref(), Amounts::Positive)
            .unwrap_or_else(|_| Resources::new());
        let task_id = info.task_id.clone();
        let framework = self.frameworks.get_mut(&framework_id)?;
        let mut task = Task {
            info,
            agent_id: agent_id.clone(),
            role: record.role,
            resources,
            status,
            started_at: record.started_at,
            freed: true,
            suspended: false,
        };
        let mut lost_now = false;
        if !task.is_terminal() {
            if let Some(agent) = self.recovering.get_mut(&agent_id) {
                task.freed = false;
                agent.tasks.insert((framework_id.clone(), task_id.clone()));
            } else if let Some(away) = self.unreachable.get_mut(&agent_id) {
                // The allocator holds nothing on an unreachable agent: `freed` stays true.
                away.tasks.insert((framework_id.clone(), task_id.clone()));
            } else {
                let timestamp = self.unix_origin;
                task.set_master_status(
                    TaskState::TaskLost,
                    Reason::AgentLost,
                    format!("agent {agent_id} was removed before the master restarted"),
                    timestamp,
                );
                lost_now = true;
            }
        }
        let ended = task.is_terminal().then_some(task.status.timestamp);
        framework.tasks.insert(task_id.clone(), task);
        if lost_now {
            self.persist_task(&framework_id, &task_id);
        }
        ended.map(|at| (at, framework_id, task_id))
    }

    /// The registry record of an agent that has not re-registered yet.
    pub(super) fn recovering_record(&self, id: &AgentId) -> Option<AgentRecord> {
        self.recovering.get(id).map(|recovered| AgentRecord {
            info: Some(recovered.info.clone()),
            registered_at: recovered.registered_at,
            ..AgentRecord::default()
        })
    }

    /// Whether an agent the registry knows has not re-registered yet.
    pub(super) fn is_recovering(&self, agent_id: &AgentId) -> bool {
        self.recovering.contains_key(agent_id)
    }

    /// Holds a reconciliation answer back until the task's agent re-registers or times out.
    pub(super) fn hold_answer(
        &mut self,
        agent_id: &AgentId,
        framework_id: &FrameworkId,
        task_id: &str,
    ) {
        if let Some(agent) = self.recovering.get_mut(agent_id) {
            agent
                .waiting
                .push((framework_id.clone(), task_id.to_string()));
        }
    }

    /// A recovered agent re-registers: it is admitted again under its id, the tasks it reports
    /// count as running there, recorded tasks it does not report are LOST, and held-back
    /// reconciliation answers go out.
    pub(super) fn readmit(
        &mut self,
        info: AgentInfo,
        total: Resources,
        reports: &[TaskReport],
        now: Time,
    ) -> Result<(), Error> {
        let id = AgentId::from(info.id.as_str());
        let Some(recovered) = self.recovering.remove(&id) else {
            return Ok(());
        };
        self.add_agent(info, total, now, recovered.registered_at)?;
        let mut reported = HashSet::new();
        for report in reports {
            if let Some(key) = self.adopt(&id, report, now) {
                reported.insert(key);
            }
        }
        let timestamp = self.unix(now);
        for (framework_id, task_id) in recovered.tasks.difference(&reported) {
            self.end_task_by_master(
                framework_id,
                task_id,
                (TaskState::TaskLost, Reason::Reconciliation),
                "the agent does not know this task: its launch did not reach the agent before the master restarted".into(),
                timestamp,
            );
        }
        for (framework_id, task_id) in recovered.waiting {
            self.answer_reconcile(&framework_id, &task_id);
        }
        tracing::info!(agent_id = %id, tasks = reported.len(), "recovered agent re-registered");
        Ok(())
    }

    /// One task an agent reports after a master restart: it runs there, so its resources
    /// are in use again. Returns its key when the master now counts it as running there.
    pub(super) fn adopt(
        &mut self,
        agent_id: &AgentId,
        report: &TaskReport,
        now: Time,
    ) -> Option<(FrameworkId, String)> {
        let info = report.task.as_ref()?;
        let framework_id = FrameworkId::from(report.framework_id.as_str());
        let framework = self.frameworks.get_mut(&framework_id)?;
        let key = (framework_id.clone(), info.task_id.clone());
        let task = match framework.tasks.get_mut(&info.task_id) {
            Some(task) if task.is_terminal() || task.agent_id != *agent_id => {
                // The master already ended it (or placed it elsewhere): the agent must stop it.
                let kill = agent_command::Kill {
                    framework_id: framework_id.to_string(),
                    task_id: info.task_id.clone(),
                    kill_policy: None,
                    ..Default::default()
                };
                self.outbox
                    .command(agent_id.as_str(), agent_command::Command::Kill(kill));
                return None;
            }
            Some(task) => task,
            None => {
                let role = framework.roles.first().cloned().unwrap_or_default();
                let resources = resources_from_proto(info.resources.as_ref(), Amounts::Positive)
                    .unwrap_or_else(|_| Resources::new());
                let timestamp = self.unix_origin + now.as_secs_f64();
                let mut record = info.clone();
                record.data = Vec::new();
                let status = report.latest.clone().unwrap_or_default();
                let task = Task {
                    info: record,
                    agent_id: agent_id.clone(),
                    role,
                    resources,
                    status,
                    started_at: timestamp,
                    freed: false,
                    suspended: false,
                };
                framework.tasks.entry(info.task_id.clone()).or_insert(task)
            }
        };
        let latest = report.latest.as_ref();
        if let Some(ended) = latest.filter(|s| state_of(s).is_some_and(|s| s.is_terminal())) {
            // It ended while no master listened, and its update waits for an acknowledgement:
            // its resources are free already (as in Mesos, which counts a task's latest
            // state). Counting them as used would overfill the agent once many such tasks
            // come back together, and freeing them when the update arrives would then free
            // other tasks' resources. The agent resends the update; it is relayed as usual.
            task.status = ended.clone();
            task.freed = true;
            self.persist_task(&framework_id, &info.task_id);
            self.remember_completed(&framework_id, &info.task_id);
            return Some(key);
        }
        if let Some(live) = latest.filter(|s| state_of(s).is_some()) {
            task.status = live.clone();
        }
        task.freed = false;
        let (role, resources) = (task.role.clone(), task.resources.clone());
        self.hold_revocable_for(agent_id, &resources);
        if let Err(err) = self
            .allocator
            .add_used(&framework_id, agent_id, &role, &resources)
        {
            tracing::error!(task_id = %info.task_id, agent_id = %agent_id, %err,
                "allocator refused a re-registered agent's task");
        }
        // This master counts the task's resources in full: had the last one suspended it,
        // it runs again (a task that is not suspended ignores this).
        self.send_suspend(
            agent_id,
            &framework_id,
            &info.task_id,
            false,
            "resumed: a new master counts its resources in full".into(),
        );
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.tasks.insert(key.clone());
        }
        self.persist_task(&framework_id, &info.task_id);
        Some(key)
    }

    /// Agents that did not re-register within the timeout are removed: their tasks are LOST
    /// (reason AGENT_LOST), and they are told to shut down if they ever come back.
    pub(super) fn expire_recovering(&mut self, now: Time) {
        if self.recovering.is_empty() || now < self.config.agent_reregister_timeout {
            return;
        }
        let timeout = self.config.agent_reregister_timeout;
        let timestamp = self.unix(now);
        let expired: Vec<(AgentId, RecoveredAgent)> = self.recovering.drain().collect();
        for (id, recovered) in expired {
            tracing::warn!(agent_id = %id, "agent did not re-register after the master restarted");
            let message =
                format!("agent {id} did not re-register within {timeout:?} of a master restart");
            for (framework_id, task_id) in &recovered.tasks {
                self.end_task_by_master(
                    framework_id,
                    task_id,
                    (TaskState::TaskLost, Reason::AgentLost),
                    message.clone(),
                    timestamp,
                );
            }
            self.registry_ops.push(Op::PutAgent(AgentRecord {
                info: Some(recovered.info),
                removed: true,
                registered_at: recovered.registered_at,
                removed_at: timestamp,
                ..AgentRecord::default()
            }));
            self.removed_agents.insert(id, timestamp);
        }
    }

    /// The master decides a task's end itself (its agent is gone or forgot it): recorded,
    /// persisted, and sent to the framework if it is connected. The allocator holds nothing
    /// for tasks of agents that have not re-registered, so nothing is recovered there.
    pub(super) fn end_task_by_master(
        &mut self,
        framework_id: &FrameworkId,
        task_id: &str,
        (state, reason): (TaskState, Reason),
        message: String,
        timestamp: f64,
    ) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let Some(task) = framework
            .tasks
            .get_mut(task_id)
            .filter(|t| !t.is_terminal())
        else {
            return;
        };
        let status = task.set_master_status(state, reason, message, timestamp);
        task.freed = true;
        if framework.connected {
            self.outbox.update(framework_id.as_str(), status);
        }
        self.persist_task(framework_id, task_id);
        self.remember_completed(framework_id, task_id);
    }
}
