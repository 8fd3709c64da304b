//! Conversions between wire types and the allocator's, and the statuses the master writes.

use wasmesos_allocator::Resources;
use wasmesos_proto::v1::{self as proto, Reason, StatusSource, TaskState, TaskStatus};

pub(crate) use wasmesos_proto::resources::{Amounts, resources_to_proto};

/// Converts wire resources (the one conversion, in `wasmesos-proto`), explaining the first
/// bad entry.
pub(crate) fn resources_from_proto(
    resources: Option<&proto::Resources>,
    amounts: Amounts,
) -> Result<Resources, String> {
    wasmesos_proto::resources::resources_from_proto(resources, amounts)
        .map_err(|err| err.to_string())
}

/// A status the master writes itself (LOST, ERROR, answers to KILL and RECONCILE): it
/// carries no uuid, so nobody acknowledges it.
pub(crate) struct MasterStatus<'a> {
    pub(crate) framework_id: &'a str,
    pub(crate) agent_id: &'a str,
    pub(crate) task_id: &'a str,
    pub(crate) timestamp: f64,
}

impl MasterStatus<'_> {
    pub(crate) fn build(&self, state: TaskState, reason: Reason, message: String) -> TaskStatus {
        TaskStatus {
            task_id: self.task_id.to_string(),
            state: state as i32,
            reason: reason as i32,
            message,
            agent_id: self.agent_id.to_string(),
            framework_id: self.framework_id.to_string(),
            timestamp: self.timestamp,
            source: StatusSource::SourceMaster as i32,
            ..TaskStatus::default()
        }
    }
}

/// The task state a status carries, or `None` for values outside the enum.
pub(crate) fn state_of(status: &TaskStatus) -> Option<TaskState> {
    TaskState::try_from(status.state)
        .ok()
        .filter(|s| *s != TaskState::Unspecified)
}
