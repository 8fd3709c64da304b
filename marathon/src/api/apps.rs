//! `/v2/apps` and everything under `/v2/apps/{id}`: the app itself (GET, PUT, PATCH,
//! DELETE), `restart`, `tasks` (GET, DELETE, one task's DELETE), `versions`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::ApiError;
use super::query::Query;
use super::render::{Embed, app_json, task_json};
use super::{Ctx, Tail};
use crate::model::{AppUpdate, PathId};
use crate::state::{Change, Killed};
use crate::time::Timestamp;

/// GET /v2/apps: every app with counts and deployments (`?id=`, `?cmd=`, `?label=`
/// filter; `embed=apps.tasks`, `apps.lastTaskFailure` add those).
pub async fn list(
    State(ctx): State<Arc<Ctx>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw.as_deref());
    let embed = Embed {
        counts: true,
        deployments: true,
        tasks: query.embeds("app.tasks"),
        last_task_failure: query.embeds("app.lastTaskFailure") || query.embeds("app.failures"),
    };
    let state = ctx.lock()?;
    let apps: Vec<Value> = state
        .apps()
        .filter(|r| {
            query
                .get("id")
                .is_none_or(|id| r.app.id.as_str().contains(id))
        })
        .filter(|r| {
            query
                .get("cmd")
                .is_none_or(|cmd| r.app.cmd.as_deref().is_some_and(|c| c.contains(cmd)))
        })
        .filter(|r| {
            query
                .get("label")
                .is_none_or(|label| has_label(&r.app.labels, label))
        })
        .map(|r| app_json(&state, r, embed))
        .collect();
    Ok(Json(json!({"apps": apps})).into_response())
}

/// `key` or `key==value` (Marathon's label selector, simplest forms).
fn has_label(labels: &std::collections::BTreeMap<String, String>, selector: &str) -> bool {
    match selector.split_once("==") {
        Some((key, value)) => labels.get(key.trim()).is_some_and(|v| v == value.trim()),
        None => labels.contains_key(selector.trim()),
    }
}

/// POST /v2/apps: 201 with the app, its counts at zero and its deployment.
pub async fn create(State(ctx): State<Arc<Ctx>>, body: Bytes) -> Result<Response, ApiError> {
    let update = parse_update(&body)?;
    let mut state = ctx.lock()?;
    let (app, _deployment) = state.create_app(update, Timestamp::now())?;
    let record = state.app(&app.id).cloned();
    let body = match record {
        Some(record) => app_json(&state, &record, Embed::all()),
        None => json!({}),
    };
    drop(state);
    ctx.changed();
    let location = format!("/v2/apps{}", app.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

/// Everything under `/v2/apps/`: the path is the app id, then perhaps a suffix.
pub async fn by_path(
    State(ctx): State<Arc<Ctx>>,
    method: Method,
    Tail(rest): Tail,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw.as_deref());
    let target = Target::of(&rest);
    let answer = match (&method, target) {
        (&Method::GET, Target::App(id)) => show(&ctx, &id, &query),
        (&Method::PUT | &Method::PATCH, Target::App(id)) => update(&ctx, &id, &query, &body),
        (&Method::DELETE, Target::App(id)) => delete(&ctx, &id, &query),
        (&Method::POST, Target::Restart(id)) => restart(&ctx, &id, &query),
        (&Method::GET, Target::Tasks(id)) => app_tasks(&ctx, &id),
        (&Method::DELETE, Target::Tasks(id)) => kill_all(&ctx, &id, &query),
        (&Method::DELETE, Target::Task(id, task)) => kill_one(&ctx, &id, &task, &query),
        (&Method::GET, Target::Versions(id)) => versions(&ctx, &id),
        (&Method::GET, Target::Version(id, at)) => version(&ctx, &id, &at),
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "HTTP 405 Method Not Allowed",
        )),
    };
    if method != Method::GET {
        ctx.changed();
    }
    answer
}

/// What a path under `/v2/apps/` names.
enum Target {
    App(String),
    Restart(String),
    Tasks(String),
    Task(String, String),
    Versions(String),
    Version(String, String),
}

