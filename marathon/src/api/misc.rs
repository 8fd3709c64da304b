//! `/v2/deployments`, `/v2/queue`, `/v2/info`, `/v2/leader`, `/ping` and the 404 of any
//! other path.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::apps::change_json;
use super::error::ApiError;
use super::query::Query;
use super::render::{Embed, app_json};
use super::{Ctx, Tail};
use crate::model::PathId;
use crate::time::Timestamp;
use wasmesos_sdk_scheduler::ha::Leadership;

/// The Marathon release whose API this one follows.
pub const MARATHON_VERSION: &str = "1.11.0";

pub async fn deployments(State(ctx): State<Arc<Ctx>>) -> Result<Response, ApiError> {
    let state = ctx.lock()?;
    let list: Vec<Value> = state.deployments().map(|d| d.to_json()).collect();
    Ok(Json(list).into_response())
}

/// DELETE /v2/deployments/{id}: a rollback in a new deployment (200), or with
/// `?force=true` the deployment just stops (202, empty).
pub async fn cancel_deployment(
    State(ctx): State<Arc<Ctx>>,
    Tail(id): Tail,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let force = Query::parse(raw.as_deref()).flag("force")?;
    let change = ctx
        .lock()?
        .cancel_deployment(&id, force, Timestamp::now())?;
    ctx.changed();
    Ok(match change {
        Some(change) => Json(change_json(&change)).into_response(),
        None => StatusCode::ACCEPTED.into_response(),
    })
}

/// GET /v2/queue: apps waiting for offers, with their launch delay.
pub async fn queue(State(ctx): State<Arc<Ctx>>) -> Result<Response, ApiError> {
    let state = ctx.lock()?;
    let now = Timestamp::now();
    let items: Vec<Value> = state
        .queue()
        .into_iter()
        .map(|(record, count, delay, since)| {
            let left = delay
                .filter(|d| d.holds(&record.app, now))
                .map_or(0, |d| d.until.since(now).as_secs());
            json!({
                "app": app_json(&state, record, Embed::default()),
                "count": count,
                "delay": {"timeLeftSeconds": left, "overdue": left == 0},
                "since": since.iso(),
                "processedOffersSummary": {"processedOffersCount": 0, "unusedOffersCount": 0},
            })
        })
        .collect();
    Ok(Json(json!({"queue": items})).into_response())
}

/// DELETE /v2/queue/{id}/delay: 204.
pub async fn reset_delay(
    State(ctx): State<Arc<Ctx>>,
    Tail(rest): Tail,
) -> Result<Response, ApiError> {
    let Some(id) = rest.trim_end_matches('/').strip_suffix("/delay") else {
        return Err(ApiError::not_found("URI not found"));
    };
    let id = PathId::parse(id)
        .map_err(|_| ApiError::not_found(format!("App '/{id}' does not exist")))?;
    ctx.lock()?.reset_delay(&id)?;
    ctx.changed();
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn info(State(ctx): State<Arc<Ctx>>) -> Result<Response, ApiError> {
    let framework_id = ctx
        .lock()?
        .store()
        .framework_id()
        .map_err(crate::state::Refusal::from)?;
    let port = ctx
        .leader
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok());
    let host = ctx
        .leader
        .rsplit_once(':')
        .map_or(ctx.leader.as_str(), |(h, _)| h);
    Ok(Json(json!({
        "name": "marathon",
        "version": MARATHON_VERSION,
        "buildref": concat!("wasmesos-", env!("CARGO_PKG_VERSION")),
        "elected": true,
        "leader": ctx.leader,
        "frameworkId": framework_id,
        "marathon_config": {
            "checkpoint": true,
            "executor": "//cmd",
            "failover_timeout": crate::FAILOVER_TIMEOUT.as_secs(),
            "framework_name": ctx.framework_name,
            "ha": ctx.zk.is_some(),
            "hostname": host,
            "local_port_min": crate::model::update::SERVICE_PORTS.start,
            "local_port_max": crate::model::update::SERVICE_PORTS.end,
            "master": ctx.master_url,
            "mesos_role": "*",
            "mesos_user": null,
            "task_launch_timeout": crate::state::UNCONFIRMED_TIMEOUT.as_millis() as u64,
        },
        "zookeeper_config": zookeeper_config(ctx.zk.as_ref()),
        "http_config": {"http_port": port, "https_port": null},
    }))
    .into_response())
}

/// `/v2/info`'s `zookeeper_config` as Marathon writes it (keys marathon-python's
/// `MarathonZooKeeperConfig` knows); empty without `--zk`.
fn zookeeper_config(zk: Option<&wasmesos_sdk_scheduler::ha::ZkConfig>) -> serde_json::Value {
    let Some(zk) = zk else {
        return json!({});
    };
    let rest = zk.url.strip_prefix("zk://").unwrap_or(&zk.url);
    let (hosts, path) = rest.split_once('/').unwrap_or((rest, ""));
    let millis = u64::try_from(zk.session_timeout.as_millis()).unwrap_or(u64::MAX);
    json!({
        "zk": zk.url,
        "zk_hosts": hosts,
        "zk_path": format!("/{path}"),
        "zk_session_timeout": millis,
        "zk_timeout": millis,
        "zk_max_node_size": wasmesos_detector::znode::MAX_RECORD,
    })
}

pub async fn leader(State(ctx): State<Arc<Ctx>>) -> Response {
    Json(json!({"leader": ctx.leader})).into_response()
}

/// GET /v2/leader on any Marathon of a group: the leader's `host:port`, or Marathon's 404
/// while none leads.
pub async fn current_leader(State(leadership): State<Leadership>) -> Response {
    match leadership.leader() {
        Some(leader) => Json(json!({"leader": leader})).into_response(),
        None => ApiError::not_found("There is no leader").into_response(),
    }
}

pub async fn ping() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "text/plain")], "pong").into_response()
}

pub async fn not_found(uri: Uri) -> Response {
    tracing::debug!(%uri, "no such route");
    ApiError::not_found("URI not found").into_response()
}
