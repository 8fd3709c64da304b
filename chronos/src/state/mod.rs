//! Chronos's bookkeeping: jobs (definitions, counters, the schedule as it advances, which
//! parents have succeeded since a dependent job last ran) and runs (queued, launched,
//! running), kept durable in [`Durable`] and changed only through named operations. No
//! sockets and no clock: the time is an argument, and what must reach the master comes out
//! as [`Effect`]s and launches.
//!
//! The order of writes is the point: a run is stored (with the schedule already moved past
//! it, in the same transaction) before its task is launched, and stored as launched before
//! the launch is sent, so a restarted Chronos neither misses nor repeats it. Each operation
//! stages its writes in the [`GroupCommit`]'s open group and returns at once; its caller
//! waits for [`State::staged`] to be durable before anything that depends on them leaves
//! Chronos.

mod clock;
mod jobs;
mod offers;
mod status;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wasmesos_sdk_scheduler::durable::{Batch, Durable};
use wasmesos_sdk_scheduler::time::Timestamp;

pub use wasmesos_sdk_scheduler::Launch;

use crate::Error;
use crate::commit::{GroupCommit, Ticket};
use crate::model::Job;

const JOBS: &str = "jobs";
const RUNS: &str = "runs";

/// Chronos's default pause before a failed run is retried (its `failureRetryDelay`).
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(60);
/// How long a launched run may go without any word from the master (after its launch, or
/// after Chronos restarted) before it is counted lost.
pub const UNCONFIRMED_TIMEOUT: Duration = Duration::from_secs(60);
/// How often an unanswered kill is sent again.
pub const KILL_RETRY: Duration = Duration::from_secs(5);
/// Most runs one job may queue in one step when it catches up after downtime.
pub const MAX_CATCH_UP: usize = 100;

/// Why an operation was refused (Chronos answers all of them 400, storage faults 500).
#[derive(Debug)]
pub enum Refusal {
    /// No such job (`requirement failed: JobSchedule 'x' not found`).
    NotFound(String),
    /// The definition is not valid; the message says why.
    Invalid(String),
    /// The state could not be written.
    Store(Error),
}

impl From<wasmesos_sdk_scheduler::Error> for Refusal {
    fn from(err: wasmesos_sdk_scheduler::Error) -> Self {
        Refusal::Store(err.into())
    }
}

/// What the framework must tell the master.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Kill {
        task_id: String,
    },
    /// Runs wait for offers: clear filters so offers come.
    Revive,
}

/// A job and what Chronos tracks beside its definition.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    pub job: Job,
    /// Parents that succeeded since this (dependent) job was last triggered.
    pub parents_succeeded: BTreeSet<String>,
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Waiting for its time (a retry) or for an offer.
    Queued,
    /// Sent to the master in a launch.
    Launched,
    /// Reported running.
    Running,
}

/// One run of a job: one task, one attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub task_id: String,
    pub job: String,
    /// When it is due: not launched before, dropped when not launched within the epsilon.
    pub due: Timestamp,
    /// 0 for the first try, then one more per retry.
    pub attempt: u32,
    /// A manual start's extra arguments.
    pub arguments: Option<String>,
    pub phase: Phase,
    pub agent_id: String,
    pub launched_at: Option<Timestamp>,
    /// Killed on request: its end is neither a success nor a failure.
    pub killed: bool,
    /// When the last kill was sent (not stored: a restarted Chronos sends it again).
    #[serde(skip)]
    pub kill_sent: Option<Timestamp>,
    /// Whether the master reported on it since this process started.
    #[serde(skip)]
    pub confirmed: bool,
}

impl Run {
    /// Launched or running: a non-concurrent job starts no other run meanwhile.
    pub fn is_active(&self) -> bool {
        self.phase != Phase::Queued
    }
}

/// The task id of a run: Chronos's `ct:<due-ms>:<attempt>:<job>` with `_` for `:` (task ids
/// here name sandbox directories, so they are plain names).
pub fn task_id(due: Timestamp, attempt: u32, job: &str) -> String {
    format!("ct_{}_{attempt}_{job}", due.0)
}

/// The due time, attempt and job name of a [`task_id`].
pub fn parse_task_id(id: &str) -> Option<(Timestamp, u32, &str)> {
    let mut parts = id.strip_prefix("ct_")?.splitn(3, '_');
    let due = parts.next()?.parse().ok()?;
    let attempt = parts.next()?.parse().ok()?;
    let job = parts.next().filter(|name| !name.is_empty())?;
    Some((Timestamp(due), attempt, job))
}