impl Target {
    fn of(rest: &str) -> Target {
        let rest = rest.trim_end_matches('/');
        if let Some(id) = rest.strip_suffix("/restart") {
            return Target::Restart(id.into());
        }
        if let Some(id) = rest.strip_suffix("/tasks") {
            return Target::Tasks(id.into());
        }
        if let Some((id, task)) = rest.rsplit_once("/tasks/") {
            return Target::Task(id.into(), task.into());
        }
        if let Some(id) = rest.strip_suffix("/versions") {
            return Target::Versions(id.into());
        }
        if let Some((id, version)) = rest.rsplit_once("/versions/") {
            return Target::Version(id.into(), version.into());
        }
        Target::App(rest.into())
    }
}

/// The app id of a path, or Marathon's 404 for an id that cannot exist.
fn app_id(text: &str) -> Result<PathId, ApiError> {
    PathId::parse(text).map_err(|_| {
        ApiError::not_found(format!(
            "App '/{}' does not exist",
            text.trim_start_matches('/')
        ))
    })
}

fn show(ctx: &Ctx, id: &str, _query: &Query) -> Result<Response, ApiError> {
    let id = app_id(id)?;
    let state = ctx.lock()?;
    if let Some(record) = state.app(&id) {
        let app = app_json(&state, record, Embed::all());
        return Ok(Json(json!({"app": app})).into_response());
    }
    // A group's id lists the apps in it, as Marathon answers.
    let apps: Vec<Value> = state
        .apps()
        .filter(|r| !id.is_root() && r.app.id.is_under(&id))
        .map(|r| app_json(&state, r, Embed::all()))
        .collect();
    if apps.is_empty() {
        return Err(ApiError::not_found(format!("App '{id}' does not exist")));
    }
    Ok(Json(json!({"*": apps})).into_response())
}

fn update(ctx: &Ctx, id: &str, query: &Query, body: &Bytes) -> Result<Response, ApiError> {
    let id = PathId::parse(id).map_err(|why| ApiError::invalid("/id", why))?;
    let mut update = parse_update(body)?;
    if let Some(given) = &update.id {
        let given = PathId::parse(given).map_err(|why| ApiError::invalid("/id", why))?;
        if given != id {
            return Err(ApiError::invalid(
                "/id",
                "The 'id' field cannot be changed; it must match the path",
            ));
        }
    }
    update.id = None;
    let force = query.flag("force")?;
    let change = ctx
        .lock()?
        .update_app(&id, update, force, Timestamp::now())?;
    let status = if change.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(change_json(&change))).into_response())
}

fn delete(ctx: &Ctx, id: &str, query: &Query) -> Result<Response, ApiError> {
    let id = app_id(id)?;
    let force = query.flag("force")?;
    let change = ctx.lock()?.delete_app(&id, force, Timestamp::now())?;
    Ok(Json(change_json(&change)).into_response())
}

fn restart(ctx: &Ctx, id: &str, query: &Query) -> Result<Response, ApiError> {
    let id = app_id(id)?;
    let force = query.flag("force")?;
    let change = ctx.lock()?.restart_app(&id, force, Timestamp::now())?;
    Ok(Json(change_json(&change)).into_response())
}

fn app_tasks(ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let id = app_id(id)?;
    let state = ctx.lock()?;
    let record = state
        .app(&id)
        .ok_or_else(|| ApiError::not_found(format!("App '{id}' does not exist")))?;
    let checked = record.app.has_health_checks();
    let tasks: Vec<Value> = state.tasks_of(&id).map(|t| task_json(t, checked)).collect();
    Ok(Json(json!({"tasks": tasks})).into_response())
}

/// DELETE /v2/apps/{id}/tasks: every task of the app (`?host=` only those there).
fn kill_all(ctx: &Ctx, id: &str, query: &Query) -> Result<Response, ApiError> {
    let id = app_id(id)?;
    let (scale, force) = (query.flag("scale")?, query.flag("force")?);
    query.flag("wipe")?;
    let mut state = ctx.lock()?;
    if state.app(&id).is_none() {
        return Err(ApiError::not_found(format!("App '{id}' does not exist")));
    }
    let ids: Vec<String> = state
        .tasks_of(&id)
        .filter(|t| query.get("host").is_none_or(|host| t.host == host))
        .map(|t| t.id.clone())
        .collect();
    let killed = state.kill_tasks(&ids, scale, force, Timestamp::now())?;
    Ok(Json(killed_json(&state, killed, "tasks")).into_response())
}

