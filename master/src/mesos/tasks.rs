//! Mesos tasks as wasmesos tasks, and wasmesos statuses as Mesos's.
//!
//! A Mesos task names its Wasm program through `command` (or a custom `executor.command`):
//! `uris` are fetched into the sandbox, and the program is the fetched file named by
//! `value` (`shell=false`, `arguments` being its argv) or by the first word of `value`
//! (`shell=true`, split as a POSIX shell would, with no shell syntax allowed). A program
//! whose only source is an uploaded component (`wasmesos://sha256:<hex>`) runs straight from
//! the master's store by digest. `environment` becomes the task's env; the labels
//! `wasmesos.fuel`, `wasmesos.timeout` and `wasmesos.network` carry the limits Mesos has no
//! field for.

use std::collections::HashMap;

use wasmesos_proto::mesos::v1 as mesos;
use wasmesos_proto::v1::{
    ExecutorInfo, FetchUri, KillPolicy, Reason, TaskInfo, TaskState, TaskStatus,
};

use super::resources::{self, ReservationFormat};
use wasmesos_proto::shell::split_words;

/// The label giving a task's instruction budget (an integer).
pub(crate) const LABEL_FUEL: &str = "wasmesos.fuel";
/// The label giving a task's wall-clock budget: milliseconds, or a number with `ms`, `s`,
/// `m` or `h`.
pub(crate) const LABEL_TIMEOUT: &str = "wasmesos.timeout";
/// The label listing the addresses a task may connect to, comma-separated (`ip:port` or `ip`).
pub(crate) const LABEL_NETWORK: &str = "wasmesos.network";
/// The label giving a task's priority (an integer; higher preempts lower).
pub(crate) const LABEL_PRIORITY: &str = "wasmesos.priority";
/// The framework label that lets the master preempt the framework's tasks ("true").
pub(crate) const LABEL_PREEMPTIBLE: &str = "wasmesos.preemptible";

const ARTIFACT_PREFIX: &str = "wasmesos://sha256:";
/// Most environment variables a task may set.
const MAX_ENV: usize = 1024;
/// Most arguments a task may pass.
const MAX_ARGS: usize = 4096;

/// A Mesos task as wasmesos launches it. `default_executor` is the LAUNCH_GROUP executor,
/// used by tasks that carry no command of their own.
pub(crate) fn task_from_mesos(
    task: &mesos::TaskInfo,
    default_executor: Option<&mesos::ExecutorInfo>,
) -> Result<TaskInfo, String> {
    let command = match (&task.command, &task.executor) {
        (Some(_), Some(_)) => {
            return Err("Task should have at most one of CommandInfo or ExecutorInfo".into());
        }
        (Some(command), None) => command,
        (None, Some(executor)) => executor_command(executor)?,
        (None, None) => match default_executor {
            Some(executor) => executor_command(executor)?,
            None => {
                return Err("Task should have at least one of CommandInfo or ExecutorInfo".into());
            }
        },
    };
    let mut executor = executor_from_command(command)?;
    let labels = task
        .labels
        .as_ref()
        .map(|l| l.labels.as_slice())
        .unwrap_or_default();
    let mut fuel = 0;
    let mut priority = None;
    let mut timeout_ms = task
        .max_completion_time
        .as_ref()
        .map_or(0, |d| u64::try_from(d.nanoseconds / 1_000_000).unwrap_or(0));
    for label in labels {
        let value = label.value.as_deref().unwrap_or_default();
        match label.key.as_str() {
            LABEL_FUEL => {
                fuel = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("label {LABEL_FUEL}: '{value}' is not a whole number"))?;
            }
            LABEL_TIMEOUT => timeout_ms = parse_millis(value)?,
            LABEL_PRIORITY => {
                priority = Some(value.trim().parse().map_err(|_| {
                    format!("label {LABEL_PRIORITY}: '{value}' is not a 32-bit integer")
                })?);
            }
            LABEL_NETWORK => {
                executor.network_allow = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
            }
            _ => {}
        }
    }
    Ok(TaskInfo {
        task_id: task.task_id.value.clone(),
        name: task.name.clone(),
        agent_id: task.agent_id.value.clone(),
        executor: Some(executor),
        resources: Some(resources::all_from_mesos(&task.resources)?),
        data: task.data.clone().unwrap_or_default(),
        fuel,
        timeout_ms,
        kill_policy: task
            .kill_policy
            .as_ref()
            .and_then(|p| p.grace_period.as_ref())
            .map(|grace| KillPolicy {
                #[allow(
                    clippy::cast_precision_loss,
                    reason = "a grace period in nanoseconds; seconds as f64 are exact to the ns for any sane period"
                )]
                grace_period_seconds: Some(grace.nanoseconds as f64 / 1e9),
            }),
        priority,
        ..Default::default()
    })
}

