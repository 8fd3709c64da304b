//! The one error type of the scheduler SDK.

use std::path::PathBuf;

/// Everything that can go wrong while driving a framework.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The master URL does not parse as an `http://host:port` URI.
    #[error("invalid master URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// A certificate, key or CA file of [`DriverConfig::tls`](crate::DriverConfig::tls)
    /// cannot be used; names the file.
    #[error("TLS: {0}")]
    Tls(#[from] wasmesos_detector::TlsError),
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
    /// A framework's state ([`Durable`](crate::durable::Durable)) cannot be opened, read or
    /// written; names the file or the ZooKeeper path.
    #[error("state store {store}: {reason}")]
    Store { store: String, reason: String },
    /// A stored record does not decode (a damaged or foreign store).
    #[error("state store {store}: record {key:?} in {table} does not decode: {reason}")]
    Corrupt {
        store: String,
        table: &'static str,
        key: String,
        reason: String,
    },
    /// Finding, contending for or following the leader on ZooKeeper failed (`--zk`).
    #[error("leader election: {0}")]
    Election(#[from] wasmesos_detector::Error),
    /// This process may no longer hold its ZooKeeper session, so it may no longer lead: it
    /// stops at once, so that nothing is launched twice (the binary exits non-zero).
    #[error("leadership lost: {0}")]
    LeadershipLost(String),
    /// The framework's API could not be served.
    #[error("serving the API: {0}")]
    Serve(#[source] std::io::Error),
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

/// What finding or reaching the master at `url` failed with, in this crate's terms.
pub(crate) fn master_error(url: &str, err: wasmesos_detector::Error) -> Error {
    use wasmesos_detector::Error as Master;
    match err {
        Master::BadUrl { url, why } => Error::InvalidUrl { url, reason: why },
        Master::Connect { url, reason } => Error::Unreachable { url, reason },
        err => Error::Unreachable {
            url: url.to_string(),
            reason: err.to_string(),
        },
    }
}
