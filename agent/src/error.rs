//! The crate's one error type, used as `agent::Error`.
//!
//! What happens to a task once the master asked for it is a task status, never an `Error`;
//! errors here are about the agent itself (config, I/O, its link to the master) and about
//! fetching an executor, which the runner turns into a TASK_ERROR reason.

use std::path::PathBuf;

/// Why the agent (or one of its steps) could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `--resources` item is malformed; the message names the item.
    #[error("{0}")]
    InvalidResources(wasmesos_allocator::Error),

    /// An agent setting out of range; the message names it.
    #[error("invalid agent config: {0}")]
    InvalidConfig(String),

    /// The agent's credential file cannot be used; names the file, never the secret.
    #[error(transparent)]
    Credential(#[from] wasmesos_detector::CredentialError),

    /// The master URL cannot be used as a gRPC endpoint.
    #[error("invalid master URL `{url}`: {reason}")]
    InvalidMasterUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A file or directory could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "creating".
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The executor refused a component or could not start.
    #[error(transparent)]
    Executor(#[from] wasmesos_wasm_executor::Error),

    /// A certificate, key or CA file of the agent's TLS cannot be used; names the file.
    #[error("TLS: {0}")]
    Tls(#[from] wasmesos_tls::Error),

    /// The agent's gRPC server failed.
    #[error("agent server: {0}")]
    Server(#[from] tonic::transport::Error),

    /// A call to the master failed.
    #[error("master call failed: {}", .0.message())]
    Rpc(Box<tonic::Status>),

    /// The master broke the agent-channel protocol (e.g. a stream not starting with
    /// `registered`).
    #[error("protocol error: {0}")]
    Protocol(String),

    /// A digest is not 64 lower-case hex characters.
    #[error("invalid executor digest `{0}`: expected 64 lower-case hex characters")]
    InvalidDigest(String),

    /// The master has no artifact with this digest.
    #[error("the master has no executor with digest {0}")]
    ArtifactNotFound(String),

    /// The downloaded bytes do not hash to the requested digest.
    #[error("downloaded executor hashes to {actual}, not the requested {expected}")]
    DigestMismatch {
        /// The digest asked for.
        expected: String,
        /// The sha256 of what arrived.
        actual: String,
    },

    /// The artifact is larger than the agent accepts.
    #[error("executor is {size} bytes, more than the agent's limit of {limit} bytes")]
    ArtifactTooLarge {
        /// Bytes announced or received so far.
        size: u64,
        /// The configured limit.
        limit: u64,
    },

    /// A service's port cannot be listened on (taken by another process, or not an address
    /// of this host).
    #[error("cannot listen on {addr} for the service: {reason}")]
    PortUnavailable {
        /// The agent's task address and the task's port.
        addr: std::net::SocketAddr,
        /// What the OS said.
        reason: String,
    },

    /// A file of the task's `uris` could not be fetched into its sandbox; the task fails with
    /// REASON_CONTAINER_LAUNCH_FAILED.
    #[error("Failed to fetch '{uri}': {cause}")]
    Fetch {
        /// The uri as the task gave it.
        uri: String,
        /// Why: an HTTP status, the size cap, the time limit, a refused path, ...
        cause: String,
    },

    /// A task description the agent cannot run (bad id, resources or network grant).
    #[error("invalid task: {0}")]
    InvalidTask(String),

    /// The checkpoint cannot be opened or read back. The agent refuses to start rather than
    /// forget the tasks and updates it holds.
    #[error(
        "cannot use the agent checkpoint {}: {reason}. If the file is damaged, move it aside \
         (e.g. to {}.broken) and start the agent again: it then registers as a new agent, and \
         the master reports the tasks of the old one as lost",
        path.display(),
        path.display()
    )]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A background worker of the agent stopped unexpectedly.
    #[error("internal fault: {0}")]
    Internal(String),
}

impl Error {
    /// The error as a framework may read it in a task's status: the same words, without the
    /// agent's own paths (its work dir, sandboxes, cache, checkpoint), which stay in the log.
    pub(crate) fn for_framework(&self) -> String {
        use wasmesos_wasm_executor::Error as Executor;
        match self {
            Error::Io { action, source, .. }
            | Error::Executor(Executor::Io { action, source, .. }) => {
                format!("{action} a file of the agent's: {source}")
            }
            Error::Checkpoint { .. } => "the agent's checkpoint cannot be used".to_string(),
            other => other.to_string(),
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        Error::Rpc(Box::new(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_framework_reads_what_failed_but_not_where_on_the_agent() {
        let secret = "/var/lib/wasmesos/agent-7/sandboxes/3";
        let io = Error::io(
            "creating",
            secret,
            std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left"),
        );
        assert!(io.to_string().contains(secret), "the log keeps the path");
        let told = io.for_framework();
        assert!(
            !told.contains(secret) && told.contains("no space left"),
            "{told}"
        );
        let executor = Error::Executor(wasmesos_wasm_executor::Error::Io {
            action: "reading",
            path: secret.into(),
            source: std::io::Error::other("denied"),
        });
        assert!(!executor.for_framework().contains(secret));
        let plain = Error::InvalidTask("cpus must be positive".into());
        assert_eq!(plain.for_framework(), plain.to_string());
    }
}
