//! The master's configuration: a plain struct with defaults, so tests can shrink every interval.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use wasmesos_allocator::{
    Allocator, AllocatorConfig, Quota, Resources, SorterKind, default_min_allocatable,
};

/// The address a master listens on when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5050";

/// How long the master keeps a disconnected framework's tasks when the framework asks for a
/// failover timeout of 0: seven days.
pub const DEFAULT_FAILOVER_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long agents have to re-register after a master restart: two minutes.
pub const DEFAULT_AGENT_REREGISTER_TIMEOUT: Duration = Duration::from_secs(120);

/// How long an unreachable agent may come back with its tasks unless configured: Mesos keeps
/// unreachable agents for its `--registry_max_agent_age`, two weeks.
pub const DEFAULT_AGENT_UNREACHABLE_TIMEOUT: Duration = Duration::from_secs(14 * 24 * 3600);

/// Finished tasks remembered per framework unless configured: Mesos's default.
pub const DEFAULT_MAX_COMPLETED_TASKS: usize = 1000;

/// Removed frameworks remembered unless configured: Mesos's default.
pub const DEFAULT_MAX_COMPLETED_FRAMEWORKS: usize = 50;

/// How long removals are remembered unless configured: Mesos's two weeks.
pub const DEFAULT_REGISTRY_MAX_REMOVED_AGE: Duration = Duration::from_secs(14 * 24 * 3600);

/// Removals of each kind remembered at most unless configured: Mesos's count.
pub const DEFAULT_REGISTRY_MAX_REMOVED_COUNT: usize = 100 * 1024;

