//! Chronos on wasmesos: a framework that runs jobs (Wasm programs) on ISO 8601 schedules
//! and after their parent jobs, behind Chronos's REST API, so Chronos's clients and
//! scripts drive it unmodified.
//!
//! It owns its job model (`model/`: Chronos's JSON, schedules, ISO 8601 instants and
//! durations, what a command runs), its bookkeeping (`state/`: jobs, runs, retries and
//! dependencies as a state machine with time as an argument), and the REST API (`api/`,
//! axum). The durable copy of the state and the framework id is the SDK's `durable` (one
//! redb file), written through `commit.rs`'s group commit: many runs and updates share one
//! fsynced transaction, and nothing leaves Chronos before the writes it depends on are
//! durable. `framework.rs` is the thin shell between the state and the master: the
//! [`Scheduler`](wasmesos_sdk_scheduler::Scheduler) callbacks, the loop that steps the
//! state on time and sends kills, revives and launches, and the committer.
//!
//! It never runs tasks itself (agents do) and has no leader election: one Chronos process
//! per framework.
#![cfg_attr(not(test), warn(clippy::expect_used))]
#![forbid(unsafe_code)]

pub mod api;
pub mod commit;
mod error;
mod framework;
pub mod model;
pub mod state;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Notify;
use wasmesos_sdk_scheduler::api_address::{advertise_api, reachable_address};
use wasmesos_sdk_scheduler::durable::Durable;
use wasmesos_sdk_scheduler::{Driver, DriverConfig};

pub use error::Error;

/// The state file inside the work dir.
pub const STATE_FILE: &str = "chronos.redb";
/// How long the master keeps Chronos's tasks running while Chronos is away (a week, as
/// Chronos's default `--failover_timeout`).
pub const FAILOVER_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

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
}

impl ChronosConfig {
    pub fn new(master_url: impl Into<String>, work_dir: impl Into<PathBuf>) -> Self {
        ChronosConfig {
            driver: DriverConfig::new(master_url, "chronos"),
            work_dir: work_dir.into(),
            retry_delay: state::DEFAULT_RETRY_DELAY,
        }
    }
}

/// Runs Chronos: its API on `listener`, its framework on the master, until `shutdown`
/// resolves. A restart on the same work dir resubscribes with the stored framework id,
/// reconciles, and keeps the running tasks.
pub async fn serve(
    listener: TcpListener,
    config: ChronosConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let store = Durable::open(&config.work_dir, STATE_FILE)?;
    let mut driver_config = config.driver.clone();
    store.resume(&mut driver_config, FAILOVER_TIMEOUT)?;
    // Updates are acknowledged by the committer, once their writes are durable.
    driver_config.auto_acknowledge = false;
    let local = listener.local_addr().map_err(Error::Http)?;
    advertise_api(&mut driver_config, local);
    let state = state::State::load(store, config.retry_delay)?;
    let journal = state.journal();
    let state = Arc::new(Mutex::new(state));
    let driver = Driver::connect(driver_config).await?;
    let kick = Arc::new(Notify::new());
    let ctx = Arc::new(api::Ctx {
        state: Arc::clone(&state),
        journal: Arc::clone(&journal),
        kick: Arc::clone(&kick),
        leader: reachable_address(local),
    });
    let mut commits = tokio::spawn(framework::run_commits(driver.clone(), Arc::clone(&journal)));
    let steps = tokio::spawn(framework::run_steps(
        driver.clone(),
        Arc::clone(&state),
        Arc::clone(&journal),
        kick,
    ));
    let scheduler_driver = driver.clone();
    let mut scheduler = framework::Chronos::new(Arc::clone(&state), Arc::clone(&journal));
    let framework = tokio::spawn(async move { scheduler_driver.run(&mut scheduler).await });
    let app = api::router(ctx).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown);
    let served = tokio::select! {
        served = server.into_future() => served.map_err(Error::Http),
        failed = &mut commits => Err(failed.unwrap_or_else(|panicked| {
            Error::Scheduler(wasmesos_sdk_scheduler::Error::Store {
                path: journal.store().path().to_owned(),
                reason: format!("the committer did not finish: {panicked}"),
            })
        })),
    };
    driver.stop();
    steps.abort();
    framework.abort();
    commits.abort();
    // What is staged and not yet written went nowhere; keeping it costs one commit.
    if served.is_ok() {
        let flushing = Arc::clone(&journal);
        if let Ok(Err(err)) = tokio::task::spawn_blocking(move || flushing.commit()).await {
            tracing::warn!(%err, "cannot write the last staged changes");
        }
    }
    served
}
