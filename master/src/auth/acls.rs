//! Access control lists in Mesos's JSON shape (`--acls FILE`), evaluated as Mesos's local
//! authorizer does.
//!
//! ```json
//! {
//!   "permissive": false,
//!   "register_frameworks": [{"principals": {"values": ["web"]}, "roles": {"values": ["web"]}}],
//!   "view_tasks": [{"principals": {"type": "ANY"}, "framework_principals": {"values": ["web"]}}]
//! }
//! ```
//!
//! Each action holds rules in order. A rule has a subject (`principals`) and objects (which
//! depend on the action); each is `{"values": [...]}`, `{"type": "ANY"}` or `{"type": "NONE"}`.
//! The first rule whose subject and objects *match* decides: it allows when its subject and
//! objects also *allow* the request. NONE matches everything and allows nothing, so a NONE
//! object denies. No matching rule: `permissive` decides (default true, as Mesos). A caller
//! without a principal (authentication off, or an open endpoint) matches only ANY subjects.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::Error;

/// What a caller asks to do; each is Mesos's ACL key of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// Subscribe a framework with roles (objects: `roles`).
    RegisterFrameworks,
    /// Launch tasks (objects: `users`, the framework's user).
    RunTasks,
    /// Tear a framework down (objects: `framework_principals`).
    TeardownFrameworks,
    /// Reserve resources for a role (objects: `roles`).
    ReserveResources,
    /// Unreserve resources (objects: `reserver_principals`).
    UnreserveResources,
    /// Set a role's quota (objects: `roles`).
    SetQuotas,
    /// Set a role's weight (objects: `roles`).
    UpdateWeights,
    /// See a framework in state (objects: `users`, `framework_principals`).
    ViewFrameworks,
    /// See a task, its env and args (objects: `users`, `framework_principals`).
    ViewTasks,
    /// Read a task's sandbox files (objects: `users`, `framework_principals`).
    AccessSandboxes,
    /// Kill another framework's task as an operator (objects: `framework_principals`).
    KillTasks,
    /// Mark an agent gone (objects: `agents`, ANY or NONE).
    MarkAgentsGone,
    /// Drain an agent (objects: `agents`, ANY or NONE).
    DrainAgents,
    /// Deactivate an agent (objects: `agents`, ANY or NONE).
    DeactivateAgents,
    /// Reactivate an agent (objects: `agents`, ANY or NONE).
    ReactivateAgents,
    /// See the maintenance schedule (objects: `machines`).
    GetMaintenanceSchedules,
    /// Replace the maintenance schedule (objects: `machines`).
    UpdateMaintenanceSchedules,
    /// Put machines DOWN (objects: `machines`).
    StartMaintenances,
    /// Bring machines UP (objects: `machines`).
    StopMaintenances,
    /// See the machines' maintenance status (objects: `machines`).
    GetMaintenanceStatuses,
}

impl Action {
    const ALL: [Action; 20] = [
        Action::RegisterFrameworks,
        Action::RunTasks,
        Action::TeardownFrameworks,
        Action::ReserveResources,
        Action::UnreserveResources,
        Action::SetQuotas,
        Action::UpdateWeights,
        Action::ViewFrameworks,
        Action::ViewTasks,
        Action::AccessSandboxes,
        Action::KillTasks,
        Action::MarkAgentsGone,
        Action::DrainAgents,
        Action::DeactivateAgents,
        Action::ReactivateAgents,
        Action::GetMaintenanceSchedules,
        Action::UpdateMaintenanceSchedules,
        Action::StartMaintenances,
        Action::StopMaintenances,
        Action::GetMaintenanceStatuses,
    ];

