//! What frameworks with their own state (Marathon, Chronos) do the same way around the
//! master: launch the tasks they stored, one group per offer, and ask after the tasks they
//! stored when they (re)subscribe. Failures are logged, not returned: a task stored before
//! its launch is found again by reconciliation, so the caller has nothing to undo.

use wasmesos_proto::reconcile_request::ReconcileTask;
use wasmesos_proto::{Filters, TaskInfo};

use crate::Driver;

/// Tasks to launch on one offer.
#[derive(Debug)]
pub struct Launch {
    pub offer_id: String,
    pub tasks: Vec<TaskInfo>,
}

impl Driver {
    /// Sends each launch with `filters` for what its offer has left.
    pub async fn launch_all(&self, launches: Vec<Launch>, filters: Filters) {
        for launch in launches {
            let ids: Vec<String> = launch.tasks.iter().map(|t| t.task_id.clone()).collect();
            if let Err(err) = self
                .launch_with_filters([launch.offer_id], launch.tasks, filters)
                .await
            {
                tracing::warn!(%err, tasks = ?ids, "launch failed");
            }
        }
    }

    /// Explicit reconciliation of `tasks` (task id, agent id), if there are any.
    pub async fn reconcile_known(&self, tasks: Vec<(String, String)>) {
        if tasks.is_empty() {
            return;
        }
        let tasks = tasks
            .into_iter()
            .map(|(task_id, agent_id)| ReconcileTask { task_id, agent_id })
            .collect();
        if let Err(err) = self.reconcile(tasks).await {
            tracing::warn!(%err, "explicit reconciliation failed");
        }
    }
}