fn executor_command(executor: &mesos::ExecutorInfo) -> Result<&mesos::CommandInfo, String> {
    executor.command.as_ref().ok_or_else(|| {
        format!(
            "executor '{}' has no command naming its Wasm component",
            executor.executor_id.value
        )
    })
}

fn parse_millis(value: &str) -> Result<u64, String> {
    let value = value.trim();
    let bad = || format!("label {LABEL_TIMEOUT}: '{value}' is not a duration such as 30s or 500ms");
    let (number, scale) = if let Some(n) = value.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = value.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = value.strip_suffix('h') {
        (n, 3_600_000)
    } else {
        (value, 1)
    };
    let number: u64 = number.trim().parse().map_err(|_| bad())?;
    number.checked_mul(scale).ok_or_else(bad)
}

/// What runs, from a Mesos `CommandInfo`.
fn executor_from_command(command: &mesos::CommandInfo) -> Result<ExecutorInfo, String> {
    let value = command.value.as_deref().unwrap_or_default();
    let (program, args) = if command.shell.unwrap_or(true) {
        let mut words = split_words(value).map_err(|e| e.0)?;
        let program = words.remove(0);
        (program, words)
    } else {
        if value.is_empty() {
            return Err("command.value is empty: name the program to run".into());
        }
        // Mesos's `arguments` is the whole argv, its first item the program's own name.
        let args = command.arguments.iter().skip(1).cloned().collect();
        (value.to_string(), args)
    };
    if args.len() > MAX_ARGS {
        return Err(format!(
            "{} arguments, at most {MAX_ARGS} are accepted",
            args.len()
        ));
    }
    let variables = command
        .environment
        .as_ref()
        .map(|e| e.variables.as_slice())
        .unwrap_or_default();
    if variables.len() > MAX_ENV {
        return Err(format!(
            "{} environment variables, at most {MAX_ENV} are accepted",
            variables.len()
        ));
    }
    let env: HashMap<String, String> = variables
        .iter()
        .map(|v| (v.name.clone(), v.value.clone().unwrap_or_default()))
        .collect();
    let uris: Vec<FetchUri> = command
        .uris
        .iter()
        .map(|uri| FetchUri {
            value: uri.value.clone(),
            executable: uri.executable.unwrap_or(false),
            output_file: uri.output_file.clone().unwrap_or_default(),
            cache: uri.cache.unwrap_or(false),
        })
        .collect();
    let mut executor = ExecutorInfo {
        args,
        env,
        ..Default::default()
    };
    if let Some(digest) = program.strip_prefix(ARTIFACT_PREFIX) {
        // The program is an uploaded component named directly.
        executor.digest = digest.to_string();
        executor.uris = uris;
        return Ok(executor);
    }
    // A program fetched only from the master's store runs from it by digest.
    let only_artifact = match uris.as_slice() {
        [only] if output_name(only) == program => only.value.strip_prefix(ARTIFACT_PREFIX),
        _ => None,
    };
    match only_artifact {
        Some(digest) => executor.digest = digest.to_string(),
        None => {
            executor.uris = uris;
            executor.program = program;
        }
    }
    Ok(executor)
}

/// The sandbox name a fetched uri gets: its `output_file`, else its last path segment.
fn output_name(uri: &FetchUri) -> &str {
    if !uri.output_file.is_empty() {
        return &uri.output_file;
    }
    let path = uri.value.split(['?', '#']).next().unwrap_or_default();
    path.rsplit('/').next().unwrap_or_default()
}

