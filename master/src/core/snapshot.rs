//! The operator's state as one immutable value: what `/state`, `/tasks`, `/metrics` and the
//! web UI read, built by the actor and shared behind an `Arc`, so readers never touch the core.
//!
//! Field names are the HTTP API's contract (snake_case, documented in the README); resources
//! are flat maps such as `{"cpus": 2.0, "mem_bytes": 1073741824.0, "ports": "[31000-32000]"}`:
//! scalars as numbers, ranges and sets as Mesos's state.json writes them, as text.
//! The views keep resources with their reservations, and a few fields that only
//! `Operator.GetState` shows (`#[serde(skip)]`), so that the gRPC state is converted from the
//! same snapshot ([`super::state_proto`]) and never built on the actor.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;
use wasmesos_allocator::{FrameworkId, Kind, Quota, Ranges, Resources, SetItems, Snapshot};
use wasmesos_proto::v1::{AgentInfo, FrameworkInfo, Reason};

use super::agents::Agent;
use super::frameworks::Framework;
use super::tasks::Task;
use super::{Core, Time};

/// Scalar resources by name: `cpus`, `mem_bytes`, `disk_bytes`, then custom scalars by their
/// own name. Reserved and unreserved amounts are summed.
pub type ResourceMap = BTreeMap<String, f64>;

/// One resource in the JSON views: a scalar's amount, or the text Mesos's state.json gives
/// ranges and sets (`"[31000-31005, 32000-32010]"`, `"{a, b}"`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ResourceValue {
    Amount(f64),
    Text(String),
}

/// Everything an operator sees, as of `generated_at`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StateSnapshot {
    /// Unix seconds when it was built.
    pub generated_at: f64,
    /// Bumped on every rebuild, so pollers can tell a new snapshot from the same one.
    pub generation: u64,
    pub master: MasterView,
    /// Cluster-wide totals, for the overview.
    pub resources: ClusterResources,
    /// In registration order.
    pub agents: Vec<AgentView>,
    /// By id.
    pub frameworks: Vec<FrameworkView>,
    /// Removed frameworks still remembered (`max_completed_frameworks`), oldest first.
    pub completed_frameworks: Vec<FrameworkView>,
    /// Active and recently completed tasks, of active and completed frameworks, by start time.
    #[serde(serialize_with = "shared_tasks")]
    pub tasks: Vec<Arc<TaskView>>,
    /// By name.
    pub roles: Vec<RoleView>,
    /// Components stored on the master.
    pub artifacts: usize,
    /// The machines in the maintenance schedule (DRAINING or DOWN; every other machine is
    /// UP), by hostname and IP.
    pub maintenance: Vec<MachineView>,
}

/// The master itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MasterView {
    pub id: String,
    pub address: String,
    pub hostname: String,
    pub port: u32,
    pub version: String,
    /// Unix seconds when it started.
    pub start_time: f64,
}

/// Total, used and offered over every agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClusterResources {
    pub total: ResourceMap,
    pub used: ResourceMap,
    pub offered: ResourceMap,
}

/// One agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AgentView {
    pub id: String,
    pub hostname: String,
    /// Its own API, e.g. `http://127.0.0.1:5051`.
    pub address: String,
    /// Its command stream is open; false means unreachable.
    pub active: bool,
    /// Unix seconds.
    pub registered_time: f64,
    #[serde(serialize_with = "as_resource_map")]
    pub total: Resources,
    #[serde(serialize_with = "as_resource_map")]
    pub used: Resources,
    #[serde(serialize_with = "as_resource_map")]
    pub offered: Resources,
    /// Tasks not yet terminal.
    pub active_tasks: usize,
    /// An operator deactivated or drained it: it is offered to no one.
    pub deactivated: bool,
    /// Its drain, while it drains and once drained.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain: Option<DrainView>,
    /// Its machine is DRAINING for this maintenance window; `None`: its machine is UP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailability: Option<UnavailabilityView>,
    /// The agent as it registered (with its attributes), for `Operator.GetState`.
    #[serde(skip)]
    pub info: AgentInfo,
}

