//! A full consistency check of the incremental structures against a recount from scratch.
//! Tests and the simulator call it; the master may call it in debug builds.

use std::collections::HashMap;

use super::Allocator;
use crate::Error;
use crate::pool::{Pool, Qty, RoleIdx, UNRESERVED};
use crate::resources::Value;
use crate::roles::ROOT;
use crate::share::share_key;

impl Allocator {
    /// Recounts everything and compares: on every agent `free + offered + used = total` with
    /// no negative amount (so nothing is offered twice), reserved resources held only under
    /// their role or its descendants, framework and role allocations equal to the sum of
    /// holdings, cluster totals, and every share in [0, 1].
    pub fn check_invariants(&self) -> Result<(), Error> {
        self.check_agents()?;
        self.check_frameworks()?;
        self.check_roles()
    }

    fn check_agents(&self) -> Result<(), Error> {
        let mut totals = Qty::default();
        let mut free_unreserved = Qty::default();
        for (_, agent) in self.agents.iter() {
            let mut sum = agent.free.clone();
            for holding in &agent.holdings {
                sum.add(&holding.offered);
                sum.add(&holding.used);
                if holding.offered.is_empty() && holding.used.is_empty() {
                    return fail(format!("agent {}: empty holding kept", agent.id));
                }
                let reservations = [&holding.offered, &holding.used].into_iter().flat_map(|p| {
                    let discrete = p.discrete().iter().map(|d| d.res);
                    p.slots().iter().map(|s| s.res).chain(discrete)
                });
                for res in reservations {
                    if res != UNRESERVED && !self.roles.is_ancestor_or_self(res, holding.role) {
                        return fail(format!(
                            "agent {}: resources reserved for {} held under role {}",
                            agent.id,
                            self.roles.node(res).path,
                            self.roles.node(holding.role).path
                        ));
                    }
                }
            }
            let pools = std::iter::once(&agent.free)
                .chain(agent.holdings.iter().flat_map(|h| [&h.offered, &h.used]));
            let empty_discrete = pools_of(agent)
                .flat_map(Pool::discrete)
                .any(|d| d.value.is_empty());
            if pools.flat_map(Pool::slots).any(|s| s.units <= 0) || empty_discrete {
                return fail(format!("agent {}: a non-positive amount", agent.id));
            }
            if discrete_count(pools_of(agent)) != discrete_count(std::iter::once(&agent.total)) {
                return fail(format!(
                    "agent {}: a range or set value is in two of free, offered and used",
                    agent.id
                ));
            }
            if sum != agent.total {
                return fail(format!(
                    "agent {}: free + offered + used = {} but total = {}",
                    agent.id,
                    self.resources_of(&sum),
                    self.resources_of(&agent.total)
                ));
            }
            totals.add_pool(&agent.total);
            free_unreserved.add_pool(&agent.free.filtered(|_, res| res == UNRESERVED));
        }
        if !same(&totals, &self.totals) || !same(&free_unreserved, &self.free_unreserved) {
            return fail("cluster totals or free unreserved drifted".into());
        }
        Ok(())
    }

