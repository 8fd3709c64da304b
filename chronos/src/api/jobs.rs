//! The job endpoints. Creates, deletes, runs and kills answer 204 with no body, as Chronos
//! does; an unknown job or a bad definition is a 400.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use wasmesos_sdk_scheduler::time::Timestamp;

use super::{ApiError, Ctx};
use crate::model::{Job, Trigger};

/// How many jobs a search answers when it names no `limit` (Chronos's default).
const SEARCH_LIMIT: usize = 10;

pub async fn list(State(ctx): State<Arc<Ctx>>) -> Result<Json<Vec<Job>>, ApiError> {
    let state = ctx.lock()?;
    Ok(Json(state.jobs().map(Job::listed).collect()))
}

pub async fn show(
    State(ctx): State<Arc<Ctx>>,
    Path(name): Path<String>,
) -> Result<Json<Job>, ApiError> {
    let state = ctx.lock()?;
    state
        .job(&name)
        .cloned()
        .map(Json)
        .ok_or_else(|| ApiError::bad_request(format!("requirement failed: Job '{name}' not found")))
}

/// `?name=&command=&any=&limit=&offset=`: jobs whose name and command contain the terms
/// (ignoring case), or whose name or command contains `any`.
pub async fn search(
    State(ctx): State<Arc<Ctx>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Job>>, ApiError> {
    let term = |key: &str| {
        query
            .get(key)
            .filter(|t| !t.is_empty())
            .map(|t| t.to_lowercase())
    };
    let number = |key: &str, default: usize| match query.get(key) {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| ApiError::bad_request(format!("{key} must be a whole number: {text:?}"))),
    };
    let (name, command, any) = (term("name"), term("command"), term("any"));
    let limit = number("limit", SEARCH_LIMIT)?;
    let offset = number("offset", 0)?;
    let state = ctx.lock()?;
    let found = state
        .jobs()
        .filter(|job| {
            let job_name = job.name.to_lowercase();
            let job_command = job.command.to_lowercase();
            let mut valid = name.as_ref().is_none_or(|t| job_name.contains(t))
                && command.as_ref().is_none_or(|t| job_command.contains(t));
            if !valid && let Some(t) = &any {
                valid = job_name.contains(t) || job_command.contains(t);
            }
            valid
        })
        .skip(offset)
        .take(limit)
        .map(Job::listed)
        .collect();
    Ok(Json(found))
}

/// `POST /v1/scheduler/iso8601`: a scheduled job (created or replaced).
pub async fn scheduled(State(ctx): State<Arc<Ctx>>, body: Bytes) -> Result<StatusCode, ApiError> {
    let job = read_job(&body)?;
    if matches!(job.trigger, Trigger::Parents { .. }) {
        return Err(ApiError::bad_request(
            "a job with parents is added through /v1/scheduler/dependency",
        ));
    }
    store(&ctx, job).await
}

/// `POST /v1/scheduler/dependency`: a job that runs after its parents.
pub async fn dependent(State(ctx): State<Arc<Ctx>>, body: Bytes) -> Result<StatusCode, ApiError> {
    let mut job = read_job(&body)?;
    if !matches!(job.trigger, Trigger::Parents { .. }) {
        job.trigger = Trigger::Parents {
            parents: Vec::new(),
        };
    }
    store(&ctx, job).await
}

fn read_job(body: &[u8]) -> Result<Job, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| ApiError::bad_request(format!("Unable to process JSON: {err}")))?;
    Job::from_json(&value).ok_or_else(|| {
        ApiError::bad_request("Unable to process JSON: a job is an object with a \"name\"")
    })
}

async fn store(ctx: &Ctx, job: Job) -> Result<StatusCode, ApiError> {
    ctx.change(|state| state.put(job, Timestamp::now())).await
}

/// `PUT /v1/scheduler/job/{name}[?arguments=…]`: run it now.
pub async fn run_now(
    State(ctx): State<Arc<Ctx>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<StatusCode, ApiError> {
    let arguments = query
        .get("arguments")
        .filter(|a| !a.trim().is_empty())
        .cloned();
    ctx.change(|state| state.run_now(&name, arguments, Timestamp::now()))
        .await
}

pub async fn delete(
    State(ctx): State<Arc<Ctx>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    ctx.change(|state| state.delete(&name)).await
}

/// `DELETE /v1/scheduler/task/kill/{name}`: kill the job's tasks.
pub async fn kill(
    State(ctx): State<Arc<Ctx>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    ctx.change(|state| state.kill(&name)).await
}

/// Chronos's `Exporter`: `node,<job>,<lastState>,<currentState>` per job, then
/// `link,<parent>,<child>` per dependency, as text.
pub async fn graph_csv(State(ctx): State<Arc<Ctx>>) -> Result<Response, ApiError> {
    let state = ctx.lock()?;
    let mut out = String::new();
    for job in state.jobs() {
        let _ = writeln!(
            out,
            "node,{},{},{}",
            job.name,
            job.last_state(),
            state.current_state(&job.name)
        );
    }
    for job in state.jobs() {
        for parent in job.parents() {
            let _ = writeln!(out, "link,{parent},{}", job.name);
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain")], out).into_response())
}

pub async fn leader(State(ctx): State<Arc<Ctx>>) -> Json<Value> {
    Json(json!({"leader": ctx.leader}))
}