/// A machine in the maintenance schedule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MachineView {
    pub hostname: String,
    pub ip: String,
    /// `DRAINING` (scheduled: its agents still run and are offered with the window) or
    /// `DOWN` (in maintenance: its agents are removed and refused).
    pub mode: &'static str,
    pub unavailability: Option<UnavailabilityView>,
}

/// A maintenance window: from `start` (Unix seconds) for `duration_seconds` (`None`: no end
/// in sight), as Mesos's `Unavailability`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct UnavailabilityView {
    pub start: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// The same in nanoseconds, for `Operator.GetState`.
    #[serde(skip)]
    pub exact: wasmesos_proto::v1::Unavailability,
}

impl UnavailabilityView {
    pub(super) fn of(unavailability: &wasmesos_proto::v1::Unavailability) -> Self {
        const NANOS: f64 = 1e9;
        UnavailabilityView {
            start: unavailability.start_nanos as f64 / NANOS,
            duration_seconds: unavailability.duration_nanos.map(|d| d as f64 / NANOS),
            exact: *unavailability,
        }
    }
}

/// An agent's drain.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DrainView {
    /// `DRAINING` or `DRAINED`.
    pub state: &'static str,
    /// The longest grace its tasks get; `None`: each task's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_grace_period_seconds: Option<f64>,
    /// Marked gone once drained.
    pub mark_gone: bool,
}

impl DrainView {
    fn of(info: &wasmesos_proto::v1::DrainInfo) -> Self {
        use wasmesos_proto::v1::DrainState;
        DrainView {
            state: if info.state == DrainState::Drained as i32 {
                "DRAINED"
            } else {
                "DRAINING"
            },
            max_grace_period_seconds: info.max_grace_period_seconds,
            mark_gone: info.mark_gone,
        }
    }
}

/// One framework.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FrameworkView {
    pub id: String,
    pub name: String,
    pub roles: Vec<String>,
    /// Its scheduler is subscribed now.
    pub connected: bool,
    /// The product of the role weights down its first role's path.
    pub weight: f64,
    /// Dominant share of offered + used over all its roles, in [0, 1].
    pub dominant_share: f64,
    /// `dominant_share / weight`: what weighted DRF equalises.
    pub weighted_dominant_share: f64,
    #[serde(serialize_with = "as_resource_map")]
    pub used: Resources,
    #[serde(serialize_with = "as_resource_map")]
    pub offered: Resources,
    pub active_tasks: usize,
    /// Where the framework serves its own UI or API (`FrameworkInfo.webui_url`, as Mesos's UI
    /// links frameworks); left out when it set none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub webui_url: String,
    /// Unix seconds of its removal; only completed frameworks have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unregistered_time: Option<f64>,
    /// The framework as it subscribed, for `Operator.GetState`.
    #[serde(skip)]
    pub info: FrameworkInfo,
}

/// One task.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TaskView {
    pub task_id: String,
    pub name: String,
    pub framework_id: String,
    pub agent_id: String,
    /// `STAGING`, `RUNNING`, `FINISHED`, ... ([`wasmesos_proto::TaskState::name`]).
    pub state: String,
    /// `memory_limit`, `exit_code`, ... ([`Reason::code`]); empty when there is none.
    pub reason: String,
    pub message: String,
    #[serde(serialize_with = "as_resource_map")]
    pub resources: Resources,
    pub executor_digest: String,
    /// Unix seconds of the launch.
    pub started_time: f64,
    /// Unix seconds of the latest status.
    pub updated_time: f64,
    pub exit_code: Option<i32>,
    /// What the task's health check last said; `None` without one, or before it decided.
    pub healthy: Option<bool>,
    /// Whether the state is final.
    pub terminal: bool,
    /// Suspended in place by a preemption (still RUNNING).
    pub suspended: bool,
}

/// One role of the tree.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RoleView {
    pub name: String,
    /// Its own configured weight.
    pub weight: f64,
    pub dominant_share: f64,
    pub weighted_share: f64,
    /// Offered + used by frameworks of this role and its descendants.
    #[serde(serialize_with = "as_resource_map")]
    pub allocated: Resources,
    /// Ids of the frameworks subscribed to exactly this role.
    pub framework_ids: Vec<String>,
    /// What quota counts: allocated plus unallocated reservations of the subtree.
    #[serde(skip)]
    pub consumption: Resources,
    #[serde(skip)]
    pub quota: Option<Quota>,
    /// Reserved for exactly this role on every agent, quantities summed; `None` when nothing is.
    #[serde(skip)]
    pub reserved: Option<Resources>,
}

