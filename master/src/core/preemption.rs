//! Taking resources back for a role below its quota guarantee.
//!
//! Every [`CHECK_INTERVAL`], while preemption is on and some role has a guarantee, the master
//! looks for a role that consumes less than its guarantee, has a framework that wants offers
//! (subscribed, not suppressed), and cannot get the rest from free resources. It then asks
//! the allocator's planner ([`wasmesos_allocator::preemption`]) for victims among the running
//! tasks of frameworks that opted in (`FrameworkInfo.preemptible`): lowest priority first,
//! then from the role furthest above its share, largest first, and never taking another role
//! below its own guarantee.
//!
//! * When all that is missing is CPU and the operator allows it (`PreemptionMode::Suspend`,
//!   the default), victims are **suspended**: paused in place on their agent, their CPU back
//!   in the pool at once, their memory kept. Their framework sees a RUNNING update with
//!   `suspended = true` (REASON_TASK_SUSPENSION_UPDATED). They are resumed (`suspended =
//!   false`) once no guarantee is short and their agent has the CPU free again.
//! * Otherwise victims are **killed** with their kill policy's grace and end TASK_KILLED with
//!   REASON_TASK_PREEMPTED and a message naming the role they gave way to. While kills are on
//!   their way no further victims are chosen, so one shortfall never costs twice the tasks.
//!
//! A framework whose task cannot be placed says so with a resource request (Mesos's REQUEST
//! call; `Scheduler.Request`): the resources one task needs, on one agent, at the task's
//! priority (else its role's). At the next check, if no agent has them free, preemptible
//! tasks of strictly lower priority give way on the agent where the fewest must, by the same
//! rules. A request is answered once (victims chosen, or none possible) or dropped after
//! [`REQUEST_TTL`]; a framework still waiting asks again.

use std::collections::HashMap;
use std::time::Duration;

use wasmesos_allocator::preemption::{self, Action, Amounts, Candidate, Context, Need};
use wasmesos_allocator::{AgentId, FrameworkId, Resources, Snapshot};
use wasmesos_proto::v1::{Reason, TaskState, TaskStatus, agent_command};

use super::{Core, Time};
use crate::config::PreemptionMode;

/// How often shortfalls are looked for.
pub(super) const CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// How long an unanswered resource request waits for a check.
pub(super) const REQUEST_TTL: Duration = Duration::from_secs(60);

/// Resource requests kept per framework; a newer one replaces the oldest beyond it.
const MAX_REQUESTS_PER_FRAMEWORK: usize = 64;

/// A running task's key: its framework and id.
type TaskKey = (FrameworkId, String);

/// The preemptions in progress.
#[derive(Debug, Default)]
pub(super) struct Preemptions {
    /// Tasks suspended for a preemption: their CPU is back in the allocator's free pool.
    suspended: HashMap<TaskKey, Suspended>,
    /// Tasks being killed for a preemption, with why, until they end.
    killing: HashMap<TaskKey, String>,
    /// When shortfalls are next looked for.
    next_check: Time,
    /// Resource requests of frameworks with a task they cannot place, oldest first.
    requests: Vec<Demand>,
}

/// One framework's resource request.
#[derive(Debug)]
struct Demand {
    framework_id: FrameworkId,
    resources: Amounts,
    agent_id: Option<AgentId>,
    priority: i32,
    expires: Time,
}

#[derive(Debug)]
struct Suspended {
    agent_id: AgentId,
    role: String,
    /// What the task gave back: its CPU.
    cpus: Resources,
}

impl Preemptions {
    /// Whether any task is suspended for a preemption.
    pub(super) fn any_suspended(&self) -> bool {
        !self.suspended.is_empty()
    }
}

impl Core {
    /// When the next preemption check is due, if one may be needed: a role has a guarantee,
    /// or a task waits to be resumed.
    pub(super) fn preemption_wakeup(&self) -> Option<Time> {
        if self.config.preemption == PreemptionMode::Off {
            return None;
        }
        let watching = self.preemptions.any_suspended()
            || !self.preemptions.requests.is_empty()
            || self
                .config
                .role_quotas
                .values()
                .any(|q| !q.guarantee.is_empty())
            || self.quota_set_at_runtime;
        watching.then_some(self.preemptions.next_check)
    }