/// How long a call waits for the actor and its registry commit by default.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a master can be told. Every field has a default (see [`MasterConfig::default`]).
#[derive(Clone, Debug)]
pub struct MasterConfig {
    /// Where [`crate::spawn`] binds; [`crate::serve`] takes a bound listener instead.
    pub listen: SocketAddr,
    /// Where uploaded artifacts are stored (`work_dir/artifacts/<digest>.wasm`). `None` means a
    /// directory under the OS temp dir, named after the master's id.
    pub work_dir: Option<PathBuf>,
    /// Weight per role (`eng`, `eng/backend`); roles not listed weigh 1. A weight applies
    /// among the role's siblings, at every level of the tree. Changeable at run time through
    /// `Operator.UpdateWeights` (not persisted across restarts yet).
    pub role_weights: BTreeMap<String, f64>,
    /// Quota per role at start (guarantee and limit); changeable at run time through
    /// `Operator.SetQuota` (not persisted across restarts yet).
    pub role_quotas: BTreeMap<String, Quota>,
    /// Resource names left out of dominant shares (e.g. `gpus`), so that a scarce resource
    /// does not make its holders look rich. They are still offered.
    pub fair_share_excluded: BTreeSet<String>,
    /// Crumb control (Mesos's `--min_allocatable_resources`): an agent's free resources are
    /// offered only when they hold at least one of these sets entirely. Empty: any non-empty
    /// remainder is offered. Default: 0.01 cpus, or 32 MiB of mem.
    pub min_allocatable_resources: Vec<Resources>,
    /// How roles and frameworks are ordered: weighted DRF (default) or weighted random.
    pub role_sorter: SorterKind,
    /// How often agents heartbeat (sent to them on registration).
    pub agent_heartbeat_interval: Duration,
    /// Silence after which an agent is marked unreachable: its offers are rescinded, its
    /// tasks become TASK_UNREACHABLE for partition-aware frameworks and TASK_LOST for others.
    pub agent_ping_timeout: Duration,
    /// How long an unreachable agent may come back (its tasks RUNNING again) before it is
    /// removed for good: partition-aware frameworks then see TASK_GONE, and the agent is told
    /// to shut its tasks down if it ever returns (default: 2 weeks, as Mesos).
    pub agent_unreachable_timeout: Duration,
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
    /// Finished tasks remembered per framework (for task-id uniqueness, state and reconcile;
    /// Mesos's `--max_completed_tasks_per_framework`, default 1000).
    pub max_completed_tasks_per_framework: usize,
    /// Removed frameworks remembered, with their tasks, for the state readers (Mesos's
    /// `--max_completed_frameworks`, default 50). The oldest is forgotten first.
    pub max_completed_frameworks: usize,
    /// How long agents known from the registry have to re-register after a master restart
    /// before they are removed and their tasks reported LOST (default 2 minutes; Mesos uses
    /// 10). A live agent retries within seconds, so this only bounds how long a dead agent's
    /// tasks stay unanswered.
    pub agent_reregister_timeout: Duration,
    /// How long removed agents and frameworks are remembered (a removed agent told to shut
    /// down, a removed framework's id refused) before they are forgotten, as Mesos's
    /// `--registry_max_agent_age` (default: 2 weeks).
    pub registry_max_removed_age: Duration,
    /// Removed agents, and removed frameworks, remembered at most, the oldest forgotten first
    /// (Mesos's `--registry_max_agent_count`, default 102,400).
    pub registry_max_removed_count: usize,
    /// How long a call waits for the master's actor and the registry commit of its change
    /// (default 30 s). Past it, a call the actor has not started is dropped, never applied,
    /// and refused with DEADLINE_EXCEEDED; one applied but not yet durable is answered
    /// UNAVAILABLE, saying that it may still take effect.
    pub call_timeout: Duration,
    /// Where the registry lives (default: `<work_dir>/registry.journal`).
    pub registry: crate::registry::RegistryBackend,
    /// High availability on ZooKeeper (`--zk`); `None` runs a lone master.
    pub ha: Option<crate::HaConfig>,
    /// Who must authenticate, against which credentials, and the ACLs (default: nobody,
    /// and everything is allowed).
    pub security: crate::auth::Security,
    /// TLS on the master's port and for its calls to agents; off by default.
    pub tls: crate::MasterTls,
    /// Whether the master takes resources back for a role below its quota guarantee, from
    /// the tasks of frameworks that opted in (`FrameworkInfo.preemptible`). Default: on,
    /// suspending where freeing CPU suffices.
    pub preemption: PreemptionMode,
    /// Priority per role: the priority of a task that sets none (default 0). Lower-priority
    /// tasks give way first.
    pub role_priorities: BTreeMap<String, i32>,
}

/// How the master takes resources back for a quota guarantee (`--preemption`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreemptionMode {
    /// Never: a role below its guarantee waits for resources to free on their own.
    Off,
    /// Kill victims (TASK_KILLED, REASON_TASK_PREEMPTED).
    Kill,
    /// Suspend victims in place where only CPU is missing, kill them otherwise.
    #[default]
    Suspend,
}

impl std::str::FromStr for PreemptionMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "off" => Ok(PreemptionMode::Off),
            "kill" => Ok(PreemptionMode::Kill),
            "suspend" => Ok(PreemptionMode::Suspend),
            other => Err(format!(
                "'{other}' is not a preemption mode: off, kill or suspend"
            )),
        }
    }
}

