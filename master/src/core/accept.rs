//! ACCEPT: validate every offer, operation and task, then apply all of them or none.
//!
//! Rules: each offer id is known, belongs to the caller and is listed once; operations are
//! checked in order against what the offers have left (RESERVE / UNRESERVE in
//! `operations.rs`, so a LAUNCH after a RESERVE can use the reserved resources); task ids
//! are well formed and unused in the framework; each task's executor is an uploaded digest
//! or a `program` among `uris` that follow the shared fetch rules (`wasmesos_proto::fetch`),
//! every `wasmesos://` uri naming an uploaded component; its resources are positive and, summed per agent and role, fit in the accepted
//! offers. On any violation nothing launches or changes reservation, every offer's
//! resources return to the pool unfiltered, and the framework gets TASK_ERROR per task (and
//! an ERROR event for offer and operation problems). Otherwise the agent receives ONE
//! launch command per (agent, ACCEPT), and what the tasks did not use returns to the pool
//! under the call's refusal filter.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use wasmesos_allocator::{AgentId, FrameworkId, Resources};
use wasmesos_proto::fetch;
use wasmesos_proto::v1::{AcceptRequest, Reason, TaskInfo, TaskState, agent_command};

use super::convert::{Amounts, MasterStatus, resources_from_proto};
use super::frameworks::Framework;
use super::offers::OutstandingOffer;
use super::operations::{self, Step, parse_operations, tasks_of};
use super::tasks::Task;
use super::{Core, Time};
use crate::Error;
use crate::artifacts::parse_digest;
use crate::error::invalid;

/// Longest task id accepted; agents name sandbox directories after task ids.
const MAX_TASK_ID_LEN: usize = 200;

/// Offered resources on one agent under one role, as operations and launches change them.
pub(super) struct Pool {
    pub(super) agent_id: AgentId,
    pub(super) role: String,
    /// What the offers hold, in the form the operations so far leave it.
    pub(super) offered: Resources,
    /// What no task has drawn yet.
    pub(super) left: Resources,
}

/// An ACCEPT that checked out: conversions to apply, then tasks to launch.
struct Plan {
    conversions: Vec<operations::Planned>,
    tasks: Vec<Planned>,
}

/// Why nothing happens: a TASK_ERROR per task, and an ERROR event when `error` is set.
#[derive(Default)]
struct Rejected {
    refusals: Vec<Refusal>,
    error: Option<String>,
}

/// A task that passed validation.
struct Planned {
    info: TaskInfo,
    drawn: Drawn,
}

/// What a task draws, and from which pool: the pool's agent and role.
struct Drawn {
    agent_id: AgentId,
    role: String,
    resources: Resources,
}

/// One task's check: what it draws, or why it is refused.
type Verdict = Result<Drawn, (Reason, String)>;

/// A task refused, with the reason and message its TASK_ERROR carries.
/// The largest TaskInfo the master records: far under what one registry record may hold
/// (ZooKeeper's 1 MB znode in HA), so no task a framework sends can fail a registry commit.
pub const MAX_TASK_INFO_BYTES: usize = 512 * 1024;

struct Refusal {
    task_id: String,
    agent_id: String,
    reason: Reason,
    message: String,
}