/// Serializes shared task views as plain ones (serde's `rc` feature would do it too, but
/// turning it on changes serde's features for every crate in the workspace build).
pub fn shared_tasks<S: serde::Serializer>(
    tasks: &[Arc<TaskView>],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(tasks.iter().map(|task| &**task))
}

/// Serializes resources as a flat map: scalars summed as numbers (a [`ResourceMap`]), ranges
/// and sets merged over reservations as text.
fn as_resource_map<S: serde::Serializer>(
    resources: &Resources,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(resource_json(resources))
}

/// The flat JSON map of `resources` (see [`ResourceValue`]).
pub fn resource_json(resources: &Resources) -> BTreeMap<String, ResourceValue> {
    let mut map: BTreeMap<String, ResourceValue> = resource_map(resources)
        .into_iter()
        .map(|(name, amount)| (name, ResourceValue::Amount(amount)))
        .collect();
    for name in resources.names() {
        let mut ranges = Ranges::new();
        let mut set = SetItems::new();
        for item in resources.iter().filter(|item| item.name() == name) {
            match item.kind() {
                Kind::Scalar => {}
                Kind::Ranges => ranges.add(item.ranges().unwrap_or(&Ranges::new())),
                Kind::Set => set.add(item.set().unwrap_or(&SetItems::new())),
            }
        }
        if !ranges.is_empty() {
            map.insert(json_name(name), ResourceValue::Text(ranges.to_string()));
        } else if !set.is_empty() {
            map.insert(json_name(name), ResourceValue::Text(set.to_string()));
        }
    }
    map
}

/// The wire name of a resource in the JSON API.
fn json_name(name: &str) -> String {
    match name {
        "mem" => "mem_bytes".to_string(),
        "disk" => "disk_bytes".to_string(),
        other => other.to_string(),
    }
}

/// Flattens the scalars into a name → amount map, reservations summed in. Ranges and sets
/// are left out: the cluster totals of the overview sum numbers only. Revocable amounts are
/// `<name>_revocable` (`cpus_revocable`).
pub fn resource_map(resources: &Resources) -> ResourceMap {
    let mut map = ResourceMap::new();
    for item in resources.iter().filter(|item| item.kind() == Kind::Scalar) {
        let mut key = json_name(item.name());
        if item.is_revocable() {
            // Apart from the regular amount, as Mesos's `cpus_revocable_*` metrics.
            key.push_str("_revocable");
        }
        *map.entry(key).or_default() += item.amount();
    }
    map
}

fn add_into(sum: &mut ResourceMap, more: &ResourceMap) {
    for (name, amount) in more {
        *sum.entry(name.clone()).or_default() += amount;
    }
}

/// A status's reason as [`Reason::code`] spells it; a number no [`Reason`] has (an agent
/// newer than the master may send one) reads `unknown_<n>`.
pub fn reason_code(reason: i32) -> String {
    match Reason::try_from(reason) {
        Ok(reason) => reason.code().to_string(),
        Err(_) => format!("unknown_{reason}"),
    }
}

impl Core {
    /// The operator's state as one value. Task views are reused from `previous` when the
    /// task's status has not changed since, so a rebuild allocates only for what moved.
    pub fn state_snapshot(&self, now: Time, previous: &StateSnapshot) -> StateSnapshot {
        let allocation = self.allocator.snapshot();
        let weights = effective_weights(&allocation);
        let agents = self.agent_views(&allocation);
        let mut resources = ClusterResources::default();
        for agent in &agents {
            add_into(&mut resources.total, &resource_map(&agent.total));
            add_into(&mut resources.used, &resource_map(&agent.used));
            add_into(&mut resources.offered, &resource_map(&agent.offered));
        }
        let mut frameworks: Vec<FrameworkView> = self
            .frameworks
            .iter()
            .map(|(id, framework)| self.framework_view(id, framework, &weights))
            .collect();
        frameworks.sort_by(|a, b| a.id.cmp(&b.id));
        let completed_frameworks = self
            .completed_frameworks
            .iter()
            .map(|completed| FrameworkView {
                unregistered_time: Some(completed.unregistered_time),
                ..self.framework_view(
                    &FrameworkId::from(completed.framework.info.id.as_str()),
                    &completed.framework,
                    &weights,
                )
            })
            .collect();
        StateSnapshot {
            generated_at: self.unix(now),
            generation: previous.generation.saturating_add(1),
            master: self.master_view(),
            resources,
            agents,
            frameworks,
            completed_frameworks,
            tasks: self.task_views(previous),
            roles: self.role_views(&allocation),
            artifacts: self.artifacts.len(),
            maintenance: self.machine_views(),
        }
    }

