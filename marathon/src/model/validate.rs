//! Checks of an app as Marathon makes them, each failure named by its JSON path, so the API
//! can answer 422 with Marathon's `details`.

use serde::Serialize;

use super::app::App;
use super::command::executor_of;
use super::health::Protocol;

/// Most instances one app may ask for.
pub const MAX_INSTANCES: u32 = 10_000;
/// Most environment variables, labels, ports, health checks and constraints an app may have.
pub const MAX_ITEMS: usize = 1_000;

/// One invalid field: Marathon's `{"path": "/cpus", "errors": ["…"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub path: String,
    pub errors: Vec<String>,
}

impl Violation {
    pub fn new(path: impl Into<String>, error: impl Into<String>) -> Self {
        Violation {
            path: path.into(),
            errors: vec![error.into()],
        }
    }
}

/// Every rule `app` breaks (none: it may run).
pub fn validate(app: &App) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut check = |ok: bool, path: &str, error: String| {
        if !ok {
            found.push(Violation::new(path, error));
        }
    };
    if app.id.is_root() {
        check(
            false,
            "/id",
            "Path must contain at least one path element".into(),
        );
    }
    minimum(&mut check, "/cpus", app.cpus, 0.0);
    minimum(&mut check, "/mem", app.mem, 0.0);
    minimum(&mut check, "/disk", app.disk, 0.0);
    minimum(&mut check, "/backoffSeconds", app.backoff_seconds, 0.0);
    minimum(&mut check, "/backoffFactor", app.backoff_factor, 1.0);
    minimum(
        &mut check,
        "/maxLaunchDelaySeconds",
        app.max_launch_delay_seconds,
        0.0,
    );
    check(
        app.instances <= MAX_INSTANCES,
        "/instances",
        format!("got {}, expected {MAX_INSTANCES} or less", app.instances),
    );
    check(
        app.gpus == 0,
        "/gpus",
        "GPUs are not supported: tasks are Wasm components".into(),
    );
    let strategy = app.upgrade_strategy;
    for (path, value) in [
        (
            "/upgradeStrategy/minimumHealthCapacity",
            strategy.minimum_health_capacity,
        ),
        (
            "/upgradeStrategy/maximumOverCapacity",
            strategy.maximum_over_capacity,
        ),
    ] {
        check(
            (0.0..=1.0).contains(&value),
            path,
            format!("got {value}, expected between 0.0 and 1.0"),
        );
    }
    if app.cmd.is_some() && app.args.is_some() {
        check(
            false,
            "/",
            "AppDefinition must either contain one of 'cmd' or 'args', not both".into(),
        );
    } else if let Err(why) = executor_of(app) {
        let path = if app.cmd.is_some() { "/cmd" } else { "/" };
        check(false, path, why);
    }
    for (path, count) in [
        ("/env", app.env.len()),
        ("/labels", app.labels.len()),
        ("/portDefinitions", app.port_definitions.len()),
        ("/constraints", app.constraints.len()),
    ] {
        check(
            count <= MAX_ITEMS,
            path,
            format!("{count} items, at most {MAX_ITEMS}"),
        );
    }
    check(
        app.readiness_checks.is_empty(),
        "/readinessChecks",
        "readiness checks are not supported: use a health check".into(),
    );
    check_ports(app, &mut check);
    check_health(app, &mut check);
    if let Some(grace) = app.task_kill_grace_period_seconds {
        minimum(&mut check, "/taskKillGracePeriodSeconds", grace, 0.0);
    }
    found
}

fn minimum(check: &mut impl FnMut(bool, &str, String), path: &str, value: f64, least: f64) {
    check(
        value.is_finite() && value >= least,
        path,
        format!("got {value}, expected {least:?} or more"),
    );
}