/// A wasmesos status as Mesos writes it.
pub(crate) fn status_to_mesos(status: &TaskStatus) -> mesos::TaskStatus {
    let state = TaskState::try_from(status.state).unwrap_or(TaskState::Unspecified);
    let mesos_state = mesos::TaskState::from_str_name(state.as_str_name())
        .unwrap_or(mesos::TaskState::TaskUnknown);
    let reason = Reason::try_from(status.reason)
        .ok()
        .and_then(reason_to_mesos)
        .map(|r| r as i32);
    let source = match status.source {
        1 => Some(mesos::task_status::Source::Master),
        2 => Some(mesos::task_status::Source::Agent),
        3 => Some(mesos::task_status::Source::Executor),
        _ => None,
    };
    let has_uuid = !status.uuid.is_empty();
    mesos::TaskStatus {
        task_id: mesos::TaskId {
            value: status.task_id.clone(),
        },
        state: mesos_state as i32,
        message: (!status.message.is_empty()).then(|| status.message.clone()),
        source: source.map(|s| s as i32),
        reason,
        data: (!status.data.is_empty()).then(|| status.data.clone()),
        // A status to acknowledge names its agent: ACKNOWLEDGE needs it back.
        agent_id: (has_uuid || !status.agent_id.is_empty()).then(|| mesos::AgentId {
            value: status.agent_id.clone(),
        }),
        executor_id: None,
        timestamp: Some(status.timestamp),
        uuid: has_uuid.then(|| status.uuid.clone()),
        healthy: status.healthy,
        unreachable_time: status.unreachable_time.map(time_info),
        // Mesos has no suspended tasks: a suspension or resume is a RUNNING update labelled
        // `wasmesos.suspended` = "true" or "false".
        labels: status.suspended.map(|suspended| mesos::Labels {
            labels: vec![mesos::Label {
                key: SUSPENDED_LABEL.to_owned(),
                value: Some(suspended.to_string()),
            }],
        }),
        ..Default::default()
    }
}

/// The label of a Mesos RUNNING update that reports a suspension or a resume.
pub(crate) const SUSPENDED_LABEL: &str = "wasmesos.suspended";

/// Unix seconds as Mesos's TimeInfo.
pub(crate) fn time_info(seconds: f64) -> mesos::TimeInfo {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "Unix seconds of this century in nanoseconds fit an i64; `as` saturates"
    )]
    let nanoseconds = (seconds * 1e9) as i64;
    mesos::TimeInfo { nanoseconds }
}

/// Mesos's reason for a wasmesos reason; `None` where Mesos sends none.
pub(crate) fn reason_to_mesos(reason: Reason) -> Option<mesos::task_status::Reason> {
    use mesos::task_status::Reason as M;
    let mapped = match reason {
        // A suspension is reported in the update's `suspended` label, with no Mesos reason.
        Reason::Unspecified | Reason::Finished | Reason::Killed | Reason::TaskSuspensionUpdated => {
            return None;
        }
        // Mesos reports a QoS controller's kill as a preemption too (slave.cpp).
        Reason::TaskPreempted | Reason::Revocation => M::ContainerPreempted,
        Reason::ExitCode | Reason::Trap | Reason::GuestError => M::CommandExecutorFailed,
        Reason::MemoryLimit => M::ContainerLimitationMemory,
        Reason::DiskLimit => M::ContainerLimitationDisk,
        Reason::FuelExhausted | Reason::StackOverflow => M::ContainerLimitation,
        Reason::Timeout => M::MaxCompletionTimeReached,
        Reason::AgentLost => M::AgentRemoved,
        Reason::AgentRestarted => M::AgentRestarted,
        Reason::InvalidOffers => M::InvalidOffers,
        Reason::InvalidTask
        | Reason::ExecutorNotFound
        | Reason::InvalidComponent
        | Reason::UnsupportedImports => M::TaskInvalid,
        Reason::HostFault => M::ExecutorTerminated,
        Reason::FrameworkRemoved => M::FrameworkRemoved,
        Reason::Reconciliation => M::Reconciliation,
        Reason::TaskUnknown => M::TaskUnknown,
        Reason::TaskHealthCheckStatusUpdated | Reason::TaskUnhealthy => {
            M::TaskHealthCheckStatusUpdated
        }
        Reason::ContainerLaunchFailed => M::ContainerLaunchFailed,
        Reason::AgentRemovedByOperator => M::AgentRemovedByOperator,
        Reason::AgentReregistered => M::AgentReregistered,
        Reason::AgentDraining => M::AgentDraining,
    };
    Some(mapped)
}