    /// Its key in the ACL file.
    pub fn key(self) -> &'static str {
        match self {
            Action::RegisterFrameworks => "register_frameworks",
            Action::RunTasks => "run_tasks",
            Action::TeardownFrameworks => "teardown_frameworks",
            Action::ReserveResources => "reserve_resources",
            Action::UnreserveResources => "unreserve_resources",
            Action::SetQuotas => "set_quotas",
            Action::UpdateWeights => "update_weights",
            Action::ViewFrameworks => "view_frameworks",
            Action::ViewTasks => "view_tasks",
            Action::AccessSandboxes => "access_sandboxes",
            Action::KillTasks => "kill_tasks",
            Action::MarkAgentsGone => "mark_agents_gone",
            Action::DrainAgents => "drain_agents",
            Action::DeactivateAgents => "deactivate_agents",
            Action::ReactivateAgents => "reactivate_agents",
            Action::GetMaintenanceSchedules => "get_maintenance_schedules",
            Action::UpdateMaintenanceSchedules => "update_maintenance_schedules",
            Action::StartMaintenances => "start_maintenances",
            Action::StopMaintenances => "stop_maintenances",
            Action::GetMaintenanceStatuses => "get_maintenance_statuses",
        }
    }

    /// The object keys a rule of this action may carry.
    fn objects(self) -> &'static [&'static str] {
        match self {
            Action::RegisterFrameworks
            | Action::ReserveResources
            | Action::SetQuotas
            | Action::UpdateWeights => &["roles"],
            Action::RunTasks => &["users"],
            Action::TeardownFrameworks | Action::KillTasks => &["framework_principals"],
            Action::UnreserveResources => &["reserver_principals"],
            Action::ViewFrameworks | Action::ViewTasks | Action::AccessSandboxes => {
                &["users", "framework_principals"]
            }
            Action::MarkAgentsGone
            | Action::DrainAgents
            | Action::DeactivateAgents
            | Action::ReactivateAgents => &["agents"],
            Action::GetMaintenanceSchedules
            | Action::UpdateMaintenanceSchedules
            | Action::StartMaintenances
            | Action::StopMaintenances
            | Action::GetMaintenanceStatuses => &["machines"],
        }
    }
}

/// Mesos ACL keys wasmesos reads but does not act on (their endpoints do not exist here or
/// are covered by another action); a file carrying them still loads.
const IGNORED_KEYS: &[&str] = &[
    "view_executors",
    "access_mesos_logs",
    "get_endpoints",
    "view_roles",
    "get_quotas",
    "update_quotas",
    "view_agents",
    "register_agents",
    "create_volumes",
    "destroy_volumes",
    "resize_volumes",
    "view_flags",
    "set_log_level",
    "launch_nested_container_sessions",
    "modify_resource_provider_configs",
    "prune_images",
];

