//! The one error type of the Chronos framework.

/// What can stop Chronos or one of its operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scheduler SDK failed (connecting, subscribing), or the state file did (its
    /// `Store` and `Corrupt` name the file).
    #[error(transparent)]
    Scheduler(#[from] wasmesos_sdk_scheduler::Error),
    /// The HTTP listener failed.
    #[error("HTTP server: {0}")]
    Http(#[source] std::io::Error),
}
