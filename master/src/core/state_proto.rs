//! The published [`StateSnapshot`] in the wire's terms: `Operator.GetState`'s
//! [`ClusterState`], `Operator.GetRoles`' [`RoleSummary`], and where a task's sandbox lives
//! for `Operator.ReadTaskFile` and `/files/read`. Everything here reads a snapshot, never the
//! core, so the gRPC readers wait on the actor no more than the HTTP ones do.

use wasmesos_proto::v1::{
    self as proto, AgentSummary, ClusterState, DrainInfo, DrainState, FrameworkSummary, MasterInfo,
    Reason, RoleSummary, TaskState, TaskSummary,
};

use super::convert::resources_to_proto;
use super::snapshot::{AgentView, FrameworkView, RoleView, StateSnapshot, TaskView};
use crate::Error;

/// Where a task runs, for proxying reads of its sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskLocation {
    /// The agent's id.
    pub agent_id: String,
    /// The agent's own API, e.g. `http://127.0.0.1:5051`.
    pub address: String,
    /// The framework the task belongs to.
    pub framework_id: String,
}

impl StateSnapshot {
    /// Everything an operator sees, as `Operator.GetState` answers it.
    pub fn cluster_state(&self) -> ClusterState {
        let master = &self.master;
        ClusterState {
            master: Some(MasterInfo {
                id: master.id.clone(),
                hostname: master.hostname.clone(),
                port: master.port,
                version: master.version.clone(),
                address: master.address.clone(),
            }),
            agents: self.agents.iter().map(agent_summary).collect(),
            frameworks: self.frameworks.iter().map(framework_summary).collect(),
            tasks: self.tasks.iter().map(|task| task_summary(task)).collect(),
            roles: self.roles.iter().map(role_summary).collect(),
            leader: master.address.clone(),
            completed_frameworks: self
                .completed_frameworks
                .iter()
                .map(framework_summary)
                .collect(),
        }
    }

    /// The agent holding a task's sandbox (an active task first, when the id is in several
    /// frameworks). A task launched after this snapshot was built is not found: snapshots
    /// lag the core by up to their publish interval (100 ms on a small cluster).
    pub fn locate_task(&self, task_id: &str) -> Result<TaskLocation, Error> {
        let task = self
            .tasks
            .iter()
            .filter(|task| task.task_id == task_id)
            .min_by_key(|task| task.terminal)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "no task {task_id} in the master's published state (a task launched in \
                     the last moments may not be listed yet)"
                ))
            })?;
        let agent = self
            .agents
            .iter()
            .find(|agent| agent.id == task.agent_id)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "task {task_id} ran on agent {}, which is no longer registered",
                    task.agent_id
                ))
            })?;
        Ok(TaskLocation {
            agent_id: agent.id.clone(),
            address: agent.address.clone(),
            framework_id: task.framework_id.clone(),
        })
    }
}

fn agent_summary(agent: &AgentView) -> AgentSummary {
    AgentSummary {
        agent: Some(agent.info.clone()),
        total: Some(resources_to_proto(&agent.total)),
        used: Some(resources_to_proto(&agent.used)),
        offered: Some(resources_to_proto(&agent.offered)),
        active: agent.active,
        registered_time: agent.registered_time,
        deactivated: agent.deactivated,
        drain_info: agent.drain.as_ref().map(|drain| DrainInfo {
            state: if drain.state == "DRAINED" {
                DrainState::Drained
            } else {
                DrainState::Draining
            } as i32,
            max_grace_period_seconds: drain.max_grace_period_seconds,
            mark_gone: drain.mark_gone,
        }),
        unavailability: agent.unavailability.map(|window| window.exact),
    }
}

fn framework_summary(framework: &FrameworkView) -> FrameworkSummary {
    FrameworkSummary {
        framework: Some(framework.info.clone()),
        connected: framework.connected,
        dominant_share: framework.dominant_share,
        used: Some(resources_to_proto(&framework.used)),
        offered: Some(resources_to_proto(&framework.offered)),
        active_tasks: u32::try_from(framework.active_tasks).unwrap_or(u32::MAX),
        unregistered_time: framework.unregistered_time,
    }
}

fn task_summary(task: &TaskView) -> TaskSummary {
    TaskSummary {
        task_id: task.task_id.clone(),
        name: task.name.clone(),
        framework_id: task.framework_id.clone(),
        agent_id: task.agent_id.clone(),
        // The view was spelled from these enums, so they parse back; a reason newer than
        // this master (`unknown_<n>`) becomes unspecified.
        state: TaskState::from_name(&task.state).map_or(0, |state| state as i32),
        reason: Reason::from_code(&task.reason).map_or(0, |reason| reason as i32),
        message: task.message.clone(),
        resources: Some(resources_to_proto(&task.resources)),
        executor_digest: task.executor_digest.clone(),
        started_time: task.started_time,
        updated_time: task.updated_time,
        exit_code: task.exit_code,
        healthy: task.healthy,
        suspended: task.suspended,
    }
}

/// One role as `Operator.GetRoles` and `Operator.GetState` show it.
pub(super) fn role_summary(role: &RoleView) -> RoleSummary {
    RoleSummary {
        name: role.name.clone(),
        weight: role.weight,
        allocated: Some(resources_to_proto(&role.allocated)),
        dominant_share: role.dominant_share,
        weighted_share: role.weighted_share,
        consumption: Some(resources_to_proto(&role.consumption)),
        quota: role.quota.as_ref().map(|quota| proto::Quota {
            guarantee: Some(resources_to_proto(&quota.guarantee)),
            limit: quota.limit.as_ref().map(resources_to_proto),
        }),
        reserved: role.reserved.as_ref().map(resources_to_proto),
        framework_ids: role.framework_ids.clone(),
    }
}
