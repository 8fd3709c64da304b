//! What clients ask of jobs: create or replace, delete, start now, kill its tasks. Each
//! change is staged for the group commit; the API answers once it is durable.

use std::collections::BTreeSet;

use wasmesos_sdk_scheduler::durable::Batch;
use wasmesos_sdk_scheduler::time::Timestamp;

use super::{Effect, JOBS, JobRecord, Phase, RUNS, Refusal, State};
use crate::model::iso8601::Zone;
use crate::model::{self, Job, Schedule, Trigger};

impl State {
    /// Creates or replaces a job (its counters are the ones `job` carries, so a definition
    /// that leaves them out resets them, as in Chronos). A scheduled job with no start gets
    /// `now`; one with neither schedule nor parents runs once, now.
    pub fn put(&mut self, mut job: Job, now: Timestamp) -> Result<(), Refusal> {
        model::check(&job, now).map_err(Refusal::Invalid)?;
        match &mut job.trigger {
            Trigger::Schedule {
                schedule,
                schedule_time_zone,
            } => {
                if !schedule_time_zone.is_empty() && Zone::named(schedule_time_zone).is_none() {
                    tracing::warn!(job = %job.name, zone = %schedule_time_zone,
                        "unknown scheduleTimeZone: the schedule runs on UTC, as in Chronos");
                }
                if schedule.is_empty() {
                    *schedule = format!("R1/{}/PT24H", now.iso());
                } else if schedule.split('/').nth(1).is_some_and(str::is_empty)
                    && let Some(parsed) = Schedule::parse(schedule, schedule_time_zone, now)
                {
                    *schedule = parsed.format();
                }
            }
            Trigger::Parents { parents } => self.check_parents(&job.name, parents)?,
        }
        let kept: BTreeSet<String> = self
            .jobs
            .get(&job.name)
            .map(|r| r.parents_succeeded.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| job.parents().contains(p))
            .collect();
        let record = JobRecord {
            job,
            parents_succeeded: kept,
        };
        let mut batch = Batch::default();
        batch.put(JOBS, &record.job.name, &record);
        self.persist(batch);
        tracing::info!(job = %record.job.name, "job stored");
        self.jobs.insert(record.job.name.clone(), record);
        Ok(())
    }

    /// Parents must be named, exist, and not make the job its own ancestor.
    fn check_parents(&self, name: &str, parents: &[String]) -> Result<(), Refusal> {
        if parents.is_empty() {
            return Err(Refusal::Invalid(
                "requirement failed: Error, parent does not exist".into(),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = parents.iter().map(String::as_str).collect();
        while let Some(parent) = todo.pop() {
            if parent == name {
                return Err(Refusal::Invalid(format!(
                    "requirement failed: job '{name}' would depend on itself"
                )));
            }
            let Some(record) = self.jobs.get(parent) else {
                return Err(Refusal::Invalid(format!(
                    "requirement failed: Error, parent '{parent}' does not exist"
                )));
            };
            if seen.insert(parent) {
                todo.extend(record.job.parents().iter().map(String::as_str));
            }
        }
        Ok(())
    }

    /// Deletes a job and kills its runs. Its children keep running after its own parents
    /// (or, when it was scheduled and they have no other parent, on its schedule), as
    /// Chronos rewires them.
    pub fn delete(&mut self, name: &str) -> Result<Vec<Effect>, Refusal> {
        let Some(record) = self.jobs.get(name).cloned() else {
            return Err(not_found(name));
        };
        let mut batch = Batch::default();
        let effects = self.kill_runs(name, &mut batch);
        let children: Vec<String> = self
            .jobs
            .values()
            .filter(|r| r.job.parents().iter().any(|p| p == name))
            .map(|r| r.job.name.clone())
            .collect();
        for child in children {
            let Some(entry) = self.jobs.get_mut(&child) else {
                continue;
            };
            let mut parents: Vec<String> = entry
                .job
                .parents()
                .iter()
                .filter(|p| p.as_str() != name)
                .cloned()
                .collect();
            for grand in record.job.parents() {
                if !parents.contains(grand) && grand != &child {
                    parents.push(grand.clone());
                }
            }
            entry.parents_succeeded.remove(name);
            entry.job.trigger = match (parents.is_empty(), &record.job.trigger) {
                (true, Trigger::Schedule { .. }) => record.job.trigger.clone(),
                _ => Trigger::Parents { parents },
            };
            batch.put(JOBS, &child, &*entry);
        }
        batch.delete(JOBS, name);
        self.persist(batch);
        self.jobs.remove(name);
        tracing::info!(job = %name, "job deleted");
        Ok(effects)
    }

    /// Starts a run of `name` now (`arguments` are added to a non-shell command).
    pub fn run_now(
        &mut self,
        name: &str,
        arguments: Option<String>,
        now: Timestamp,
    ) -> Result<(), Refusal> {
        if !self.jobs.contains_key(name) {
            return Err(Refusal::NotFound(format!(
                "requirement failed: Job '{name}' not found"
            )));
        }
        let mut batch = Batch::default();
        self.enqueue(name, now, 0, arguments, &mut batch);
        self.persist(batch);
        Ok(())
    }

    /// Kills every task of `name` and forgets its queued runs.
    pub fn kill(&mut self, name: &str) -> Result<Vec<Effect>, Refusal> {
        if !self.jobs.contains_key(name) {
            return Err(not_found(name));
        }
        let mut batch = Batch::default();
        let effects = self.kill_runs(name, &mut batch);
        self.persist(batch);
        Ok(effects)
    }

    fn kill_runs(&mut self, name: &str, batch: &mut Batch) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.runs.retain(|id, run| {
            if run.job != name {
                return true;
            }
            if run.phase == Phase::Queued {
                batch.delete(RUNS, id);
                return false;
            }
            run.killed = true;
            // Not marked sent: the step the API kicks once this is stored sends the kill at
            // once (a caller that sends these effects itself only doubles an idempotent kill).
            run.kill_sent = None;
            batch.put(RUNS, id, &*run);
            effects.push(Effect::Kill {
                task_id: id.clone(),
            });
            true
        });
        effects
    }
}

fn not_found(name: &str) -> Refusal {
    Refusal::NotFound(format!(
        "requirement failed: JobSchedule '{name}' not found"
    ))
}
