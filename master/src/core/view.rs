//! The operator's kill by task id (and framework, where the id alone is ambiguous). (What an operator reads comes from the published
//! snapshot: `snapshot.rs` and `state_proto.rs`.)

use wasmesos_allocator::FrameworkId;

use super::{Core, Time};
use crate::Error;

impl Core {
    /// Operator KILL of task `task_id` of `framework_id`, or, with no framework named, of
    /// the one framework that has an unfinished task of that id. Task ids are unique only
    /// within a framework: when two frameworks run one of that id the kill is refused as
    /// ambiguous rather than killing both.
    pub fn operator_kill(
        &mut self,
        framework_id: Option<&str>,
        task_id: &str,
        now: Time,
    ) -> Result<(), Error> {
        if task_id.is_empty() {
            return Err(crate::error::invalid("task_id", "is required"));
        }
        let owners: Vec<(FrameworkId, bool)> = self
            .frameworks
            .iter()
            .filter(|(id, _)| framework_id.is_none_or(|wanted| id.as_str() == wanted))
            .filter_map(|(id, f)| f.tasks.get(task_id).map(|t| (id.clone(), t.is_terminal())))
            .collect();
        if owners.is_empty() {
            return Err(Error::NotFound(match framework_id {
                Some(framework_id) => format!("no task {task_id} of framework {framework_id}"),
                None => format!("no task {task_id}"),
            }));
        }
        let running: Vec<&FrameworkId> = owners
            .iter()
            .filter(|(_, terminal)| !terminal)
            .map(|(id, _)| id)
            .collect();
        if running.len() > 1 {
            let mut names: Vec<&str> = running.iter().map(|id| id.as_str()).collect();
            names.sort_unstable();
            return Err(Error::Conflict(format!(
                "task {task_id} runs in frameworks {}: name the framework to kill it in",
                names.join(", ")
            )));
        }
        for (framework_id, _) in owners {
            self.kill_task(&framework_id, task_id, None, now);
        }
        Ok(())
    }
}
