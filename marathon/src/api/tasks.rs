//! `/v2/tasks`: every task, and killing several at once.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Ctx;
use super::apps::killed_json;
use super::error::ApiError;
use super::query::Query;
use super::render::task_json;
use crate::time::Timestamp;

/// Most task ids one kill may name.
const MAX_IDS: usize = 10_000;

/// GET /v2/tasks (`?status=running|staging` filters).
pub async fn list(
    State(ctx): State<Arc<Ctx>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw.as_deref());
    let wanted: Vec<String> = query
        .all("status")
        .iter()
        .map(|s| format!("TASK_{}", s.to_ascii_uppercase()))
        .collect();
    let state = ctx.lock()?;
    let tasks: Vec<Value> = state
        .tasks()
        .filter(|t| wanted.is_empty() || wanted.contains(&t.state))
        .map(|t| {
            let checked = state
                .app(&t.app_id)
                .is_some_and(|r| r.app.has_health_checks());
            task_json(t, checked)
        })
        .collect();
    Ok(Json(json!({"tasks": tasks})).into_response())
}

#[derive(Deserialize)]
struct Ids {
    ids: Vec<String>,
}

/// POST /v2/tasks/delete `{"ids": […]}` (`?scale=true` scales the apps down).
pub async fn delete_many(
    State(ctx): State<Arc<Ctx>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw.as_deref());
    let (scale, force) = (query.flag("scale")?, query.flag("force")?);
    query.flag("wipe")?;
    let value: Value =
        serde_json::from_slice(&body).map_err(|err| ApiError::invalid_json(err.to_string()))?;
    let ids: Ids =
        serde_json::from_value(value).map_err(|err| ApiError::invalid("/ids", err.to_string()))?;
    if ids.ids.len() > MAX_IDS {
        return Err(ApiError::invalid(
            "/ids",
            format!("at most {MAX_IDS} task ids"),
        ));
    }
    let mut state = ctx.lock()?;
    let known: Vec<String> = ids
        .ids
        .into_iter()
        .filter(|id| state.task(id).is_some())
        .collect();
    let killed = state.kill_tasks(&known, scale, force, Timestamp::now())?;
    let answer = killed_json(&state, killed, "tasks");
    drop(state);
    ctx.changed();
    Ok(Json(answer).into_response())
}
