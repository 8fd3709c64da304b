//! Chronos's REST API on axum: `/v1/scheduler/jobs` (and `/search`), `/iso8601`,
//! `/dependency`, `/job/{name}` (GET, PUT to start now, DELETE), `/task/kill/{name}`,
//! `/graph/csv`, and `/leader`. Handlers parse and check what arrives (bounded bodies,
//! Chronos's 400s), call one [`State`] operation under its lock, answer once its writes are
//! durable (they share a group commit with whatever else is being written), and wake the
//! framework loop so kills and runs go out at once.

mod error;
mod jobs;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use tokio::sync::Notify;

pub use error::ApiError;

use crate::commit::GroupCommit;
use crate::state::{Refusal, State};

/// Largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;

/// What every handler shares.
#[derive(Debug)]
pub struct Ctx {
    pub state: Arc<Mutex<State>>,
    /// Where the state's writes become durable.
    pub journal: Arc<GroupCommit>,
    /// Wakes the framework loop after a change.
    pub kick: Arc<Notify>,
    /// `host:port` this Chronos answers on (its `/leader`).
    pub leader: String,
}

impl Ctx {
    /// The state, locked (a poisoned lock is a 500: a bug elsewhere panicked holding it).
    fn lock(&self) -> Result<MutexGuard<'_, State>, ApiError> {
        self.state.lock().map_err(|_| {
            ApiError::internal("Chronos's state is unavailable after an internal error")
        })
    }

    /// Makes `change` to the state, then answers 204 once its writes are durable (a 500
    /// when they cannot be) and wakes the framework loop.
    async fn change<T>(
        &self,
        change: impl FnOnce(&mut State) -> Result<T, Refusal>,
    ) -> Result<StatusCode, ApiError> {
        let staged = {
            let mut state = self.lock()?;
            change(&mut state)?;
            state.staged()
        };
        self.journal
            .durable(staged)
            .await
            .map_err(|err| ApiError::from(Refusal::Store(err)))?;
        self.kick.notify_one();
        Ok(StatusCode::NO_CONTENT)
    }
}

/// Every route.
pub fn router(ctx: Arc<Ctx>) -> Router {
    Router::new()
        .route("/v1/scheduler/jobs", get(jobs::list))
        .route("/v1/scheduler/jobs/search", get(jobs::search))
        .route("/v1/scheduler/iso8601", post(jobs::scheduled))
        .route("/v1/scheduler/dependency", post(jobs::dependent))
        .route(
            "/v1/scheduler/job/{name}",
            get(jobs::show).put(jobs::run_now).delete(jobs::delete),
        )
        .route("/v1/scheduler/task/kill/{name}", delete(jobs::kill))
        .route("/v1/scheduler/graph/csv", get(jobs::graph_csv))
        .route("/leader", get(jobs::leader))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(ctx)
}