impl Core {
    /// ACCEPT: applies the operations and launches the tasks, or nothing (see the module docs).
    pub fn accept(&mut self, req: AcceptRequest, now: Time) -> Result<(), Error> {
        let framework_id = self.subscribed(&req.framework_id)?;
        let refuse = self.refuse_filter(req.filters.as_ref())?;
        if req.offer_ids.is_empty() {
            return Err(invalid("offer_ids", "at least one offer is required"));
        }
        let steps = parse_operations(&req)?;
        let (offers, problems) = self.take_offers(&framework_id, &req.offer_ids);
        if !problems.is_empty() {
            let message = format!("ACCEPT refused, nothing launched: {}", problems.join("; "));
            let rejected = rejected_all(tasks_of(&steps), Reason::InvalidOffers, message);
            self.reject(&framework_id, &offers, rejected, now);
            return Ok(());
        }
        let mut pools = pools_of(&offers);
        let plan = match self.plan(&framework_id, &mut pools, steps) {
            Ok(plan) => plan,
            Err(rejected) => {
                self.reject(&framework_id, &offers, rejected, now);
                return Ok(());
            }
        };
        if let Err(why) = self.apply_conversions(&framework_id, &plan.conversions) {
            let message = format!("ACCEPT refused, nothing launched or reserved: {why}");
            let tasks = plan.tasks.iter().map(|task| &task.info);
            let rejected = rejected_all(tasks, Reason::InvalidOffers, message);
            self.reject(&framework_id, &offers, rejected, now);
            return Ok(());
        }
        self.launch(&framework_id, &pools, plan.tasks, refuse, now);
        Ok(())
    }

