//! Marathon on wasmesos: a framework that keeps long-running apps (Wasm services and
//! programs) running behind Marathon's REST API, so Marathon's clients and tools drive it
//! unmodified.
//!
//! It owns its app model (`model/`: Marathon's JSON field names, defaults and validation),
//! its bookkeeping (`state/`: apps, versions, tasks, deployments, launch backoff, as a state
//! machine with time as an argument), the durable copy of both and of the framework id
//! (the SDK's `durable`, one redb file), the REST API
//! (`api/`, axum) and the event bus behind `/v2/events` (`events.rs`). `framework.rs` is the
//! thin shell between the state and the master: the [`Scheduler`](wasmesos_sdk_scheduler::Scheduler)
//! callbacks and the loop that sends kills, revives and launches.
//!
//! It never runs tasks or health checks itself: agents do (the SDK's `TaskBuilder` carries
//! the checks), and the master decides what is offered. It has no leader election: one
//! Marathon process per framework.
#![cfg_attr(not(test), warn(clippy::expect_used))]
#![forbid(unsafe_code)]

pub mod api;
mod error;
pub mod events;
mod framework;
pub mod model;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Notify;
use wasmesos_sdk_scheduler::api_address::{advertise_api, reachable_address};
use wasmesos_sdk_scheduler::{Driver, DriverConfig};

pub use error::Error;
/// The state file and the timestamps live in the SDK, shared with Chronos.
pub use wasmesos_sdk_scheduler::{durable, time};

/// The state file inside the work dir.
pub const STATE_FILE: &str = "marathon.redb";
/// How long the master keeps Marathon's tasks running while Marathon is away (Marathon's
/// default: a week).
pub const FAILOVER_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// How to run Marathon.
#[derive(Debug, Clone)]
pub struct MarathonConfig {
    /// The master (or `zk://` cluster) and how to reach it; the framework's name, roles and
    /// principal. Its `framework.id` is filled from the state file.
    pub driver: DriverConfig,
    /// Where the state file lives.
    pub work_dir: PathBuf,
}

impl MarathonConfig {
    pub fn new(master_url: impl Into<String>, work_dir: impl Into<PathBuf>) -> Self {
        MarathonConfig {
            driver: DriverConfig::new(master_url, "marathon"),
            work_dir: work_dir.into(),
        }
    }
}

/// Runs Marathon: its API on `listener`, its framework on the master, until `shutdown`
/// resolves. A restart on the same work dir resubscribes with the stored framework id,
/// reconciles, and keeps the running tasks.
pub async fn serve(
    listener: TcpListener,
    config: MarathonConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let store = durable::Durable::open(&config.work_dir, STATE_FILE)?;
    let mut driver_config = config.driver.clone();
    store.resume(&mut driver_config, FAILOVER_TIMEOUT)?;
    let events = events::EventBus::default();
    let state = Arc::new(Mutex::new(state::State::load(store, events)?));
    let local = listener.local_addr().map_err(Error::Http)?;
    advertise_api(&mut driver_config, local);
    let master_url = driver_config.master_url.clone();
    let framework_name = driver_config.framework.name.clone();
    let driver = Driver::connect(driver_config).await?;
    let kick = Arc::new(Notify::new());
    let ctx = Arc::new(api::Ctx {
        state: Arc::clone(&state),
        kick: Arc::clone(&kick),
        leader: reachable_address(local),
        master_url,
        framework_name,
    });
    let steps = tokio::spawn(framework::run_steps(
        driver.clone(),
        Arc::clone(&state),
        kick,
    ));
    let scheduler_driver = driver.clone();
    let mut scheduler = framework::Marathon::new(Arc::clone(&state));
    let framework = tokio::spawn(async move { scheduler_driver.run(&mut scheduler).await });
    let app = api::router(ctx).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Http);
    driver.stop();
    steps.abort();
    framework.abort();
    served
}
