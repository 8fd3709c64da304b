//! The master's configuration: a plain struct with defaults, so tests can shrink every interval.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The address a master listens on when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5050";

/// How long the master keeps a disconnected framework's tasks when the framework asks for a
/// failover timeout of 0: seven days.
pub const DEFAULT_FAILOVER_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// Everything a master can be told. Every field has a default (see [`MasterConfig::default`]).
#[derive(Clone, Debug)]
pub struct MasterConfig {
    /// Where [`crate::spawn`] binds; [`crate::serve`] takes a bound listener instead.
    pub listen: SocketAddr,
    /// Where uploaded artifacts are stored (`work_dir/artifacts/<digest>.wasm`). `None` means a
    /// directory under the OS temp dir, named after the master's id.
    pub work_dir: Option<PathBuf>,
    /// Weight per role (`eng`, `eng/backend`); roles not listed weigh 1.
    pub role_weights: BTreeMap<String, f64>,
    /// How often agents heartbeat (sent to them on registration).
    pub agent_heartbeat_interval: Duration,
    /// Silence after which an agent is removed: its tasks become LOST, its offers are rescinded.
    pub agent_ping_timeout: Duration,
    /// HEARTBEAT event interval for frameworks that ask for 0.
    pub framework_heartbeat_interval: Duration,
    /// How long after an event that frees or adds resources the allocation round runs, so that
    /// events arriving in the meantime are handled by one round.
    pub allocation_batch_interval: Duration,
    /// Offers not answered within this time are rescinded; `None` keeps them until answered.
    pub offer_timeout: Option<Duration>,
    /// Filter applied to resources a framework declines or leaves unused when its call gives
    /// no `refuse_seconds`.
    pub default_refuse: Duration,
    /// Largest artifact accepted by `Artifacts.Upload`, in bytes.
    pub max_artifact_size: u64,
    /// Finished tasks remembered per framework (for task-id uniqueness, state and reconcile).
    pub max_completed_tasks_per_framework: usize,
}

impl Default for MasterConfig {
    fn default() -> Self {
        let agent_heartbeat_interval = Duration::from_secs(1);
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 5050)),
            work_dir: None,
            role_weights: BTreeMap::new(),
            agent_heartbeat_interval,
            agent_ping_timeout: agent_heartbeat_interval * 5,
            framework_heartbeat_interval: Duration::from_secs(15),
            allocation_batch_interval: Duration::from_millis(2),
            offer_timeout: None,
            default_refuse: Duration::from_secs(5),
            max_artifact_size: 64 * 1024 * 1024,
            max_completed_tasks_per_framework: 10_000,
        }
    }
}

impl MasterConfig {
    /// A config listening on an ephemeral loopback port with a given work dir: what tests use.
    pub fn for_tests(work_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            work_dir: Some(work_dir.into()),
            ..Self::default()
        }
    }

    /// Checks values a user could get wrong, naming the field at fault.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let invalid =
            |field: &str, why: &str| Err(crate::Error::InvalidConfig(format!("{field}: {why}")));
        for (role, weight) in &self.role_weights {
            if let Err(err) = wasmesos_allocator::validate_role(role) {
                return invalid("role_weights", &err.to_string());
            }
            if !(weight.is_finite() && *weight > 0.0) {
                return invalid(
                    "role_weights",
                    &format!("weight {weight} for role {role:?} must be positive and finite"),
                );
            }
        }
        if self.agent_heartbeat_interval.is_zero() {
            return invalid("agent_heartbeat_interval", "must be positive");
        }
        if self.agent_ping_timeout < self.agent_heartbeat_interval {
            return invalid(
                "agent_ping_timeout",
                "must be at least agent_heartbeat_interval",
            );
        }
        if self.framework_heartbeat_interval.is_zero() {
            return invalid("framework_heartbeat_interval", "must be positive");
        }
        if self.offer_timeout.is_some_and(|t| t.is_zero()) {
            return invalid("offer_timeout", "must be positive when set");
        }
        if self.max_artifact_size == 0 {
            return invalid("max_artifact_size", "must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_follow_the_cluster_conventions() {
        let config = MasterConfig::default();
        assert!(config.validate().is_ok());
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(
            config.agent_ping_timeout,
            config.agent_heartbeat_interval * 5
        );
        assert_eq!(config.default_refuse, Duration::from_secs(5));
        assert_eq!(config.max_artifact_size, 64 * 1024 * 1024);
    }

    #[test]
    fn bad_values_name_their_field() {
        let mut config = MasterConfig::default();
        config.role_weights.insert("ads".into(), 0.0);
        let err = config.validate().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("role_weights") && e.contains("ads")));

        let mut config = MasterConfig::default();
        config.role_weights.insert("a b".into(), 2.0);
        let err = config.validate().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("role_weights") && e.contains("a b")));

        let config = MasterConfig {
            agent_ping_timeout: Duration::from_millis(1),
            ..MasterConfig::default()
        };
        let err = config.validate().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("agent_ping_timeout")));
    }
}
