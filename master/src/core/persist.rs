//! What the core asks the registry to record. Every change that an acknowledgement depends
//! on (an agent admitted or removed, a framework subscribed or removed, a task launched or
//! ended, a record forgotten) queues an [`Op`] here; the actor commits them before it
//! delivers the outbox of the same batch.

use wasmesos_allocator::FrameworkId;

use super::Core;
use super::agents::Agent;
use super::tasks::Task;
use crate::registry::{AgentRecord, FrameworkRecord, Op, TaskRecord};

impl Core {
    /// Registry ops queued since the last call, in the order they happened. Every agent
    /// record carries the agent's deactivation and drain as they are now (`drain.rs`), so the
    /// places that write agent records need not know of them.
    pub fn take_ops(&mut self) -> Vec<crate::registry::Op> {
        let mut ops = std::mem::take(&mut self.registry_ops);
        if !self.deactivated.is_empty() {
            for op in &mut ops {
                if let Op::PutAgent(record) = op {
                    self.stamp_maintenance(record);
                }
            }
        }
        ops
    }

    /// Records an agent admitted (and reachable).
    pub(super) fn persist_agent(&mut self, agent: &Agent) {
        self.registry_ops.push(Op::PutAgent(AgentRecord {
            info: Some(agent.info.clone()),
            registered_at: agent.registered_at,
            ..AgentRecord::default()
        }));
    }

    pub(super) fn persist_framework(&mut self, id: &FrameworkId) {
        let info = match self.frameworks.get(id) {
            Some(framework) => framework.info.clone(),
            None => wasmesos_proto::v1::FrameworkInfo {
                id: id.to_string(),
                ..Default::default()
            },
        };
        self.registry_ops.push(Op::PutFramework(FrameworkRecord {
            info: Some(info),
            removed: false,
            removed_at: 0.0,
        }));
    }

    /// Records a task's current status (at launch, and when it ends).
    pub(super) fn persist_task(&mut self, framework_id: &FrameworkId, task_id: &str) {
        let Some(task) = self
            .frameworks
            .get(framework_id)
            .and_then(|framework| framework.tasks.get(task_id))
        else {
            return;
        };
        let record = task_record(framework_id, task);
        self.registry_ops.push(Op::PutTask(Box::new(record)));
    }

    pub(super) fn forget_task(&mut self, framework_id: &FrameworkId, task_id: &str) {
        self.registry_ops.push(Op::RemoveTask {
            framework_id: framework_id.to_string(),
            task_id: task_id.to_string(),
        });
    }
}

pub(super) fn task_record(framework_id: &FrameworkId, task: &Task) -> TaskRecord {
    TaskRecord {
        framework_id: framework_id.to_string(),
        agent_id: task.agent_id.to_string(),
        role: task.role.clone(),
        info: Some(task.info.clone()),
        status: Some(task.status.clone()),
        started_at: task.started_at,
    }
}
