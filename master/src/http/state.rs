//! The JSON views of the state snapshot.

use std::sync::Arc;

use crate::auth::Caller;
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{HttpState, Problem};
use crate::core::{AgentView, FrameworkView, RoleView, TaskView};

/// Page size when `/tasks` is asked for none.
pub(crate) const DEFAULT_TASK_LIMIT: usize = 100;
/// The largest page `/tasks` serves.
pub(crate) const MAX_TASK_LIMIT: usize = 1000;

/// `/state` bytes for one snapshot generation. Rebuilt once per generation whatever the
/// number of pollers: they wait on the lock and then share the same bytes.
#[derive(Default)]
pub(super) struct StateCache(tokio::sync::Mutex<Option<(u64, Bytes)>>);

pub(super) async fn health() -> &'static str {
    "ok\n"
}

/// `/version`, in Mesos's shape: `version` is the Mesos API release this master speaks
/// (plain dotted integers, which Mesos clients such as pymesos parse), `wasmesos_version` is
/// wasmesos's own.
#[derive(Serialize)]
pub(super) struct Version {
    version: &'static str,
    wasmesos_version: &'static str,
    master_id: String,
}

pub(super) async fn version(State(state): State<HttpState>) -> Json<Version> {
    Json(Version {
        version: crate::mesos::MESOS_VERSION,
        wasmesos_version: env!("CARGO_PKG_VERSION"),
        master_id: state.snapshot().master.id.clone(),
    })
}

/// The whole snapshot.
pub(super) async fn full_state(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, Problem> {
    if state.security.filters_views() {
        let snapshot = state.visible(&caller);
        let bytes = tokio::task::spawn_blocking(move || serde_json::to_vec(&*snapshot))
            .await
            .map_err(|err| internal(&err))?
            .map_err(|err| internal(&err))?;
        return Ok(json_bytes(Bytes::from(bytes)));
    }
    let snapshot = state.snapshot();
    let mut cached = state.state_cache.0.lock().await;
    let bytes = match cached.as_ref() {
        Some((generation, bytes)) if *generation == snapshot.generation => bytes.clone(),
        _ => {
            let generation = snapshot.generation;
            // Serializing 10,000 tasks takes milliseconds: keep it off the runtime's
            // workers, which the actor shares.
            let bytes = tokio::task::spawn_blocking(move || serde_json::to_vec(&*snapshot))
                .await
                .map_err(|err| internal(&err))?
                .map_err(|err| internal(&err))?;
            let bytes = Bytes::from(bytes);
            *cached = Some((generation, bytes.clone()));
            bytes
        }
    };
    Ok(json_bytes(bytes))
}

pub(super) async fn agents(State(state): State<HttpState>) -> Json<Vec<AgentView>> {
    Json(state.snapshot().agents.clone())
}

pub(super) async fn frameworks(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
) -> Json<Vec<FrameworkView>> {
    Json(state.visible(&caller).frameworks.clone())
}

pub(super) async fn roles(State(state): State<HttpState>) -> Json<Vec<RoleView>> {
    Json(state.snapshot().roles.clone())
}

/// `/tasks` filters; all optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskQuery {
    framework: Option<String>,
    agent: Option<String>,
    /// `RUNNING` or `TASK_RUNNING`, any case.
    state: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

/// One page of tasks.
#[derive(Serialize)]
pub(super) struct TaskPage {
    /// Tasks matching the filters, over all pages.
    total: usize,
    offset: usize,
    limit: usize,
    #[serde(serialize_with = "crate::core::shared_tasks")]
    tasks: Vec<Arc<TaskView>>,
}

pub(super) async fn tasks(
    State(state): State<HttpState>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<TaskQuery>, QueryRejection>,
) -> Result<Json<TaskPage>, Problem> {
    let Query(query) = query.map_err(|err| Problem::bad_request(err.body_text()))?;
    let limit = query.limit.unwrap_or(DEFAULT_TASK_LIMIT);
    if limit == 0 || limit > MAX_TASK_LIMIT {
        return Err(Problem::bad_request(format!(
            "limit must be between 1 and {MAX_TASK_LIMIT}, not {limit}"
        )));
    }
    let wanted_state = query.state.as_deref().map(task_state).transpose()?;
    let snapshot = state.visible(&caller);
    let matching: Vec<&Arc<TaskView>> = snapshot
        .tasks
        .iter()
        .filter(|t| {
            query
                .framework
                .as_ref()
                .is_none_or(|f| t.framework_id == *f)
        })
        .filter(|t| query.agent.as_ref().is_none_or(|a| t.agent_id == *a))
        .filter(|t| wanted_state.is_none_or(|s| t.state == s))
        .collect();
    let page = matching
        .iter()
        .skip(query.offset)
        .take(limit)
        .map(|t| Arc::clone(t))
        .collect();
    Ok(Json(TaskPage {
        total: matching.len(),
        offset: query.offset,
        limit,
        tasks: page,
    }))
}

/// A `state` filter as the snapshot spells it (`RUNNING`), or a 400.
pub(crate) fn task_state(asked: &str) -> Result<&'static str, Problem> {
    wasmesos_proto::v1::TaskState::from_name(asked)
        .map(wasmesos_proto::v1::TaskState::name)
        .ok_or_else(|| Problem::bad_request(format!("state {asked:?} is not a task state")))
}

fn json_bytes(bytes: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

fn internal(err: &dyn std::fmt::Display) -> Problem {
    Problem {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: err.to_string(),
    }
}
