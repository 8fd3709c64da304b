//! The JSON endpoints Mesos's tools read (mesos-dns, dashboards, pymesos's `/version`), in
//! Mesos's field names and units (`mem` and `disk` in MB, states as `TASK_RUNNING`), built
//! from the master's published state snapshot. They live under `/master/*` (plus Mesos's
//! `/state.json` and `/metrics/snapshot`) so they never collide with wasmesos's own `/state`
//! and `/tasks`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use wasmesos_allocator::Resources;

use super::{MESOS_VERSION, MesosApi};
use crate::auth::Caller;
use crate::core::{
    AgentView, FrameworkView, ResourceMap, ResourceValue, StateSnapshot, TaskView, resource_json,
};
use axum::Extension;

/// Bytes in Mesos's megabyte.
const MB: f64 = 1024.0 * 1024.0;
/// Most tasks `/master/tasks` lists in one page, as Mesos.
const MAX_TASK_PAGE: usize = 1000;

pub(crate) fn snapshot(api: &MesosApi) -> Arc<StateSnapshot> {
    Arc::clone(&api.actor.snapshots().borrow())
}

/// The part of the latest snapshot `caller` may see (ACLs `view_frameworks`, `view_tasks`).
fn visible(api: &MesosApi, caller: &Caller) -> Arc<StateSnapshot> {
    api.actor.security().view(caller, snapshot(api))
}

/// `host:port` of a URL such as `http://127.0.0.1:5051`.
pub(crate) fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

/// Resources as Mesos's state JSON writes them: scalars as numbers (`mem`/`disk` in MB),
/// ranges and sets as text.
fn resources_json(resources: &Resources) -> Value {
    let mut map = serde_json::Map::new();
    for name in ["cpus", "mem", "disk", "gpus"] {
        map.insert(name.to_string(), json!(0.0));
    }
    for (name, value) in resource_json(resources) {
        let (name, scale) = mesos_name(&name);
        let value = match value {
            ResourceValue::Amount(amount) => json!(amount / scale),
            ResourceValue::Text(text) => json!(text),
        };
        map.insert(name, value);
    }
    Value::Object(map)
}

fn master_pid(snapshot: &StateSnapshot) -> String {
    format!("master@{}", authority(&snapshot.master.address))
}

fn agent_json(agent: &AgentView) -> Value {
    let address = authority(&agent.address);
    let port = address
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse::<u16>().ok())
        .unwrap_or(0);
    let mut json = json!({
        "id": agent.id,
        "pid": format!("slave(1)@{address}"),
        "hostname": agent.hostname,
        "port": port,
        "registered_time": agent.registered_time,
        "resources": resources_json(&agent.total),
        "used_resources": resources_json(&agent.used),
        "offered_resources": resources_json(&agent.offered),
        "reserved_resources": {},
        "unreserved_resources": resources_json(&agent.total),
        "attributes": agent.info.attributes,
        "active": agent.active && !agent.deactivated,
        "deactivated": agent.deactivated,
        "version": MESOS_VERSION,
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
    });
    // Mesos writes `drain_info` only for an agent that drains or drained.
    if let (Some(drain), Some(fields)) = (&agent.drain, json.as_object_mut()) {
        let mut config = serde_json::Map::new();
        config.insert("mark_gone".into(), json!(drain.mark_gone));
        if let Some(seconds) = drain.max_grace_period_seconds {
            let nanoseconds = Duration::try_from_secs_f64(seconds).map_or(0, |d| d.as_nanos());
            config.insert(
                "max_grace_period".into(),
                json!({"nanoseconds": nanoseconds}),
            );
        }
        fields.insert(
            "drain_info".into(),
            json!({"state": drain.state, "config": config}),
        );
    }
    json
}

fn task_json(task: &TaskView) -> Value {
    let state = format!("TASK_{}", task.state);
    json!({
        "id": task.task_id,
        "name": task.name,
        "framework_id": task.framework_id,
        "executor_id": "",
        "slave_id": task.agent_id,
        "state": state,
        "resources": resources_json(&task.resources),
        "statuses": [{"state": state, "timestamp": task.updated_time}],
        // Where /files/browse and /files/read find its stdout and stderr.
        "directory": super::sandbox::directory(&task.agent_id, &task.framework_id, &task.task_id),
    })
}