    /// Brings the next preemption check forward to just after the allocation round that a
    /// change of demand (a subscription, a revive, a new guarantee) has asked for, so that a
    /// role whose guarantee the free resources cannot meet waits for no 100 ms boundary.
    pub(super) fn check_preemption_soon(&mut self, now: Time) {
        let at = self.allocation_due.unwrap_or(now);
        self.preemptions.next_check = self.preemptions.next_check.min(at);
    }

    /// Looks for a guarantee to meet by preemption, and for suspended tasks to resume.
    pub(super) fn check_preemption(&mut self, now: Time) {
        if self.preemption_wakeup().is_none_or(|at| at > now) {
            return;
        }
        self.preemptions.next_check = now.saturating_add(CHECK_INTERVAL);
        let snapshot = self.allocator.snapshot();
        let short = self.short_roles(&snapshot);
        let requests = std::mem::take(&mut self.preemptions.requests);
        if short.is_empty() && requests.is_empty() {
            self.resume_suspended(&snapshot, now);
            return;
        }
        if !self.preemptions.killing.is_empty() {
            // Earlier victims are still ending; their resources are on their way.
            self.preemptions.requests = requests
                .into_iter()
                .filter(|demand| demand.expires > now)
                .collect();
            return;
        }
        for (role, missing) in short {
            self.preempt_for(&role, missing, &snapshot, now);
        }
        for demand in requests {
            if demand.expires > now && self.frameworks.contains_key(&demand.framework_id) {
                self.preempt_for_request(&demand, &snapshot, now);
            }
        }
    }

    /// REQUEST (`Scheduler.Request`): resources a task of the framework waits for.
    pub fn request_resources(
        &mut self,
        req: wasmesos_proto::v1::ResourceRequest,
        now: Time,
    ) -> Result<(), crate::Error> {
        let framework_id = self.subscribed(&req.framework_id)?;
        let resources = super::convert::resources_from_proto(
            req.resources.as_ref(),
            wasmesos_proto::resources::Amounts::Positive,
        )
        .map_err(|why| crate::error::invalid("resources", why))?;
        let amounts = preemption::amounts(&resources);
        if amounts.is_empty() {
            return Err(crate::error::invalid(
                "resources",
                "name at least one scalar resource",
            ));
        }
        let agent_id = (!req.agent_id.is_empty()).then(|| AgentId::from(req.agent_id.as_str()));
        if let Some(agent) = &agent_id
            && !self.agents.contains_key(agent)
        {
            // Gone meanwhile, or never known: nothing there to free (Mesos ignores it too).
            tracing::debug!(%agent, "a resource request for an unknown agent: ignored");
            return Ok(());
        }
        let role = self
            .frameworks
            .get(&framework_id)
            .and_then(|framework| framework.roles.first().cloned())
            .unwrap_or_default();
        let priority = req
            .priority
            .or_else(|| self.config.role_priorities.get(&role).copied())
            .unwrap_or(0);
        if self.config.preemption == PreemptionMode::Off {
            return Ok(());
        }
        let requests = &mut self.preemptions.requests;
        let mine = requests
            .iter()
            .filter(|d| d.framework_id == framework_id)
            .count();
        if mine >= MAX_REQUESTS_PER_FRAMEWORK
            && let Some(oldest) = requests.iter().position(|d| d.framework_id == framework_id)
        {
            requests.remove(oldest);
        }
        requests.push(Demand {
            framework_id,
            resources: amounts,
            agent_id,
            priority,
            expires: now.saturating_add(REQUEST_TTL),
        });
        // Answered at the next check, not at the next 100 ms boundary.
        self.preemptions.next_check = self.preemptions.next_check.min(now);
        Ok(())
    }

