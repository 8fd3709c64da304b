//! The master's one error type, and how each variant travels on the wire.

use std::io;
use std::path::PathBuf;

/// Everything the master refuses or fails at. RPC handlers turn it into a [`tonic::Status`]
/// whose code follows the cluster conventions: INVALID_ARGUMENT for malformed input,
/// FAILED_PRECONDITION for a caller that is not subscribed or registered, NOT_FOUND for unknown
/// ids.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A [`crate::MasterConfig`] value out of range; the message names the field.
    #[error("invalid master config: {0}")]
    InvalidConfig(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why binding failed.
        source: io::Error,
    },
    /// A certificate, key or CA file of the master's TLS cannot be used; names the file.
    #[error("TLS: {0}")]
    Tls(#[from] wasmesos_tls::Error),
    /// The server stopped with an I/O error.
    #[error("master server failed: {0}")]
    Serve(io::Error),
    /// A file or directory under the work dir could not be used.
    #[error("{path}: {source}")]
    Storage {
        /// The path at fault.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// A request field is missing or malformed; the message names the field.
    #[error("{0}")]
    InvalidArgument(String),
    /// A call from a framework that is not subscribed.
    #[error("framework {0} is not subscribed")]
    NotSubscribed(String),
    /// A framework id the master removed (torn down, or its failover timeout passed).
    #[error("framework {0} was removed; subscribe again without an id")]
    FrameworkRemoved(String),
    /// A call from an agent that is not registered.
    #[error("agent {0} is not registered")]
    NotRegistered(String),
    /// A well-formed request the cluster's current state does not allow, e.g. reserving
    /// resources that tasks are using.
    #[error("{0}")]
    Conflict(String),
    /// The caller's principal may not do this (ACLs, or another principal's framework).
    #[error("{0}")]
    Forbidden(String),
    /// A call without the stream id of its framework's or agent's current session: from
    /// an old session, or from someone who only knows the public id.
    #[error("{0}")]
    StaleSession(String),
    /// A per-principal limit: too many frameworks, or too many uploaded bytes.
    #[error("{0}")]
    Limit(String),
    /// An id the master does not know.
    #[error("{0}")]
    NotFound(String),
    /// An upload larger than `max_artifact_size`.
    #[error("artifact is {size} bytes, more than the {max} bytes allowed")]
    ArtifactTooLarge {
        /// Bytes announced or received so far.
        size: u64,
        /// The configured cap.
        max: u64,
    },
    /// The uploaded bytes do not hash to the digest the header promised.
    #[error("digest mismatch: the header says {expected} but the bytes hash to {actual}")]
    DigestMismatch {
        /// The digest in the header.
        expected: String,
        /// The sha256 of the bytes received.
        actual: String,
    },
    /// The bytes are not a WebAssembly component (garbage, or a core module).
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    /// A component that fails validation.
    #[error("invalid component: {0}")]
    InvalidComponent(String),
    /// A component importing interfaces agents do not provide.
    #[error(
        "unsupported imports {0:?}: agents provide only wasi:*@0.2.* and wasmesos:executor/{{host,types}}@0.1.0"
    )]
    UnsupportedImports(Vec<String>),
    /// An agent that the master proxies to could not be reached or refused the call.
    #[error("agent {agent_id}: {status}")]
    Agent {
        /// The agent called.
        agent_id: String,
        /// What the call returned.
        status: tonic::Status,
    },
    /// Too many calls wait on the master already; retry later.
    #[error("the master is overloaded: {0} calls are waiting already; retry later")]
    Overloaded(usize),
    /// The master is shutting down.
    #[error("the master is shutting down")]
    ShuttingDown,
    /// A call not answered within `MasterConfig::call_timeout`.
    #[error("{}", call_timeout_message(*applied, *after))]
    CallTimeout {
        /// Whether the master had applied the call (it then waits for the registry and may
        /// still take effect); if not, it never will.
        applied: bool,
        /// The timeout that passed.
        after: std::time::Duration,
    },
    /// A ZooKeeper request of the HA contender failed.
    #[error("ZooKeeper: {what}: {source}")]
    ZooKeeper {
        /// What the master was doing.
        what: String,
        /// What the ZooKeeper client said.
        source: wasmesos_detector::zk::Error,
    },
    /// The leader detector failed (bad `zk://` URL, ZooKeeper unreachable).
    #[error(transparent)]
    Detector(#[from] wasmesos_detector::Error),
    /// This master may no longer hold its ZooKeeper session, so it may no longer lead: it
    /// stops at once (the binary exits non-zero for its supervisor to restart it).
    #[error("leadership lost: {0}")]
    LeadershipLost(String),
    /// The registry cannot be read: the master refuses to start rather than start empty.
    #[error(
        "the registry {path} is corrupt or unreadable ({reason}); the master will not start \
         over it. To recover: stop the master, move {path} aside, and start the master again \
         with the same work dir. Agents then register as new agents, their old tasks are shut \
         down, and frameworks that resubscribe see those tasks as LOST when they reconcile \
         (README: \"Recovering from a corrupt registry\")"
    )]
    RegistryCorrupt {
        /// The registry file (or the backend's location).
        path: PathBuf,
        /// What the storage engine or the decoder said.
        reason: String,
    },
    /// The registry could not be opened or written; the master stops rather than
    /// acknowledge what it could not record.
    #[error("registry: {0}")]
    Registry(String),
}