/// The executor a running task runs in (its id is the task's), with its sandbox.
fn executor_json(task: &TaskView) -> Value {
    json!({
        "executor_id": task.task_id,
        "name": task.name,
        "framework_id": task.framework_id,
        "slave_id": task.agent_id,
        "resources": resources_json(&task.resources),
        "directory": super::sandbox::directory(&task.agent_id, &task.framework_id, &task.task_id),
    })
}

/// Each framework's tasks, grouped once per request (a framework's JSON lists its own).
type TasksByFramework<'a> = HashMap<&'a str, Vec<&'a TaskView>>;

fn tasks_by_framework(snapshot: &StateSnapshot) -> TasksByFramework<'_> {
    let mut by: TasksByFramework<'_> = HashMap::new();
    for task in &snapshot.tasks {
        by.entry(task.framework_id.as_str()).or_default().push(task);
    }
    by
}

/// Active frameworks, then completed ones, as Mesos's `frameworks` and
/// `completed_frameworks` arrays.
fn frameworks_json(snapshot: &StateSnapshot) -> (Vec<Value>, Vec<Value>) {
    let tasks = tasks_by_framework(snapshot);
    let active = snapshot
        .frameworks
        .iter()
        .map(|f| framework_json(f, &tasks))
        .collect();
    let completed = snapshot
        .completed_frameworks
        .iter()
        .map(|f| framework_json(f, &tasks))
        .collect();
    (active, completed)
}

fn framework_json(framework: &FrameworkView, tasks: &TasksByFramework<'_>) -> Value {
    let (done, running): (Vec<&TaskView>, Vec<&TaskView>) = tasks
        .get(framework.id.as_str())
        .map(|tasks| tasks.iter().partition(|t| t.terminal))
        .unwrap_or_default();
    let mut value = json!({
        "id": framework.id,
        "name": framework.name,
        "user": framework.info.user,
        "hostname": framework.info.hostname,
        "webui_url": framework.info.webui_url,
        "labels": framework.info.labels.iter()
            .map(|l| json!({"key": l.key, "value": l.value}))
            .collect::<Vec<_>>(),
        "principal": framework.info.principal,
        "failover_timeout": framework.info.failover_timeout_seconds,
        "checkpoint": true,
        "role": framework.roles.first().cloned().unwrap_or_else(|| "*".into()),
        "roles": framework.roles,
        "active": framework.connected,
        "connected": framework.connected,
        "recovered": false,
        "used_resources": resources_json(&framework.used),
        "offered_resources": resources_json(&framework.offered),
        "resources": resources_json(&framework.used),
        "executors": running.iter().copied().map(executor_json).collect::<Vec<_>>(),
        "tasks": running.into_iter().map(task_json).collect::<Vec<_>>(),
        "completed_tasks": done.into_iter().map(task_json).collect::<Vec<_>>(),
        "unreachable_tasks": [],
        "offers": [],
        "completed_executors": [],
        "capabilities": capabilities_json(&framework.info),
    });
    if let (Some(at), Some(object)) = (framework.unregistered_time, value.as_object_mut()) {
        object.insert("unregistered_time".into(), json!(at));
    }
    value
}

/// The framework's capabilities that wasmesos keeps (the ones it acts on).
fn capabilities_json(info: &wasmesos_proto::v1::FrameworkInfo) -> Vec<&'static str> {
    use wasmesos_proto::v1::FrameworkCapability;
    [
        (FrameworkCapability::TaskKillingState, "TASK_KILLING_STATE"),
        (FrameworkCapability::PartitionAware, "PARTITION_AWARE"),
        (
            FrameworkCapability::RevocableResources,
            "REVOCABLE_RESOURCES",
        ),
    ]
    .into_iter()
    .filter(|(capability, _)| info.capabilities.contains(&(*capability as i32)))
    .map(|(_, name)| name)
    .collect()
}

