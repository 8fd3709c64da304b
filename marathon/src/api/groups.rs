//! `/v2/groups`: the tree of apps by their path ids, and deleting a group's apps.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};

use super::apps::change_json;
use super::error::ApiError;
use super::query::Query;
use super::render::group_json;
use super::{Ctx, Tail};
use crate::model::PathId;
use crate::time::Timestamp;

pub async fn root(State(ctx): State<Arc<Ctx>>) -> Result<Response, ApiError> {
    show_group(&ctx, &PathId::root())
}

pub async fn show(State(ctx): State<Arc<Ctx>>, Tail(id): Tail) -> Result<Response, ApiError> {
    let id = group_id(&id)?;
    show_group(&ctx, &id)
}

fn show_group(ctx: &Ctx, id: &PathId) -> Result<Response, ApiError> {
    let state = ctx.lock()?;
    let group = group_json(&state, id).ok_or_else(|| no_group(id.as_str()))?;
    Ok(Json(group).into_response())
}

pub async fn delete_root(
    State(ctx): State<Arc<Ctx>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    delete_group(&ctx, &PathId::root(), &Query::parse(raw.as_deref()))
}

pub async fn delete(
    State(ctx): State<Arc<Ctx>>,
    Tail(id): Tail,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let id = group_id(&id)?;
    delete_group(&ctx, &id, &Query::parse(raw.as_deref()))
}

/// Deletes every app in the group, each in its own deployment; answers the last one.
fn delete_group(ctx: &Ctx, id: &PathId, query: &Query) -> Result<Response, ApiError> {
    let force = query.flag("force")?;
    let mut state = ctx.lock()?;
    let apps: Vec<PathId> = state
        .apps()
        .map(|r| r.app.id.clone())
        .filter(|app| app.is_under(id) && app != id)
        .collect();
    if apps.is_empty() && !id.is_root() {
        return Err(no_group(id.as_str()));
    }
    let now = Timestamp::now();
    let mut last = None;
    for app in apps {
        last = Some(state.delete_app(&app, force, now)?);
    }
    drop(state);
    ctx.changed();
    let answer = match last {
        Some(change) => change_json(&change),
        None => serde_json::json!({"version": now.iso(), "deploymentId": null}),
    };
    Ok(Json(answer).into_response())
}

fn group_id(text: &str) -> Result<PathId, ApiError> {
    PathId::parse(text).map_err(|_| no_group(text))
}

fn no_group(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "Group '/{}' does not exist",
        id.trim_start_matches('/')
    ))
}
