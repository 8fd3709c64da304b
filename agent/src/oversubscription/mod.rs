//! Oversubscription: the agent estimates the CPU its regular tasks were allocated and do not
//! use, sends it to the master as revocable resources (`UpdateOversubscribed`, Mesos's
//! `UpdateSlaveMessage` with `oversubscribed_resources`), and its QoS controller suspends,
//! resumes and revokes the tasks that run on them (see `qos.rs` for the policy). Off unless
//! [`AgentConfig::oversubscription`](crate::AgentConfig::oversubscription) is set, as Mesos's
//! default `noop` estimator offers nothing.

mod estimate;
mod qos;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tracing::{info, warn};
use wasmesos_proto::{Reason, Resources, UpdateOversubscribedRequest};

use crate::agent::Agent;
use crate::link::{master_client, stopped};
use qos::{Correction, QosController};

/// How the agent oversubscribes its CPU. The defaults are Mesos's where it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct OversubscriptionConfig {
    /// How often the estimate is made, and sent when it changed (Mesos's
    /// `--oversubscribed_resources_interval`, 15 s). It is always sent after a
    /// (re-)registration.
    pub estimate_interval: Duration,
    /// How often the QoS controller looks at the tasks' CPU use. Mesos's
    /// `--qos_correction_interval_min` is 0 s: its controllers pace themselves; this one
    /// measures use over this interval, so it is the reaction time (default 1 s).
    pub qos_interval: Duration,
    /// The fraction of what the regular tasks were given that is never offered as
    /// revocable, kept for their bursts, and of the agent's `cpus` that the QoS controller
    /// keeps free of revocable tasks (default 0.1).
    pub margin: f64,
    /// The smallest change of the estimate, in cores, that is sent (default 0.1).
    pub min_change: f64,
    /// How long a revocable task may stay suspended before it is killed with
    /// REASON_REVOCATION (default 60 s).
    pub max_suspension: Duration,
}

impl Default for OversubscriptionConfig {
    fn default() -> Self {
        OversubscriptionConfig {
            estimate_interval: Duration::from_secs(15),
            qos_interval: Duration::from_secs(1),
            margin: 0.1,
            min_change: 0.1,
            max_suspension: Duration::from_secs(60),
        }
    }
}

impl OversubscriptionConfig {
    /// Checks the values, naming the first bad one.
    pub fn validate(&self) -> Result<(), String> {
        let interval_ok =
            |d: Duration| (Duration::from_millis(10)..=Duration::from_secs(3600)).contains(&d);
        if !interval_ok(self.estimate_interval) {
            return Err("oversubscribed_resources_interval must be between 10ms and 1h".into());
        }
        if !interval_ok(self.qos_interval) {
            return Err("qos_correction_interval must be between 10ms and 1h".into());
        }
        if !(0.0..=1.0).contains(&self.margin) {
            return Err(format!(
                "oversubscription margin {} must be within 0 and 1",
                self.margin
            ));
        }
        if !(self.min_change.is_finite() && self.min_change >= 0.0) {
            return Err(format!(
                "oversubscription min change {} must be 0 or more",
                self.min_change
            ));
        }
        Ok(())
    }
}

/// What the oversubscription loop did, for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct OversubscriptionStats {
    /// The latest estimate, in thousandths of a core.
    pub(crate) estimate_millicores: AtomicU64,
    pub(crate) estimates_sent: AtomicU64,
    pub(crate) suspended: AtomicU64,
    pub(crate) resumed: AtomicU64,
    pub(crate) revoked: AtomicU64,
    /// Revocable tasks suspended by the QoS controller now.
    pub(crate) suspended_now: AtomicU64,
}