    /// Frees one request's resources on one agent from tasks of lower priority, unless an
    /// agent has them free already (or offered to the framework).
    fn preempt_for_request(&mut self, demand: &Demand, snapshot: &Snapshot, now: Time) {
        let free: HashMap<AgentId, Amounts> = snapshot
            .agents
            .iter()
            .filter(|agent| {
                demand
                    .agent_id
                    .as_ref()
                    .is_none_or(|only| *only == agent.id)
            })
            .map(|agent| {
                let mut free = preemption::amounts(&agent.free.unreserved());
                for offer in self.offers.values() {
                    if offer.framework_id == demand.framework_id && offer.agent_id == agent.id {
                        for (name, amount) in preemption::amounts(&offer.resources) {
                            *free.entry(name).or_default() += amount;
                        }
                    }
                }
                (agent.id.clone(), free)
            })
            .collect();
        let (keys, candidates) = self.preemption_candidates(None, demand.agent_id.as_ref());
        let context = Context {
            free,
            room: guarantee_room(snapshot),
            excess: snapshot
                .roles
                .iter()
                .map(|r| (r.role.clone(), r.weighted_share))
                .collect(),
        };
        let need = Need {
            resources: demand.resources.clone(),
            priority: Some(demand.priority),
            per_agent: true,
        };
        let Some(plan) = preemption::plan(&need, &candidates, &context) else {
            tracing::debug!(framework_id = %demand.framework_id, "no lower-priority task can free the request");
            return;
        };
        let why = format!(
            "preempted: a task of priority {} needs the resources",
            demand.priority
        );
        self.carry_out(plan, &keys, &candidates, &why);
        self.request_allocation(now);
    }

    /// Roles below their guarantee that want offers, with what free resources cannot cover.
    fn short_roles(&self, snapshot: &Snapshot) -> Vec<(String, Amounts)> {
        let mut free = Amounts::new();
        for agent in &snapshot.agents {
            for (name, amount) in preemption::amounts(&agent.free.unreserved()) {
                *free.entry(name).or_default() += amount;
            }
        }
        let mut short = Vec::new();
        for role in &snapshot.roles {
            let Some(quota) = &role.quota else { continue };
            if quota.guarantee.is_empty() || !self.role_wants_offers(snapshot, &role.role) {
                continue;
            }
            let guarantee = preemption::amounts(&quota.guarantee);
            let consumed = preemption::amounts(&role.consumption);
            let missing: Amounts = guarantee
                .iter()
                .filter_map(|(name, amount)| {
                    let short = amount
                        - consumed.get(name).copied().unwrap_or(0.0)
                        - free.get(name).copied().unwrap_or(0.0);
                    (short > 1e-9).then(|| (name.clone(), short))
                })
                .collect();
            if !missing.is_empty() {
                short.push((role.role.clone(), missing));
            }
        }
        short
    }

    /// Whether a subscribed framework of `role` (or below it) is not suppressed there.
    fn role_wants_offers(&self, snapshot: &Snapshot, role: &str) -> bool {
        snapshot.frameworks.iter().any(|framework| {
            framework.active
                && framework
                    .roles
                    .iter()
                    .any(|r| !r.suppressed && is_within(&r.role, role))
        })
    }

    fn preempt_for(&mut self, role: &str, missing: Amounts, snapshot: &Snapshot, now: Time) {
        let (keys, candidates) = self.preemption_candidates(Some(role), None);
        if candidates.is_empty() {
            return;
        }
        let context = Context {
            // What is missing is already net of the free resources.
            free: HashMap::new(),
            room: guarantee_room(snapshot),
            excess: snapshot
                .roles
                .iter()
                .map(|r| (r.role.clone(), r.weighted_share))
                .collect(),
        };
        let need = Need {
            resources: missing,
            priority: None,
            per_agent: false,
        };
        let Some(plan) = preemption::plan(&need, &candidates, &context) else {
            return;
        };
        let why = format!("preempted: role '{role}' is below its quota guarantee");
        self.carry_out(plan, &keys, &candidates, &why);
        self.request_allocation(now);
    }

    fn carry_out(
        &mut self,
        plan: preemption::Plan,
        keys: &[TaskKey],
        candidates: &[Candidate],
        why: &str,
    ) {
        for (index, action) in plan.victims {
            let (Some((framework_id, task_id)), Some(candidate)) =
                (keys.get(index), candidates.get(index))
            else {
                continue;
            };
            match action {
                Action::Suspend => self.suspend_task(framework_id, task_id, candidate, why),
                Action::Kill => self.kill_victim(framework_id, task_id, why),
            }
        }
    }

