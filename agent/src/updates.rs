//! What a task's status updates say: states and reasons from the executor's outcome, from a
//! failed fetch or from an invalid task, stamped with a fresh uuid.

use std::time::{SystemTime, UNIX_EPOCH};

use wasmesos_proto::{Reason, StatusSource, TaskState, TaskStatus};
use wasmesos_wasm_executor::{Error as ExecutorError, FailureReason, Outcome, Report};

use crate::Error;
use crate::registry::TaskKey;

/// The largest result any setting of `max_result_bytes` lets travel: half of what the
/// master decodes from one call, so the update that carries it always reaches the master
/// (and every framework, see `wasmesos_proto::limits`).
#[allow(
    clippy::as_conversions,
    reason = "a usize constant of a few MiB fits a u64 on every platform"
)]
pub(crate) const MAX_RESULT_BYTES: u64 = (wasmesos_proto::limits::MAX_CALL_BYTES / 2) as u64;

/// The content of one status update, before it is stamped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Update {
    pub(crate) state: TaskState,
    pub(crate) reason: Reason,
    pub(crate) message: String,
    pub(crate) data: Vec<u8>,
    pub(crate) exit_code: Option<i32>,
    pub(crate) source: StatusSource,
    /// The task's health, once a health check has decided it.
    pub(crate) healthy: Option<bool>,
    /// Set on the RUNNING update that reports a suspension or a resume.
    pub(crate) suspended: Option<bool>,
}

impl Update {
    fn new(
        state: TaskState,
        reason: Reason,
        message: impl Into<String>,
        source: StatusSource,
    ) -> Self {
        Update {
            state,
            reason,
            message: message.into(),
            data: Vec::new(),
            exit_code: None,
            source,
            healthy: None,
            suspended: None,
        }
    }

    /// The task was suspended in place or resumed; it still runs.
    pub(crate) fn suspension(suspended: bool, message: impl Into<String>) -> Self {
        Update {
            suspended: Some(suspended),
            ..Update::new(
                TaskState::TaskRunning,
                Reason::TaskSuspensionUpdated,
                message,
                StatusSource::SourceAgent,
            )
        }
    }

    /// Booked, not yet started; never sent, only the first `latest` of a task.
    pub(crate) fn staging() -> Self {
        Update::new(
            TaskState::TaskStaging,
            Reason::Unspecified,
            "",
            StatusSource::SourceAgent,
        )
    }

    /// The agent began fetching and loading the executor.
    pub(crate) fn starting() -> Self {
        Update::new(
            TaskState::TaskStarting,
            Reason::Unspecified,
            "",
            StatusSource::SourceAgent,
        )
    }

    /// The instance runs; `message` is the guest's latest status text.
    pub(crate) fn running(message: impl Into<String>) -> Self {
        Update::new(
            TaskState::TaskRunning,
            Reason::Unspecified,
            message,
            StatusSource::SourceExecutor,
        )
    }

    /// A health check changed its verdict, or failed again; the task still runs.
    pub(crate) fn health(healthy: bool, message: impl Into<String>) -> Self {
        Update {
            healthy: Some(healthy),
            ..Update::new(
                TaskState::TaskRunning,
                Reason::TaskHealthCheckStatusUpdated,
                message,
                StatusSource::SourceExecutor,
            )
        }
    }

    /// A kill began: the task is stopping (sent only to frameworks that asked for it).
    pub(crate) fn killing(grace: std::time::Duration) -> Self {
        Update::new(
            TaskState::TaskKilling,
            Reason::Killed,
            format!("stopping, with a grace period of {grace:?}"),
            StatusSource::SourceAgent,
        )
    }

    /// The terminal update of a task killed for failing its health check.
    pub(crate) fn unhealthy(self, message: String) -> Self {
        Update {
            reason: Reason::TaskUnhealthy,
            message,
            healthy: Some(false),
            ..self
        }
    }

    /// A TASK_KILLED the master asked for with a reason of its own (a drain).
    pub(crate) fn killed_for(self, reason: Reason) -> Self {
        let message = match reason {
            Reason::AgentDraining => "killed: its agent is draining".to_string(),
            Reason::TaskPreempted => "killed: preempted by the master".to_string(),
            Reason::Revocation => {
                "killed: its revocable resources were taken back by the agent's QoS controller"
                    .to_string()
            }
            _ => self.message,
        };
        Update {
            reason,
            message,
            ..self
        }
    }

    /// This update with the task's latest known health on it.
    pub(crate) fn with_health(self, healthy: Option<bool>) -> Self {
        Update {
            healthy: self.healthy.or(healthy),
            ..self
        }
    }