/// One side of a rule: some names, anyone, or no one.
#[derive(Clone, Debug, PartialEq)]
enum Entity {
    Some(Vec<String>),
    Any,
    None,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityJson {
    #[serde(default)]
    values: Option<Vec<String>>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

impl Entity {
    fn parse(json: EntityJson) -> Result<Self, String> {
        match (json.values, json.kind.as_deref()) {
            (Some(values), None | Some("SOME")) => Ok(Entity::Some(values)),
            (None, Some("ANY")) => Ok(Entity::Any),
            (None, Some("NONE")) => Ok(Entity::None),
            (None, None) => Ok(Entity::Any),
            (None, Some(other)) => Err(format!("unknown entity type {other:?} (ANY, NONE)")),
            (Some(_), Some(other)) => Err(format!(
                "an entity with values cannot also be of type {other:?}"
            )),
        }
    }

    /// Whether a request for `value` (`None`: no principal) falls under this entity.
    fn matches(&self, value: Option<&str>) -> bool {
        match (value, self) {
            (None, entity) => *entity == Entity::Any,
            (Some(v), Entity::Some(values)) => values.iter().any(|x| x == v),
            (Some(_), Entity::Any | Entity::None) => true,
        }
    }

    /// Whether this entity permits a request for `value`.
    fn allows(&self, value: Option<&str>) -> bool {
        match (value, self) {
            (_, Entity::Any) => true,
            (Some(v), Entity::Some(values)) => values.iter().any(|x| x == v),
            _ => false,
        }
    }
}

#[derive(Clone, Debug)]
struct Rule {
    principals: Entity,
    objects: BTreeMap<String, Entity>,
}

/// The operator's ACLs.
#[derive(Clone)]
pub struct Acls {
    permissive: bool,
    rules: BTreeMap<Action, Vec<Rule>>,
}

impl fmt::Debug for Acls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acls")
            .field("permissive", &self.permissive)
            .field(
                "actions",
                &self.rules.keys().map(|a| a.key()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Default for Acls {
    /// No rules, permissive: everything is allowed.
    fn default() -> Self {
        Self {
            permissive: true,
            rules: BTreeMap::new(),
        }
    }
}

/// The objects of one request: key (`roles`, `users`, …) and value.
pub type Objects<'a> = &'a [(&'static str, &'a str)];

impl Acls {
    /// Parses Mesos's ACL JSON; errors name the action and rule at fault.
    pub fn parse(text: &str) -> Result<Self, String> {
        let json: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|err| err.to_string())?;
        let mut acls = Acls::default();
        for (key, value) in json {
            if key == "permissive" {
                acls.permissive = value
                    .as_bool()
                    .ok_or_else(|| "permissive must be true or false".to_string())?;
                continue;
            }
            if IGNORED_KEYS.contains(&key.as_str()) {
                tracing::warn!(action = %key, "ACLs: wasmesos does not check this action; its rules are ignored");
                continue;
            }
            let action = Action::ALL
                .into_iter()
                .find(|a| a.key() == key)
                .ok_or_else(|| {
                    let known: Vec<_> = Action::ALL.iter().map(|a| a.key()).collect();
                    format!("unknown action {key:?}; known: {}", known.join(", "))
                })?;
            let rules: Vec<serde_json::Map<String, serde_json::Value>> =
                serde_json::from_value(value)
                    .map_err(|err| format!("{key}: a list of rules is expected: {err}"))?;
            let mut parsed = Vec::with_capacity(rules.len());
            for (index, rule) in rules.into_iter().enumerate() {
                parsed.push(
                    parse_rule(action, rule).map_err(|why| format!("{key}[{index}]: {why}"))?,
                );
            }
            acls.rules.insert(action, parsed);
        }
        Ok(acls)
    }

    /// Reads an ACL file.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            Error::InvalidConfig(format!("cannot read ACL file {}: {err}", path.display()))
        })?;
        Self::parse(&text)
            .map_err(|why| Error::InvalidConfig(format!("ACL file {}: {why}", path.display())))
    }

    /// Whether any rule or a non-permissive default can refuse `action` to anyone.
    pub fn restricts(&self, action: Action) -> bool {
        !self.permissive || self.rules.contains_key(&action)
    }

    /// Whether `principal` may do `action` on `objects`.
    pub fn allows(&self, principal: Option<&str>, action: Action, objects: Objects<'_>) -> bool {
        let Some(rules) = self.rules.get(&action) else {
            return self.permissive;
        };
        for rule in rules {
            let matches = rule.principals.matches(principal)
                && objects.iter().all(|(key, value)| {
                    rule.objects
                        .get(*key)
                        .is_none_or(|entity| entity.matches(Some(value)))
                });
            if matches {
                return rule.principals.allows(principal)
                    && objects.iter().all(|(key, value)| {
                        rule.objects
                            .get(*key)
                            .is_none_or(|entity| entity.allows(Some(value)))
                    });
            }
        }
        self.permissive
    }
}

