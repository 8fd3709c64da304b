//! The preemption scenario: a cluster full of long, preemptible batch tasks; a role with a
//! CPU guarantee appears and wants its share. Run three ways — no preemption (it waits for
//! batch tasks to end), killing victims, suspending them — on the same seed, it reports how
//! long the guaranteed role waits for its quota and what the batch work pays: task-seconds
//! lost to kills (work thrown away and redone) against task-seconds spent suspended (work
//! delayed, none lost).
//!
//! The preemption step is the master's (`wasmesos-master`'s `core/preemption.rs`) on the
//! same planner ([`crate::preemption::plan`]): every 100 ms, the guarantee minus what the
//! role consumes minus what is free is taken from the batch role, CPU-only shortfalls by
//! suspension where allowed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::preemption::{self, Action, Amounts, Candidate, Context, Need};
use crate::{AgentId, Allocator, AllocatorConfig, Error, FrameworkId, FrameworkSpec, Quota};
use crate::{Resources, SplitMix64};

/// How the scenario takes resources back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Never: the guaranteed role waits for batch tasks to end.
    None,
    Kill,
    Suspend,
}

/// What one run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreemptionReport {
    pub mode: Mode,
    pub agents: usize,
    /// The guarantee, in cpus.
    pub guarantee_cpus: f64,
    /// From the role's appearance to its consumption reaching the guarantee; `None` if it
    /// never did within the run.
    pub time_to_quota: Option<Duration>,
    pub tasks_killed: u64,
    /// Run time of killed tasks, thrown away.
    pub killed_task_seconds: f64,
    pub tasks_suspended: u64,
    /// Time tasks spent suspended: delayed, not lost.
    pub suspended_task_seconds: f64,
}

const TICK: Duration = Duration::from_millis(100);
const BATCH_TASK: &str = "cpus:1;mem:2GiB";
const GOLD_TASK: &str = "cpus:1;mem:1GiB";

struct Task {
    agent: AgentId,
    role: &'static str,
    framework: FrameworkId,
    resources: Resources,
    started: Duration,
    /// When it ends if it keeps running.
    ends: Duration,
    suspended_since: Option<Duration>,
}

/// Runs the scenario once. `quick` shrinks it (100 agents) for tests.
pub fn run_preemption(mode: Mode, quick: bool) -> Result<PreemptionReport, Error> {
    let agents = if quick { 100 } else { 1_000 };
    let appear = Duration::from_secs(60);
    let end = appear + Duration::from_secs(if quick { 300 } else { 900 });
    let guarantee_cpus = (agents * 8) as f64 * 0.2;
    let mut allocator = Allocator::new(AllocatorConfig::default())?;
    for i in 0..agents {
        allocator.add_agent(
            AgentId::from(format!("a{i}").as_str()),
            &"cpus:8;mem:32GiB".parse()?,
        )?;
    }
    let batch: FrameworkId = "batch".into();
    let gold: FrameworkId = "gold".into();
    allocator.add_framework(batch.clone(), FrameworkSpec::with_roles(["batch"]))?;
    let batch_task: Resources = BATCH_TASK.parse()?;
    let gold_task: Resources = GOLD_TASK.parse()?;
    let mut rng = SplitMix64::new(7);
    let mut sim = Sim {
        allocator,
        tasks: HashMap::new(),
        ends: BinaryHeap::new(),
        next_id: 0,
        report: PreemptionReport {
            mode,
            agents,
            guarantee_cpus,
            time_to_quota: None,
            tasks_killed: 0,
            killed_task_seconds: 0.0,
            tasks_suspended: 0,
            suspended_task_seconds: 0.0,
        },
    };
    let mut now = Duration::ZERO;
    let mut gold_present = false;
    while now < end {
        if !gold_present && now >= appear {
            gold_present = true;
            let quota = Quota {
                guarantee: Resources::new().with("cpus", guarantee_cpus)?,
                limit: None,
            };
            sim.allocator.set_quota("gold", quota)?;
            sim.allocator
                .add_framework(gold.clone(), FrameworkSpec::with_roles(["gold"]))?;
        }
        sim.end_tasks(now)?;
        if gold_present && mode != Mode::None {
            sim.preempt(mode, now)?;
        }
        for offer in sim.allocator.allocate(now) {
            // Batch tasks run 10 min ± 5; gold's run for the rest of the scenario.
            let (task, role, duration) = if offer.framework_id == gold {
                (&gold_task, "gold", end)
            } else {
                let spread = rng.below(600) as u64;
                (&batch_task, "batch", Duration::from_secs(300 + spread))
            };
            sim.launch_all(&offer, task, role, now, duration)?;
        }
        if gold_present && sim.report.time_to_quota.is_none() {
            let consumed = sim
                .allocator
                .role_snapshot("gold")
                .map_or(0.0, |r| r.consumption.get("cpus"));
            if consumed + 1e-9 >= guarantee_cpus {
                sim.report.time_to_quota = Some(now - appear);
            }
        }
        now += TICK;
    }
    for task in sim.tasks.values() {
        if let Some(since) = task.suspended_since {
            sim.report.suspended_task_seconds += (end - since).as_secs_f64();
        }
    }
    Ok(sim.report)
}

