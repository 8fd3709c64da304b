//! The master's bookkeeping as a state machine: calls in, messages out, no I/O and no clock.
//!
//! Every method takes `now` (time since an arbitrary start) and queues what must be sent in
//! an [`Outbox`] that the actor drains and delivers. Tests drive it directly, without sockets.
//! The allocator ([`wasmesos_allocator::Allocator`]) decides who is offered what; this module
//! owns everything around it: registries, offers, task records, validation and the relay.

mod accept;
mod agents;
mod convert;
mod drain;
mod frameworks;
mod maintenance;
mod offers;
mod operations;
mod outbox;
mod oversubscription;
mod partitions;
mod persist;
mod preemption;
mod recovery;
mod removed;
mod roles;
mod snapshot;
mod state_proto;
mod tasks;
#[cfg(test)]
mod tests;
mod view;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use wasmesos_allocator::{AgentId, Allocator, FrameworkId};
use wasmesos_proto::v1::MasterInfo;

pub use agents::Registration;
pub use frameworks::Subscription;
pub use maintenance::MAX_MAINTENANCE_BYTES;
pub use outbox::Outbox;
pub use snapshot::{
    AgentView, ClusterResources, DrainView, FrameworkView, MachineView, MasterView, ResourceMap,
    ResourceValue, RoleView, StateSnapshot, TaskView, UnavailabilityView, reason_code,
    resource_json, resource_map, shared_tasks,
};
pub use state_proto::TaskLocation;

use crate::metrics::Metrics;
use crate::{Error, MasterConfig};
use agents::Agent;
use frameworks::Framework;
use offers::OutstandingOffer;

/// Time as the core sees it: a duration since the actor started.
pub type Time = Duration;

/// Where a `Refuse` filter is capped, so a huge `refuse_seconds` cannot overflow time.
const MAX_REFUSE: Duration = Duration::from_secs(365 * 24 * 3600);

/// The master's state: agents, frameworks, offers, tasks and the allocator.
pub struct Core {
    config: MasterConfig,
    master: MasterInfo,
    /// Unix seconds at `Time` zero, for the timestamps users see.
    unix_origin: f64,
    next_id: u64,
    allocator: Allocator,
    agents: HashMap<AgentId, Agent>,
    /// Removed agents, with the Unix time of their removal, until [`Core::forget_removed`].
    removed_agents: HashMap<AgentId, f64>,
    frameworks: HashMap<FrameworkId, Framework>,
    /// Removed frameworks, with the Unix time of their removal.
    removed_frameworks: HashMap<FrameworkId, f64>,
    /// Removed frameworks with their last tasks, oldest first, at most
    /// `max_completed_frameworks` (what the state readers list as completed).
    completed_frameworks: VecDeque<frameworks::CompletedFramework>,
    offers: HashMap<String, OutstandingOffer>,
    /// Offer ids in creation order, for the offer timeout.
    offer_queue: VecDeque<(Time, String)>,
    artifacts: HashSet<String>,
    outbox: Outbox,
    /// When the next allocation round is due, if an event asked for one.
    allocation_due: Option<Time>,
    last_round: Option<Time>,
    /// When agent liveness and framework failover timeouts are next checked.
    next_sweep: Time,
    /// When old removals are next forgotten (`removed.rs`).
    next_forget: Time,
    /// Registry changes not yet taken by the actor (see `persist.rs`).
    registry_ops: Vec<crate::registry::Op>,
    /// Agents from the registry that have not re-registered since this master started.
    recovering: HashMap<AgentId, recovery::RecoveredAgent>,
    /// Agents that missed their pings and may come back (`partitions.rs`).
    unreachable: HashMap<AgentId, partitions::UnreachableAgent>,
    /// Agents an operator deactivated, with their drain when they were drained
    /// (`drain.rs`); registered, unreachable or recovering ones alike.
    deactivated: HashMap<AgentId, Option<wasmesos_proto::v1::DrainInfo>>,
    /// Tasks suspended or being killed to meet a quota guarantee (`preemption.rs`).
    preemptions: preemption::Preemptions,
    /// Whether an operator set a quota since start (preemption then watches guarantees).
    quota_set_at_runtime: bool,
    /// The maintenance schedule, machine modes and inverse offers (`maintenance/`).
    maintenance: maintenance::Maintenance,
    /// Counters bumped where things happen; read by `/metrics`.
    metrics: Arc<Metrics>,
}

