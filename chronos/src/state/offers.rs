//! Offers to launches: queued runs whose time has come go onto offers that fit their job's
//! resources, one at a time for a job that is not `concurrent`. Each run is stored as
//! launched before its launch is sent.

use std::collections::{BTreeMap, BTreeSet};

use wasmesos_proto::{Offer, TaskInfo};
use wasmesos_sdk_scheduler::durable::Batch;
use wasmesos_sdk_scheduler::time::Timestamp;
use wasmesos_sdk_scheduler::{Capacity, Launch, TaskBuilder};

use super::{Phase, RUNS, Run, State};
use crate::model::Job;
use crate::model::command::executor_of;

const MIB: f64 = 1024.0 * 1024.0;

impl State {
    /// How many runs wait for an offer at `now`.
    pub fn launchable(&self, now: Timestamp) -> usize {
        self.runs
            .values()
            .filter(|r| r.phase == Phase::Queued && r.due <= now)
            .count()
    }

    /// Places the runs that are due on `offers`; returns the launches and the offers left
    /// unused (to decline).
    pub fn on_offers(&mut self, offers: &[Offer], now: Timestamp) -> (Vec<Launch>, Vec<String>) {
        let mut busy: BTreeSet<String> = self
            .runs
            .values()
            .filter(|r| r.is_active())
            .map(|r| r.job.clone())
            .collect();
        let mut waiting: Vec<(Timestamp, String)> = self
            .runs
            .values()
            .filter(|r| r.phase == Phase::Queued && r.due <= now)
            .map(|r| (r.due, r.task_id.clone()))
            .collect();
        waiting.sort();
        let mut launches = Vec::new();
        let mut unused = Vec::new();
        let mut batch = Batch::default();
        for offer in offers {
            let mut capacity = Capacity::of(offer);
            let mut tasks = Vec::new();
            for (_, id) in &waiting {
                let Some(run) = self.runs.get(id).filter(|r| r.phase == Phase::Queued) else {
                    continue;
                };
                let Some(job) = self.jobs.get(&run.job).map(|r| &r.job) else {
                    continue;
                };
                if !job.concurrent && busy.contains(&job.name) {
                    continue;
                }
                let Some(info) = task_for(job, run, offer, &mut capacity) else {
                    continue;
                };
                busy.insert(job.name.clone());
                if let Some(run) = self.runs.get_mut(id) {
                    run.phase = Phase::Launched;
                    run.agent_id = offer.agent_id.clone();
                    run.launched_at = Some(now);
                    run.confirmed = false;
                    batch.put(RUNS, id, &*run);
                }
                tasks.push(info);
            }
            if tasks.is_empty() {
                unused.push(offer.id.clone());
            } else {
                launches.push(Launch {
                    offer_id: offer.id.clone(),
                    tasks,
                });
            }
        }
        // Stored before anything is sent (the launches wait for this group's commit): a
        // crash after this launches nothing twice, and a failed commit stops Chronos.
        self.persist(batch);
        (launches, unused)
    }
}

/// The task of `run` placed in what is left of `offer`, or `None` when it does not fit (or
/// the job's command no longer maps to a program).
fn task_for(job: &Job, run: &Run, offer: &Offer, capacity: &mut Capacity) -> Option<TaskInfo> {
    let executor = match executor_of(job, run.arguments.as_deref()) {
        Ok(executor) => executor,
        Err(err) => {
            tracing::warn!(job = %job.name, %err, "the job's command cannot run");
            return None;
        }
    };
    let mut builder = TaskBuilder::new(run.task_id.clone(), executor.digest.clone())
        .name(format!("ChronosTask:{}", job.name))
        .cpus(job.cpus)
        .mem(megabytes(job.mem));
    if job.disk > 0.0 {
        builder = builder.disk(megabytes(job.disk));
    }
    for (key, value) in environment(job, run) {
        builder = builder.env(key, value);
    }
    let placed = capacity.place(builder)?;
    let mut info = placed.build_for(offer);
    let slot = info.executor.get_or_insert_default();
    slot.program = executor.program;
    slot.uris = executor.uris;
    slot.args = executor.args;
    Some(info)
}

fn megabytes(value: f64) -> u64 {
    // Jobs are read with finite values; the cast saturates.
    (value.max(0.0) * MIB).ceil() as u64
}

/// The job's `environmentVariables` after what Chronos sets itself.
fn environment(job: &Job, run: &Run) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("mesos_task_id".into(), run.task_id.clone());
    env.insert("CHRONOS_JOB_OWNER".into(), job.owner.clone());
    env.insert("CHRONOS_JOB_NAME".into(), job.name.clone());
    env.insert("CHRONOS_JOB_RUN_TIME".into(), run.due.iso());
    env.insert("CHRONOS_JOB_RUN_ATTEMPT".into(), run.attempt.to_string());
    env.insert("CHRONOS_RESOURCE_CPU".into(), job.cpus.to_string());
    env.insert("CHRONOS_RESOURCE_MEM".into(), job.mem.to_string());
    env.insert("CHRONOS_RESOURCE_DISK".into(), job.disk.to_string());
    for variable in &job.environment_variables {
        env.insert(variable.name.clone(), variable.value.clone());
    }
    env
}
