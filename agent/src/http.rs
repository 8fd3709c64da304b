//! The agent's HTTP API, served on its gRPC port: `/health`, `/state` (JSON) and `/metrics`
//! (Prometheus text). Every answer is built from what the agent already holds, under no lock
//! longer than a copy of the task list.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use wasmesos_proto::{Resources, TaskReport, TaskState};

use crate::agent::Agent;

/// The routes, ready to merge with the gRPC ones.
pub(crate) fn routes(agent: Arc<Agent>) -> axum::Router {
    axum::Router::new()
        .route("/health", get(health))
        .route("/state", get(state))
        .route("/metrics", get(metrics))
        .with_state(agent)
}

/// What `/state` answers.
#[derive(Debug, Serialize)]
struct AgentStateView {
    /// Empty until the master has registered it.
    id: String,
    hostname: String,
    address: String,
    version: &'static str,
    /// `cpus`, `mem_bytes`, `disk_bytes`, then custom scalars; reservations summed in.
    resources: BTreeMap<String, f64>,
    tasks: Vec<TaskView>,
    unacknowledged_updates: u64,
    compile_cache: CompileCacheView,
}

#[derive(Debug, Serialize)]
struct TaskView {
    task_id: String,
    framework_id: String,
    /// `RUNNING`, `FINISHED`, ... (the proto name without `TASK_`).
    state: String,
    /// `exit_code`, `memory_limit`, ...; empty when there is none.
    reason: String,
    message: String,
    executor_digest: String,
    /// Unix seconds of the latest status.
    updated_time: f64,
}

#[derive(Debug, Serialize)]
struct CompileCacheView {
    compiled: u64,
    loaded_from_disk: u64,
    memory_hits: u64,
}

async fn health() -> &'static str {
    "ok\n"
}

async fn state(State(agent): State<Arc<Agent>>) -> Json<AgentStateView> {
    let stats = agent.executor.cache_stats();
    Json(AgentStateView {
        id: agent.current_id(),
        hostname: agent.hostname.clone(),
        address: agent.address.clone(),
        version: env!("CARGO_PKG_VERSION"),
        resources: resource_map(&agent.resources),
        tasks: agent.registry.all_reports().iter().map(task_view).collect(),
        unacknowledged_updates: agent.status.unacknowledged(),
        compile_cache: CompileCacheView {
            compiled: stats.compiled,
            loaded_from_disk: stats.loaded_from_disk,
            memory_hits: stats.memory_hits,
        },
    })
}

fn task_view(report: &TaskReport) -> TaskView {
    let latest = report.latest.clone().unwrap_or_default();
    let task = report.task.as_ref();
    TaskView {
        task_id: task.map(|t| t.task_id.clone()).unwrap_or_default(),
        framework_id: report.framework_id.clone(),
        state: latest.state().name().to_string(),
        reason: latest.reason().code().to_string(),
        message: latest.message,
        executor_digest: task
            .and_then(|t| t.executor.as_ref())
            .map(|e| e.digest.clone())
            .unwrap_or_default(),
        updated_time: latest.timestamp,
    }
}

fn resource_map(resources: &Resources) -> BTreeMap<String, f64> {
    let mut map = BTreeMap::new();
    for item in &resources.resources {
        let name = match item.name.as_str() {
            "mem" => "mem_bytes".to_string(),
            "disk" => "disk_bytes".to_string(),
            other => other.to_string(),
        };
        *map.entry(name).or_default() += item.value;
    }
    map
}

async fn metrics(State(agent): State<Arc<Agent>>) -> Response {
    let text = render_metrics(&agent);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

fn render_metrics(agent: &Agent) -> String {
    let mut out = String::with_capacity(2048);
    let mut by_state: BTreeMap<&'static str, u64> = BTreeMap::new();
    for report in agent.registry.all_reports() {
        let state = report
            .latest
            .as_ref()
            .map_or(TaskState::Unspecified, |s| s.state());
        let count = by_state.entry(state.name()).or_default();
        *count = count.saturating_add(1);
    }
    family(
        &mut out,
        "wasmesos_agent_tasks",
        "gauge",
        "Tasks the agent knows, by state.",
    );
    for (state, n) in by_state {
        let _ = writeln!(out, "wasmesos_agent_tasks{{state=\"{state}\"}} {n}");
    }
    let stats = agent.executor.cache_stats();
    family(
        &mut out,
        "wasmesos_agent_compile_cache_total",
        "counter",
        "Component loads by where the compiled code came from.",
    );
    for (source, n) in [
        ("compiled", stats.compiled),
        ("disk", stats.loaded_from_disk),
        ("memory", stats.memory_hits),
    ] {
        let _ = writeln!(
            out,
            "wasmesos_agent_compile_cache_total{{source=\"{source}\"}} {n}"
        );
    }
    family(
        &mut out,
        "wasmesos_agent_unacknowledged_updates",
        "gauge",
        "Status updates sent and not yet acknowledged.",
    );
    let _ = writeln!(
        out,
        "wasmesos_agent_unacknowledged_updates {}",
        agent.status.unacknowledged()
    );
    family(
        &mut out,
        "wasmesos_agent_free_task_slots",
        "gauge",
        "Tasks that could start now without waiting for a slot.",
    );
    let _ = writeln!(
        out,
        "wasmesos_agent_free_task_slots {}",
        agent.slots.available_permits()
    );
    render_oversubscription(&mut out, agent);
    let registered = u8::from(!agent.current_id().is_empty());
    family(
        &mut out,
        "wasmesos_agent_registered",
        "gauge",
        "1 when registered with a master.",
    );
    let _ = writeln!(out, "wasmesos_agent_registered {registered}");
    out
}

/// The estimator's and the QoS controller's figures, when oversubscription is on.
fn render_oversubscription(out: &mut String, agent: &Agent) {
    use std::sync::atomic::Ordering::Relaxed;
    if agent.config.oversubscription.is_none() {
        return;
    }
    let stats = &agent.oversubscription;
    family(
        out,
        "wasmesos_agent_revocable_cpus",
        "gauge",
        "The latest estimate of CPU the regular tasks leave unused (offered as revocable).",
    );
    let millicores = stats.estimate_millicores.load(Relaxed);
    let _ = writeln!(
        out,
        "wasmesos_agent_revocable_cpus {}",
        millicores as f64 / 1000.0
    );
    family(
        out,
        "wasmesos_agent_qos_suspended_tasks",
        "gauge",
        "Revocable tasks the QoS controller holds suspended now.",
    );
    let _ = writeln!(
        out,
        "wasmesos_agent_qos_suspended_tasks {}",
        stats.suspended_now.load(Relaxed)
    );
    for (name, help, value) in [
        (
            "wasmesos_agent_oversubscribed_updates_total",
            "Estimates sent to the master.",
            &stats.estimates_sent,
        ),
        (
            "wasmesos_agent_qos_suspensions_total",
            "Revocable tasks the QoS controller suspended.",
            &stats.suspended,
        ),
        (
            "wasmesos_agent_qos_resumes_total",
            "Revocable tasks the QoS controller resumed.",
            &stats.resumed,
        ),
        (
            "wasmesos_agent_qos_revocations_total",
            "Revocable tasks the QoS controller killed (REASON_REVOCATION).",
            &stats.revoked,
        ),
    ] {
        family(out, name, "counter", help);
        let _ = writeln!(out, "{name} {}", value.load(Relaxed));
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}
