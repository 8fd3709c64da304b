//! Safe wrappers around the `host` interface the agent provides to every executor.
//!
//! On `wasm32` these call the agent. On any other target they talk to an in-process stand-in
//! (see [`crate::testing`]) so that an executor's logic can be unit-tested natively.

use std::time::Duration;

use crate::bindings::wasmesos::executor::host::LogLevel;

#[cfg(not(target_arch = "wasm32"))]
pub(crate) mod native;

#[cfg(target_arch = "wasm32")]
use crate::bindings::wasmesos::executor::host as backend;
#[cfg(not(target_arch = "wasm32"))]
use native as backend;

/// Severity of a [`log`] line; the agent forwards it to its own tracing output at this level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed diagnostics.
    Trace,
    /// Diagnostics for developers.
    Debug,
    /// Normal progress.
    Info,
    /// Something unexpected that the task survived.
    Warn,
    /// Something failed.
    Error,
}

impl From<Level> for LogLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        }
    }
}

/// Sets the message carried by the task's `TASK_RUNNING` status update.
pub fn set_status(message: &str) {
    backend::set_status(message);
}

/// Sends a framework message to the scheduler that launched this task.
pub fn send_message(data: &[u8]) {
    backend::send_message(data);
}

/// Waits up to `timeout` for the next message from the scheduler.
///
/// Returns `None` when the time runs out first. The wait is rounded up to whole
/// milliseconds, so any non-zero timeout waits at least 1 ms; `Duration::ZERO` only polls.
pub fn receive_message(timeout: Duration) -> Option<Vec<u8>> {
    backend::receive_message(whole_millis_rounded_up(timeout))
}

/// Writes one structured line to the task's log and to the agent's tracing output.
pub fn log(level: Level, message: &str) {
    backend::log(level.into(), message);
}

fn whole_millis_rounded_up(timeout: Duration) -> u64 {
    let millis = timeout.as_nanos().div_ceil(1_000_000);
    u64::try_from(millis).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_to_whole_milliseconds() {
        assert_eq!(whole_millis_rounded_up(Duration::ZERO), 0);
        assert_eq!(whole_millis_rounded_up(Duration::from_nanos(1)), 1);
        assert_eq!(whole_millis_rounded_up(Duration::from_millis(5)), 5);
        assert_eq!(whole_millis_rounded_up(Duration::from_micros(5_001)), 6);
    }

    #[test]
    fn huge_timeouts_saturate() {
        assert_eq!(whole_millis_rounded_up(Duration::MAX), u64::MAX);
    }
}
