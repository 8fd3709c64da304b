//! How a task ended: [`Report`], [`Outcome`] and the reasons the agent turns into task-status
//! reasons.
//!
//! Three kinds of ending stay apart: the guest's own doing (exit code, trap, error result), a
//! limit it hit (memory, fuel, timeout, disk), and a fault of the host.

use std::fmt;
use std::time::Duration;

/// What happened to a task, with what it used.
#[derive(Debug, Clone)]
pub struct Report {
    /// How the task ended.
    pub outcome: Outcome,
    /// Wall time from launch to the end.
    pub duration: Duration,
    /// The most linear memory and table bytes the task held at once.
    pub peak_memory_bytes: u64,
    /// Instructions metered, when the task had a fuel budget.
    pub fuel_consumed: Option<u64>,
    /// CPU time the task's thread spent running it (guest code and the host calls it made).
    pub cpu_time: Duration,
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A command exited with 0, or an executor returned `ok(data)`.
    Finished {
        /// Always 0 for a finished task; kept so callers can report it uniformly.
        exit_code: i32,
        /// An executor's result data; empty for commands.
        data: Vec<u8>,
    },
    /// The guest failed or hit a limit.
    Failed(FailureReason),
    /// Stopped by [`KillHandle::kill`](crate::KillHandle::kill).
    Killed,
    /// The host could not run the task.
    Error(TaskError),
}

/// Why a task failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureReason {
    /// A command exited with a non-zero code.
    ExitCode(i32),
    /// The guest trapped (e.g. `unreachable`, out-of-bounds access), with wasmtime's message.
    Trap(String),
    /// An executor returned `err(message)`.
    GuestError(String),
    /// The guest asked for more memory or table space than `Limits::mem_bytes`.
    MemoryLimit,
    /// The guest used up `Limits::fuel`.
    FuelExhausted,
    /// The guest ran past `Limits::timeout`.
    Timeout,
    /// The sandbox dir grew past `Limits::disk_bytes`.
    DiskLimit,
    /// The guest recursed deeper than the wasm stack allows.
    StackOverflow,
}

/// A fault of the host, not of the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// The sandbox could not be prepared (directory, preopen).
    Sandbox(String),
    /// wasmtime could not instantiate the component for a host reason (e.g. the pool is full).
    Instantiate(String),
    /// Anything else that is the host's fault.
    Host(String),
}

impl Outcome {
    /// A stable, machine-readable reason: `finished`, `killed`, `host_error`, or the
    /// [`FailureReason::reason_code`].
    pub fn reason_code(&self) -> &'static str {
        match self {
            Outcome::Finished { .. } => "finished",
            Outcome::Failed(reason) => reason.reason_code(),
            Outcome::Killed => "killed",
            Outcome::Error(error) => error.reason_code(),
        }
    }

    /// `finished`, `failed`, `killed` or `error`.
    pub fn state(&self) -> &'static str {
        match self {
            Outcome::Finished { .. } => "finished",
            Outcome::Failed(_) => "failed",
            Outcome::Killed => "killed",
            Outcome::Error(_) => "error",
        }
    }

    /// The guest's exit code, when it exited by itself.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Outcome::Finished { exit_code, .. } => Some(*exit_code),
            Outcome::Failed(FailureReason::ExitCode(code)) => Some(*code),
            _ => None,
        }
    }
}

impl FailureReason {
    /// A stable, machine-readable reason, e.g. `memory_limit`.
    pub fn reason_code(&self) -> &'static str {
        match self {
            FailureReason::ExitCode(_) => "exit_code",
            FailureReason::Trap(_) => "trap",
            FailureReason::GuestError(_) => "guest_error",
            FailureReason::MemoryLimit => "memory_limit",
            FailureReason::FuelExhausted => "fuel_exhausted",
            FailureReason::Timeout => "timeout",
            FailureReason::DiskLimit => "disk_limit",
            FailureReason::StackOverflow => "stack_overflow",
        }
    }
}

impl TaskError {
    /// A stable, machine-readable reason.
    pub fn reason_code(&self) -> &'static str {
        match self {
            TaskError::Sandbox(_) => "sandbox_error",
            TaskError::Instantiate(_) => "instantiate_error",
            TaskError::Host(_) => "host_error",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Finished { data, .. } if data.is_empty() => write!(f, "finished"),
            Outcome::Finished { data, .. } => {
                write!(f, "finished with {} bytes of result data", data.len())
            }
            Outcome::Failed(reason) => write!(f, "failed: {reason}"),
            Outcome::Killed => write!(f, "killed"),
            Outcome::Error(error) => write!(f, "error: {error}"),
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::ExitCode(code) => write!(f, "exited with code {code}"),
            FailureReason::Trap(message) => write!(f, "trapped: {message}"),
            FailureReason::GuestError(message) => write!(f, "returned an error: {message}"),
            FailureReason::MemoryLimit => write!(f, "memory limit reached"),
            FailureReason::FuelExhausted => write!(f, "fuel exhausted"),
            FailureReason::Timeout => write!(f, "timed out"),
            FailureReason::DiskLimit => write!(f, "disk quota exceeded"),
            FailureReason::StackOverflow => write!(f, "stack overflow"),
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Sandbox(message) => write!(f, "cannot prepare the sandbox: {message}"),
            TaskError::Instantiate(message) => write!(f, "cannot instantiate: {message}"),
            TaskError::Host(message) => write!(f, "host fault: {message}"),
        }
    }
}