struct Sim {
    allocator: Allocator,
    tasks: HashMap<u64, Task>,
    ends: BinaryHeap<Reverse<(Duration, u64)>>,
    next_id: u64,
    report: PreemptionReport,
}

impl Sim {
    /// Launches as many `task`s as the offer holds; hands the rest back.
    fn launch_all(
        &mut self,
        offer: &crate::Allocation,
        task: &Resources,
        role: &'static str,
        now: Duration,
        duration: Duration,
    ) -> Result<(), Error> {
        let mut left = offer.resources.clone();
        while let Some(rest) = left.checked_sub(task) {
            self.allocator
                .launch(&offer.framework_id, &offer.agent_id, &offer.role, task)?;
            let id = self.next_id;
            self.next_id += 1;
            self.tasks.insert(
                id,
                Task {
                    agent: offer.agent_id.clone(),
                    role,
                    framework: offer.framework_id.clone(),
                    resources: task.clone(),
                    started: now,
                    ends: now + duration,
                    suspended_since: None,
                },
            );
            self.ends.push(Reverse((now + duration, id)));
            left = rest;
        }
        if !left.is_empty() {
            self.allocator.recover_offered(
                &offer.framework_id,
                &offer.agent_id,
                &offer.role,
                &left,
                Some(Duration::from_secs(1)),
                now,
            )?;
        }
        Ok(())
    }

    /// Ends the tasks due by `now` (a suspended one's end moves by its pause).
    fn end_tasks(&mut self, now: Duration) -> Result<(), Error> {
        while let Some(Reverse((at, id))) = self.ends.peek().copied() {
            if at > now {
                break;
            }
            self.ends.pop();
            let Some(task) = self.tasks.get(&id) else {
                continue;
            };
            if task.suspended_since.is_some() || task.ends != at {
                continue;
            }
            if let Some(task) = self.tasks.remove(&id) {
                self.allocator.recover_used(
                    &task.framework,
                    &task.agent,
                    task.role,
                    &task.resources,
                )?;
            }
        }
        Ok(())
    }

