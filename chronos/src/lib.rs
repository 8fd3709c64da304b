//! Chronos on wasmesos: a framework that runs jobs (Wasm programs) on ISO 8601 schedules
//! and after their parent jobs, behind Chronos's REST API, so Chronos's clients and
//! scripts drive it unmodified.
//!
//! It owns its job model (`model/`: Chronos's JSON, schedules, ISO 8601 instants and
//! durations, what a command runs), its bookkeeping (`state/`: jobs, runs, retries and
//! dependencies as a state machine with time as an argument), and the REST API (`api/`,
//! axum). The durable copy of the state and the framework id is the SDK's `durable` (one
//! redb file, or ZooKeeper), written through `commit.rs`'s group commit: many runs and
//! updates share one durable transaction, and nothing leaves Chronos before the writes it
//! depends on are durable. `framework.rs` is the thin shell between the state and the
//! master: the [`Scheduler`](wasmesos_sdk_scheduler::Scheduler) callbacks, the loop that
//! steps the state on time and sends kills, revives and launches, and the committer.
//!
//! It never runs tasks itself (agents do). With `--zk`, several Chronos processes elect a
//! leader and keep the state in ZooKeeper; only the leader schedules, the others proxy the
//! API to it (the SDK's `ha`).
#![cfg_attr(not(test), warn(clippy::expect_used))]
#![forbid(unsafe_code)]

pub mod api;
pub mod commit;
mod error;
mod framework;
pub mod model;
pub mod state;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use wasmesos_sdk_scheduler::DriverConfig;
use wasmesos_sdk_scheduler::durable::Durable;
use wasmesos_sdk_scheduler::ha::{self, Leadership, Running, StateStore, ZkConfig};

pub use error::Error;

/// The state file inside the work dir.
pub const STATE_FILE: &str = "chronos.redb";
/// How long the master keeps Chronos's tasks running while Chronos is away (a week, as
/// Chronos's default `--failover_timeout`).
pub const FAILOVER_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// The header a follower names itself in when it proxies a request to the leader.
pub const VIA_HEADER: &str = "x-chronos-via";

/// How to run Chronos.
#[derive(Debug, Clone)]
pub struct ChronosConfig {
    /// The master (or `zk://` cluster) and how to reach it; the framework's name, roles and
    /// principal. Its `framework.id` is filled from the state file.
    pub driver: DriverConfig,
    /// Where the state file lives.
    pub work_dir: PathBuf,
    /// How long a failed run waits before its retry (Chronos's `failureRetryDelay`).
    pub retry_delay: Duration,
    /// Keep the state in ZooKeeper and elect a leader among the Chronos processes given the
    /// same path.
    pub zk: Option<ZkConfig>,
}

impl ChronosConfig {
    pub fn new(master_url: impl Into<String>, work_dir: impl Into<PathBuf>) -> Self {
        ChronosConfig {
            driver: DriverConfig::new(master_url, "chronos"),
            work_dir: work_dir.into(),
            retry_delay: state::DEFAULT_RETRY_DELAY,
            zk: None,
        }
    }
}

/// Runs Chronos: its API on `listener`, its framework on the master, until `shutdown`
/// resolves. A restart on the same state resubscribes with the stored framework id,
/// reconciles, and keeps the running tasks. With `zk`, only the elected leader schedules;
/// the other processes proxy the API to it, as Chronos's followers do.
pub async fn serve(
    listener: TcpListener,
    config: ChronosConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let store = StateStore::choose(config.zk.clone(), &config.work_dir, STATE_FILE);
    let api = ha::Api::new(everywhere, VIA_HEADER);
    ha::serve(listener, store, api, |s, at| start(config, s, at), shutdown).await
}

/// Chronos on its loaded state: subscribed, stepping, committing, behind its API.
async fn start(
    mut config: ChronosConfig,
    store: Durable,
    leadership: Leadership,
) -> Result<Running, Error> {
    // Updates are acknowledged by the committer, once their writes are durable.
    config.driver.auto_acknowledge = false;
    let driver = ha::driver(config.driver, &store, &leadership, FAILOVER_TIMEOUT).await?;
    let state = state::State::load(store, config.retry_delay)?;
    let journal = state.journal();
    let state = Arc::new(Mutex::new(state));
    let kick = Arc::new(Notify::new());
    let ctx = Arc::new(api::Ctx {
        state: Arc::clone(&state),
        journal: Arc::clone(&journal),
        kick: Arc::clone(&kick),
        leader: leadership.me().to_owned(),
    });
    let steps = framework::run_steps(
        driver.clone(),
        Arc::clone(&state),
        Arc::clone(&journal),
        kick,
    );
    let scheduler = framework::Chronos::new(Arc::clone(&state), Arc::clone(&journal));
    let commits = framework::run_commits(driver.clone(), journal);
    let stopping = driver.clone();
    // The loop and the committer run beside the scheduler; a failed commit stops Chronos
    // (nothing it stages is sent before it is durable, so nothing is lost).
    let beside = async move {
        tokio::select! {
            () = steps => {}
            err = commits => {
                tracing::error!(%err, "a commit failed: Chronos stops");
                stopping.stop();
            }
        }
    };
    Ok(Running::start(api::router(ctx), driver, scheduler, beside))
}

/// What every Chronos of a group answers itself: `/leader`, the leader's `host:port` (empty
/// while none leads, as Chronos's leader latch answers).
fn everywhere(leadership: Leadership) -> axum::Router {
    axum::Router::new().route(
        "/leader",
        get(move || {
            let leader = leadership.leader().unwrap_or_default();
            async move { Json(serde_json::json!({ "leader": leader })) }
        }),
    )
}