/// `/master/state`, `/master/state.json`, `/state.json`.
pub(crate) async fn state(
    State(api): State<MesosApi>,
    Extension(caller): Extension<Caller>,
) -> Json<Value> {
    let snapshot = visible(&api, &caller);
    let pid = master_pid(&snapshot);
    let active = snapshot.agents.iter().filter(|a| a.active).count();
    let (frameworks, completed_frameworks) = frameworks_json(&snapshot);
    Json(json!({
        "version": MESOS_VERSION,
        "wasmesos_version": snapshot.master.version,
        "id": snapshot.master.id,
        "pid": pid,
        "hostname": snapshot.master.hostname,
        "start_time": snapshot.master.start_time,
        "elected_time": snapshot.master.start_time,
        "activated_slaves": active,
        "deactivated_slaves": snapshot.agents.len().saturating_sub(active),
        "unreachable_slaves": 0,
        "leader": pid,
        "leader_info": super::json::to_json(&super::events::master_info(&native_master(&snapshot)))
            .unwrap_or(Value::Null),
        "flags": {},
        "slaves": snapshot.agents.iter().map(agent_json).collect::<Vec<_>>(),
        "frameworks": frameworks,
        "completed_frameworks": completed_frameworks,
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    }))
}

pub(crate) fn native_master(snapshot: &StateSnapshot) -> wasmesos_proto::v1::MasterInfo {
    wasmesos_proto::v1::MasterInfo {
        id: snapshot.master.id.clone(),
        hostname: snapshot.master.hostname.clone(),
        port: snapshot.master.port,
        version: snapshot.master.version.clone(),
        address: snapshot.master.address.clone(),
    }
}

/// `/master/frameworks`.
pub(crate) async fn frameworks(
    State(api): State<MesosApi>,
    Extension(caller): Extension<Caller>,
) -> Json<Value> {
    let snapshot = visible(&api, &caller);
    let (frameworks, completed_frameworks) = frameworks_json(&snapshot);
    Json(json!({
        "frameworks": frameworks,
        "completed_frameworks": completed_frameworks,
        "unregistered_frameworks": [],
    }))
}

/// `/master/slaves`.
pub(crate) async fn slaves(State(api): State<MesosApi>) -> Json<Value> {
    let snapshot = snapshot(&api);
    Json(json!({
        "slaves": snapshot.agents.iter().map(agent_json).collect::<Vec<_>>(),
        "recovered_slaves": [],
    }))
}

/// `/master/tasks` paging, as Mesos: `limit` (default 100), `offset`, `order` (`asc`/`des`).
#[derive(Deserialize)]
pub(crate) struct TaskPage {
    limit: Option<usize>,
    offset: Option<usize>,
    order: Option<String>,
}

/// `/master/tasks`.
pub(crate) async fn tasks(
    State(api): State<MesosApi>,
    Extension(caller): Extension<Caller>,
    Query(page): Query<TaskPage>,
) -> Json<Value> {
    let snapshot = visible(&api, &caller);
    let limit = page.limit.unwrap_or(100).min(MAX_TASK_PAGE);
    let offset = page.offset.unwrap_or(0);
    let mut all: Vec<&Arc<TaskView>> = snapshot.tasks.iter().collect();
    if page.order.as_deref() != Some("asc") {
        all.reverse();
    }
    let tasks: Vec<Value> = all
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|t| task_json(t))
        .collect();
    Json(json!({ "tasks": tasks }))
}

/// `/master/roles`.
pub(crate) async fn roles(State(api): State<MesosApi>) -> Json<Value> {
    let snapshot = snapshot(&api);
    let roles: Vec<Value> = snapshot
        .roles
        .iter()
        .map(|role| {
            json!({
                "name": role.name,
                "weight": role.weight,
                "frameworks": role.framework_ids,
                "resources": resources_json(&role.allocated),
                "allocated": resources_json(&role.allocated),
            })
        })
        .collect();
    Json(json!({ "roles": roles }))
}

/// `/master/health`: 200 with an empty body while the master serves.
pub(crate) async fn health() -> StatusCode {
    StatusCode::OK
}