    /// Killed before the instance started.
    pub(crate) fn killed_before_start() -> Self {
        Update::new(
            TaskState::TaskKilled,
            Reason::Killed,
            "killed before the executor started",
            StatusSource::SourceAgent,
        )
    }

    /// The agent restarted while the task was in `state`: its instance died with the old
    /// process.
    pub(crate) fn agent_restarted(state: TaskState) -> Self {
        Update::new(
            TaskState::TaskFailed,
            Reason::AgentRestarted,
            format!(
                "the agent restarted while the task was {}; tasks do not survive an agent restart",
                state.name()
            ),
            StatusSource::SourceAgent,
        )
    }

    /// The task never ran because of `err`: TASK_FAILED when a fetch failed (as Mesos),
    /// TASK_ERROR otherwise.
    pub(crate) fn from_error(err: &Error) -> Self {
        let state = match err {
            Error::Fetch { .. } => TaskState::TaskFailed,
            _ => TaskState::TaskError,
        };
        Update::new(
            state,
            error_reason(err),
            err.for_framework(),
            StatusSource::SourceAgent,
        )
    }

    /// The terminal update for a task that ran. Result data larger than `max_result_bytes`
    /// (and than [`MAX_RESULT_BYTES`], whatever the setting) fails the task instead of
    /// travelling.
    pub(crate) fn from_report(report: Report, max_result_bytes: u64) -> Self {
        let max_result_bytes = max_result_bytes.min(MAX_RESULT_BYTES);
        let message = report.outcome.to_string();
        let source = StatusSource::SourceExecutor;
        match report.outcome {
            Outcome::Finished { data, .. } if data.len() as u64 > max_result_bytes => Update::new(
                TaskState::TaskFailed,
                Reason::GuestError,
                format!(
                    "the result data of {} bytes exceeds the agent's limit of {max_result_bytes} bytes",
                    data.len()
                ),
                source,
            ),
            Outcome::Finished { exit_code, data } => Update {
                data,
                exit_code: Some(exit_code),
                ..Update::new(TaskState::TaskFinished, Reason::Finished, message, source)
            },
            Outcome::Failed(failure) => Update {
                exit_code: match failure {
                    FailureReason::ExitCode(code) => Some(code),
                    _ => None,
                },
                ..Update::new(
                    TaskState::TaskFailed,
                    failure_reason(&failure),
                    message,
                    source,
                )
            },
            Outcome::Killed => Update::new(TaskState::TaskKilled, Reason::Killed, message, source),
            Outcome::Error(_) => {
                Update::new(TaskState::TaskError, Reason::HostFault, message, source)
            }
        }
    }

    /// The update as sent: with a fresh random uuid (or none, when it needs no ack).
    pub(crate) fn stamp(self, key: &TaskKey, agent_id: String, needs_ack: bool) -> TaskStatus {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        let uuid = if needs_ack {
            uuid::Uuid::new_v4().as_bytes().to_vec()
        } else {
            Vec::new()
        };
        TaskStatus {
            task_id: key.task_id.clone(),
            state: self.state as i32,
            reason: self.reason as i32,
            message: self.message,
            data: self.data,
            agent_id,
            framework_id: key.framework_id.clone(),
            uuid,
            timestamp,
            source: self.source as i32,
            exit_code: self.exit_code,
            healthy: self.healthy,
            unreachable_time: None,
            suspended: self.suspended,
        }
    }
}

fn failure_reason(failure: &FailureReason) -> Reason {
    match failure {
        FailureReason::ExitCode(_) => Reason::ExitCode,
        FailureReason::Trap(_) => Reason::Trap,
        FailureReason::GuestError(_) => Reason::GuestError,
        FailureReason::MemoryLimit => Reason::MemoryLimit,
        FailureReason::FuelExhausted => Reason::FuelExhausted,
        FailureReason::Timeout => Reason::Timeout,
        FailureReason::DiskLimit => Reason::DiskLimit,
        FailureReason::StackOverflow => Reason::StackOverflow,
    }
}

