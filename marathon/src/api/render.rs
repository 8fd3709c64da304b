//! The JSON Marathon answers for apps (with counts and embeds), tasks and groups. Only
//! keys Marathon writes: strict clients (marathon-python) refuse unknown ones.

use serde_json::{Map, Value, json};

use crate::model::PathId;
use crate::state::{AppRecord, State, Task};
use crate::time::Timestamp;

/// What an app answer carries besides its definition.
#[derive(Debug, Clone, Copy, Default)]
pub struct Embed {
    pub counts: bool,
    pub deployments: bool,
    pub tasks: bool,
    pub last_task_failure: bool,
}

impl Embed {
    /// `GET /v2/apps/{id}`: everything.
    pub fn all() -> Self {
        Embed {
            counts: true,
            deployments: true,
            tasks: true,
            last_task_failure: true,
        }
    }
}

pub fn app_json(state: &State, record: &AppRecord, embed: Embed) -> Value {
    let mut value = serde_json::to_value(&record.app).unwrap_or_else(|_| json!({}));
    let Value::Object(map) = &mut value else {
        return value;
    };
    let id = &record.app.id;
    let checked = record.app.has_health_checks();
    if embed.counts {
        let tasks: Vec<&Task> = state.tasks_of(id).collect();
        let count = |f: &dyn Fn(&Task) -> bool| tasks.iter().filter(|t| f(t)).count();
        map.insert("tasksStaged".into(), json!(count(&|t| t.is_staged())));
        map.insert("tasksRunning".into(), json!(count(&|t| t.is_running())));
        map.insert(
            "tasksHealthy".into(),
            json!(count(&|t| checked
                && t.is_running()
                && t.healthy == Some(true))),
        );
        map.insert(
            "tasksUnhealthy".into(),
            json!(count(&|t| checked && t.healthy == Some(false))),
        );
    }
    if embed.deployments {
        let ids: Vec<Value> = state
            .deployments_of(id)
            .iter()
            .map(|d| json!({"id": d.id}))
            .collect();
        map.insert("deployments".into(), Value::Array(ids));
    }
    if embed.tasks {
        let tasks: Vec<Value> = state.tasks_of(id).map(|t| task_json(t, checked)).collect();
        map.insert("tasks".into(), Value::Array(tasks));
    }
    if embed.last_task_failure
        && let Some(failure) = &record.last_task_failure
    {
        map.insert("lastTaskFailure".into(), failure.clone());
    }
    value
}

/// A task as `/v2/tasks` and `/v2/apps/{id}/tasks` list it.
pub fn task_json(task: &Task, health_checked: bool) -> Value {
    let mut map = Map::new();
    map.insert("id".into(), json!(task.id));
    map.insert("appId".into(), json!(task.app_id));
    map.insert("host".into(), json!(task.host));
    map.insert("ports".into(), json!(task.ports));
    map.insert("servicePorts".into(), json!(task.service_ports));
    map.insert("slaveId".into(), json!(task.agent_id));
    map.insert("stagedAt".into(), json!(task.staged_at.iso()));
    if let Some(started) = task.started_at {
        map.insert("startedAt".into(), json!(started.iso()));
    }
    map.insert("version".into(), json!(task.version));
    map.insert("state".into(), json!(task.state));
    map.insert("ipAddresses".into(), json!([]));
    map.insert("localVolumes".into(), json!([]));
    map.insert("role".into(), json!("*"));
    if health_checked && task.healthy.is_some() {
        let health = &task.health;
        let at = |t: Option<Timestamp>| t.map(Timestamp::iso);
        map.insert(
            "healthCheckResults".into(),
            json!([{
                "alive": task.healthy == Some(true),
                "consecutiveFailures": health.consecutive_failures,
                "firstSuccess": at(health.first_success),
                "lastFailure": at(health.last_failure),
                "lastSuccess": at(health.last_success),
                "lastFailureCause": health.last_failure_cause,
                "taskId": task.id,
                "instanceId": task.id,
            }]),
        );
    }
    Value::Object(map)
}

/// The group `id` with its apps and subgroups, or `None` when no app lies under it.
pub fn group_json(state: &State, id: &PathId) -> Option<Value> {
    let under: Vec<&AppRecord> = state.apps().filter(|r| r.app.id.is_under(id)).collect();
    if under.is_empty() && !id.is_root() {
        return None;
    }
    if under.iter().any(|r| &r.app.id == id) {
        return None; // an app, not a group
    }
    let apps: Vec<Value> = under
        .iter()
        .filter(|r| &r.app.id.parent() == id)
        .map(|r| app_json(state, r, Embed::default()))
        .collect();
    let mut children: Vec<PathId> = under
        .iter()
        .filter_map(|r| child_group(id, &r.app.id))
        .collect();
    children.sort();
    children.dedup();
    let groups: Vec<Value> = children
        .iter()
        .filter_map(|child| group_json(state, child))
        .collect();
    let version = under
        .iter()
        .map(|r| r.app.version.clone())
        .max()
        .unwrap_or_else(|| Timestamp(0).iso());
    Some(json!({
        "id": id,
        "apps": apps,
        "groups": groups,
        "pods": [],
        "dependencies": [],
        "version": version,
    }))
}

/// The direct subgroup of `group` that holds `app`, if `app` is deeper than a child.
fn child_group(group: &PathId, app: &PathId) -> Option<PathId> {
    let rest = app
        .as_str()
        .strip_prefix(group.as_str())?
        .trim_start_matches('/');
    let (first, _) = rest.split_once('/')?;
    let base = if group.is_root() {
        String::new()
    } else {
        group.to_string()
    };
    PathId::parse(&format!("{base}/{first}")).ok()
}