/// `/master/redirect`: a 307 to the leader (this master, since it answers), as Mesos's
/// protocol-relative `//host:port`.
pub(crate) async fn redirect(State(api): State<MesosApi>) -> Response {
    let snapshot = snapshot(&api);
    let location = format!("//{}", authority(&snapshot.master.address));
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `/metrics/snapshot`: Mesos's metric names where wasmesos has the figure.
pub(crate) async fn metrics(State(api): State<MesosApi>) -> Json<BTreeMap<String, f64>> {
    Json(metrics_map(&api))
}

/// Mesos's metric names where wasmesos has the figure, for `/metrics/snapshot` and the
/// operator API's GET_METRICS.
pub(crate) fn metrics_map(api: &MesosApi) -> BTreeMap<String, f64> {
    let snapshot = snapshot(api);
    let metrics = api.actor.metrics();
    let mut out = BTreeMap::new();
    let mut put = |name: &str, value: f64| {
        out.insert(name.to_string(), value);
    };
    #[allow(
        clippy::cast_precision_loss,
        reason = "counts as Mesos's metrics report them: doubles"
    )]
    let count = |n: usize| n as f64;
    #[allow(
        clippy::cast_precision_loss,
        reason = "counters as Mesos's metrics report them: doubles"
    )]
    let counter = |n: u64| n as f64;
    put("master/elected", 1.0);
    put(
        "master/uptime_secs",
        (super::unix_now() - snapshot.master.start_time).max(0.0),
    );
    let active = snapshot.agents.iter().filter(|a| a.active).count();
    put("master/slaves_active", count(active));
    put("master/slaves_connected", count(active));
    put(
        "master/slaves_disconnected",
        count(snapshot.agents.len().saturating_sub(active)),
    );
    put(
        "master/slaves_inactive",
        count(snapshot.agents.len().saturating_sub(active)),
    );
    let connected = snapshot.frameworks.iter().filter(|f| f.connected).count();
    put("master/frameworks_active", count(connected));
    put("master/frameworks_connected", count(connected));
    put(
        "master/frameworks_disconnected",
        count(snapshot.frameworks.len().saturating_sub(connected)),
    );
    for state in [
        "STAGING",
        "STARTING",
        "RUNNING",
        "KILLING",
        "FINISHED",
        "FAILED",
        "KILLED",
        "LOST",
        "ERROR",
        "DROPPED",
        "GONE",
        "UNREACHABLE",
    ] {
        let n = snapshot.tasks.iter().filter(|t| t.state == state).count();
        put(
            &format!("master/tasks_{}", state.to_ascii_lowercase()),
            count(n),
        );
    }
    for (name, total) in resource_map_mb(&snapshot.resources.total) {
        put(&format!("master/{name}_total"), total);
        let used = resource_map_mb(&snapshot.resources.used)
            .get(&name)
            .copied()
            .unwrap_or(0.0);
        put(&format!("master/{name}_used"), used);
        put(
            &format!("master/{name}_percent"),
            if total > 0.0 { used / total } else { 0.0 },
        );
    }
    put(
        "master/messages_decline_offers",
        counter(metrics.offers_declined.get()),
    );
    put("master/outstanding_offers", 0.0);
    put("master/offers_sent", counter(metrics.offers_sent.get()));
    put(
        "master/offers_rescinded",
        counter(metrics.offers_rescinded.get()),
    );
    put(
        "master/messages_status_update",
        counter(metrics.status_updates.get()),
    );
    put(
        "master/invalid_executor_to_framework_messages",
        counter(metrics.invalid_executor_messages.get()),
    );
    put(
        "master/dropped_messages",
        counter(metrics.framework_messages_dropped.get()),
    );
    put(
        "master/invalid_status_updates",
        counter(metrics.invalid_status_updates.get()),
    );
    put(
        "master/valid_status_updates",
        counter(
            metrics
                .status_updates
                .get()
                .saturating_sub(metrics.invalid_status_updates.get()),
        ),
    );
    put(
        "master/operator_event_stream_subscribers",
        count(api.subscribers.len()),
    );
    put(
        "allocator/mesos/allocation_runs",
        counter(metrics.allocation_rounds.get()),
    );
    out
}

fn resource_map_mb(map: &ResourceMap) -> BTreeMap<String, f64> {
    map.iter()
        .map(|(name, value)| {
            let (name, scale) = mesos_name(name);
            (name, value / scale)
        })
        .collect()
}

/// Mesos's name for a resource in wasmesos's JSON, and what to divide its amount by:
/// wasmesos writes `mem_bytes` and `disk_bytes`, Mesos `mem` and `disk` in MB.
fn mesos_name(name: &str) -> (String, f64) {
    match name.strip_suffix("_bytes") {
        Some(base @ ("mem" | "disk")) => (base.to_string(), MB),
        _ => (name.to_string(), 1.0),
    }
}
