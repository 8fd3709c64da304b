//! An app as Marathon stores and answers it: its field names, its defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::constraint::Constraint;
use super::health::HealthCheckDef;
use super::path::PathId;

/// A normalized app definition: every default filled in, `uris` and `ports` folded into
/// `fetch` and `portDefinitions`. Serialized, it is Marathon's app JSON (minus the counts
/// and embeds that [`crate::api`] adds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub id: PathId,
    pub cmd: Option<String>,
    pub args: Option<Vec<String>>,
    pub user: Option<String>,
    pub env: BTreeMap<String, String>,
    pub instances: u32,
    pub cpus: f64,
    pub mem: f64,
    pub disk: f64,
    pub gpus: u32,
    pub executor: String,
    pub constraints: Vec<Constraint>,
    pub fetch: Vec<FetchItem>,
    pub store_urls: Vec<String>,
    pub backoff_seconds: f64,
    pub backoff_factor: f64,
    pub max_launch_delay_seconds: f64,
    pub health_checks: Vec<HealthCheckDef>,
    pub readiness_checks: Vec<serde_json::Value>,
    pub dependencies: Vec<String>,
    pub upgrade_strategy: UpgradeStrategy,
    pub labels: BTreeMap<String, String>,
    pub accepted_resource_roles: Option<Vec<String>>,
    pub version: String,
    pub version_info: VersionInfo,
    pub kill_selection: KillSelection,
    pub require_ports: bool,
    pub port_definitions: Vec<PortDefinition>,
    pub unreachable_strategy: UnreachableStrategy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_kill_grace_period_seconds: Option<f64>,
    pub networks: Vec<Network>,
}

impl App {
    /// Whether `other` differs from `self` in more than scale and version: a change that
    /// replaces the app's tasks.
    pub fn config_differs(&self, other: &App) -> bool {
        let scrub = |app: &App| App {
            instances: 0,
            version: String::new(),
            version_info: VersionInfo::default(),
            ..app.clone()
        };
        scrub(self) != scrub(other)
    }

    /// The ports each task asks for: 0 for any port, else that port (with `requirePorts`).
    pub fn host_ports(&self) -> Vec<u64> {
        self.port_definitions
            .iter()
            .map(|def| {
                if self.require_ports {
                    u64::from(def.port)
                } else {
                    0
                }
            })
            .collect()
    }

    /// Whether tasks must pass a health check to count as healthy.
    pub fn has_health_checks(&self) -> bool {
        !self.health_checks.is_empty()
    }
}

/// One file the agent fetches into the sandbox (Marathon's `fetch` item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchItem {
    pub uri: String,
    #[serde(default)]
    pub extract: bool,
    #[serde(default)]
    pub executable: bool,
    #[serde(default)]
    pub cache: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_file: Option<String>,
}

impl FetchItem {
    /// A plain `uris` entry, which Marathon fetches with `extract` on.
    pub fn of_uri(uri: String) -> Self {
        FetchItem {
            uri,
            extract: true,
            executable: false,
            cache: false,
            output_file: None,
        }
    }
}

/// How a deployment replaces tasks: fractions of `instances`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStrategy {
    pub minimum_health_capacity: f64,
    pub maximum_over_capacity: f64,
}

impl Default for UpgradeStrategy {
    fn default() -> Self {
        UpgradeStrategy {
            minimum_health_capacity: 1.0,
            maximum_over_capacity: 1.0,
        }
    }
}

impl UpgradeStrategy {
    /// The fewest healthy tasks a deployment keeps up: `ceil(instances × minimumHealthCapacity)`.
    pub fn min_healthy(&self, instances: u32) -> u32 {
        fraction_of(instances, self.minimum_health_capacity, f64::ceil)
    }

    /// The most tasks a deployment runs at once: `instances + floor(instances × maximumOverCapacity)`.
    pub fn max_capacity(&self, instances: u32) -> u32 {
        instances.saturating_add(fraction_of(
            instances,
            self.maximum_over_capacity,
            f64::floor,
        ))
    }
}

fn fraction_of(instances: u32, fraction: f64, round: fn(f64) -> f64) -> u32 {
    let value = round(f64::from(instances) * fraction.clamp(0.0, 1.0));
    // In 0..=instances by the clamp, so the conversion is exact.
    value as u32
}

/// When the app last scaled and last changed its configuration (Marathon's `versionInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub last_scaling_at: String,
    pub last_config_change_at: String,
}

/// Which tasks go first when an app scales down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KillSelection {
    #[default]
    YoungestFirst,
    OldestFirst,
}

/// A port each task gets (Marathon's `portDefinitions` item). `port` is the service port
/// (assigned from 10000 when given as 0), or with `requirePorts` the host port itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortDefinition {
    pub port: u32,
    #[serde(default = "tcp")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

fn tcp() -> String {
    "tcp".into()
}

impl PortDefinition {
    pub fn any() -> Self {
        PortDefinition {
            port: 0,
            protocol: tcp(),
            name: None,
            labels: BTreeMap::new(),
        }
    }
}

/// Marathon's `unreachableStrategy` (answered with its defaults; an unreachable task is
/// replaced when the master reports it lost).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnreachableStrategy {
    pub inactive_after_seconds: u64,
    pub expunge_after_seconds: u64,
}

/// The one network mode: the agent's host network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub mode: String,
}

impl Network {
    pub fn host() -> Self {
        Network {
            mode: "host".into(),
        }
    }
}
