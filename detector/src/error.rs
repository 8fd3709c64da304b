//! What can go wrong while finding and reaching the leader.

use std::time::Duration;

/// The detector's errors; each names the URL or ZooKeeper path at fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The master URL cannot be understood.
    #[error("bad master URL {url:?}: {why}")]
    BadUrl { url: String, why: String },
    /// ZooKeeper did not answer within the deadline.
    #[error("cannot reach ZooKeeper at {servers}: {source}")]
    Unreachable {
        servers: String,
        #[source]
        source: zookeeper_client::Error,
    },
    /// No master leads yet and none came forward before the deadline.
    #[error("no leading master under {url} after {after:?}")]
    NoLeader { url: String, after: Duration },
    /// The leading master did not accept a connection.
    #[error("cannot reach the master at {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The detector's background task has ended (the runtime is shutting down).
    #[error("the detector for {url} has stopped")]
    Stopped { url: String },
    /// A ZooKeeper request of a contender failed.
    #[error("ZooKeeper: {what}: {source}")]
    ZooKeeper {
        /// What the contender was doing.
        what: String,
        #[source]
        source: zookeeper_client::Error,
    },
    /// A contender's znode is gone: it no longer runs for leader.
    #[error("{0}")]
    CandidacyLost(String),
}