    /// Removes the listed offers from the outstanding set, reporting every id that is
    /// unknown, another framework's, or listed twice (those are left untouched).
    fn take_offers(
        &mut self,
        framework_id: &FrameworkId,
        ids: &[String],
    ) -> (Vec<OutstandingOffer>, Vec<String>) {
        let mut seen = HashSet::new();
        let mut taken = Vec::new();
        let mut problems = Vec::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                problems.push(format!("offer {id} is listed more than once"));
                continue;
            }
            match self.offers.get(id) {
                None => problems.push(format!(
                    "offer {id} is not outstanding (unknown, already used, declined or rescinded)"
                )),
                Some(offer) if offer.framework_id != *framework_id => {
                    problems.push(format!("offer {id} was made to another framework"));
                }
                Some(_) => taken.extend(self.offers.remove(id)),
            }
        }
        (taken, problems)
    }

    /// Checks every operation in order against the framework and the pools, charging the
    /// pools as it goes.
    fn plan(
        &self,
        framework_id: &FrameworkId,
        pools: &mut [Pool],
        steps: Vec<Step>,
    ) -> Result<Plan, Rejected> {
        let Some(framework) = self.frameworks.get(framework_id) else {
            return Err(Rejected::default());
        };
        let only_agent = single_agent(pools);
        let mut ids = HashSet::new();
        let mut verdicts = Vec::new();
        let mut conversions = Vec::new();
        let mut problems = Vec::new();
        for step in steps {
            match step {
                Step::Launch(tasks) => {
                    for mut task in tasks {
                        if task.agent_id.is_empty()
                            && let Some(agent) = &only_agent
                        {
                            task.agent_id = agent.to_string();
                        }
                        let verdict = self.check_task(framework, &mut ids, pools, &task);
                        verdicts.push((task, verdict));
                    }
                }
                Step::Convert(conversion) => match conversion.plan(pools) {
                    Ok(planned) => conversions.push(planned),
                    Err(why) => problems.push(why),
                },
            }
        }
        if !problems.is_empty() {
            let message = format!(
                "ACCEPT refused, nothing launched or reserved: {}",
                problems.join("; ")
            );
            let tasks = verdicts.iter().map(|(task, _)| task);
            return Err(rejected_all(tasks, Reason::InvalidOffers, message));
        }
        let tasks = task_verdicts(verdicts)?;
        Ok(Plan { conversions, tasks })
    }

    /// One task's checks; on success, what it draws and from which pool.
    fn check_task(
        &self,
        framework: &Framework,
        ids: &mut HashSet<String>,
        pools: &mut [Pool],
        task: &TaskInfo,
    ) -> Verdict {
        let bad_task = |message: String| (Reason::InvalidTask, message);
        check_task_id(&task.task_id).map_err(bad_task)?;
        let size = prost::Message::encoded_len(task);
        if size > MAX_TASK_INFO_BYTES {
            return Err(bad_task(format!(
                "the task is {size} bytes encoded, more than the {MAX_TASK_INFO_BYTES} a task \
                 record may take: pass large data through uris instead"
            )));
        }
        if framework.tasks.contains_key(&task.task_id) || !ids.insert(task.task_id.clone()) {
            return Err(bad_task(format!(
                "task id {:?} is already used by this framework",
                task.task_id
            )));
        }
        if task.agent_id.is_empty() {
            return Err(bad_task(
                "agent_id is required when the offers are on several agents".into(),
            ));
        }
        self.check_executor(task)?;
        let resources = resources_from_proto(task.resources.as_ref(), Amounts::Positive)
            .map_err(|why| bad_task(format!("resources: {why}")))?;
        if resources.is_empty() {
            return Err(bad_task(
                "resources: a task must ask for some resources".into(),
            ));
        }
        super::oversubscription::check_no_mix(&resources).map_err(bad_task)?;
        let (agent_id, role) = charge(pools, &task.agent_id, &resources).map_err(bad_task)?;
        Ok(Drawn {
            agent_id,
            role,
            resources,
        })
    }

    /// The executor is an uploaded component (`digest`) or a fetched one (`program` among
    /// `uris`); the uris follow the shared fetch rules and every `wasmesos://` one names an
    /// uploaded component.
    fn check_executor(&self, task: &TaskInfo) -> Result<(), (Reason, String)> {
        let Some(executor) = task.executor.as_ref() else {
            return Err((Reason::InvalidTask, "executor is required".into()));
        };
        let plan = fetch::plan(executor).map_err(|why| (Reason::InvalidTask, why.0))?;
        match (executor.digest.is_empty(), plan.program.is_some()) {
            (true, false) => {
                return Err((
                    Reason::InvalidTask,
                    "executor needs a digest (an uploaded component) or a program (a fetched one)"
                        .into(),
                ));
            }
            (false, true) => {
                return Err((
                    Reason::InvalidTask,
                    "executor sets both a digest and a program; set one".into(),
                ));
            }
            (false, false) => {
                let digest = parse_digest(&executor.digest)
                    .map_err(|err| (Reason::InvalidTask, format!("executor.{err}")))?;
                self.check_uploaded(&digest)?;
            }
            (true, true) => {}
        }
        for fetched in &plan.fetches {
            if let fetch::Source::Artifact(digest) = &fetched.source {
                self.check_uploaded(digest)?;
            }
        }
        Ok(())
    }

    fn check_uploaded(&self, digest: &str) -> Result<(), (Reason, String)> {
        if self.artifacts.contains(digest) {
            return Ok(());
        }
        Err((
            Reason::ExecutorNotFound,
            format!("executor {digest} has not been uploaded to the master"),
        ))
    }

    /// Nothing launches: the offers' resources return unfiltered, each task gets TASK_ERROR,
    /// and the framework an ERROR event when the offers or operations were at fault.
    fn reject(
        &mut self,
        framework_id: &FrameworkId,
        offers: &[OutstandingOffer],
        rejected: Rejected,
        now: Time,
    ) {
        for offer in offers {
            self.recover_offer(offer, None, now);
        }
        let timestamp = self.unix(now);
        for refusal in rejected.refusals {
            tracing::info!(task_id = %refusal.task_id, framework_id = %framework_id,
                reason = ?refusal.reason, message = %refusal.message, "task refused");
            let status = MasterStatus {
                framework_id: framework_id.as_str(),
                agent_id: &refusal.agent_id,
                task_id: &refusal.task_id,
                timestamp,
            }
            .build(TaskState::TaskError, refusal.reason, refusal.message);
            self.outbox.update(framework_id.as_str(), status);
        }
        if let Some(message) = rejected.error {
            self.outbox.error(framework_id.as_str(), message);
        }
    }

    /// Everything checked out: record the tasks as STAGING, move their resources from
    /// offered to used, return the rest under the filter, and send one launch per agent.
    fn launch(
        &mut self,
        framework_id: &FrameworkId,
        pools: &[Pool],
        planned: Vec<Planned>,
        refuse: Duration,
        now: Time,
    ) {
        for pool in pools {
            let used = pool.offered.checked_sub(&pool.left).unwrap_or_default();
            if !used.is_empty()
                && let Err(err) =
                    self.allocator
                        .launch(framework_id, &pool.agent_id, &pool.role, &used)
            {
                tracing::error!(framework_id = %framework_id, agent_id = %pool.agent_id,
                    %err, "allocator refused a validated launch");
            }
            let rest = OutstandingOffer {
                framework_id: framework_id.clone(),
                agent_id: pool.agent_id.clone(),
                role: pool.role.clone(),
                resources: pool.left.clone(),
            };
            self.recover_offer(&rest, Some(refuse), now);
        }
        let mut per_agent: HashMap<AgentId, Vec<TaskInfo>> = HashMap::new();
        for mut task in planned {
            let Drawn {
                agent_id,
                role,
                resources,
            } = task.drawn;
            // The record keeps no copy of the input data: only the agent needs it.
            let data = std::mem::take(&mut task.info.data);
            let record = task.info.clone();
            task.info.data = data;
            self.record_staging(framework_id, &agent_id, role, record, resources, now);
            per_agent.entry(agent_id).or_default().push(task.info);
        }
        let framework = self.frameworks.get(framework_id).map(|f| f.info.clone());
        for (agent_id, tasks) in per_agent {
            tracing::debug!(agent_id = %agent_id, framework_id = %framework_id,
                tasks = tasks.len(), "launch");
            let launch = agent_command::Launch {
                framework: framework.clone(),
                tasks,
            };
            self.outbox
                .command(agent_id.as_str(), agent_command::Command::Launch(launch));
        }
    }

    fn record_staging(
        &mut self,
        framework_id: &FrameworkId,
        agent_id: &AgentId,
        role: String,
        info: TaskInfo,
        resources: Resources,
        now: Time,
    ) {
        let timestamp = self.unix(now);
        let status = MasterStatus {
            framework_id: framework_id.as_str(),
            agent_id: agent_id.as_str(),
            task_id: &info.task_id,
            timestamp,
        }
        .build(TaskState::TaskStaging, Reason::Unspecified, String::new());
        let info_task_id = info.task_id.clone();
        let _span = tracing::debug_span!("task", task_id = %info.task_id,
            framework_id = %framework_id, agent_id = %agent_id)
        .entered();
        tracing::debug!("staging");
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent
                .tasks
                .insert((framework_id.clone(), info.task_id.clone()));
        }
        if let Some(framework) = self.frameworks.get_mut(framework_id) {
            let task = Task {
                agent_id: agent_id.clone(),
                role,
                resources,
                status,
                started_at: timestamp,
                freed: false,
                suspended: false,
                info,
            };
            framework.tasks.insert(task.info.task_id.clone(), task);
        }
        self.persist_task(framework_id, &info_task_id);
    }
}

