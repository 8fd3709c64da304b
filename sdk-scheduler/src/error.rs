//! The one error type of the scheduler SDK.

use std::path::PathBuf;

/// Everything that can go wrong while driving a framework.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The master URL does not parse as an `http://host:port` URI.
    #[error("invalid master URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// No connection could be made to the master.
    #[error("cannot reach the master at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// A call reached the master and it answered with an error status.
    #[error("{call} failed ({code:?}): {message}", code = .status.code(), message = .status.message())]
    Rpc {
        call: &'static str,
        status: tonic::Status,
    },
    /// A call that acts for the framework was made before the master assigned its id.
    #[error("the framework is not subscribed yet")]
    NotSubscribed,
    /// An executor component file could not be read.
    #[error("cannot read executor {path}: {source}")]
    ReadExecutor {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Wraps an error status of the named call.
    pub(crate) fn rpc(call: &'static str, status: tonic::Status) -> Self {
        Error::Rpc { call, status }
    }

    /// The gRPC status, when the master answered with one.
    pub fn status(&self) -> Option<&tonic::Status> {
        match self {
            Error::Rpc { status, .. } => Some(status),
            _ => None,
        }
    }
}

/// Renders an error and its chain of sources on one line, without repeating a cause that the
/// outer message already contains (tonic nests "transport error" around the io error).
pub(crate) fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}
