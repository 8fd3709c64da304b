//! What a restarted agent does with its checkpoint, before it registers.
//!
//! Tasks do not survive an agent restart: their wasmtime instances lived in the old process.
//! So every task that was not terminal gets one terminal update, TASK_FAILED with
//! REASON_AGENT_RESTARTED, written and sent like any other; updates still waiting for their
//! acknowledgement are resent first, in their order; and the agent re-registers with its old
//! id, reporting all of these tasks, so the master accounts for each of them.

use std::sync::PoisonError;

use tracing::info;

use crate::agent::Agent;
use crate::checkpoint::Recovered;
use crate::updates::Update;

/// Puts `recovered` back on the agent's books and queues what the master must hear.
pub(crate) fn recover(agent: &Agent, recovered: Recovered) {
    let Recovered {
        agent_id,
        frameworks,
        tasks,
        updates,
    } = recovered;
    let resent = updates.len();
    let held = tasks.len();
    if agent_id.is_some() {
        *agent
            .recovered_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = agent_id.clone();
    }
    for framework in frameworks {
        agent.registry.add_framework(framework);
    }
    // They are on disk already; queued before the failures below, they leave before them.
    if !updates.is_empty() {
        agent.status.send(updates);
    }
    let mut failed: usize = 0;
    for task in tasks {
        let latest = task
            .latest
            .unwrap_or_else(|| Update::staging().stamp(&task.key, String::new(), false));
        let state = latest.state();
        agent.registry.restore(&task.key, task.info, latest);
        if !state.is_terminal() {
            agent.emit(&task.key, Update::agent_restarted(state));
            failed = failed.saturating_add(1);
        }
    }
    if agent_id.is_some() || held > 0 {
        info!(
            agent_id = agent_id.as_deref().unwrap_or(""),
            tasks = held,
            failed,
            resent,
            checkpoint = %agent.checkpoint.path().display(),
            "recovered from the checkpoint"
        );
    }
}
