//! Choosing preemption victims: which running tasks give way, and whether suspending them is
//! enough or they must be killed. Pure, like the rest of the crate: the master gathers the
//! candidates (its preemptible tasks), what is free and what each role may lose, and carries
//! the plan out.
//!
//! # The rules
//! * Only candidates the caller lists can be victims (the master lists the running tasks of
//!   frameworks that opted in). For a [`Need`] with a priority, only candidates of a strictly
//!   lower priority.
//! * Victims are taken lowest priority first; among equals, from the role furthest above its
//!   fair share first; among those, largest first, so that as few tasks as possible give way.
//! * No role is taken below its quota guarantee: each role may lose at most its `room`.
//! * A need that free resources already cover needs no victim. What is still missing after
//!   the free resources is what victims must free.
//! * **Suspension instead of killing**: when all that is missing is CPU, a suspendable victim
//!   is suspended (it gives up its CPU and keeps its memory) rather than killed. Anything else
//!   missing (memory, disk) kills.
//!
//! A need is met on one agent (`per_agent`, a task to place: the agent needing the fewest
//! victims wins) or across the cluster (a role's quota shortfall, met as far as it can be).

use std::collections::{BTreeMap, HashMap};

use crate::{AgentId, Resources};

/// The CPU resource, the one a suspension frees.
const CPUS: &str = "cpus";

/// Scalar quantities by name (memory and disk in bytes, as [`Resources`] holds them).
pub type Amounts = BTreeMap<String, f64>;

/// The scalar quantities of `resources`, whatever their reservation, revocable ones aside.
pub fn amounts(resources: &Resources) -> Amounts {
    let mut out = Amounts::new();
    // Revocable resources meet no guarantee and free none: they count in no quota.
    for item in resources.scalars().non_revocable().iter() {
        *out.entry(item.name().to_owned()).or_default() += item.amount();
    }
    out
}

/// A running task that may give way.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub agent_id: AgentId,
    pub role: String,
    pub priority: i32,
    pub resources: Amounts,
    /// Whether suspending it (rather than killing it) is allowed.
    pub suspendable: bool,
}

/// What must be freed.
#[derive(Clone, Debug, PartialEq)]
pub struct Need {
    pub resources: Amounts,
    /// Only candidates below this priority give way; `None` for a quota guarantee, where any
    /// candidate of a role above its own guarantee may.
    pub priority: Option<i32>,
    /// Met on a single agent (a task to place), or across the cluster.
    pub per_agent: bool,
}

/// The cluster as the plan sees it.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// Free resources per agent (neither offered nor used).
    pub free: HashMap<AgentId, Amounts>,
    /// How much each role may lose before it falls below its quota guarantee; a role not
    /// listed may lose everything.
    pub room: HashMap<String, Amounts>,
    /// How far each role is above its fair share (its weighted share minus the fair one);
    /// victims come from the furthest first. A role not listed counts as 0.
    pub excess: HashMap<String, f64>,
}

/// How a victim gives way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Paused in place: its CPU is free, its memory is kept.
    Suspend,
    Kill,
}

/// The chosen victims, by index into the candidates, and what is still missing after them
/// (empty when the need is fully met).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub victims: Vec<(usize, Action)>,
    pub missing: Amounts,
}

/// Chooses victims for `need`. `None` when a per-agent need cannot be met on any agent.
pub fn plan(need: &Need, candidates: &[Candidate], context: &Context) -> Option<Plan> {
    let order = ordered(need, candidates, context);
    if !need.per_agent {
        let mut free = Amounts::new();
        for amounts in context.free.values() {
            add(&mut free, amounts);
        }
        let missing = shortfall(&need.resources, &free);
        return Some(take(&missing, &order, candidates, context));
    }
    let mut agents: Vec<&AgentId> = context.free.keys().collect();
    agents.sort();
    let mut best: Option<Plan> = None;
    for agent in agents {
        let missing = shortfall(&need.resources, &context.free[agent]);
        let here: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| candidates[i].agent_id == *agent)
            .collect();
        let plan = take(&missing, &here, candidates, context);
        if !plan.missing.is_empty() {
            continue;
        }
        if best
            .as_ref()
            .is_none_or(|b| plan.victims.len() < b.victims.len())
        {
            best = Some(plan);
        }
    }
    best
}

/// The eligible candidates, in the order they give way.
fn ordered(need: &Need, candidates: &[Candidate], context: &Context) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len())
        .filter(|&i| need.priority.is_none_or(|p| candidates[i].priority < p))
        .collect();
    let excess = |i: usize| {
        context
            .excess
            .get(&candidates[i].role)
            .copied()
            .unwrap_or(0.0)
    };
    let size = |i: usize| {
        let r = &candidates[i].resources;
        (
            r.get(CPUS).copied().unwrap_or(0.0),
            r.get("mem").copied().unwrap_or(0.0),
        )
    };
    order.sort_by(|&a, &b| {
        candidates[a]
            .priority
            .cmp(&candidates[b].priority)
            .then(excess(b).total_cmp(&excess(a)))
            .then(size(b).0.total_cmp(&size(a).0))
            .then(size(b).1.total_cmp(&size(a).1))
            .then(a.cmp(&b))
    });
    order
}

/// Takes victims from `order` until `missing` is freed, never taking a role below its
/// guarantee; suspends when only CPU is missing.
fn take(missing: &Amounts, order: &[usize], candidates: &[Candidate], context: &Context) -> Plan {
    let mut missing = missing.clone();
    let cpu_only = missing.keys().all(|name| name == CPUS);
    let mut room = context.room.clone();
    let mut victims = Vec::new();
    for &i in order {
        if missing.is_empty() {
            break;
        }
        let candidate = &candidates[i];
        let suspend = cpu_only && candidate.suspendable;
        let freed: Amounts = if suspend {
            candidate
                .resources
                .iter()
                .filter(|(name, _)| *name == CPUS)
                .map(|(name, amount)| (name.clone(), *amount))
                .collect()
        } else {
            candidate.resources.clone()
        };
        let helps = freed
            .iter()
            .any(|(name, amount)| *amount > 0.0 && missing.contains_key(name));
        if !helps {
            continue;
        }
        if let Some(left) = room.get_mut(&candidate.role) {
            if !fits(&freed, left) {
                continue;
            }
            subtract(left, &freed);
        }
        victims.push((
            i,
            if suspend {
                Action::Suspend
            } else {
                Action::Kill
            },
        ));
        missing = shortfall(&missing, &freed);
    }
    Plan { victims, missing }
}

/// What of `wanted` `have` does not cover (positive amounts only).
fn shortfall(wanted: &Amounts, have: &Amounts) -> Amounts {
    wanted
        .iter()
        .filter_map(|(name, amount)| {
            let short = amount - have.get(name).copied().unwrap_or(0.0);
            (short > EPSILON).then(|| (name.clone(), short))
        })
        .collect()
}

/// Amounts closer than this are equal (the allocator's fixed point is 0.001).
const EPSILON: f64 = 1e-9;

fn fits(wanted: &Amounts, left: &Amounts) -> bool {
    wanted
        .iter()
        .all(|(name, amount)| left.get(name).is_none_or(|l| *amount <= l + EPSILON))
}

fn add(to: &mut Amounts, amounts: &Amounts) {
    for (name, amount) in amounts {
        *to.entry(name.clone()).or_default() += amount;
    }
}

fn subtract(from: &mut Amounts, amounts: &Amounts) {
    for (name, amount) in amounts {
        if let Some(left) = from.get_mut(name) {
            *left -= amount;
        }
    }
}

#[cfg(test)]
mod tests;