    fn check_frameworks(&self) -> Result<(), Error> {
        let ctx = self.share_ctx();
        let mut held: HashMap<(u32, RoleIdx), Qty> = HashMap::new();
        for (_, agent) in self.agents.iter() {
            for holding in &agent.holdings {
                let sum = held.entry((holding.fw, holding.role)).or_default();
                sum.add_pool(&holding.offered);
                sum.add_pool(&holding.used);
            }
        }
        for (fw, framework) in self.frameworks.iter() {
            for membership in &framework.roles {
                let held = held.remove(&(fw, membership.role)).unwrap_or_default();
                if !same(&held, &membership.alloc) {
                    return fail(format!("framework {}: allocation drifted", framework.id));
                }
                let share = ctx.share(&membership.alloc);
                if !(0.0..=1.0 + 1e-9).contains(&share) {
                    return fail(format!(
                        "framework {}: share {share} out of [0, 1]",
                        framework.id
                    ));
                }
                let present = self
                    .roles
                    .node(membership.role)
                    .own_fws
                    .iter()
                    .any(|(_, f)| *f == fw);
                let should = framework.active && !membership.suppressed;
                if present != should || membership.key.is_some() != should {
                    return fail(format!(
                        "framework {}: sorter membership wrong",
                        framework.id
                    ));
                }
                let sorted_right = membership
                    .key
                    .is_none_or(|key| self.shares_stale || key == share_key(share, 1.0));
                if !sorted_right {
                    return fail(format!(
                        "framework {}: sorted by a stale share",
                        framework.id
                    ));
                }
            }
        }
        if !held.is_empty() {
            return fail("a holding belongs to no framework role".into());
        }
        Ok(())
    }

    fn check_roles(&self) -> Result<(), Error> {
        let count = self.roles.nodes.len() as RoleIdx;
        let mut subtree = vec![Qty::default(); count as usize];
        let mut own = vec![Qty::default(); count as usize];
        for (_, framework) in self.frameworks.iter() {
            for membership in &framework.roles {
                for (name, units) in membership.alloc.iter() {
                    own[membership.role as usize].add(name, units);
                    for at in self.roles.chain(membership.role) {
                        subtree[at as usize].add(name, units);
                    }
                }
            }
        }
        let ctx = self.share_ctx();
        for idx in 1..count {
            let node = self.roles.node(idx);
            if !same(&own[idx as usize], &node.own_alloc)
                || !same(&subtree[idx as usize], &node.subtree_alloc)
            {
                return fail(format!("role {}: allocation drifted", node.path));
            }
            let share = ctx.share(&node.subtree_alloc);
            if !(0.0..=1.0 + 1e-9).contains(&share) {
                return fail(format!("role {}: share {share} out of [0, 1]", node.path));
            }
            let has_fws = !node.own_fws.is_empty();
            if has_fws != node.own_key.is_some() {
                return fail(format!("role {}: own entry out of step", node.path));
            }
            let stale_entry = node
                .entries
                .iter()
                .any(|(key, entry)| *key != self.roles.entry_key(idx, *entry, &ctx));
            if stale_entry && !self.shares_stale {
                return fail(format!(
                    "role {}: a child sorted by a stale share",
                    node.path
                ));
            }
        }
        let root_stale = self
            .roles
            .node(ROOT)
            .entries
            .iter()
            .any(|(key, entry)| *key != self.roles.entry_key(ROOT, *entry, &ctx));
        if root_stale && !self.shares_stale {
            return fail("a top-level role sorted by a stale share".into());
        }
        if self.roles.node(ROOT).own_fws.iter().next().is_some() {
            return fail("the root role has frameworks".into());
        }
        Ok(())
    }
}

fn pools_of(agent: &crate::state::Agent) -> impl Iterator<Item = &Pool> {
    std::iter::once(&agent.free).chain(agent.holdings.iter().flat_map(|h| [&h.offered, &h.used]))
}

/// How many range values and set items the pools hold: a value held twice (offered twice)
/// makes the parts add up to more than the total, although their union matches it.
fn discrete_count<'a>(pools: impl Iterator<Item = &'a Pool>) -> u128 {
    pools
        .flat_map(Pool::discrete)
        .map(|item| match &item.value {
            Value::Ranges(ranges) => u128::from(ranges.count()),
            Value::Set(set) => set.len() as u128,
            Value::Scalar(_) => 0,
        })
        .sum()
}

/// Equal as quantities, ignoring trailing zeros.
fn same(a: &Qty, b: &Qty) -> bool {
    a.iter().eq(b.iter())
}

fn fail(message: String) -> Result<(), Error> {
    Err(Error::Invariant(message))
}
