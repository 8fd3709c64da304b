//! Apache Mesos's v1 HTTP API on the master's port, so that a framework written for Mesos
//! (pymesos, mesos-go, plain HTTP) runs unmodified.
//!
//! | path | what |
//! |---|---|
//! | `POST /api/v1/scheduler` | the scheduler API: SUBSCRIBE opens a RecordIO event stream, other calls answer 202 ([`scheduler`]) |
//! | `POST /api/v1` | the operator API: the GET_* calls, weights, quota, reservations, and SUBSCRIBE's event stream ([`operator`]) |
//! | `/master/state`, `/master/state.json`, `/state.json`, `/master/frameworks`, `/master/slaves`, `/master/tasks`, `/master/roles` | the state in Mesos's JSON ([`legacy`]) |
//! | `/master/health`, `/master/redirect`, `/metrics/snapshot` | health, a 307 to the leader, Mesos-named metrics |
//! | `/maintenance/schedule`, `/maintenance/status`, `/machine/down`, `/machine/up` (also under `/master/`) | Mesos's maintenance endpoints ([`maintenance`]) |
//!
//! Every call goes through the same [`Actor`] operations as the native gRPC scheduler
//! service, so a Mesos framework and a native one share offers, roles and DRF shares. This
//! module only translates: Mesos's messages ([`wasmesos_proto::mesos`]) in Mesos's JSON
//! ([`json`]) or protobuf ([`codec`]), resources in Mesos's units ([`resources`]), tasks and
//! statuses ([`tasks`]), events ([`events`]).
//!
//! Invariants: one event stream per framework (a new SUBSCRIBE replaces the old stream and
//! its `Mesos-Stream-Id`); every non-SUBSCRIBE call must carry the current stream id; request
//! bodies are at most [`MAX_BODY`] bytes.

pub(crate) mod codec;
mod events;
pub(crate) mod json;
mod legacy;
pub(crate) mod maintenance;
pub(crate) mod operator;
pub mod recordio;
pub(crate) mod resources;
pub(crate) mod sandbox;
pub(crate) mod scheduler;
pub(crate) mod subscribe;
pub(crate) mod tasks;

pub(crate) use operator::master_flags;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use uuid::Uuid;
use wasmesos_proto::v1 as native;

use crate::actor::Actor;

/// The Mesos release whose API this speaks, as `/version` and MasterInfo report it.
pub(crate) const MESOS_VERSION: &str = "1.11.0";

/// Largest request body accepted, in bytes.
pub(crate) const MAX_BODY: usize = 4 * 1024 * 1024;

/// A framework's open Mesos event stream.
struct OpenStream {
    /// The `Mesos-Stream-Id` its calls must carry.
    id: Uuid,
    /// Where events for it go. Weak: the actor holds the sender that keeps the stream
    /// open, so the stream ends when the actor lets go (teardown, a newer subscription).
    events: crate::rpc::queue::WeakEventSender<native::Event>,
    /// The principal that subscribed; every call must come from it.
    principal: Option<Arc<str>>,
}

/// What the Mesos handlers share.
#[derive(Clone)]
pub(crate) struct MesosApi {
    actor: Actor,
    streams: Arc<Mutex<HashMap<String, OpenStream>>>,
    /// The master's settings under Mesos's flag names, for GET_FLAGS.
    flags: Arc<Vec<(String, String)>>,
    /// The open operator event streams.
    subscribers: Arc<operator::Subscribers>,
}

impl MesosApi {
    /// The Mesos handlers of a master run by `actor`; `flags` from [`master_flags`].
    pub(crate) fn new(actor: &Actor, flags: Vec<(String, String)>) -> Self {
        Self {
            actor: actor.clone(),
            streams: Arc::default(),
            flags: Arc::new(flags),
            subscribers: Arc::default(),
        }
    }

    fn streams(&self) -> MutexGuard<'_, HashMap<String, OpenStream>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The Mesos routes.
pub(crate) fn routes(api: MesosApi) -> Router {
    Router::new()
        .route("/api/v1/scheduler", post(scheduler::handle))
        .route("/api/v1", post(operator::handle))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .route("/master/state", get(legacy::state))
        .route("/master/state.json", get(legacy::state))
        .route("/state.json", get(legacy::state))
        .route("/master/frameworks", get(legacy::frameworks))
        .route("/master/slaves", get(legacy::slaves))
        .route("/master/tasks", get(legacy::tasks))
        .route("/master/roles", get(legacy::roles))
        .route("/master/health", get(legacy::health))
        .route("/master/redirect", get(legacy::redirect))
        .route("/metrics/snapshot", get(legacy::metrics))
        .merge(maintenance_routes())
        .with_state(api)
}

/// Mesos's maintenance endpoints, at the root and under `/master/` as Mesos serves them.
fn maintenance_routes() -> Router<MesosApi> {
    let mut router = Router::new();
    for prefix in ["", "/master"] {
        router = router
            .route(
                &format!("{prefix}/maintenance/schedule"),
                get(maintenance::get_schedule).post(maintenance::post_schedule),
            )
            .route(
                &format!("{prefix}/maintenance/status"),
                get(maintenance::get_status),
            )
            .route(
                &format!("{prefix}/machine/down"),
                post(maintenance::machine_down),
            )
            .route(
                &format!("{prefix}/machine/up"),
                post(maintenance::machine_up),
            );
    }
    router.layer(DefaultBodyLimit::max(MAX_BODY))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
