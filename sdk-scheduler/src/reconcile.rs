//! Reconciliation after every (re)subscription, as Mesos advises: the master may have
//! restarted, failed over or dropped updates while the framework was away, so the driver
//! asks for the truth instead of trusting what it last heard.
//!
//! The driver keeps the ids of the tasks it launched until it sees each one's terminal
//! update ([`Tracked`]). After each SUBSCRIBED it asks explicitly about those (a task the
//! master does not know comes back TASK_LOST) and then implicitly about every task the
//! master holds for the framework. The answers arrive as ordinary UPDATE events, without a
//! uuid (nothing to acknowledge), through [`Scheduler::update`](crate::Scheduler::update).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use wasmesos_proto::reconcile_request::ReconcileTask;
use wasmesos_proto::{Operation, TaskStatus, operation};

use crate::Driver;

/// Keeps each explicit RECONCILE well under the master's message size limit.
const MAX_PER_CALL: usize = 4096;

/// Tasks this driver launched and has not yet seen end: task id → agent id.
#[derive(Default)]
pub(crate) struct Tracked {
    tasks: Mutex<HashMap<String, String>>,
}

impl Tracked {
    fn tasks(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes the tasks of the LAUNCH operations in an ACCEPT about to be sent.
    pub(crate) fn launching(&self, operations: &[Operation]) {
        let mut tasks = self.tasks();
        for info in launched(operations) {
            tasks.insert(info.task_id.clone(), info.agent_id.clone());
        }
    }

    /// The ACCEPT was refused: none of its tasks exists.
    pub(crate) fn refused(&self, operations: &[Operation]) {
        let mut tasks = self.tasks();
        for info in launched(operations) {
            tasks.remove(&info.task_id);
        }
    }

    /// Notes an update: a task that ended is no longer asked about.
    pub(crate) fn observed(&self, status: &TaskStatus) {
        if status.state().is_terminal() {
            self.tasks().remove(&status.task_id);
        } else if !status.agent_id.is_empty()
            && let Some(agent_id) = self.tasks().get_mut(&status.task_id)
        {
            agent_id.clone_from(&status.agent_id);
        }
    }

    /// The explicit reconciliation request for every tracked task.
    fn to_reconcile(&self) -> Vec<ReconcileTask> {
        self.tasks()
            .iter()
            .map(|(task_id, agent_id)| ReconcileTask {
                task_id: task_id.clone(),
                agent_id: agent_id.clone(),
            })
            .collect()
    }

    /// How many tasks are tracked.
    pub(crate) fn len(&self) -> usize {
        self.tasks().len()
    }
}

fn launched(operations: &[Operation]) -> impl Iterator<Item = &wasmesos_proto::TaskInfo> {
    operations
        .iter()
        .filter_map(|op| match &op.operation {
            Some(operation::Operation::Launch(launch)) => Some(&launch.tasks),
            _ => None,
        })
        .flatten()
}

impl Driver {
    /// Asks the master about the tracked tasks, then about every task of the framework. A
    /// failed call is logged: the next subscription asks again.
    pub(crate) async fn reconcile_after_subscribe(&self) {
        if !self.inner.config.reconcile_on_subscribe {
            return;
        }
        let explicit = self.inner.tracked.to_reconcile();
        tracing::debug!(explicit = explicit.len(), "reconciling after subscribing");
        for chunk in explicit.chunks(MAX_PER_CALL) {
            if let Err(err) = self.reconcile(chunk.to_vec()).await {
                tracing::warn!(err = %err, "explicit reconciliation failed");
                return;
            }
        }
        if let Err(err) = self.reconcile(Vec::new()).await {
            tracing::warn!(err = %err, "implicit reconciliation failed");
        }
    }

    /// Tasks this driver launched and has not seen end (what it reconciles explicitly).
    pub fn tracked_tasks(&self) -> usize {
        self.inner.tracked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmesos_proto::{TaskInfo, TaskState};

    fn launch(ids: &[&str]) -> Vec<Operation> {
        let tasks = ids
            .iter()
            .map(|id| TaskInfo {
                task_id: id.to_string(),
                agent_id: "a1".into(),
                ..Default::default()
            })
            .collect();
        vec![Operation {
            operation: Some(operation::Operation::Launch(operation::Launch { tasks })),
        }]
    }

    fn status(task: &str, state: TaskState) -> TaskStatus {
        TaskStatus {
            task_id: task.into(),
            agent_id: "a2".into(),
            state: state as i32,
            ..Default::default()
        }
    }

    #[test]
    fn launched_tasks_are_tracked_until_they_end_or_the_accept_fails() {
        let tracked = Tracked::default();
        tracked.launching(&launch(&["t1", "t2", "t3"]));
        tracked.refused(&launch(&["t3"]));
        tracked.observed(&status("t1", TaskState::TaskRunning));
        tracked.observed(&status("t2", TaskState::TaskFinished));
        let asked = tracked.to_reconcile();
        assert_eq!(
            asked,
            [ReconcileTask {
                task_id: "t1".into(),
                agent_id: "a2".into(),
            }],
            "only t1 is still open, on the agent its update named"
        );
        tracked.observed(&status("t1", TaskState::TaskLost));
        assert_eq!(tracked.len(), 0);
    }
}