/// The planned tasks when every verdict is good; otherwise a TASK_ERROR for each task, the
/// valid ones naming the culprits.
fn task_verdicts(verdicts: Vec<(TaskInfo, Verdict)>) -> Result<Vec<Planned>, Rejected> {
    if verdicts.iter().all(|(_, verdict)| verdict.is_ok()) {
        return Ok(verdicts
            .into_iter()
            .filter_map(|(info, verdict)| {
                Some(Planned {
                    info,
                    drawn: verdict.ok()?,
                })
            })
            .collect());
    }
    let culprits: Vec<String> = verdicts
        .iter()
        .filter(|(_, verdict)| verdict.is_err())
        .map(|(task, _)| task.task_id.clone())
        .collect();
    let refusals = verdicts
        .into_iter()
        .map(|(task, verdict)| match verdict {
            Err((reason, message)) => refusal(&task, reason, message),
            Ok(_) => refusal(
                &task,
                Reason::InvalidTask,
                format!("not launched: invalid task(s) {culprits:?} in the same ACCEPT"),
            ),
        })
        .collect();
    Err(Rejected {
        refusals,
        error: None,
    })
}

/// Every task refused for the same reason, with an ERROR event carrying `message`.
fn rejected_all<'a>(
    tasks: impl Iterator<Item = &'a TaskInfo>,
    reason: Reason,
    message: String,
) -> Rejected {
    Rejected {
        refusals: tasks
            .map(|task| refusal(task, reason, message.clone()))
            .collect(),
        error: Some(message),
    }
}

