//! An app as a client sends it (POST, PUT, PATCH): every field optional, merged onto the
//! app it changes or onto Marathon's defaults.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::app::{
    App, FetchItem, KillSelection, Network, PortDefinition, UnreachableStrategy, UpgradeStrategy,
    VersionInfo,
};
use super::constraint::Constraint;
use super::health::HealthCheckInput;
use super::path::PathId;
use crate::time::Timestamp;

/// Marathon's defaults for what an app leaves out.
pub const DEFAULT_CPUS: f64 = 1.0;
pub const DEFAULT_MEM: f64 = 128.0;
pub const DEFAULT_BACKOFF_SECONDS: f64 = 1.0;
pub const DEFAULT_BACKOFF_FACTOR: f64 = 1.15;
pub const DEFAULT_MAX_LAUNCH_DELAY_SECONDS: f64 = 300.0;

/// The fields a client may send. Read-only fields (`tasks`, `deployments`, counts, …) that
/// a client echoes back are ignored, as Marathon does.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppUpdate {
    pub id: Option<String>,
    pub cmd: Option<String>,
    pub args: Option<Vec<String>>,
    pub user: Option<String>,
    pub env: Option<BTreeMap<String, String>>,
    pub instances: Option<i64>,
    pub cpus: Option<f64>,
    pub mem: Option<f64>,
    pub disk: Option<f64>,
    pub gpus: Option<u32>,
    pub executor: Option<String>,
    pub constraints: Option<Vec<Constraint>>,
    pub fetch: Option<Vec<FetchItem>>,
    pub uris: Option<Vec<String>>,
    pub store_urls: Option<Vec<String>>,
    pub backoff_seconds: Option<f64>,
    pub backoff_factor: Option<f64>,
    pub max_launch_delay_seconds: Option<f64>,
    pub health_checks: Option<Vec<HealthCheckInput>>,
    pub readiness_checks: Option<Vec<serde_json::Value>>,
    pub dependencies: Option<Vec<String>>,
    pub upgrade_strategy: Option<UpgradeStrategyInput>,
    pub labels: Option<BTreeMap<String, String>>,
    pub accepted_resource_roles: Option<Vec<String>>,
    pub version: Option<String>,
    pub kill_selection: Option<KillSelection>,
    pub require_ports: Option<bool>,
    pub port_definitions: Option<Vec<PortDefinition>>,
    pub ports: Option<Vec<u32>>,
    pub unreachable_strategy: Option<serde_json::Value>,
    pub task_kill_grace_period_seconds: Option<f64>,
    pub networks: Option<Vec<serde_json::Value>>,
    pub container: Option<serde_json::Value>,
    pub secrets: Option<BTreeMap<String, serde_json::Value>>,
    pub ip_address: Option<serde_json::Value>,
    pub residency: Option<serde_json::Value>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeStrategyInput {
    pub minimum_health_capacity: Option<f64>,
    pub maximum_over_capacity: Option<f64>,
}

impl AppUpdate {
    /// Whether the update names nothing but a version (and perhaps the id): a rollback.
    pub fn is_rollback(&self) -> bool {
        let rest = AppUpdate {
            id: None,
            version: None,
            ..self.clone()
        };
        // Every field is plain data, so equal Debug texts mean equal updates.
        self.version.is_some() && format!("{rest:?}") == format!("{:?}", AppUpdate::default())
    }

    /// The app with this update applied onto `base` (or onto Marathon's defaults for a new
    /// app), at version `now`. Scale-only changes keep `lastConfigChangeAt`.
    pub fn apply(self, base: Option<&App>, id: PathId, now: Timestamp) -> App {
        self.apply_with_ports(base, id, now, &BTreeSet::new())
    }

    /// [`AppUpdate::apply`], giving each port definition of port 0 a service port from
    /// 10000 up that `used` (other apps' service ports) does not hold, or the one `base`
    /// had at that index.
    pub fn apply_with_ports(
        self,
        base: Option<&App>,
        id: PathId,
        now: Timestamp,
        used: &BTreeSet<u32>,
    ) -> App {
        let defaults = base.cloned().unwrap_or_else(|| default_app(id.clone()));
        let mut app = App { id, ..defaults };
        match (self.cmd, self.args) {
            (Some(cmd), args) => {
                app.cmd = Some(cmd);
                app.args = args;
            }
            (None, Some(args)) => {
                app.cmd = None;
                app.args = Some(args);
            }
            (None, None) => {}
        }
        set(&mut app.user, self.user.map(Some));
        set(&mut app.env, self.env);
        set(
            &mut app.instances,
            self.instances
                .map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX)),
        );
        set(&mut app.cpus, self.cpus);
        set(&mut app.mem, self.mem);
        set(&mut app.disk, self.disk);
        set(&mut app.gpus, self.gpus);
        set(&mut app.executor, self.executor);
        set(&mut app.constraints, self.constraints);
        match (self.fetch, self.uris) {
            (Some(fetch), _) => app.fetch = fetch,
            (None, Some(uris)) => app.fetch = uris.into_iter().map(FetchItem::of_uri).collect(),
            (None, None) => {}
        }
        set(&mut app.store_urls, self.store_urls);
        set(&mut app.backoff_seconds, self.backoff_seconds);
        set(&mut app.backoff_factor, self.backoff_factor);
        set(
            &mut app.max_launch_delay_seconds,
            self.max_launch_delay_seconds,
        );
        set(
            &mut app.health_checks,
            self.health_checks.map(|checks| {
                checks
                    .into_iter()
                    .map(HealthCheckInput::normalize)
                    .collect()
            }),
        );
        set(&mut app.readiness_checks, self.readiness_checks);
        set(&mut app.dependencies, self.dependencies);
        if let Some(strategy) = self.upgrade_strategy {
            let base = UpgradeStrategy::default();
            app.upgrade_strategy = UpgradeStrategy {
                minimum_health_capacity: strategy
                    .minimum_health_capacity
                    .unwrap_or(base.minimum_health_capacity),
                maximum_over_capacity: strategy
                    .maximum_over_capacity
                    .unwrap_or(base.maximum_over_capacity),
            };
        }
        set(&mut app.labels, self.labels);
        set(
            &mut app.accepted_resource_roles,
            self.accepted_resource_roles.map(Some),
        );
        set(&mut app.kill_selection, self.kill_selection);
        set(&mut app.require_ports, self.require_ports);
        match (self.port_definitions, self.ports) {
            (Some(definitions), _) => app.port_definitions = definitions,
            (None, Some(ports)) => {
                app.port_definitions = ports
                    .into_iter()
                    .map(|port| PortDefinition {
                        port,
                        ..PortDefinition::any()
                    })
                    .collect();
            }
            (None, None) => {}
        }
        set(
            &mut app.task_kill_grace_period_seconds,
            self.task_kill_grace_period_seconds.map(Some),
        );
        assign_service_ports(&mut app, base, used);
        stamp(&mut app, base, now);
        app
    }
}

