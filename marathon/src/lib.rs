//! Marathon on wasmesos: a framework that keeps long-running apps (Wasm services and
//! programs) running behind Marathon's REST API, so Marathon's clients and tools drive it
//! unmodified.
//!
//! It owns its app model (`model/`: Marathon's JSON field names, defaults and validation),
//! its bookkeeping (`state/`: apps, versions, tasks, deployments, launch backoff, as a state
//! machine with time as an argument), the durable copy of both and of the framework id
//! (the SDK's `durable`, one redb file or ZooKeeper), the REST API
//! (`api/`, axum) and the event bus behind `/v2/events` (`events.rs`). `framework.rs` is the
//! thin shell between the state and the master: the [`Scheduler`](wasmesos_sdk_scheduler::Scheduler)
//! callbacks and the loop that sends kills, revives and launches.
//!
//! It never runs tasks or health checks itself: agents do (the SDK's `TaskBuilder` carries
//! the checks), and the master decides what is offered. With `--zk`, several Marathon
//! processes elect a leader and keep the state in ZooKeeper; only the leader schedules, the
//! others proxy the API to it (the SDK's `ha`).
#![cfg_attr(not(test), warn(clippy::expect_used))]
#![forbid(unsafe_code)]

pub mod api;
mod error;
pub mod events;
mod framework;
pub mod model;
pub mod state;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Notify;
use wasmesos_sdk_scheduler::DriverConfig;
use wasmesos_sdk_scheduler::ha::{self, Leadership, Running, StateStore, ZkConfig};

pub use error::Error;
/// The state file and the timestamps live in the SDK, shared with Chronos.
pub use wasmesos_sdk_scheduler::{durable, time};

/// The state file inside the work dir.
pub const STATE_FILE: &str = "marathon.redb";
/// How long the master keeps Marathon's tasks running while Marathon is away (Marathon's
/// default: a week).
pub const FAILOVER_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// The header a follower names itself in when it proxies a request to the leader.
pub const VIA_HEADER: &str = "x-marathon-via";

/// How to run Marathon.
#[derive(Debug, Clone)]
pub struct MarathonConfig {
    /// The master (or `zk://` cluster) and how to reach it; the framework's name, roles and
    /// principal. Its `framework.id` is filled from the stored state.
    pub driver: DriverConfig,
    /// Where the state file lives (without `zk`).
    pub work_dir: PathBuf,
    /// Keep the state in ZooKeeper and elect a leader among the Marathon processes given the
    /// same path.
    pub zk: Option<ZkConfig>,
}

impl MarathonConfig {
    pub fn new(master_url: impl Into<String>, work_dir: impl Into<PathBuf>) -> Self {
        MarathonConfig {
            driver: DriverConfig::new(master_url, "marathon"),
            work_dir: work_dir.into(),
            zk: None,
        }
    }
}

/// Runs Marathon: its API on `listener`, its framework on the master, until `shutdown`
/// resolves. A restart on the same state resubscribes with the stored framework id,
/// reconciles, and keeps the running tasks. With `zk`, only the elected leader schedules;
/// the other processes proxy the API to it, and a leader that loses its ZooKeeper session
/// returns [`Error::Scheduler`] with the SDK's `LeadershipLost`.
pub async fn serve(
    listener: TcpListener,
    config: MarathonConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let store = StateStore::choose(config.zk.clone(), &config.work_dir, STATE_FILE);
    let api = ha::Api::new(api::everywhere, VIA_HEADER);
    ha::serve(listener, store, api, |s, at| start(config, s, at), shutdown).await
}

/// Marathon on its loaded state: subscribed, stepping, behind its API.
async fn start(
    config: MarathonConfig,
    store: durable::Durable,
    leadership: Leadership,
) -> Result<Running, Error> {
    let master_url = config.driver.master_url.clone();
    let framework_name = config.driver.framework.name.clone();
    let zk = config.zk.clone();
    let driver = ha::driver(config.driver, &store, &leadership, FAILOVER_TIMEOUT).await?;
    let events = events::EventBus::default();
    let state = Arc::new(Mutex::new(state::State::load(store, events)?));
    let kick = Arc::new(Notify::new());
    let ctx = Arc::new(api::Ctx {
        state: Arc::clone(&state),
        kick: Arc::clone(&kick),
        leader: leadership.me().to_owned(),
        master_url,
        framework_name,
        zk,
    });
    let steps = framework::run_steps(driver.clone(), Arc::clone(&state), kick);
    let scheduler = framework::Marathon::new(state);
    Ok(Running::start(api::router(ctx), driver, scheduler, steps))
}
