//! The operator's kill by task id alone. (What an operator reads comes from the published
//! snapshot: `snapshot.rs` and `state_proto.rs`.)

use wasmesos_allocator::FrameworkId;

use super::{Core, Time};
use crate::Error;

impl Core {
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
            self.kill_task(&framework_id, task_id, None, now);
        }
        Ok(())
    }
}
