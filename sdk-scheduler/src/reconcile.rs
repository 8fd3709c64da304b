//! Reconciliation after every (re)subscription, as Mesos advises: the master may have
//! restarted, failed over or dropped updates while the framework was away, so the driver
//! asks for the truth instead of trusting what it last heard.
//!
//! The driver keeps the ids of the tasks it launched until it sees each one's terminal
//! update ([`Tracked`]). After each SUBSCRIBED it asks explicitly about those (a task the
//! master does not know comes back TASK_LOST) and then implicitly about every task the
//! master holds for the framework. The answers arrive as ordinary UPDATE events, without a
//! uuid (nothing to acknowledge), through [`Scheduler::update`](crate::Scheduler::update).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, PoisonError};

use wasmesos_proto::reconcile_request::ReconcileTask;
use wasmesos_proto::{Operation, TaskStatus, operation};

use crate::Driver;

/// Keeps each explicit RECONCILE well under the master's message size limit.
const MAX_PER_CALL: usize = 4096;

/// How many ended tasks the driver remembers, to drop late reconciliation answers for them.
const ENDED_REMEMBERED: usize = 65_536;

/// Tasks this driver launched and has not yet seen end: task id → (agent id, the
/// subscription it was launched in).
#[derive(Default)]
pub(crate) struct Tracked {
    tasks: Mutex<HashMap<String, (String, u64)>>,
    ended: Mutex<Ended>,
    subscription: std::sync::atomic::AtomicU64,
}

/// The most recent tasks seen ending, oldest first.
#[derive(Default)]
struct Ended {
    ids: HashSet<String>,
    order: VecDeque<String>,
}

impl Ended {
    fn insert(&mut self, task_id: &str) {
        if !self.ids.insert(task_id.to_string()) {
            return;
        }
        self.order.push_back(task_id.to_string());
        if self.order.len() > ENDED_REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
    }
}

impl Tracked {
    fn tasks(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, u64)>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ended(&self) -> std::sync::MutexGuard<'_, Ended> {
        self.ended.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A master-generated update (no uuid: a reconciliation answer or a refused launch)
    /// about a task this driver has already seen end. Around a resubscription the two can
    /// cross: the reconciliation question goes out while a refusal is on its way, and the
    /// master answers both. The scheduler already has the task's one terminal state, so the
    /// later one is dropped rather than delivered as a second. Updates with a uuid come
    /// from agents and are always delivered (they need their acknowledgement).
    pub(crate) fn is_stale_answer(&self, status: &TaskStatus) -> bool {
        status.uuid.is_empty() && self.ended().ids.contains(&status.task_id)
    }

    /// Notes the tasks of the LAUNCH operations in an ACCEPT about to be sent. A task id
    /// used again after its task ended starts afresh: its updates are delivered.
    pub(crate) fn launching(&self, operations: &[Operation]) {
        let subscription = self.current_subscription();
        let mut tasks = self.tasks();
        let mut ended = self.ended();
        for info in launched(operations) {
            tasks.insert(info.task_id.clone(), (info.agent_id.clone(), subscription));
            ended.ids.remove(&info.task_id);
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
            self.ended().insert(&status.task_id);
        } else if !status.agent_id.is_empty()
            && let Some((agent_id, _)) = self.tasks().get_mut(&status.task_id)
        {
            agent_id.clone_from(&status.agent_id);
        }
    }

    fn current_subscription(&self) -> u64 {
        self.subscription.load(std::sync::atomic::Ordering::Acquire)
    }

    /// A new SUBSCRIBED arrived: tasks launched from now on belong to it.
    pub(crate) fn subscribed(&self) {
        self.subscription
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// The explicit reconciliation request for every task launched before the current
    /// subscription. Tasks launched since are answered by the master that just took them,
    /// and asking about them could race their own launch.
    fn to_reconcile(&self) -> Vec<ReconcileTask> {
        let current = self.current_subscription();
        self.tasks()
            .iter()
            .filter(|(_, (_, subscription))| *subscription < current)
            .map(|(task_id, (agent_id, _))| ReconcileTask {
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
    use wasmesos_proto::{Reason, TaskInfo, TaskState};

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
        tracked.subscribed();
        tracked.launching(&launch(&["t4"]));
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
            "only t1 is still open from before this subscription, on the agent its update named"
        );
        tracked.observed(&status("t1", TaskState::TaskLost));
        tracked.observed(&status("t4", TaskState::TaskFinished));
        assert_eq!(tracked.len(), 0);
    }

    #[test]
    fn a_second_master_update_for_an_ended_task_is_stale() {
        let tracked = Tracked::default();
        tracked.launching(&launch(&["t1", "t2"]));
        let mut refused = status("t1", TaskState::TaskError);
        refused.reason = Reason::InvalidOffers as i32;
        tracked.observed(&refused);
        let mut answer = status("t1", TaskState::TaskLost);
        answer.reason = Reason::Reconciliation as i32;
        assert!(tracked.is_stale_answer(&answer), "t1 already ended");
        let mut open = answer.clone();
        open.task_id = "t2".into();
        assert!(
            !tracked.is_stale_answer(&open),
            "t2 never ended: its answer counts"
        );
        tracked.observed(&open);
        let mut refusal = status("t2", TaskState::TaskError);
        refusal.reason = Reason::InvalidOffers as i32;
        assert!(
            tracked.is_stale_answer(&refusal),
            "a refusal that crossed the reconciliation answer is the second ending"
        );
        let mut update = status("t1", TaskState::TaskLost);
        update.uuid = vec![1];
        assert!(
            !tracked.is_stale_answer(&update),
            "a real update (with a uuid) is always delivered"
        );
        tracked.launching(&launch(&["t1"]));
        assert!(
            !tracked.is_stale_answer(&refused),
            "an id launched again after its task ended starts afresh"
        );
    }

    #[test]
    fn the_ended_set_forgets_the_oldest_past_its_bound() {
        let mut ended = Ended::default();
        for i in 0..=ENDED_REMEMBERED {
            ended.insert(&format!("t{i}"));
        }
        assert_eq!(ended.ids.len(), ENDED_REMEMBERED);
        assert!(!ended.ids.contains("t0"));
        assert!(ended.ids.contains(&format!("t{ENDED_REMEMBERED}")));
    }
}
