//! Chronos's job model: the job JSON (`job.rs`), its `schedule` (`schedule.rs`, on the
//! ISO 8601 instants and durations of `iso8601.rs` and the time zones of `zone.rs`), what a
//! run executes (`command.rs`)
//! and the checks a new definition must pass, with Chronos's messages.

pub mod command;
pub mod iso8601;
mod job;
pub mod schedule;
mod zone;

pub use job::{EnvironmentVariable, Fetch, Job, Trigger};
pub use schedule::Schedule;

use wasmesos_sdk_scheduler::time::Timestamp;

/// Longest job name: its task ids (`ct_<due>_<attempt>_<name>`) must stay within the
/// master's 200 bytes.
pub const MAX_NAME_LEN: usize = 160;

/// Whether `name` is a Chronos job name (`[\w.-]+`), short enough for a task id.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The checks Chronos makes of a job it is given, and one of its own: the command must name
/// something to run. `Err` carries the message of its 400.
pub fn check(job: &Job, now: Timestamp) -> Result<(), String> {
    if !valid_name(&job.name) {
        return Err(format!(
            "requirement failed: the job's name is invalid. Allowed names: '([\\w\\.-]+)' \
             (at most {MAX_NAME_LEN} characters)"
        ));
    }
    if let Some((text, zone)) = job.schedule() {
        let Some(schedule) = Schedule::parse(text, zone, now) else {
            return Err(format!("Cannot parse schedule '{text}' (wtf bro)"));
        };
        if schedule.start.millis < 1000 {
            return Err(format!(
                "Scheduled start date '{}' is before 1970!",
                schedule.start.format()
            ));
        }
    }
    if !job.uris.is_empty() && !job.fetch.is_empty() {
        return Err(format!(
            "Tried to add both uri (deprecated) and fetch parameters on {}",
            job.name
        ));
    }
    let epsilon = iso8601::Period::parse(&job.epsilon);
    if epsilon.and_then(|e| e.approximate_ms()).is_none() {
        return Err(format!("Cannot parse epsilon '{}'", job.epsilon));
    }
    command::executor_of(job, None).map(|_| ())
}