/// Where Marathon's service ports start and end (its `--local_port_min`/`max`).
pub const SERVICE_PORTS: std::ops::Range<u32> = 10_000..20_000;

fn assign_service_ports(app: &mut App, base: Option<&App>, used: &BTreeSet<u32>) {
    if app.require_ports {
        return;
    }
    let mut taken: BTreeSet<u32> = used.clone();
    taken.extend(
        app.port_definitions
            .iter()
            .map(|d| d.port)
            .filter(|&p| p != 0),
    );
    for (index, definition) in app.port_definitions.iter_mut().enumerate() {
        if definition.port != 0 {
            continue;
        }
        let kept = base
            .and_then(|base| base.port_definitions.get(index))
            .map(|d| d.port)
            .filter(|port| SERVICE_PORTS.contains(port) && !used.contains(port));
        let port = kept.or_else(|| SERVICE_PORTS.clone().find(|p| !taken.contains(p)));
        if let Some(port) = port {
            definition.port = port;
            taken.insert(port);
        }
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

/// Gives `app` its new version: a scaling when only `instances` changed from `base`.
fn stamp(app: &mut App, base: Option<&App>, now: Timestamp) {
    let version = now.iso();
    app.version = version.clone();
    let config_changed = base.is_none_or(|base| base.config_differs(app));
    app.version_info = VersionInfo {
        last_scaling_at: version.clone(),
        last_config_change_at: if config_changed {
            version
        } else {
            app.version_info.last_config_change_at.clone()
        },
    };
}

/// A new app with nothing but Marathon's defaults (one port, one instance).
pub fn default_app(id: PathId) -> App {
    App {
        id,
        cmd: None,
        args: None,
        user: None,
        env: BTreeMap::new(),
        instances: 1,
        cpus: DEFAULT_CPUS,
        mem: DEFAULT_MEM,
        disk: 0.0,
        gpus: 0,
        executor: String::new(),
        constraints: Vec::new(),
        fetch: Vec::new(),
        store_urls: Vec::new(),
        backoff_seconds: DEFAULT_BACKOFF_SECONDS,
        backoff_factor: DEFAULT_BACKOFF_FACTOR,
        max_launch_delay_seconds: DEFAULT_MAX_LAUNCH_DELAY_SECONDS,
        health_checks: Vec::new(),
        readiness_checks: Vec::new(),
        dependencies: Vec::new(),
        upgrade_strategy: UpgradeStrategy::default(),
        labels: BTreeMap::new(),
        accepted_resource_roles: None,
        version: String::new(),
        version_info: VersionInfo::default(),
        kill_selection: KillSelection::YoungestFirst,
        require_ports: false,
        port_definitions: vec![PortDefinition::any()],
        unreachable_strategy: UnreachableStrategy::default(),
        task_kill_grace_period_seconds: None,
        networks: vec![Network::host()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(json: serde_json::Value) -> AppUpdate {
        serde_json::from_value(json).expect("an update")
    }

    #[test]
    fn defaults_fill_a_new_app_and_scaling_keeps_the_config_version() {
        let id = PathId::parse("/web").expect("id");
        let app = update(serde_json::json!({"cmd": "web.wasm", "ports": [0, 0]})).apply(
            None,
            id.clone(),
            Timestamp(1000),
        );
        assert_eq!((app.instances, app.cpus, app.mem), (1, 1.0, 128.0));
        assert_eq!(app.port_definitions.len(), 2);
        assert_eq!(
            app.version_info.last_config_change_at,
            Timestamp(1000).iso()
        );
        let scaled = update(serde_json::json!({"instances": 3})).apply(
            Some(&app),
            id.clone(),
            Timestamp(2000),
        );
        assert_eq!(scaled.instances, 3);
        assert_eq!(scaled.version, Timestamp(2000).iso());
        assert_eq!(scaled.version_info.last_scaling_at, Timestamp(2000).iso());
        assert_eq!(
            scaled.version_info.last_config_change_at,
            Timestamp(1000).iso()
        );
        let changed =
            update(serde_json::json!({"mem": 64})).apply(Some(&scaled), id, Timestamp(3000));
        assert_eq!(
            changed.version_info.last_config_change_at,
            Timestamp(3000).iso()
        );
        assert_eq!(changed.instances, 3);
        assert!(update(serde_json::json!({"version": "v"})).is_rollback());
        assert!(!update(serde_json::json!({"version": "v", "cpus": 1})).is_rollback());
    }
}
