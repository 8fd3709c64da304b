//! The framework half: the [`Scheduler`] that feeds offers and status updates into the
//! [`State`], the loop that steps it when the next run is due (at most [`TICK`] apart, or
//! at once when the API changed something) and sends what comes out (kills, revives), and
//! the committer that writes the state's staged groups and then acknowledges their updates.
//! Launches and kills go out only once the writes behind them are durable.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use wasmesos_proto::{Offer, TaskStatus, event};
use wasmesos_sdk_scheduler::time::Timestamp;
use wasmesos_sdk_scheduler::{Driver, Scheduler, refuse_for};

use crate::Error;
use crate::commit::GroupCommit;
use crate::state::{Effect, State};

/// The longest the state goes unstepped.
pub const TICK: Duration = Duration::from_millis(500);
/// How long unused offers stay away while runs wait, and while none do (a revive brings
/// them back when a run is due).
const REFUSE_BUSY: Duration = Duration::from_secs(1);
const REFUSE_IDLE: Duration = Duration::from_secs(30);

/// The scheduler Chronos hands to the driver.
pub struct Chronos {
    state: Arc<Mutex<State>>,
    journal: Arc<GroupCommit>,
}

impl Chronos {
    pub fn new(state: Arc<Mutex<State>>, journal: Arc<GroupCommit>) -> Self {
        Chronos { state, journal }
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> Option<T> {
        match self.state.lock() {
            Ok(mut state) => Some(f(&mut state)),
            Err(_) => {
                tracing::error!("Chronos's state lock is poisoned");
                None
            }
        }
    }
}

impl Scheduler for Chronos {
    async fn subscribed(&mut self, driver: &Driver, subscribed: &event::Subscribed) {
        tracing::info!(framework_id = %subscribed.framework_id, "subscribed");
        let tasks = self.with_state(|state| {
            if let Err(err) = state.store().set_framework_id(&subscribed.framework_id) {
                tracing::error!(%err, "cannot store the framework id");
            }
            state.subscribed(Timestamp::now());
            state.task_agents()
        });
        driver.reconcile_known(tasks.unwrap_or_default()).await;
    }

    async fn offers(&mut self, driver: &Driver, offers: Vec<Offer>) {
        let now = Timestamp::now();
        let planned = self.with_state(|state| {
            let effects = state.step(now);
            let (launches, unused) = state.on_offers(&offers, now);
            let busy = state.launchable(now) > 0;
            (effects, launches, unused, busy, state.staged())
        });
        let Some((effects, launches, unused, busy, staged)) = planned else {
            return;
        };
        // The runs are stored as launched (with everything staged before) first.
        if let Err(err) = self.journal.durable(staged).await {
            tracing::error!(%err, "launches held back: their runs are not stored");
            return;
        }
        apply(driver, effects).await;
        let launched: usize = launches.iter().map(|l| l.tasks.len()).sum();
        tracing::debug!(launched, offers = offers.len(), busy, "offers taken");
        driver.launch_all(launches, refuse_for(REFUSE_BUSY)).await;
        if !unused.is_empty() {
            let refuse = if busy { REFUSE_BUSY } else { REFUSE_IDLE };
            if let Err(err) = driver.decline(unused, Some(refuse_for(refuse))).await {
                tracing::debug!(%err, "decline failed");
            }
        }
    }

    async fn update(&mut self, driver: &Driver, status: &TaskStatus) {
        tracing::debug!(task_id = %status.task_id, state = ?status.state(), "status update");
        let effects = self
            .with_state(|state| state.on_status(status, Timestamp::now()))
            .unwrap_or_default();
        // Acknowledged by the committer once the update's writes are durable; meanwhile
        // the next updates are read, and their writes join the same group.
        self.journal.acknowledge_when_durable(status);
        // Only kills of tasks no run owns: they depend on no write.
        apply(driver, effects).await;
    }
}

/// Commits the staged groups one after another, each in one durable transaction, and
/// acknowledges each group's updates once it is durable. Returns the error of a failed
/// commit, which stops Chronos.
pub async fn run_commits(driver: Driver, journal: Arc<GroupCommit>) -> Error {
    loop {
        journal.wait_staged().await;
        let committing = Arc::clone(&journal);
        let committed = tokio::task::spawn_blocking(move || committing.commit()).await;
        match committed {
            Ok(Ok(acks)) => {
                for status in &acks {
                    driver.acknowledge(status);
                }
            }
            Ok(Err(err)) => return err,
            Err(panicked) => {
                return Error::Scheduler(wasmesos_sdk_scheduler::Error::Store {
                    store: journal.store().location(),
                    reason: format!("the commit did not finish: {panicked}"),
                });
            }
        }
    }
}

/// The loop that steps the state until the driver stops.
pub async fn run_steps(
    driver: Driver,
    state: Arc<Mutex<State>>,
    journal: Arc<GroupCommit>,
    kick: Arc<Notify>,
) {
    let mut wait = TICK;
    while !driver.is_stopped() {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = kick.notified() => {}
        }
        if driver.framework_id().is_none() {
            wait = TICK;
            continue;
        }
        let now = Timestamp::now();
        let (effects, next, staged) = match state.lock() {
            Ok(mut state) => (state.step(now), state.next_due(now), state.staged()),
            Err(_) => return,
        };
        wait = next.map_or(TICK, |due| due.since(Timestamp::now()).min(TICK));
        // A lost run's kill goes out once its failure (and retry) is stored.
        if journal.durable(staged).await.is_err() {
            return;
        }
        apply(&driver, effects).await;
    }
}

async fn apply(driver: &Driver, effects: Vec<Effect>) {
    for effect in effects {
        let result = match &effect {
            Effect::Kill { task_id } => {
                tracing::info!(%task_id, "killing");
                driver.kill(task_id).await
            }
            Effect::Revive => driver.revive(Vec::new()).await,
        };
        if let Err(err) = result {
            // Kills are sent again by later steps until the task ends.
            tracing::debug!(%err, ?effect, "call failed");
        }
    }
}
