//! Marathon's REST API on axum: `/v2/apps`, `/v2/tasks`, `/v2/deployments`, `/v2/groups`,
//! `/v2/queue`, `/v2/info`, `/v2/leader`, `/v2/events`, `/ping`. Handlers parse and check
//! what arrives (bounded bodies, Marathon's errors), call one [`State`] operation under its
//! lock, and wake the framework loop so kills and launches go out at once.

mod apps;
mod error;
mod events;
mod groups;
mod misc;
mod query;
mod render;
mod tasks;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use tokio::sync::Notify;

pub use error::ApiError;

use crate::state::State;

/// Largest request body accepted (Marathon's own limit is about this size).
pub const MAX_BODY: usize = 1024 * 1024;

/// A route's path parameter, percent-decoded; one that does not decode to UTF-8 is
/// Marathon's 400 with a message, as every other refusal (axum's own is plain text).
pub struct Tail(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Tail {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(tail)) => Ok(Tail(tail)),
            Err(rejection) => Err(ApiError::bad_request(rejection.body_text())),
        }
    }
}

/// What every handler shares.
#[derive(Debug)]
pub struct Ctx {
    pub state: Arc<Mutex<State>>,
    /// Wakes the framework loop after a change.
    pub kick: Arc<Notify>,
    /// `host:port` this Marathon answers on (its `/v2/leader`).
    pub leader: String,
    pub master_url: String,
    pub framework_name: String,
    /// The ZooKeeper group this Marathon leads (`--zk`), for `/v2/info`.
    pub zk: Option<wasmesos_sdk_scheduler::ha::ZkConfig>,
}

impl Ctx {
    /// The state, locked (a poisoned lock is a 500: a bug elsewhere panicked holding it).
    fn lock(&self) -> Result<MutexGuard<'_, State>, ApiError> {
        self.state.lock().map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "Marathon's state is unavailable after an internal error",
            )
        })
    }

    fn changed(&self) {
        self.kick.notify_one();
    }
}

/// The routes every Marathon of a group answers itself, leader or follower: `/v2/leader`
/// and `/ping`. Everything else a follower proxies to the leader.
pub fn everywhere(leadership: wasmesos_sdk_scheduler::ha::Leadership) -> Router {
    Router::new()
        .route("/v2/leader", get(misc::current_leader))
        .route("/ping", get(misc::ping))
        .with_state(leadership)
}

/// Every route.
pub fn router(ctx: Arc<Ctx>) -> Router {
    Router::new()
        .route("/v2/apps", get(apps::list).post(apps::create))
        .route("/v2/apps/{*rest}", any(apps::by_path))
        .route("/v2/tasks", get(tasks::list))
        .route("/v2/tasks/delete", post(tasks::delete_many))
        .route("/v2/deployments", get(misc::deployments))
        .route(
            "/v2/deployments/{id}",
            axum::routing::delete(misc::cancel_deployment),
        )
        .route("/v2/groups", get(groups::root).delete(groups::delete_root))
        .route("/v2/groups/{*id}", get(groups::show).delete(groups::delete))
        .route("/v2/queue", get(misc::queue))
        .route(
            "/v2/queue/{*rest}",
            axum::routing::delete(misc::reset_delay),
        )
        .route("/v2/info", get(misc::info))
        .route("/v2/leader", get(misc::leader))
        .route("/v2/events", get(events::stream))
        .route("/ping", get(misc::ping))
        .fallback(misc::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(ctx)
}
