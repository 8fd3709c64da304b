//! The passing of time: scheduled jobs whose time came get runs (occurrences older than
//! the job's epsilon are skipped), queued runs that waited past their epsilon are dropped,
//! runs the master never confirmed are counted lost, and unanswered kills are sent again.

use std::time::Duration;

use wasmesos_sdk_scheduler::durable::Batch;
use wasmesos_sdk_scheduler::time::Timestamp;

use super::{
    Effect, JOBS, JobRecord, KILL_RETRY, MAX_CATCH_UP, Phase, RUNS, State, UNCONFIRMED_TIMEOUT,
    epsilon_ms,
};
use crate::model::{Schedule, Trigger};

impl State {
    /// Moves everything on to `now`; returns what must be sent to the master.
    pub fn step(&mut self, now: Timestamp) -> Vec<Effect> {
        let mut batch = Batch::default();
        self.take_due_occurrences(now, &mut batch);
        self.drop_missed(now, &mut batch);
        let mut effects = self.lost_and_killed(now, &mut batch);
        self.persist(batch);
        let launchable = self
            .runs
            .values()
            .any(|r| r.phase == Phase::Queued && r.due <= now);
        if launchable && !self.launchable_before {
            effects.push(Effect::Revive);
        }
        self.launchable_before = launchable;
        effects
    }

    /// When the next scheduled occurrence or queued run falls due after `now` (for the
    /// framework's timer).
    pub fn next_due(&self, now: Timestamp) -> Option<Timestamp> {
        let scheduled = self
            .jobs
            .values()
            .filter_map(|r| live_schedule(r, now))
            .map(|s| s.start.timestamp());
        let queued = self
            .runs
            .values()
            .filter(|r| r.phase == Phase::Queued)
            .map(|r| r.due);
        scheduled.chain(queued).filter(|due| *due > now).min()
    }

    fn take_due_occurrences(&mut self, now: Timestamp, batch: &mut Batch) {
        let due: Vec<(String, Schedule, u64)> = self
            .jobs
            .values()
            .filter_map(|r| {
                let schedule = live_schedule(r, now)?;
                let ready = schedule.start.timestamp() <= now;
                ready.then(|| (r.job.name.clone(), schedule, epsilon_ms(&r.job)))
            })
            .collect();
        for (name, mut schedule, epsilon) in due {
            let now_ms = i64::try_from(now.0).unwrap_or(i64::MAX);
            let cutoff = now_ms.saturating_sub(i64::try_from(epsilon).unwrap_or(i64::MAX));
            let skipped = schedule.skip_before(cutoff);
            if skipped > 0 {
                tracing::warn!(job = %name, skipped, "occurrences later than the epsilon skipped");
            }
            let mut taken = 0;
            while taken < MAX_CATCH_UP && !schedule.exhausted() && schedule.start.millis <= now_ms {
                let due = schedule.start.timestamp();
                if !schedule.advance() {
                    break;
                }
                self.enqueue(&name, due, 0, None, batch);
                taken += 1;
            }
            if let Some(record) = self.jobs.get_mut(&name)
                && let Trigger::Schedule { schedule: text, .. } = &mut record.job.trigger
            {
                *text = schedule.format();
                batch.put(JOBS, &name, &*record);
            }
        }
    }

    /// Queued runs not launched within their job's epsilon are missed, as in Chronos.
    fn drop_missed(&mut self, now: Timestamp, batch: &mut Batch) {
        let missed: Vec<String> = self
            .runs
            .values()
            .filter(|r| r.phase == Phase::Queued)
            .filter(|r| {
                let epsilon = self.jobs.get(&r.job).map_or(0, |j| epsilon_ms(&j.job));
                r.due.plus(Duration::from_millis(epsilon)) < now
            })
            .map(|r| r.task_id.clone())
            .collect();
        for id in missed {
            tracing::warn!(task_id = %id, "run not launched within its epsilon; skipped");
            self.runs.remove(&id);
            batch.delete(RUNS, &id);
        }
    }

    fn lost_and_killed(&mut self, now: Timestamp, batch: &mut Batch) -> Vec<Effect> {
        let mut effects = Vec::new();
        let since = self.subscribed_at;
        let lost: Vec<String> = self
            .runs
            .values()
            .filter(|r| r.is_active() && !r.confirmed)
            .filter(|r| {
                let from = r.launched_at.max(since).unwrap_or(now);
                now.since(from) >= UNCONFIRMED_TIMEOUT && since.is_some()
            })
            .map(|r| r.task_id.clone())
            .collect();
        for id in lost {
            if let Some(run) = self.runs.remove(&id) {
                tracing::warn!(task_id = %id, "no word of the run from the master; counted lost");
                batch.delete(RUNS, &id);
                effects.push(Effect::Kill { task_id: id });
                self.failed(run, now, batch);
            }
        }
        for run in self.runs.values_mut().filter(|r| r.killed && r.is_active()) {
            if run
                .kill_sent
                .is_none_or(|sent| now.since(sent) >= KILL_RETRY)
            {
                run.kill_sent = Some(now);
                effects.push(Effect::Kill {
                    task_id: run.task_id.clone(),
                });
            }
        }
        effects
    }
}

/// The schedule of an enabled scheduled job with runs left.
fn live_schedule(record: &JobRecord, now: Timestamp) -> Option<Schedule> {
    if record.job.disabled {
        return None;
    }
    let (text, zone) = record.job.schedule()?;
    Schedule::parse(text, zone, now).filter(|s| !s.exhausted())
}