    fn master_view(&self) -> MasterView {
        MasterView {
            id: self.master.id.clone(),
            address: self.master.address.clone(),
            hostname: self.master.hostname.clone(),
            port: self.master.port,
            version: self.master.version.clone(),
            start_time: self.unix_origin,
        }
    }

    fn agent_views(&self, allocation: &Snapshot) -> Vec<AgentView> {
        let held: HashMap<&str, _> = allocation
            .agents
            .iter()
            .map(|a| (a.id.as_str(), a))
            .collect();
        let mut agents: Vec<AgentView> = self
            .agents
            .iter()
            .map(|(id, agent)| {
                let mut view = agent_view(agent, held.get(id.as_str()).copied());
                let (deactivated, drain) = self.maintenance_of(id);
                view.deactivated = deactivated;
                view.drain = drain.map(DrainView::of);
                view.unavailability = self
                    .unavailability_of(id)
                    .as_ref()
                    .map(UnavailabilityView::of);
                view
            })
            .collect();
        agents.sort_by(|a, b| a.registered_time.total_cmp(&b.registered_time));
        agents
    }

    fn framework_view(
        &self,
        id: &FrameworkId,
        framework: &Framework,
        weights: &HashMap<&str, f64>,
    ) -> FrameworkView {
        let held = self.allocator.framework_snapshot(id);
        let mut used = Resources::new();
        let mut offered = Resources::new();
        for role in held.iter().flat_map(|v| v.roles.iter()) {
            used.add(&role.used);
            offered.add(&role.offered);
        }
        let weight = framework
            .roles
            .first()
            .and_then(|role| weights.get(role.as_str()).copied())
            .unwrap_or(1.0);
        let dominant_share = held.as_ref().map_or(0.0, |v| v.dominant_share);
        FrameworkView {
            id: framework.info.id.clone(),
            name: framework.info.name.clone(),
            roles: framework.roles.clone(),
            connected: framework.connected,
            weight,
            dominant_share,
            weighted_dominant_share: if weight > 0.0 {
                dominant_share / weight
            } else {
                0.0
            },
            used,
            offered,
            active_tasks: framework
                .tasks
                .values()
                .filter(|t| !t.is_terminal())
                .count(),
            webui_url: framework.info.webui_url.clone(),
            unregistered_time: None,
            info: framework.info.clone(),
        }
    }

    fn task_views(&self, previous: &StateSnapshot) -> Vec<Arc<TaskView>> {
        let reusable: HashMap<(&str, &str), &Arc<TaskView>> = previous
            .tasks
            .iter()
            .map(|t| ((t.framework_id.as_str(), t.task_id.as_str()), t))
            .collect();
        let completed = self.completed_frameworks.iter().map(|c| &c.framework);
        let mut tasks: Vec<Arc<TaskView>> = self
            .frameworks
            .values()
            .chain(completed)
            .flat_map(|framework| framework.tasks.values())
            .map(|task| {
                let key = (
                    task.status.framework_id.as_str(),
                    task.info.task_id.as_str(),
                );
                match reusable.get(&key) {
                    Some(view) if is_current(view, task) => Arc::clone(view),
                    _ => Arc::new(task_view(task)),
                }
            })
            .collect();
        tasks.sort_by(|a, b| {
            a.started_time
                .total_cmp(&b.started_time)
                .then_with(|| a.task_id.cmp(&b.task_id))
        });
        tasks
    }

