//! Status updates from the master: a run's progress and its end. A success counts and may
//! trigger dependent jobs; a failure is retried after the retry delay while the job has
//! retries left, and only then counts as one error; a run killed on request counts as
//! neither.

use wasmesos_proto::{TaskState, TaskStatus};
use wasmesos_sdk_scheduler::durable::Batch;
use wasmesos_sdk_scheduler::time::Timestamp;

use super::{Effect, Phase, RUNS, Run, State};
use crate::model::Schedule;

impl State {
    /// Applies one status update; returns a kill for a task that belongs to no run.
    pub fn on_status(&mut self, status: &TaskStatus, now: Timestamp) -> Vec<Effect> {
        let state = status.state();
        let Some(run) = self.runs.get_mut(&status.task_id) else {
            if state.is_terminal() {
                return Vec::new();
            }
            tracing::info!(task_id = %status.task_id, "killing a task Chronos has no run for");
            return vec![Effect::Kill {
                task_id: status.task_id.clone(),
            }];
        };
        run.confirmed = true;
        if !state.is_terminal() {
            // Not written: launched and running are recovered alike (by reconciliation).
            if state == TaskState::TaskRunning {
                run.phase = Phase::Running;
            }
            return Vec::new();
        }
        let Some(run) = self.runs.remove(&status.task_id) else {
            return Vec::new();
        };
        let mut batch = Batch::default();
        batch.delete(RUNS, &run.task_id);
        match state {
            _ if run.killed => {
                tracing::info!(task_id = %run.task_id, "killed run ended");
            }
            TaskState::TaskFinished => self.succeeded(&run, now, &mut batch),
            TaskState::TaskKilled => {
                tracing::info!(task_id = %run.task_id, "run killed");
            }
            _ => {
                tracing::info!(task_id = %run.task_id, state = ?state, message = %status.message,
                    "run failed");
                self.failed(run, now, &mut batch);
            }
        }
        self.persist(batch);
        Vec::new()
    }

    /// A run finished: the job counts a success, a job with no repetitions left is
    /// disabled (as Chronos does), and its children may run.
    fn succeeded(&mut self, run: &Run, now: Timestamp, batch: &mut Batch) {
        let Some(record) = self.jobs.get_mut(&run.job) else {
            return;
        };
        let job = &mut record.job;
        job.success_count = job.success_count.saturating_add(1);
        job.errors_since_last_success = 0;
        job.last_success = now.iso();
        let exhausted = job
            .schedule()
            .and_then(|(text, zone)| Schedule::parse(text, zone, now))
            .is_some_and(|s| s.exhausted());
        let pending = self.runs.values().any(|r| r.job == run.job);
        if exhausted && !pending {
            tracing::info!(job = %run.job, "every repetition ran; job disabled");
            job.disabled = true;
        }
        tracing::info!(task_id = %run.task_id, "run succeeded");
        self.put_job(batch, &run.job);
        self.parent_done(&run.job, now, batch);
    }

    /// A run failed (or was lost): retried while retries are left, else one error.
    pub(super) fn failed(&mut self, run: Run, now: Timestamp, batch: &mut Batch) {
        let Some(record) = self.jobs.get_mut(&run.job) else {
            return;
        };
        if run.attempt < record.job.retries {
            let due = now.plus(self.retry_delay);
            tracing::info!(task_id = %run.task_id, attempt = run.attempt + 1, "retrying");
            self.enqueue(&run.job, due, run.attempt + 1, run.arguments, batch);
            return;
        }
        let job = &mut record.job;
        job.error_count = job.error_count.saturating_add(1);
        job.errors_since_last_success = job.errors_since_last_success.saturating_add(1);
        job.last_error = now.iso();
        let soft = job.soft_error;
        tracing::warn!(task_id = %run.task_id, "run failed beyond its retries");
        self.put_job(batch, &run.job);
        if soft {
            self.parent_done(&run.job, now, batch);
        }
    }

    /// `parent` succeeded: each job depending on it notes that, and runs once all of its
    /// parents have succeeded since its last run.
    fn parent_done(&mut self, parent: &str, now: Timestamp, batch: &mut Batch) {
        let children: Vec<String> = self
            .jobs
            .values()
            .filter(|r| r.job.parents().iter().any(|p| p == parent))
            .map(|r| r.job.name.clone())
            .collect();
        for child in children {
            let Some(record) = self.jobs.get_mut(&child) else {
                continue;
            };
            record.parents_succeeded.insert(parent.to_owned());
            let ready = record
                .job
                .parents()
                .iter()
                .all(|p| record.parents_succeeded.contains(p));
            let disabled = record.job.disabled;
            if ready {
                record.parents_succeeded.clear();
            }
            self.put_job(batch, &child);
            if ready && !disabled {
                self.enqueue(&child, now, 0, None, batch);
            }
        }
    }
}