    /// The running tasks of preemptible frameworks, not already giving way: outside `role`'s
    /// subtree (and not above it) for a guarantee, on `agent` only where one is named.
    fn preemption_candidates(
        &self,
        role: Option<&str>,
        agent: Option<&AgentId>,
    ) -> (Vec<TaskKey>, Vec<Candidate>) {
        let suspend_mode = self.config.preemption == PreemptionMode::Suspend;
        let mut keys = Vec::new();
        let mut candidates = Vec::new();
        for (framework_id, framework) in &self.frameworks {
            if !framework.info.preemptible {
                continue;
            }
            for (task_id, task) in &framework.tasks {
                let related = role
                    .is_some_and(|role| is_within(&task.role, role) || is_within(role, &task.role));
                if task.state() != TaskState::TaskRunning
                    || related
                    || agent.is_some_and(|only| *only != task.agent_id)
                {
                    continue;
                }
                let key = (framework_id.clone(), task_id.clone());
                if self.preemptions.suspended.contains_key(&key)
                    || self.preemptions.killing.contains_key(&key)
                {
                    continue;
                }
                candidates.push(Candidate {
                    agent_id: task.agent_id.clone(),
                    role: task.role.clone(),
                    priority: self.task_priority(task),
                    resources: preemption::amounts(&task.resources),
                    // A suspended service would fail its health check and be killed for it.
                    suspendable: suspend_mode && task.info.health_check.is_none(),
                });
                keys.push(key);
            }
        }
        (keys, candidates)
    }

    /// A task's priority: its own, else its role's (`role_priorities`), else 0.
    pub(super) fn task_priority(&self, task: &super::tasks::Task) -> i32 {
        task.info
            .priority
            .or_else(|| self.config.role_priorities.get(&task.role).copied())
            .unwrap_or(0)
    }

    fn suspend_task(
        &mut self,
        framework_id: &FrameworkId,
        task_id: &str,
        victim: &Candidate,
        why: &str,
    ) {
        let cpus = victim.resources.get("cpus").copied().unwrap_or(0.0);
        let Ok(cpus) = Resources::new().with("cpus", cpus) else {
            return;
        };
        if let Err(err) =
            self.allocator
                .recover_used(framework_id, &victim.agent_id, &victim.role, &cpus)
        {
            tracing::error!(task_id, %err, "allocator refused a suspended task's CPU");
            return;
        }
        tracing::info!(task_id, %framework_id, agent_id = %victim.agent_id, "{why}: suspending");
        self.metrics.tasks_suspended.inc();
        self.send_suspend(
            &victim.agent_id,
            framework_id,
            task_id,
            true,
            why.to_owned(),
        );
        self.set_suspended(framework_id, task_id, true);
        self.preemptions.suspended.insert(
            (framework_id.clone(), task_id.to_owned()),
            Suspended {
                agent_id: victim.agent_id.clone(),
                role: victim.role.clone(),
                cpus,
            },
        );
    }

    fn kill_victim(&mut self, framework_id: &FrameworkId, task_id: &str, why: &str) {
        let Some(task) = self
            .frameworks
            .get(framework_id)
            .and_then(|framework| framework.tasks.get(task_id))
        else {
            return;
        };
        tracing::info!(task_id, %framework_id, agent_id = %task.agent_id, "{why}: killing");
        self.metrics.tasks_preempted.inc();
        self.outbox.command(
            task.agent_id.as_str(),
            agent_command::Command::Kill(agent_command::Kill {
                framework_id: framework_id.to_string(),
                task_id: task_id.to_owned(),
                kill_policy: None,
                reason: Reason::TaskPreempted as i32,
            }),
        );
        self.preemptions
            .killing
            .insert((framework_id.clone(), task_id.to_owned()), why.to_owned());
    }

    /// Tells a task's agent to suspend it in place or resume it; the agent reports the
    /// change to the framework with `message`.
    pub(super) fn send_suspend(
        &mut self,
        agent_id: &AgentId,
        framework_id: &FrameworkId,
        task_id: &str,
        suspended: bool,
        message: String,
    ) {
        self.outbox.command(
            agent_id.as_str(),
            agent_command::Command::Suspend(agent_command::Suspend {
                framework_id: framework_id.to_string(),
                task_id: task_id.to_owned(),
                suspended,
                message,
            }),
        );
    }

