//! The framework half: the [`Scheduler`] that feeds offers and status updates into the
//! [`State`], and the loop that steps it (every [`TICK`], or at once when the API changed
//! something) and sends what comes out: kills, revives, launches.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use wasmesos_proto::operator_client::OperatorClient;
use wasmesos_proto::{GetStateRequest, Offer, TaskStatus, event};
use wasmesos_sdk_scheduler::{Driver, Scheduler, refuse_for};

use crate::state::{Effect, State};
use crate::time::Timestamp;

/// How often the state is stepped without a reason.
pub const TICK: Duration = Duration::from_millis(500);
/// How long unused offers stay away while apps wait for tasks, and while none do (a
/// revive brings them back when an app needs more).
const REFUSE_BUSY: Duration = Duration::from_secs(1);
const REFUSE_IDLE: Duration = Duration::from_secs(30);

/// The scheduler Marathon hands to the driver.
pub struct Marathon {
    state: Arc<Mutex<State>>,
}

impl Marathon {
    pub fn new(state: Arc<Mutex<State>>) -> Self {
        Marathon { state }
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> Option<T> {
        match self.state.lock() {
            Ok(mut state) => Some(f(&mut state)),
            Err(_) => {
                tracing::error!("Marathon's state lock is poisoned");
                None
            }
        }
    }
}

impl Scheduler for Marathon {
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
        let unknown = self
            .with_state(|state| offers.iter().any(|o| !state.knows_agent(&o.agent_id)))
            .unwrap_or(false);
        if unknown {
            learn_attributes(driver, &self.state).await;
            // An agent the master did not describe has no attributes: ask once, not per offer.
            self.with_state(|state| {
                for offer in &offers {
                    if !state.knows_agent(&offer.agent_id) {
                        state.set_agent_attributes(offer.agent_id.clone(), BTreeMap::new());
                    }
                }
            });
        }
        let now = Timestamp::now();
        let planned = self.with_state(|state| {
            let effects = state.step(now);
            let (launches, unused) = state.on_offers(&offers, now);
            let busy = !state.launchable(now).is_empty();
            (effects, launches, unused, busy)
        });
        let Some((effects, launches, unused, busy)) = planned else {
            return;
        };
        apply(driver, effects).await;
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
        apply(driver, effects).await;
    }
}

/// The loop that steps the state until the driver stops.
pub async fn run_steps(driver: Driver, state: Arc<Mutex<State>>, kick: Arc<Notify>) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !driver.is_stopped() {
        tokio::select! {
            _ = ticks.tick() => {}
            () = kick.notified() => {}
        }
        if driver.framework_id().is_none() {
            continue;
        }
        let effects = match state.lock() {
            Ok(mut state) => state.step(Timestamp::now()),
            Err(_) => return,
        };
        apply(&driver, effects).await;
    }
}

async fn apply(driver: &Driver, effects: Vec<Effect>) {
    for effect in effects {
        let result = match &effect {
            Effect::Kill { task_id, grace } => {
                tracing::info!(%task_id, "killing");
                match grace {
                    Some(grace) => driver.kill_with_grace(task_id, *grace).await,
                    None => driver.kill(task_id).await,
                }
            }
            Effect::Revive => driver.revive(Vec::new()).await,
        };
        if let Err(err) = result {
            // Kills are sent again by the next steps until the task ends.
            tracing::debug!(%err, ?effect, "call failed");
        }
    }
}

/// Reads the agents' attributes from the master, for constraints on them.
async fn learn_attributes(driver: &Driver, state: &Arc<Mutex<State>>) {
    let mut operator = OperatorClient::new(driver.channel());
    let Ok(answer) = operator.get_state(GetStateRequest::default()).await else {
        return;
    };
    let agents: Vec<(String, BTreeMap<String, String>)> = answer
        .into_inner()
        .agents
        .into_iter()
        .filter_map(|summary| summary.agent)
        .map(|agent| (agent.id, agent.attributes.into_iter().collect()))
        .collect();
    if let Ok(mut state) = state.lock() {
        for (id, attributes) in agents {
            state.set_agent_attributes(id, attributes);
        }
    }
}
