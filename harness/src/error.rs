//! The one error type of the harness.

/// Why a cluster could not be started or a condition was not reached.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("master: {0}")]
    Master(#[from] wasmesos_master::Error),
    #[error("agent: {0}")]
    Agent(#[from] wasmesos_agent::Error),
    #[error(transparent)]
    Scheduler(#[from] wasmesos_sdk_scheduler::Error),
    #[error(transparent)]
    Detector(#[from] wasmesos_detector::Error),
    #[error("{call} failed: {status}")]
    Rpc {
        call: &'static str,
        status: tonic::Status,
    },
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        what: String,
        after: std::time::Duration,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("process {name}: {message}")]
    Process { name: String, message: String },
    #[error("no agent at index {0}")]
    NoSuchAgent(usize),
    /// The machine does not allow network namespaces (not Linux, not root): a partition test
    /// skips with this line.
    #[error("network namespaces are not available here: {0}")]
    NetNsUnavailable(String),
}

impl From<wasmesos_test_support::Error> for Error {
    fn from(err: wasmesos_test_support::Error) -> Self {
        match err {
            wasmesos_test_support::Error::Timeout { what, after } => Error::Timeout { what, after },
        }
    }
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}