    fn set_suspended(&mut self, framework_id: &FrameworkId, task_id: &str, suspended: bool) {
        if let Some(task) = self
            .frameworks
            .get_mut(framework_id)
            .and_then(|framework| framework.tasks.get_mut(task_id))
        {
            task.suspended = suspended;
        }
    }

    /// Resumes suspended tasks whose agent has their CPU free again (no guarantee is short).
    fn resume_suspended(&mut self, snapshot: &Snapshot, now: Time) {
        if self.preemptions.suspended.is_empty() {
            return;
        }
        let mut free: HashMap<&AgentId, Amounts> = snapshot
            .agents
            .iter()
            .map(|agent| (&agent.id, preemption::amounts(&agent.free.unreserved())))
            .collect();
        let mut resumed = Vec::new();
        let mut gone = Vec::new();
        for (key, suspended) in &self.preemptions.suspended {
            let running = self
                .frameworks
                .get(&key.0)
                .and_then(|framework| framework.tasks.get(&key.1))
                .is_some_and(|task| !task.is_terminal());
            if !running {
                gone.push(key.clone());
                continue;
            }
            let cpus = suspended.cpus.get("cpus");
            let Some(left) = free
                .get_mut(&suspended.agent_id)
                .and_then(|f| f.get_mut("cpus"))
            else {
                continue;
            };
            if *left + 1e-9 >= cpus {
                *left -= cpus;
                resumed.push(key.clone());
            }
        }
        for key in gone {
            self.preemptions.suspended.remove(&key);
        }
        for key in resumed {
            let Some(suspended) = self.preemptions.suspended.remove(&key) else {
                continue;
            };
            let (framework_id, task_id) = key;
            if let Err(err) = self.allocator.add_used(
                &framework_id,
                &suspended.agent_id,
                &suspended.role,
                &suspended.cpus,
            ) {
                tracing::warn!(%task_id, %err, "cannot take back a suspended task's CPU yet");
                self.preemptions
                    .suspended
                    .insert((framework_id, task_id), suspended);
                continue;
            }
            tracing::info!(%task_id, %framework_id, "resuming a suspended task");
            self.set_suspended(&framework_id, &task_id, false);
            self.metrics.tasks_resumed.inc();
            self.send_suspend(
                &suspended.agent_id,
                &framework_id,
                &task_id,
                false,
                "resumed: its CPU is free again".into(),
            );
        }
        self.request_allocation(now);
    }

    /// A task ended: what of its resources the allocator still counts as used (a suspended
    /// task's CPU went back at its suspension), and the preemption's reason for a victim's
    /// last update.
    pub(super) fn preemption_ended(
        &mut self,
        framework_id: &FrameworkId,
        task_id: &str,
        resources: &Resources,
    ) -> Resources {
        let key = (framework_id.clone(), task_id.to_owned());
        self.preemptions.killing.remove(&key);
        match self.preemptions.suspended.remove(&key) {
            Some(suspended) => resources
                .checked_sub(&suspended.cpus)
                .unwrap_or_else(|| resources.clone()),
            None => resources.clone(),
        }
    }

    /// The message of a preempted task's TASK_KILLED: why it gave way.
    pub(super) fn explain_preemption(&self, framework_id: &FrameworkId, status: &mut TaskStatus) {
        if status.reason != Reason::TaskPreempted as i32 {
            return;
        }
        if let Some(why) = self
            .preemptions
            .killing
            .get(&(framework_id.clone(), status.task_id.clone()))
        {
            status.message.clone_from(why);
        }
    }
}

/// How much each role with a guarantee may lose before it falls below it.
fn guarantee_room(snapshot: &Snapshot) -> HashMap<String, Amounts> {
    snapshot
        .roles
        .iter()
        .filter_map(|r| {
            let guarantee = preemption::amounts(&r.quota.as_ref()?.guarantee);
            let room = preemption::amounts(&r.consumption)
                .into_iter()
                .map(|(name, amount)| {
                    let kept = guarantee.get(&name).copied().unwrap_or(0.0);
                    (name, (amount - kept).max(0.0))
                })
                .collect();
            Some((r.role.clone(), room))
        })
        .collect()
}

/// Whether `role` is `ancestor` or below it.
fn is_within(role: &str, ancestor: &str) -> bool {
    role == ancestor
        || role
            .strip_prefix(ancestor)
            .is_some_and(|rest| rest.starts_with('/'))
}