/// All of Chronos's state.
#[derive(Debug)]
pub struct State {
    journal: Arc<GroupCommit>,
    /// The group holding the last writes staged.
    staged: Ticket,
    jobs: BTreeMap<String, JobRecord>,
    runs: BTreeMap<String, Run>,
    retry_delay: Duration,
    /// When this process (re)subscribed: unconfirmed runs are judged from then.
    subscribed_at: Option<Timestamp>,
    /// Whether runs could launch at the last step: a change to yes means a revive.
    launchable_before: bool,
}

impl State {
    /// Loads everything `store` holds; failed runs are retried after `retry_delay`.
    pub fn load(store: Durable, retry_delay: Duration) -> Result<State, Error> {
        let jobs = store.load::<JobRecord>(JOBS)?.into_iter().collect();
        let runs = store.load::<Run>(RUNS)?.into_iter().collect();
        Ok(State {
            journal: Arc::new(GroupCommit::new(store)),
            staged: Ticket::default(),
            jobs,
            runs,
            retry_delay,
            subscribed_at: None,
            launchable_before: false,
        })
    }

    pub fn store(&self) -> &Durable {
        self.journal.store()
    }

    /// The group commit its writes go through (the framework runs its committer).
    pub fn journal(&self) -> Arc<GroupCommit> {
        Arc::clone(&self.journal)
    }

    /// The group holding the last writes staged: whatever the state told its caller to send
    /// (launches, kills, an API answer) waits until it is durable.
    pub fn staged(&self) -> Ticket {
        self.staged
    }

    /// Writes what is staged now, without the committer task (for tests and benchmarks
    /// that drive the state in virtual time).
    pub fn flush(&self) -> Result<(), Error> {
        self.journal.commit().map(drop)
    }

    pub fn jobs(&self) -> impl Iterator<Item = &Job> {
        self.jobs.values().map(|r| &r.job)
    }

    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.get(name).map(|r| &r.job)
    }

    pub fn runs(&self) -> impl Iterator<Item = &Run> {
        self.runs.values()
    }

    /// Chronos's current state of a job for the graph: `running`, `queued` or `idle`.
    pub fn current_state(&self, job: &str) -> &'static str {
        let mut runs = self.runs.values().filter(|r| r.job == job);
        match runs.next() {
            None => "idle",
            Some(run) if run.is_active() || runs.any(Run::is_active) => "running",
            Some(_) => "queued",
        }
    }

    /// Marks a (re)subscription: runs not heard of since are judged from `now`.
    pub fn subscribed(&mut self, now: Timestamp) {
        self.subscribed_at = Some(now);
    }

    /// The launched runs with their agents, for an explicit reconciliation.
    pub fn task_agents(&self) -> Vec<(String, String)> {
        self.runs
            .values()
            .filter(|r| r.is_active())
            .map(|r| (r.task_id.clone(), r.agent_id.clone()))
            .collect()
    }

    /// Queues a run of `job` due at `due` (a millisecond later while that id is taken).
    fn enqueue(
        &mut self,
        job: &str,
        due: Timestamp,
        attempt: u32,
        arguments: Option<String>,
        batch: &mut Batch,
    ) {
        let mut due = due;
        while self.runs.contains_key(&task_id(due, attempt, job)) {
            due = due.plus(Duration::from_millis(1));
        }
        let run = Run {
            task_id: task_id(due, attempt, job),
            job: job.to_owned(),
            due,
            attempt,
            arguments,
            phase: Phase::Queued,
            agent_id: String::new(),
            launched_at: None,
            killed: false,
            kill_sent: None,
            confirmed: true,
        };
        tracing::info!(task_id = %run.task_id, job, attempt, "run queued");
        batch.put(RUNS, &run.task_id, &run);
        self.runs.insert(run.task_id.clone(), run);
    }

    fn put_job(&self, batch: &mut Batch, name: &str) {
        if let Some(record) = self.jobs.get(name) {
            batch.put(JOBS, name, record);
        }
    }

    /// Stages `batch` in the open group (durable with it; see [`State::staged`]).
    fn persist(&mut self, batch: Batch) {
        if !batch.is_empty() {
            self.staged = self.journal.stage(batch);
        }
    }
}

/// A job's epsilon in milliseconds (validated when the job was accepted; 60 s otherwise).
fn epsilon_ms(job: &Job) -> u64 {
    crate::model::iso8601::Period::parse(&job.epsilon)
        .and_then(|p| p.approximate_ms())
        .and_then(|ms| u64::try_from(ms).ok())
        .unwrap_or(60_000)
}