impl Core {
    /// A master with no agents and no frameworks. `unix_origin` is the wall-clock time (Unix
    /// seconds) that `Time` zero stands for.
    pub fn new(config: MasterConfig, master: MasterInfo, unix_origin: f64) -> Result<Self, Error> {
        config.validate()?;
        let allocator = Allocator::new(config.allocator_config())
            .map_err(|err| Error::InvalidConfig(format!("allocator: {err}")))?;
        Ok(Self {
            next_sweep: config.agent_heartbeat_interval,
            next_forget: Time::ZERO,
            config,
            master,
            unix_origin,
            next_id: 0,
            allocator,
            agents: HashMap::new(),
            removed_agents: HashMap::new(),
            frameworks: HashMap::new(),
            removed_frameworks: HashMap::new(),
            completed_frameworks: VecDeque::new(),
            offers: HashMap::new(),
            offer_queue: VecDeque::new(),
            artifacts: HashSet::new(),
            outbox: Outbox::default(),
            allocation_due: None,
            last_round: None,
            registry_ops: Vec::new(),
            recovering: HashMap::new(),
            unreachable: HashMap::new(),
            deactivated: HashMap::new(),
            preemptions: preemption::Preemptions::default(),
            quota_set_at_runtime: false,
            maintenance: maintenance::Maintenance::default(),
            metrics: Arc::default(),
        })
    }

    /// The master's identity, as sent to agents and frameworks.
    pub fn master_info(&self) -> &MasterInfo {
        &self.master
    }

    /// Authentication and ACLs, as configured.
    pub fn security(&self) -> &crate::auth::Security {
        &self.config.security
    }

    /// How long a call waits for the actor and its registry commit.
    pub fn call_timeout(&self) -> Duration {
        self.config.call_timeout
    }

    /// The counters this core bumps, shared with the HTTP API.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Everything queued for delivery since the last call.
    pub fn take_outbox(&mut self) -> Outbox {
        std::mem::take(&mut self.outbox)
    }

    /// Records that an artifact with this digest is stored, so tasks may name it.
    pub fn artifact_stored(&mut self, digest: &str) {
        self.artifacts.insert(digest.to_ascii_lowercase());
    }

    /// Runs whatever is due at `now`: agent and failover timeouts, offer timeouts, and the
    /// allocation round.
    pub fn tick(&mut self, now: Time) {
        if now >= self.next_sweep {
            self.next_sweep = now.saturating_add(self.config.agent_heartbeat_interval);
            self.mark_silent_agents_unreachable(now);
            self.expire_unreachable(now);
            self.expire_recovering(now);
            self.expire_failovers(now);
            self.forget_removed(now);
        }
        self.expire_offers(now);
        let filter_due = self.filter_expiry().is_some_and(|at| at <= now);
        if filter_due || self.allocation_due.is_some_and(|at| at <= now) {
            self.allocate(now);
        }
        self.check_preemption(now);
    }

    /// When [`Core::tick`] next has something to do.
    pub fn next_wakeup(&self) -> Option<Time> {
        let offer_expiry = self.config.offer_timeout.and_then(|timeout| {
            self.offer_queue
                .front()
                .map(|(created, _)| created.saturating_add(timeout))
        });
        [
            Some(self.next_sweep),
            self.allocation_due,
            self.filter_expiry(),
            offer_expiry,
            self.preemption_wakeup(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The allocator's next filter expiry (offers' or inverse offers'), unless the last
    /// round already passed it (so a stale entry can never make the actor spin).
    fn filter_expiry(&self) -> Option<Time> {
        [
            self.allocator.next_filter_expiry(),
            self.maintenance.answers.next_filter_expiry(),
        ]
        .into_iter()
        .flatten()
        .filter(|at| self.last_round.is_none_or(|last| *at > last))
        .min()
    }

    /// Asks for an allocation round one batch interval from now, unless one is due sooner.
    fn request_allocation(&mut self, now: Time) {
        let at = now.saturating_add(self.config.allocation_batch_interval);
        self.allocation_due = Some(self.allocation_due.map_or(at, |due| due.min(at)));
    }

    /// Unix seconds for a core time.
    fn unix(&self, now: Time) -> f64 {
        self.unix_origin + now.as_secs_f64()
    }

    /// A fresh id: `<master id>-<kind><n>`.
    fn new_id(&mut self, kind: char) -> String {
        self.next_id = self.next_id.saturating_add(1);
        format!("{}-{kind}{}", self.master.id, self.next_id)
    }

    /// The filter for resources declined or left unused, from a call's `refuse_seconds`.
    fn refuse_filter(
        &self,
        filters: Option<&wasmesos_proto::v1::Filters>,
    ) -> Result<Duration, Error> {
        let Some(seconds) = filters.and_then(|f| f.refuse_seconds) else {
            return Ok(self.config.default_refuse);
        };
        if seconds.is_nan() || seconds < 0.0 {
            return Err(crate::error::invalid(
                "filters.refuse_seconds",
                format!("{seconds} must be zero or positive"),
            ));
        }
        Ok(Duration::try_from_secs_f64(seconds).map_or(MAX_REFUSE, |d| d.min(MAX_REFUSE)))
    }
}