/// A TASK_ERROR for a task refused before it reached the core.
pub(crate) fn task_error(
    framework_id: &str,
    task: &mesos::TaskInfo,
    message: String,
) -> TaskStatus {
    TaskStatus {
        task_id: task.task_id.value.clone(),
        state: TaskState::TaskError as i32,
        reason: Reason::InvalidTask as i32,
        message,
        agent_id: task.agent_id.value.clone(),
        framework_id: framework_id.to_string(),
        timestamp: super::unix_now(),
        source: 1,
        ..Default::default()
    }
}

/// The reservation format `capabilities` asks for.
pub(crate) fn reservation_format(
    capabilities: &[mesos::framework_info::Capability],
) -> ReservationFormat {
    let refined = capabilities.iter().any(|c| {
        c.r#type == Some(mesos::framework_info::capability::Type::ReservationRefinement as i32)
    });
    if refined {
        ReservationFormat::Refined
    } else {
        ReservationFormat::Legacy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(command: mesos::CommandInfo) -> mesos::TaskInfo {
        mesos::TaskInfo {
            name: "t".into(),
            task_id: mesos::TaskId { value: "t1".into() },
            agent_id: mesos::AgentId { value: "a1".into() },
            command: Some(command),
            ..Default::default()
        }
    }

    fn uri(value: &str) -> mesos::command_info::Uri {
        mesos::command_info::Uri {
            value: value.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_shell_command_names_a_fetched_program_and_its_arguments() {
        let info = task_from_mesos(
            &task(mesos::CommandInfo {
                uris: vec![uri("http://files/hello.wasm")],
                value: Some("hello.wasm --greet 'big world'".into()),
                ..Default::default()
            }),
            None,
        )
        .expect("a task");
        let executor = info.executor.expect("executor");
        assert_eq!(executor.program, "hello.wasm");
        assert_eq!(executor.args, vec!["--greet", "big world"]);
        assert_eq!(executor.uris.len(), 1);
        assert!(executor.digest.is_empty());
    }

    #[test]
    fn an_uploaded_program_runs_by_digest_and_shell_false_takes_argv() {
        let digest = "ab".repeat(32);
        let info = task_from_mesos(
            &task(mesos::CommandInfo {
                uris: vec![mesos::command_info::Uri {
                    output_file: Some("p.wasm".into()),
                    ..uri(&format!("wasmesos://sha256:{digest}"))
                }],
                shell: Some(false),
                value: Some("p.wasm".into()),
                arguments: vec!["p.wasm".into(), "x y".into()],
                ..Default::default()
            }),
            None,
        )
        .expect("a task");
        let executor = info.executor.expect("executor");
        assert_eq!(executor.digest, digest);
        assert!(executor.uris.is_empty());
        assert_eq!(executor.args, vec!["x y"]);
    }

    #[test]
    fn labels_give_limits_and_shell_syntax_is_refused() {
        let mut t = task(mesos::CommandInfo {
            value: Some("wasmesos://sha256:00".into()),
            ..Default::default()
        });
        let label = |k: &str, v: &str| mesos::Label {
            key: k.into(),
            value: Some(v.into()),
        };
        t.labels = Some(mesos::Labels {
            labels: vec![
                label(LABEL_FUEL, "1000"),
                label(LABEL_TIMEOUT, "2s"),
                label(LABEL_NETWORK, "10.0.0.1:80, 10.0.0.2"),
            ],
        });
        let info = task_from_mesos(&t, None).expect("a task");
        assert_eq!((info.fuel, info.timeout_ms), (1000, 2000));
        assert_eq!(
            info.executor.expect("executor").network_allow,
            vec!["10.0.0.1:80", "10.0.0.2"]
        );
        let piped = task(mesos::CommandInfo {
            value: Some("a.wasm | grep x".into()),
            ..Default::default()
        });
        let err = task_from_mesos(&piped, None).expect_err("a pipe");
        assert!(err.contains("no shell"), "{err}");
    }

    #[test]
    fn statuses_with_a_uuid_name_their_agent_and_map_reasons() {
        let status = status_to_mesos(&TaskStatus {
            task_id: "t1".into(),
            state: TaskState::TaskFailed as i32,
            reason: Reason::MemoryLimit as i32,
            uuid: vec![1, 2],
            agent_id: "a1".into(),
            ..Default::default()
        });
        assert_eq!(status.state, mesos::TaskState::TaskFailed as i32);
        assert_eq!(
            status.reason,
            Some(mesos::task_status::Reason::ContainerLimitationMemory as i32)
        );
        assert_eq!(status.agent_id.map(|a| a.value), Some("a1".into()));
    }
}