    /// Every role the allocator knows, sorted by path: what `/roles`, `Operator.GetRoles`
    /// and `Operator.GetState` show.
    pub(super) fn role_views(&self, allocation: &Snapshot) -> Vec<RoleView> {
        let mut reserved = reserved_by_role(allocation);
        let mut frameworks: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (id, framework) in &self.frameworks {
            for role in &framework.roles {
                frameworks.entry(role).or_default().push(id.to_string());
            }
        }
        let mut roles: Vec<RoleView> = allocation
            .roles
            .iter()
            .map(|role| {
                let mut ids = frameworks.remove(role.role.as_str()).unwrap_or_default();
                ids.sort();
                RoleView {
                    name: role.role.clone(),
                    weight: role.weight,
                    dominant_share: role.share,
                    weighted_share: role.weighted_share,
                    allocated: role.allocated.clone(),
                    framework_ids: ids,
                    consumption: role.consumption.clone(),
                    quota: role.quota.clone(),
                    reserved: reserved.remove(role.role.as_str()),
                }
            })
            .collect();
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        roles
    }
}

/// Reservations on every agent, quantities summed by the role they are reserved for.
fn reserved_by_role(allocation: &Snapshot) -> HashMap<&str, Resources> {
    let mut reserved: HashMap<&str, Resources> = HashMap::new();
    for agent in &allocation.agents {
        for item in agent.total.iter() {
            if let Some(role) = item.reservation()
                && item.kind() == Kind::Scalar
                && let Ok(entry) = Resources::new().with(item.name(), item.amount())
            {
                reserved.entry(role).or_default().add(&entry);
            }
        }
    }
    reserved
}

/// A reused view is current when the task's latest status is the one it was built from.
fn is_current(view: &TaskView, task: &Task) -> bool {
    view.updated_time == task.status.timestamp
        && view.state == task.state().name()
        && view.message == task.status.message
        && view.agent_id == task.agent_id.as_str()
        && view.suspended == task.suspended
}

fn agent_view(agent: &Agent, held: Option<&wasmesos_allocator::AgentSnapshot>) -> AgentView {
    AgentView {
        id: agent.info.id.clone(),
        hostname: agent.info.hostname.clone(),
        address: agent.info.address.clone(),
        active: agent.connected,
        registered_time: agent.registered_at,
        // The allocator's total carries dynamic reservations.
        total: held.map_or(&agent.total, |a| &a.total).clone(),
        used: held.map(|a| a.used.clone()).unwrap_or_default(),
        offered: held.map(|a| a.offered.clone()).unwrap_or_default(),
        active_tasks: agent.tasks.len(),
        deactivated: false,
        drain: None,
        unavailability: None,
        info: agent.info.clone(),
    }
}

fn task_view(task: &Task) -> TaskView {
    let status = &task.status;
    let state = task.state();
    TaskView {
        task_id: task.info.task_id.clone(),
        name: task.info.name.clone(),
        framework_id: status.framework_id.clone(),
        agent_id: task.agent_id.to_string(),
        state: state.name().to_string(),
        reason: reason_code(status.reason),
        message: status.message.clone(),
        resources: task.resources.clone(),
        executor_digest: task
            .info
            .executor
            .as_ref()
            .map(|e| e.digest.clone())
            .unwrap_or_default(),
        started_time: task.started_at,
        updated_time: status.timestamp,
        exit_code: status.exit_code,
        healthy: status.healthy,
        terminal: state.is_terminal(),
        suspended: task.suspended,
    }
}

/// Each role's weight multiplied down its path (`a/b` weighs `w(a) * w(a/b)`).
fn effective_weights(allocation: &Snapshot) -> HashMap<&str, f64> {
    let own: HashMap<&str, f64> = allocation
        .roles
        .iter()
        .map(|r| (r.role.as_str(), r.weight))
        .collect();
    own.keys()
        .map(|role| {
            let weight = role_path(role).fold(1.0, |weight, prefix| {
                weight * own.get(prefix).copied().unwrap_or(1.0)
            });
            (*role, weight)
        })
        .collect()
}

/// A role and its ancestors, outermost first: `a`, `a/b`, `a/b/c` for `a/b/c`.
fn role_path(role: &str) -> impl Iterator<Item = &str> {
    role.match_indices('/')
        .filter_map(|(at, _)| role.get(..at))
        .chain(std::iter::once(role))
}