fn parse_rule(
    action: Action,
    rule: serde_json::Map<String, serde_json::Value>,
) -> Result<Rule, String> {
    let mut principals = None;
    let mut objects = BTreeMap::new();
    for (key, value) in rule {
        let entity: EntityJson =
            serde_json::from_value(value).map_err(|err| format!("{key}: {err}"))?;
        let entity = Entity::parse(entity).map_err(|why| format!("{key}: {why}"))?;
        if key == "principals" {
            principals = Some(entity);
        } else if action.objects().contains(&key.as_str()) {
            objects.insert(key, entity);
        } else {
            return Err(format!(
                "unknown key {key:?}; a {} rule has principals and {}",
                action.key(),
                action.objects().join(", ")
            ));
        }
    }
    let principals = principals.ok_or_else(|| "principals is required".to_string())?;
    Ok(Rule {
        principals,
        objects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acls(text: &str) -> Acls {
        Acls::parse(text).expect("valid ACLs")
    }

    #[test]
    fn the_first_matching_rule_decides_and_permissive_covers_the_rest() {
        let acls = acls(
            r#"{
              "register_frameworks": [
                {"principals": {"values": ["web"]}, "roles": {"values": ["web"]}},
                {"principals": {"values": ["web"]}, "roles": {"type": "NONE"}},
                {"principals": {"type": "ANY"}, "roles": {"values": ["public"]}}
              ]
            }"#,
        );
        let register = |p, role| acls.allows(p, Action::RegisterFrameworks, &[("roles", role)]);
        assert!(register(Some("web"), "web"));
        assert!(!register(Some("web"), "batch"), "web may use no other role");
        assert!(register(Some("batch"), "public"));
        assert!(
            register(Some("batch"), "batch"),
            "no rule matches: permissive"
        );
        assert!(
            register(None, "public"),
            "an ANY subject covers a caller without a principal"
        );
        assert!(acls.allows(Some("x"), Action::SetQuotas, &[("roles", "r")]));
    }

    #[test]
    fn a_strict_file_denies_what_it_does_not_list() {
        let acls = acls(
            r#"{"permissive": false,
                "view_tasks": [{"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}},
                               {"principals": {"type": "ANY"}, "users": {"values": ["alice"]}}]}"#,
        );
        let view = |p, fw, user| {
            acls.allows(
                p,
                Action::ViewTasks,
                &[("framework_principals", fw), ("users", user)],
            )
        };
        assert!(view(Some("ops"), "web", "bob"));
        assert!(view(Some("dev"), "web", "alice"));
        assert!(!view(Some("dev"), "web", "bob"));
        assert!(!view(None, "web", "bob"));
        assert!(!acls.allows(Some("ops"), Action::UpdateWeights, &[("roles", "r")]));
        assert!(acls.restricts(Action::UpdateWeights));
        assert!(!Acls::default().restricts(Action::UpdateWeights));
    }

    #[test]
    fn a_principal_subject_never_covers_a_caller_without_one() {
        let acls = acls(
            r#"{"set_quotas": [{"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}}], "permissive": false}"#,
        );
        assert!(acls.allows(Some("ops"), Action::SetQuotas, &[("roles", "a")]));
        assert!(!acls.allows(None, Action::SetQuotas, &[("roles", "a")]));
    }

    #[test]
    fn bad_files_say_where() {
        let err = Acls::parse(r#"{"register_framework": []}"#).expect_err("unknown action");
        assert!(err.contains("register_framework") && err.contains("register_frameworks"));
        let err = Acls::parse(r#"{"run_tasks": [{"principals": {"type": "SOME"}}]}"#)
            .expect_err("bad type");
        assert!(err.contains("run_tasks[0]"), "{err}");
        let err = Acls::parse(
            r#"{"run_tasks": [{"principals": {"type": "ANY"}, "roles": {"type": "ANY"}}]}"#,
        )
        .expect_err("wrong object");
        assert!(err.contains("users"), "{err}");
        let err =
            Acls::parse(r#"{"run_tasks": [{"users": {"type": "ANY"}}]}"#).expect_err("no subject");
        assert!(err.contains("principals is required"), "{err}");
        assert!(Acls::parse(r#"{"view_executors": [], "permissive": true}"#).is_ok());
    }
}