/// Offers merged per (agent, role), in the order first seen.
fn pools_of(offers: &[OutstandingOffer]) -> Vec<Pool> {
    let mut pools: Vec<Pool> = Vec::new();
    for offer in offers {
        let same = pools
            .iter_mut()
            .find(|p| p.agent_id == offer.agent_id && p.role == offer.role);
        match same {
            Some(pool) => {
                pool.offered.add(&offer.resources);
                pool.left.add(&offer.resources);
            }
            None => pools.push(Pool {
                agent_id: offer.agent_id.clone(),
                role: offer.role.clone(),
                offered: offer.resources.clone(),
                left: offer.resources.clone(),
            }),
        }
    }
    pools
}

fn single_agent(pools: &[Pool]) -> Option<AgentId> {
    let first = pools.first()?.agent_id.clone();
    pools
        .iter()
        .all(|pool| pool.agent_id == first)
        .then_some(first)
}

/// Draws `resources` from the first pool on the agent that holds them all; returns that
/// pool's agent and role.
fn charge(
    pools: &mut [Pool],
    agent_id: &str,
    resources: &Resources,
) -> Result<(AgentId, String), String> {
    let mut on_agent = false;
    for pool in pools.iter_mut() {
        if pool.agent_id.as_str() != agent_id {
            continue;
        }
        on_agent = true;
        if let Some(left) = pool.left.checked_sub(resources) {
            pool.left = left;
            return Ok((pool.agent_id.clone(), pool.role.clone()));
        }
    }
    if !on_agent {
        return Err(format!("no accepted offer is on agent {agent_id}"));
    }
    if let Some(why) = missing_values(pools, agent_id, resources) {
        return Err(why);
    }
    let left: Vec<String> = pools
        .iter()
        .filter(|pool| pool.agent_id.as_str() == agent_id)
        .map(|pool| format!("{} (role {})", pool.left, pool.role))
        .collect();
    Err(format!(
        "resources {resources} exceed what the offers on agent {agent_id} have left: {}",
        left.join(", ")
    ))
}

/// For ranges (ports) a task asks for that no offer on the agent has left, the values
/// missing, e.g. `ports [40000-40000] are not in the offers on agent a1 (they have
/// [31000-32000] left)`.
fn missing_values(pools: &[Pool], agent_id: &str, resources: &Resources) -> Option<String> {
    let on_agent = || pools.iter().filter(|p| p.agent_id.as_str() == agent_id);
    resources.names().into_iter().find_map(|name| {
        let wanted = resources.ranges(name);
        let mut left = wasmesos_allocator::Ranges::new();
        for pool in on_agent() {
            left.add(&pool.left.ranges(name));
        }
        let missing = wanted.difference(&left);
        (!missing.is_empty()).then(|| {
            let used = match on_agent().any(|p| p.offered.ranges(name).contains(&missing)) {
                true => " or are taken by another task of this ACCEPT",
                false => "",
            };
            format!(
                "{name} {missing} are not in the offers on agent {agent_id}{used} \
                 (they have {name} {left} left)"
            )
        })
    })
}

/// Task ids name sandbox directories on agents, so they must be plain names.
fn check_task_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("task_id is required".into());
    }
    if id.len() > MAX_TASK_ID_LEN {
        return Err(format!("task_id is longer than {MAX_TASK_ID_LEN} bytes"));
    }
    let plain = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !plain || id == "." || id == ".." {
        return Err(format!(
            "task_id {id:?} may only use letters, digits, '-', '_' and '.' (and is not . or ..)"
        ));
    }
    Ok(())
}

fn refusal(task: &TaskInfo, reason: Reason, message: String) -> Refusal {
    Refusal {
        task_id: task.task_id.clone(),
        agent_id: task.agent_id.clone(),
        reason,
        message,
    }
}