fn error_reason(err: &Error) -> Reason {
    match err {
        Error::Executor(
            ExecutorError::InvalidComponent(_)
            | ExecutorError::NotAComponent
            | ExecutorError::MissingWorld
            | ExecutorError::TooLarge { .. },
        ) => Reason::InvalidComponent,
        Error::Executor(ExecutorError::UnsupportedImports(_)) => Reason::UnsupportedImports,
        Error::InvalidDigest(_)
        | Error::ArtifactNotFound(_)
        | Error::DigestMismatch { .. }
        | Error::ArtifactTooLarge { .. }
        | Error::Rpc(_) => Reason::ExecutorNotFound,
        Error::InvalidTask(_) => Reason::InvalidTask,
        Error::Fetch { .. } => Reason::ContainerLaunchFailed,
        _ => Reason::HostFault,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use wasmesos_wasm_executor::TaskError;

    fn report(outcome: Outcome) -> Report {
        Report {
            outcome,
            duration: Duration::ZERO,
            peak_memory_bytes: 0,
            fuel_consumed: None,
            cpu_time: Duration::ZERO,
        }
    }

    #[test]
    fn outcomes_map_to_states_and_reasons() {
        let finished = Update::from_report(
            report(Outcome::Finished {
                exit_code: 0,
                data: b"42".to_vec(),
            }),
            1024,
        );
        assert_eq!(
            (
                finished.state,
                finished.reason,
                finished.exit_code,
                finished.data.as_slice()
            ),
            (
                TaskState::TaskFinished,
                Reason::Finished,
                Some(0),
                &b"42"[..]
            )
        );
        let cases = [
            (FailureReason::ExitCode(3), Reason::ExitCode),
            (FailureReason::Trap("unreachable".into()), Reason::Trap),
            (FailureReason::GuestError("no".into()), Reason::GuestError),
            (FailureReason::MemoryLimit, Reason::MemoryLimit),
            (FailureReason::FuelExhausted, Reason::FuelExhausted),
            (FailureReason::Timeout, Reason::Timeout),
            (FailureReason::DiskLimit, Reason::DiskLimit),
            (FailureReason::StackOverflow, Reason::StackOverflow),
        ];
        for (failure, reason) in cases {
            let update = Update::from_report(report(Outcome::Failed(failure)), 1024);
            assert_eq!(
                (update.state, update.reason),
                (TaskState::TaskFailed, reason)
            );
        }
        let exit = Update::from_report(report(Outcome::Failed(FailureReason::ExitCode(3))), 1);
        assert_eq!(exit.exit_code, Some(3));
        let killed = Update::from_report(report(Outcome::Killed), 1);
        assert_eq!(
            (killed.state, killed.reason),
            (TaskState::TaskKilled, Reason::Killed)
        );
        let fault = Update::from_report(report(Outcome::Error(TaskError::Host("x".into()))), 1);
        assert_eq!(
            (fault.state, fault.reason),
            (TaskState::TaskError, Reason::HostFault)
        );
    }

    #[test]
    fn oversized_results_fail_the_task() {
        let update = Update::from_report(
            report(Outcome::Finished {
                exit_code: 0,
                data: vec![0; 11],
            }),
            10,
        );
        assert_eq!(
            (update.state, update.reason),
            (TaskState::TaskFailed, Reason::GuestError)
        );
        assert!(update.data.is_empty());
    }

    #[test]
    fn fetch_and_load_errors_map_to_error_reasons() {
        let cases = [
            (
                Error::ArtifactNotFound("d".into()),
                Reason::ExecutorNotFound,
            ),
            (Error::InvalidDigest("d".into()), Reason::ExecutorNotFound),
            (Error::InvalidTask("t".into()), Reason::InvalidTask),
            (
                Error::Executor(ExecutorError::NotAComponent),
                Reason::InvalidComponent,
            ),
            (
                Error::Executor(ExecutorError::UnsupportedImports(vec!["acme:x/y".into()])),
                Reason::UnsupportedImports,
            ),
            (Error::Internal("x".into()), Reason::HostFault),
        ];
        for (err, reason) in cases {
            let update = Update::from_error(&err);
            assert_eq!(
                (update.state, update.reason),
                (TaskState::TaskError, reason),
                "{err}"
            );
        }
    }

    #[test]
    fn stamped_updates_carry_a_fresh_uuid_only_when_acked() {
        let key = TaskKey {
            framework_id: "fw".into(),
            task_id: "t".into(),
        };
        let a = Update::starting().stamp(&key, "agent".into(), true);
        let b = Update::starting().stamp(&key, "agent".into(), true);
        assert_eq!(a.uuid.len(), 16);
        assert_ne!(a.uuid, b.uuid);
        assert_eq!((a.task_id.as_str(), a.framework_id.as_str()), ("t", "fw"));
        assert!(
            Update::starting()
                .stamp(&key, String::new(), false)
                .uuid
                .is_empty()
        );
    }
}
