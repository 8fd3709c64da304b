//! The master's HTTP API, served on the gRPC port: axum routes whose paths never collide
//! with gRPC's `/wasmesos.v1.<Service>/<Method>`.
//!
//! | path | what |
//! |---|---|
//! | `/health`, `/version` | liveness and build |
//! | `/state`, `/agents`, `/frameworks`, `/roles` | JSON from the state snapshot |
//! | `/tasks?framework=&state=&agent=&offset=&limit=` | a filtered page of tasks, with `total` |
//! | `/metrics` | Prometheus text ([`prometheus`]) |
//! | `/files/read?task_id=&file=stdout\|stderr&offset=&length=&follow=` | a task's sandbox file |
//! | `/files/read?path=&offset=&length=`, `/files/browse?path=` | the same files by Mesos's sandbox path ([`mesos_files`]) |
//! | `/events` | the web UI's live feed: the state as Server-Sent Events ([`events`]) |
//! | `/`, `/ui/{file}` | the web UI, embedded in the binary ([`ui`]) |
//!
//! **Snapshots.** Every JSON endpoint reads an immutable `Arc<StateSnapshot>` that the actor
//! publishes through a `tokio::sync::watch` channel (see [`snapshots`]); no handler ever
//! waits on the actor, so polling cannot stall allocation. The web UI's live stream gets the
//! same channel: `HttpState::snapshots` is a `watch::Receiver<Arc<StateSnapshot>>`; clone it
//! and `changed().await` in a loop to push each new snapshot (at most one per
//! [`snapshots::PUBLISH_INTERVAL`], fewer when a rebuild is slow). Never hold `borrow()` across an await.

mod events;
pub(crate) mod files;
mod mesos_files;
mod problem;
mod prometheus;
pub(crate) mod snapshots;
pub(crate) mod state;
mod ui;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tokio::sync::watch;

use crate::actor::Actor;
use crate::core::StateSnapshot;
use crate::metrics::Metrics;
use crate::rpc::operator::OperatorService;

pub(crate) use problem::Problem;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct HttpState {
    /// The latest published operator state.
    pub(crate) snapshots: watch::Receiver<Arc<StateSnapshot>>,
    /// The master's counters.
    pub(crate) metrics: Arc<Metrics>,
    /// Reads task sandbox files from agents, as `Operator.ReadTaskFile` does.
    pub(crate) operator: Arc<OperatorService>,
    /// `/state` serialized once per snapshot generation, shared by every poller.
    state_cache: Arc<state::StateCache>,
    /// Authentication and ACLs.
    pub(crate) security: Arc<crate::auth::Security>,
    /// The caller of the request this state serves: handlers that act for a caller set it.
    pub(crate) caller: crate::auth::Caller,
}

impl HttpState {
    /// The HTTP side of a master whose actor is `actor`.
    pub(crate) fn new(actor: &Actor, agent_tls: wasmesos_detector::ClientConfig) -> Self {
        Self {
            snapshots: actor.snapshots(),
            metrics: Arc::clone(actor.metrics()),
            operator: Arc::new(OperatorService::new(actor.clone(), agent_tls)),
            state_cache: Arc::default(),
            security: Arc::clone(actor.security()),
            caller: crate::auth::Caller::default(),
        }
    }

    /// This state acting for `caller`.
    pub(crate) fn for_caller(mut self, caller: crate::auth::Caller) -> Self {
        self.caller = caller;
        self
    }

    /// The latest snapshot (a cheap `Arc` clone).
    pub(crate) fn snapshot(&self) -> Arc<StateSnapshot> {
        Arc::clone(&self.snapshots.borrow())
    }

    /// The latest snapshot, as much of it as `caller` may see (ACLs `view_frameworks`,
    /// `view_tasks`).
    pub(crate) fn visible(&self, caller: &crate::auth::Caller) -> Arc<StateSnapshot> {
        self.security.view(caller, self.snapshot())
    }
}

/// Every HTTP route, ready to merge with the gRPC router.
pub(crate) fn routes(state: HttpState) -> Router {
    Router::new()
        .route("/health", get(state::health))
        .route("/version", get(state::version))
        .route("/state", get(state::full_state))
        .route("/agents", get(state::agents))
        .route("/frameworks", get(state::frameworks))
        .route("/roles", get(state::roles))
        .route("/tasks", get(state::tasks))
        .route("/metrics", get(prometheus::metrics))
        .route("/files/read", get(files::read))
        .route("/files/browse", get(files::browse))
        .with_state(state.clone())
        .merge(events::routes(state.snapshots, state.security))
        .merge(ui::routes())
}