impl From<Error> for tonic::Status {
    fn from(err: Error) -> Self {
        use tonic::Code;
        let code = match &err {
            Error::InvalidArgument(_)
            | Error::ArtifactTooLarge { .. }
            | Error::DigestMismatch { .. }
            | Error::NotAComponent(_)
            | Error::InvalidComponent(_)
            | Error::UnsupportedImports(_)
            | Error::InvalidConfig(_) => Code::InvalidArgument,
            Error::NotSubscribed(_)
            | Error::NotRegistered(_)
            | Error::FrameworkRemoved(_)
            | Error::Conflict(_) => Code::FailedPrecondition,
            Error::NotFound(_) => Code::NotFound,
            Error::Forbidden(_) => Code::PermissionDenied,
            Error::StaleSession(_) => Code::FailedPrecondition,
            Error::Limit(_) => Code::ResourceExhausted,
            Error::Agent { status, .. } => status.code(),
            Error::CallTimeout { applied: false, .. } => Code::DeadlineExceeded,
            Error::ShuttingDown
            | Error::LeadershipLost(_)
            | Error::Overloaded(_)
            | Error::CallTimeout { applied: true, .. } => Code::Unavailable,
            Error::ZooKeeper { .. } | Error::Detector(_) => Code::Internal,
            Error::Bind { .. }
            | Error::Tls(_)
            | Error::Serve(_)
            | Error::Storage { .. }
            | Error::RegistryCorrupt { .. }
            | Error::Registry(_) => Code::Internal,
        };
        tonic::Status::new(code, err.client_message())
    }
}

impl Error {
    /// A refusal that says nothing of the call, only that the master cannot take it now:
    /// HTTP APIs answer it with 503, as Mesos does a master that is not ready.
    pub(crate) fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Error::ShuttingDown
                | Error::LeadershipLost(_)
                | Error::Overloaded(_)
                | Error::CallTimeout { .. }
        )
    }

    /// What a client (gRPC status, HTTP body) is told. The master's own storage faults name
    /// files under its work dir: clients get what failed without the path, and the whole
    /// error goes to the master's log.
    fn client_message(&self) -> String {
        let hidden = match self {
            Error::Storage { source, .. } => {
                format!("the master's storage failed: {}", source.kind())
            }
            Error::RegistryCorrupt { .. } => "the master's registry is unreadable".to_string(),
            Error::Registry(_) => "the master's registry failed".to_string(),
            _ => return self.to_string(),
        };
        tracing::error!(err = %self, "{hidden}");
        hidden
    }
}

fn call_timeout_message(applied: bool, after: std::time::Duration) -> String {
    if applied {
        format!(
            "the master applied this call but its registry did not confirm it within {after:?}; \
             it may still take effect (retrying is safe: offers are used once, kills and \
             acknowledgements repeat harmlessly)"
        )
    } else {
        format!(
            "the master did not get to this call within {after:?}; it was not applied, retry later"
        )
    }
}

/// Shorthand for an [`Error::InvalidArgument`] naming a field.
pub(crate) fn invalid(field: &str, why: impl std::fmt::Display) -> Error {
    Error::InvalidArgument(format!("{field}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_errors_reach_clients_without_server_paths() {
        let path = PathBuf::from("/srv/secret-work-dir/artifacts/ab/cd.tmp");
        let errors = [
            Error::Storage {
                path: path.clone(),
                source: io::Error::new(io::ErrorKind::PermissionDenied, "denied"),
            },
            Error::RegistryCorrupt {
                path: path.clone(),
                reason: "bad page".into(),
            },
            Error::Registry(format!("cannot write {}", path.display())),
        ];
        for err in errors {
            assert!(
                err.to_string().contains("secret-work-dir"),
                "the log keeps it"
            );
            let status = tonic::Status::from(err);
            assert_eq!(status.code(), tonic::Code::Internal);
            assert!(
                !status.message().contains("secret-work-dir"),
                "{}",
                status.message()
            );
        }
    }
}