fn check_ports(app: &App, check: &mut impl FnMut(bool, &str, String)) {
    let mut names = std::collections::BTreeSet::new();
    for (index, definition) in app.port_definitions.iter().enumerate() {
        let path = format!("/portDefinitions({index})");
        check(
            definition.port <= 65535,
            &format!("{path}/port"),
            format!("got {}, expected 65535 or less", definition.port),
        );
        check(
            definition.protocol == "tcp",
            &format!("{path}/protocol"),
            "only tcp ports are supported".into(),
        );
        if let Some(name) = &definition.name {
            check(
                names.insert(name.clone()),
                &format!("{path}/name"),
                "Port names must be unique.".into(),
            );
        }
    }
    if app.require_ports {
        let zero = app.port_definitions.iter().any(|d| d.port == 0);
        check(
            !zero,
            "/requirePorts",
            "requirePorts needs every port to be given (not 0)".into(),
        );
    }
}

fn check_health(app: &App, check: &mut impl FnMut(bool, &str, String)) {
    check(
        app.health_checks.len() <= 1,
        "/healthChecks",
        "at most one health check per app: the agent runs one per task".into(),
    );
    for (index, health) in app.health_checks.iter().enumerate() {
        let path = format!("/healthChecks({index})");
        check(
            health.protocol.supported(),
            &format!("{path}/protocol"),
            format!(
                "{:?} health checks are not supported: use HTTP, TCP, MESOS_HTTP or MESOS_TCP",
                health.protocol
            ),
        );
        if health.protocol == Protocol::Command {
            continue;
        }
        if let Some(port_index) = health.port_index {
            let in_range =
                usize::try_from(port_index).is_ok_and(|i| i < app.port_definitions.len());
            check(
                in_range,
                &format!("{path}/portIndex"),
                "Health check port indices must address an element of the ports array or \
                 container port mappings."
                    .into(),
            );
        }
        for (field, value) in [
            ("gracePeriodSeconds", health.grace_period_seconds),
            ("intervalSeconds", health.interval_seconds),
            ("timeoutSeconds", health.timeout_seconds),
            ("delaySeconds", health.delay_seconds),
        ] {
            minimum(check, &format!("{path}/{field}"), value, 0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppUpdate, PathId};
    use crate::time::Timestamp;

    fn violations(json: serde_json::Value) -> Vec<String> {
        let update: AppUpdate = serde_json::from_value(json).expect("an update");
        let app = update.apply(None, PathId::parse("/a").expect("id"), Timestamp(0));
        validate(&app).into_iter().map(|v| v.path).collect()
    }

    #[test]
    fn marathons_rules_name_the_field() {
        let digest = "cd".repeat(32);
        let cmd = format!("wasmesos://sha256:{digest}");
        assert!(violations(serde_json::json!({"cmd": cmd})).is_empty());
        assert_eq!(
            violations(serde_json::json!({"cmd": cmd, "cpus": -1})),
            ["/cpus"]
        );
        assert_eq!(
            violations(serde_json::json!({"cmd": cmd, "backoffFactor": 0.5})),
            ["/backoffFactor"]
        );
        assert_eq!(
            violations(
                serde_json::json!({"cmd": cmd, "upgradeStrategy": {"minimumHealthCapacity": 2}})
            ),
            ["/upgradeStrategy/minimumHealthCapacity"]
        );
        assert_eq!(
            violations(serde_json::json!({"cmd": cmd, "healthChecks": [{"portIndex": 3}]})),
            ["/healthChecks(0)/portIndex"]
        );
        assert_eq!(
            violations(serde_json::json!({"cmd": cmd, "healthChecks": [{"protocol": "COMMAND"}]})),
            ["/healthChecks(0)/protocol"]
        );
        assert_eq!(violations(serde_json::json!({"instances": 1})), ["/"]);
        assert_eq!(violations(serde_json::json!({"cmd": "x.wasm"})), ["/cmd"]);
        let tight = serde_json::json!({"cmd": cmd,
            "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 0}});
        assert!(violations(tight).is_empty(), "allowed, as in Marathon");
    }
}