/// Runs the estimator and the QoS controller until `stop`.
pub(crate) async fn run(
    agent: Arc<Agent>,
    config: OversubscriptionConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut registrations = agent.agent_id.subscribe();
    let mut qos_ticks = tokio::time::interval(config.qos_interval);
    qos_ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut estimate_ticks = tokio::time::interval(config.estimate_interval);
    estimate_ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut qos_sampler = estimate::Sampler::default();
    let mut estimate_sampler = estimate::Sampler::default();
    let mut controller = QosController::default();
    let mut estimate = 0.0;
    let mut sent: Option<f64> = None;
    let agent_cpus = agent.resources.scalar("cpus");
    loop {
        tokio::select! {
            _ = qos_ticks.tick() => {
                let rates = qos_sampler.sample(Instant::now(), agent.registry.usage());
                let corrections = controller.correct(&rates, agent_cpus, config.margin, config.max_suspension, Instant::now());
                let corrected: Vec<_> = corrections.iter().map(|c| c.key().clone()).collect();
                for correction in corrections {
                    apply(&agent, correction);
                }
                // Requests to one task coalesce: the ones corrected now keep their message.
                for key in controller.held_suspended().filter(|key| !corrected.contains(key)) {
                    // No update unless it had been resumed meanwhile.
                    agent.registry.suspend(key, true, "suspended: the regular tasks need their CPU back".into());
                }
                agent.oversubscription.suspended_now.store(controller.suspended() as u64, Ordering::Relaxed);
            }
            _ = estimate_ticks.tick() => {
                let rates = estimate_sampler.sample(Instant::now(), agent.registry.usage());
                estimate = estimate::regular_slack(&rates, config.margin);
                agent.oversubscription.estimate_millicores.store(millicores(estimate), Ordering::Relaxed);
                if estimate::worth_sending(sent, estimate, config.min_change) {
                    sent = send(&agent, estimate).await.then_some(estimate);
                }
            }
            changed = registrations.changed() => {
                if changed.is_err() {
                    return;
                }
                // A master that (re-)registers the agent starts from an empty pool.
                sent = send(&agent, estimate).await.then_some(estimate);
            }
            () = stopped(&mut stop) => return,
        }
    }
}

/// Cores in thousandths, for the metrics gauge.
fn millicores(cores: f64) -> u64 {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "an estimate is at most the agent's cpus, far below 2^64 thousandths; `as` \
                  saturates and maps NaN to 0"
    )]
    let millicores = (cores * 1000.0).round() as u64;
    millicores
}

/// Sends the estimate; false when the agent is not registered or the call failed (it is
/// sent again at the next estimate).
async fn send(agent: &Agent, cpus: f64) -> bool {
    let agent_id = agent.current_id();
    if agent_id.is_empty() {
        return false;
    }
    let resources = if cpus > 0.0 {
        let mut resources = Resources::from_scalars([("cpus", cpus)]);
        for item in &mut resources.resources {
            item.revocable = true;
        }
        resources
    } else {
        Resources::default()
    };
    let mut request = tonic::Request::new(UpdateOversubscribedRequest {
        agent_id: agent_id.clone(),
        resources: Some(resources),
    });
    request.set_timeout(Duration::from_secs(5));
    match master_client(agent.channel.clone())
        .update_oversubscribed(request)
        .await
    {
        Ok(_) => {
            agent
                .oversubscription
                .estimates_sent
                .fetch_add(1, Ordering::Relaxed);
            info!(agent_id = %agent_id, revocable_cpus = cpus, "sent the oversubscribed estimate");
            true
        }
        Err(status) => {
            warn!(agent_id = %agent_id, err = %status.message(), "sending the oversubscribed estimate failed");
            false
        }
    }
}

fn apply(agent: &Agent, correction: Correction) {
    let stats = &agent.oversubscription;
    match correction {
        Correction::Suspend { key, message } => {
            info!(framework_id = %key.framework_id, task_id = %key.task_id, %message, "QoS: suspending a revocable task");
            if agent.registry.suspend(&key, true, message) {
                stats.suspended.fetch_add(1, Ordering::Relaxed);
            }
        }
        Correction::Resume { key, message } => {
            info!(framework_id = %key.framework_id, task_id = %key.task_id, %message, "QoS: resuming a revocable task");
            if agent.registry.suspend(&key, false, message) {
                stats.resumed.fetch_add(1, Ordering::Relaxed);
            }
        }
        Correction::Kill { key, message } => {
            info!(framework_id = %key.framework_id, task_id = %key.task_id, %message, "QoS: revoking a revocable task");
            agent.registry.kill(&key, None, Reason::Revocation);
            stats.revoked.fetch_add(1, Ordering::Relaxed);
        }
    }
}