/// DELETE /v2/apps/{id}/tasks/{taskId}: `{"task": …}`, or with `?scale=true` the
/// deployment that scaled the app down.
fn kill_one(ctx: &Ctx, id: &str, task_id: &str, query: &Query) -> Result<Response, ApiError> {
    let id = app_id(id)?;
    let (scale, force) = (query.flag("scale")?, query.flag("force")?);
    query.flag("wipe")?;
    let mut state = ctx.lock()?;
    if state.app(&id).is_none() {
        return Err(ApiError::not_found(format!("App '{id}' does not exist")));
    }
    if state.task(task_id).is_none_or(|t| t.app_id != id) {
        return Err(ApiError::not_found(format!(
            "Task '{task_id}' does not exist"
        )));
    }
    let killed = state.kill_tasks(&[task_id.to_owned()], scale, force, Timestamp::now())?;
    Ok(Json(killed_json(&state, killed, "task")).into_response())
}

fn versions(ctx: &Ctx, id: &str) -> Result<Response, ApiError> {
    let id = app_id(id)?;
    let state = ctx.lock()?;
    if state.app(&id).is_none() {
        return Err(ApiError::not_found(format!("App '{id}' does not exist")));
    }
    let versions: Vec<String> = state
        .versions(&id)
        .map_err(crate::state::Refusal::Store)?
        .into_iter()
        .map(|app| app.version)
        .collect();
    Ok(Json(json!({"versions": versions})).into_response())
}

fn version(ctx: &Ctx, id: &str, version: &str) -> Result<Response, ApiError> {
    let id = app_id(id)?;
    let state = ctx.lock()?;
    let found = state
        .versions(&id)
        .map_err(crate::state::Refusal::Store)?
        .into_iter()
        .find(|app| app.version == version)
        .ok_or_else(|| {
            ApiError::not_found(format!("App '{id}' does not exist in version {version}"))
        })?;
    Ok(Json(found).into_response())
}

pub(super) fn change_json(change: &Change) -> Value {
    json!({"version": change.version, "deploymentId": change.deployment_id})
}

/// A kill's answer: the killed tasks under `key` (`task` for one, `tasks` for several),
/// or the scaling deployment.
pub(super) fn killed_json(state: &crate::state::State, killed: Killed, key: &str) -> Value {
    match killed {
        Killed::Scaled(change) => change_json(&change),
        Killed::Tasks(tasks) => {
            let rendered: Vec<Value> = tasks
                .iter()
                .map(|t| {
                    let checked = state
                        .app(&t.app_id)
                        .is_some_and(|r| r.app.has_health_checks());
                    task_json(t, checked)
                })
                .collect();
            if key == "task" {
                json!({"task": rendered.into_iter().next().unwrap_or(Value::Null)})
            } else {
                json!({"tasks": rendered})
            }
        }
    }
}

/// A body as an app update, with Marathon's answers for bodies that are not one: 400 for
/// JSON that does not parse, 422 naming the first field of the wrong type.
pub(super) fn parse_update(body: &Bytes) -> Result<AppUpdate, ApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|err| ApiError::invalid_json(err.to_string()))?;
    let Value::Object(fields) = &value else {
        return Err(ApiError::invalid("/", "error.expected.jsobject"));
    };
    serde_json::from_value(value.clone()).map_err(|err| {
        let culprit = fields.iter().find_map(|(key, field)| {
            let alone = json!({ key: field });
            serde_json::from_value::<AppUpdate>(alone)
                .err()
                .map(|err| (format!("/{key}"), err.to_string()))
        });
        let (path, why) = culprit.unwrap_or_else(|| ("/".into(), err.to_string()));
        ApiError::invalid(&path, why)
    })
}