impl Default for MasterConfig {
    fn default() -> Self {
        let agent_heartbeat_interval = Duration::from_secs(1);
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 5050)),
            work_dir: None,
            role_weights: BTreeMap::new(),
            role_quotas: BTreeMap::new(),
            fair_share_excluded: BTreeSet::new(),
            min_allocatable_resources: default_min_allocatable(),
            role_sorter: SorterKind::Drf,
            agent_heartbeat_interval,
            agent_ping_timeout: agent_heartbeat_interval.saturating_mul(5),
            agent_unreachable_timeout: DEFAULT_AGENT_UNREACHABLE_TIMEOUT,
            framework_heartbeat_interval: Duration::from_secs(15),
            allocation_batch_interval: Duration::from_millis(2),
            offer_timeout: None,
            default_refuse: Duration::from_secs(5),
            max_artifact_size: 64 * 1024 * 1024,
            max_completed_tasks_per_framework: DEFAULT_MAX_COMPLETED_TASKS,
            max_completed_frameworks: DEFAULT_MAX_COMPLETED_FRAMEWORKS,
            agent_reregister_timeout: DEFAULT_AGENT_REREGISTER_TIMEOUT,
            registry_max_removed_age: DEFAULT_REGISTRY_MAX_REMOVED_AGE,
            registry_max_removed_count: DEFAULT_REGISTRY_MAX_REMOVED_COUNT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            registry: crate::registry::RegistryBackend::Journal,
            ha: None,
            security: crate::auth::Security::default(),
            tls: crate::MasterTls::default(),
            preemption: PreemptionMode::default(),
            role_priorities: BTreeMap::new(),
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

    /// The allocator's configuration: weights, quotas, excluded names, crumbs and sorter.
    pub fn allocator_config(&self) -> AllocatorConfig {
        AllocatorConfig {
            weights: self.role_weights.clone(),
            quotas: self.role_quotas.clone(),
            fair_share_excluded: self.fair_share_excluded.clone(),
            min_allocatable: self.min_allocatable_resources.clone(),
            sorter: self.role_sorter,
            ..AllocatorConfig::default()
        }
    }

    /// Checks values a user could get wrong, naming the field at fault.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let invalid =
            |field: &str, why: &str| Err(crate::Error::InvalidConfig(format!("{field}: {why}")));
        self.validate_allocation()?;
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
        if self.agent_unreachable_timeout.is_zero() {
            return invalid("agent_unreachable_timeout", "must be positive");
        }
        if self.agent_reregister_timeout.is_zero() {
            return invalid("agent_reregister_timeout", "must be positive");
        }
        if self.framework_heartbeat_interval.is_zero() {
            return invalid("framework_heartbeat_interval", "must be positive");
        }
        if self.offer_timeout.is_some_and(|t| t.is_zero()) {
            return invalid("offer_timeout", "must be positive when set");
        }
        if self.call_timeout.is_zero() {
            return invalid("call_timeout", "must be positive");
        }
        if self.max_artifact_size == 0 {
            return invalid("max_artifact_size", "must be positive");
        }
        if let Some(ha) = &self.ha {
            ha.validate()?;
        }
        self.security.authentication.validate()?;
        self.tls.validate()?;
        Ok(())
    }

    /// Checks the allocator's settings one field at a time, by building an empty allocator
    /// from each, so an error names the field it came from.
    fn validate_allocation(&self) -> Result<(), crate::Error> {
        let check = |field: &str, config: AllocatorConfig| {
            Allocator::new(config)
                .map(drop)
                .map_err(|err| crate::Error::InvalidConfig(format!("{field}: {err}")))
        };
        let base = AllocatorConfig::default;
        check(
            "role_quotas",
            AllocatorConfig {
                quotas: self.role_quotas.clone(),
                ..base()
            },
        )?;
        check(
            "min_allocatable_resources",
            AllocatorConfig {
                min_allocatable: self.min_allocatable_resources.clone(),
                ..base()
            },
        )?;
        for name in &self.fair_share_excluded {
            Resources::scalar(name, 0.0).map_err(|err| {
                crate::Error::InvalidConfig(format!("fair_share_excluded: {err}"))
            })?;
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

        let mut config = MasterConfig::default();
        let quota = Quota {
            guarantee: "cpus:4".parse().expect("resources"),
            limit: Some("cpus:2".parse().expect("resources")),
        };
        config.role_quotas.insert("dev".into(), quota);
        let err = config.validate().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("role_quotas") && e.contains("dev")));

        let mut config = MasterConfig::default();
        config.fair_share_excluded.insert("gp us".into());
        let err = config.validate().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("fair_share_excluded")));
    }
}