    fn preempt(&mut self, mode: Mode, now: Duration) -> Result<(), Error> {
        let snapshot = self.allocator.snapshot();
        let Some(gold) = snapshot.roles.iter().find(|r| r.role == "gold") else {
            return Ok(());
        };
        let guarantee = gold
            .quota
            .as_ref()
            .map(|q| preemption::amounts(&q.guarantee))
            .unwrap_or_default();
        let consumed = preemption::amounts(&gold.consumption);
        let mut free = Amounts::new();
        for agent in &snapshot.agents {
            for (name, amount) in preemption::amounts(&agent.free) {
                *free.entry(name).or_default() += amount;
            }
        }
        let missing: Amounts = guarantee
            .iter()
            .filter_map(|(name, amount)| {
                let short = amount
                    - consumed.get(name).copied().unwrap_or(0.0)
                    - free.get(name).copied().unwrap_or(0.0);
                (short > 1e-9).then(|| (name.clone(), short))
            })
            .collect();
        if missing.is_empty() {
            self.resume(now)?;
            return Ok(());
        }
        let mut ids = Vec::new();
        let mut candidates = Vec::new();
        for (id, task) in &self.tasks {
            if task.role == "batch" && task.suspended_since.is_none() {
                ids.push(*id);
                candidates.push(Candidate {
                    agent_id: task.agent.clone(),
                    role: task.role.to_owned(),
                    priority: 0,
                    resources: preemption::amounts(&task.resources),
                    suspendable: mode == Mode::Suspend,
                });
            }
        }
        // Deterministic order for a seed: the map's order is not.
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i]);
        let ids: Vec<u64> = order.iter().map(|&i| ids[i]).collect();
        let candidates: Vec<Candidate> = order.iter().map(|&i| candidates[i].clone()).collect();
        let need = Need {
            resources: missing,
            priority: None,
            per_agent: false,
        };
        let Some(plan) = preemption::plan(&need, &candidates, &Context::default()) else {
            return Ok(());
        };
        for (index, action) in plan.victims {
            let id = ids[index];
            match action {
                Action::Kill => {
                    if let Some(task) = self.tasks.remove(&id) {
                        self.allocator.recover_used(
                            &task.framework,
                            &task.agent,
                            task.role,
                            &task.resources,
                        )?;
                        self.report.tasks_killed += 1;
                        self.report.killed_task_seconds += (now - task.started).as_secs_f64();
                    }
                }
                Action::Suspend => {
                    if let Some(task) = self.tasks.get_mut(&id) {
                        let cpus = Resources::new().with("cpus", task.resources.get("cpus"))?;
                        self.allocator.recover_used(
                            &task.framework,
                            &task.agent,
                            task.role,
                            &cpus,
                        )?;
                        task.suspended_since = Some(now);
                        self.report.tasks_suspended += 1;
                    }
                }
            }
        }
        Ok(())
    }

    /// Resumes suspended tasks whose agent has their CPU free.
    fn resume(&mut self, now: Duration) -> Result<(), Error> {
        let suspended: Vec<u64> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.suspended_since.is_some())
            .map(|(id, _)| *id)
            .collect();
        for id in suspended {
            let Some(task) = self.tasks.get_mut(&id) else {
                continue;
            };
            let cpus = Resources::new().with("cpus", task.resources.get("cpus"))?;
            if self
                .allocator
                .add_used(&task.framework, &task.agent, task.role, &cpus)
                .is_err()
            {
                continue;
            }
            if let Some(since) = task.suspended_since.take() {
                let paused = now - since;
                self.report.suspended_task_seconds += paused.as_secs_f64();
                task.ends += paused;
                self.ends.push(Reverse((task.ends, id)));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preemption_meets_the_guarantee_sooner_and_suspension_loses_no_work() {
        let none = run_preemption(Mode::None, true).expect("runs");
        let kill = run_preemption(Mode::Kill, true).expect("runs");
        let suspend = run_preemption(Mode::Suspend, true).expect("runs");
        let kill_wait = kill.time_to_quota.expect("kill meets the guarantee");
        let suspend_wait = suspend.time_to_quota.expect("suspension meets it");
        assert!(kill_wait <= Duration::from_secs(1), "{kill:?}");
        assert!(suspend_wait <= Duration::from_secs(1), "{suspend:?}");
        assert!(
            none.time_to_quota.is_none_or(|wait| wait > kill_wait * 10),
            "waiting is slower: {none:?}"
        );
        assert!(
            kill.tasks_killed > 0 && kill.killed_task_seconds > 0.0,
            "{kill:?}"
        );
        assert_eq!(suspend.tasks_killed, 0, "{suspend:?}");
        assert!(suspend.tasks_suspended > 0, "{suspend:?}");
    }
}
