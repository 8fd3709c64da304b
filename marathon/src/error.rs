//! The one error type of the Marathon framework.

use std::path::PathBuf;

/// What can stop Marathon or one of its operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The state file cannot be opened, read or written; names the file.
    #[error("state store {path}: {reason}")]
    Store { path: PathBuf, reason: String },
    /// A stored record does not decode (a damaged or foreign file).
    #[error("state store {path}: record {key:?} in {table} does not decode: {reason}")]
    Corrupt {
        path: PathBuf,
        table: &'static str,
        key: String,
        reason: String,
    },
    /// The scheduler SDK failed (connecting, subscribing).
    #[error(transparent)]
    Scheduler(#[from] wasmesos_sdk_scheduler::Error),
    /// The HTTP listener failed.
    #[error("HTTP server: {0}")]
    Http(#[source] std::io::Error),
}
