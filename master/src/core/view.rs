//! The operator's view: cluster state, kill by task id, where a task's sandbox lives.

use wasmesos_allocator::{FrameworkId, Resources};
use wasmesos_proto::v1::{AgentSummary, ClusterState, FrameworkSummary, TaskSummary};

use super::convert::resources_to_proto;
use super::frameworks::Framework;
use super::tasks::Task;
use super::{Core, Time};
use crate::Error;

/// Where a task runs, for proxying reads of its sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskLocation {
    /// The agent's id.
    pub agent_id: String,
    /// The agent's own API, e.g. `http://127.0.0.1:5051`.
    pub address: String,
}

impl Core {
    /// Everything an operator sees: agents with total/used/offered, frameworks with their
    /// dominant share, tasks (active and recently completed), and roles.
    pub fn cluster_state(&self, _now: Time) -> ClusterState {
        let snapshot = self.allocator.snapshot();
        let mut agents: Vec<AgentSummary> = self
            .agents
            .iter()
            .map(|(id, agent)| {
                let view = self.allocator.agent_snapshot(id);
                let empty = Resources::new();
                AgentSummary {
                    agent: Some(agent.info.clone()),
                    // The allocator's total carries dynamic reservations.
                    total: Some(resources_to_proto(
                        view.as_ref().map_or(&agent.total, |a| &a.total),
                    )),
                    used: Some(resources_to_proto(
                        view.as_ref().map_or(&empty, |a| &a.used),
                    )),
                    offered: Some(resources_to_proto(
                        view.as_ref().map_or(&empty, |a| &a.offered),
                    )),
                    active: agent.connected,
                    registered_time: agent.registered_at,
                }
            })
            .collect();
        agents.sort_by(|a, b| a.registered_time.total_cmp(&b.registered_time));
        let mut frameworks: Vec<FrameworkSummary> = self
            .frameworks
            .iter()
            .map(|(id, framework)| self.framework_summary(id, framework))
            .collect();
        frameworks.sort_by(|a, b| {
            let name = |f: &FrameworkSummary| f.framework.as_ref().map(|i| i.id.clone());
            name(a).cmp(&name(b))
        });
        let mut tasks: Vec<TaskSummary> = self
            .frameworks
            .values()
            .flat_map(|framework| framework.tasks.values().map(task_summary))
            .collect();
        tasks.sort_by(|a, b| a.started_time.total_cmp(&b.started_time));
        let roles = self.role_summaries(&snapshot);
        ClusterState {
            master: Some(self.master.clone()),
            agents,
            frameworks,
            tasks,
            roles,
            leader: self.master.address.clone(),
        }
    }

    fn framework_summary(&self, id: &FrameworkId, framework: &Framework) -> FrameworkSummary {
        let view = self.allocator.framework_snapshot(id);
        let mut used = Resources::new();
        let mut offered = Resources::new();
        for role in view.iter().flat_map(|v| v.roles.iter()) {
            used.add(&role.used);
            offered.add(&role.offered);
        }
        FrameworkSummary {
            framework: Some(framework.info.clone()),
            connected: framework.connected,
            dominant_share: view.map_or(0.0, |v| v.dominant_share),
            used: Some(resources_to_proto(&used)),
            offered: Some(resources_to_proto(&offered)),
            active_tasks: framework
                .tasks
                .values()
                .filter(|task| !task.is_terminal())
                .count() as u32,
        }
    }

    /// Operator KILL by task id alone: kills every active task with that id.
    pub fn operator_kill(&mut self, task_id: &str, now: Time) -> Result<(), Error> {
        if task_id.is_empty() {
            return Err(crate::error::invalid("task_id", "is required"));
        }
        let owners: Vec<FrameworkId> = self
            .frameworks
            .iter()
            .filter(|(_, f)| f.tasks.contains_key(task_id))
            .map(|(id, _)| id.clone())
            .collect();
        if owners.is_empty() {
            return Err(Error::NotFound(format!("no task {task_id}")));
        }
        for framework_id in owners {
            self.kill_task(&framework_id, task_id, now);
        }
        Ok(())
    }

    /// The agent holding a task's sandbox (an active task first, when the id is in several
    /// frameworks).
    pub fn locate_task(&self, task_id: &str) -> Result<TaskLocation, Error> {
        let mut candidates: Vec<&Task> = self
            .frameworks
            .values()
            .filter_map(|framework| framework.tasks.get(task_id))
            .collect();
        candidates.sort_by_key(|task| task.is_terminal());
        let task = candidates
            .first()
            .ok_or_else(|| Error::NotFound(format!("no task {task_id}")))?;
        let agent = self.agents.get(&task.agent_id).ok_or_else(|| {
            Error::NotFound(format!(
                "task {task_id} ran on agent {}, which is no longer registered",
                task.agent_id
            ))
        })?;
        Ok(TaskLocation {
            agent_id: task.agent_id.to_string(),
            address: agent.info.address.clone(),
        })
    }
}

fn task_summary(task: &Task) -> TaskSummary {
    let status = &task.status;
    TaskSummary {
        task_id: task.info.task_id.clone(),
        name: task.info.name.clone(),
        framework_id: status.framework_id.clone(),
        agent_id: task.agent_id.to_string(),
        state: task.state() as i32,
        reason: status.reason,
        message: status.message.clone(),
        resources: Some(resources_to_proto(&task.resources)),
        executor_digest: task
            .info
            .executor
            .as_ref()
            .map(|e| e.digest.clone())
            .unwrap_or_default(),
        started_time: task.started_at,
        updated_time: status.timestamp,
        exit_code: status.exit_code,
    }
}
