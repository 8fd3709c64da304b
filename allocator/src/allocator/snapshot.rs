//! Read-only views for the master's state API and for tests.

use serde::{Deserialize, Serialize};

use super::Allocator;
use crate::pool::{Pool, Qty, Slot, UNRESERVED};
use crate::state::Agent;
use crate::{AgentId, FrameworkId, Quota, Resources};

/// Everything the allocator knows, in public types.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The sum of every agent's total.
    pub totals: Resources,
    /// Per agent, in no particular order.
    pub agents: Vec<AgentSnapshot>,
    /// Per framework, in no particular order.
    pub frameworks: Vec<FrameworkSnapshot>,
    /// Per role that exists (configured, subscribed to, or reserved for).
    pub roles: Vec<RoleSnapshot>,
}

/// One agent: `free + offered + used = total` always holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentSnapshot {
    /// The agent.
    pub id: AgentId,
    /// Everything it has, reservations included.
    pub total: Resources,
    /// Offered to frameworks and not yet launched on.
    pub offered: Resources,
    /// In use by tasks.
    pub used: Resources,
    /// Neither offered nor used.
    pub free: Resources,
}

/// One framework.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameworkSnapshot {
    /// The framework.
    pub id: FrameworkId,
    /// False after [`Allocator::deactivate_framework`].
    pub active: bool,
    /// Its dominant share over all its roles (offered + used), unweighted, in [0, 1].
    pub dominant_share: f64,
    /// Per subscribed role.
    pub roles: Vec<FrameworkRoleSnapshot>,
}

/// One framework under one of its roles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameworkRoleSnapshot {
    /// The role.
    pub role: String,
    /// Offered under this role.
    pub offered: Resources,
    /// In use under this role.
    pub used: Resources,
    /// Dominant share of offered + used under this role, in [0, 1].
    pub share: f64,
    /// True between SUPPRESS and REVIVE.
    pub suppressed: bool,
}

/// One role of the tree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleSnapshot {
    /// The role path.
    pub role: String,
    /// Its configured weight.
    pub weight: f64,
    /// Offered + used by frameworks of this role and its descendants (quantities).
    pub allocated: Resources,
    /// Dominant share of `allocated`, in [0, 1].
    pub share: f64,
    /// `share` divided by the product of weights down the path: what DRF equalises.
    pub weighted_share: f64,
    /// What quota counts: allocated + unallocated reservations of the subtree, revocable
    /// resources aside.
    pub consumption: Resources,
    /// The quota, if any.
    pub quota: Option<Quota>,
}

impl Allocator {
    /// A full copy of the state, for the master's `/state` and for tests.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            totals: self.quantities_of(&self.totals),
            agents: self
                .agents
                .iter()
                .map(|(_, a)| self.agent_view(a))
                .collect(),
            frameworks: self
                .framework_ids
                .keys()
                .filter_map(|id| self.framework_snapshot(id))
                .collect(),
            roles: (1..self.roles.nodes.len() as u32)
                .map(|idx| self.role_view(idx))
                .collect(),
        }
    }

    /// One agent's total / offered / used / free.
    pub fn agent_snapshot(&self, id: &AgentId) -> Option<AgentSnapshot> {
        let idx = self.agent_ids.get(id)?;
        self.agents.get(*idx).map(|a| self.agent_view(a))
    }

    fn agent_view(&self, agent: &Agent) -> AgentSnapshot {
        let mut offered = Pool::default();
        let mut used = Pool::default();
        for holding in &agent.holdings {
            offered.add(&holding.offered);
            used.add(&holding.used);
        }
        AgentSnapshot {
            id: agent.id.clone(),
            total: self.resources_of(&agent.total),
            offered: self.resources_of(&offered),
            used: self.resources_of(&used),
            free: self.resources_of(&agent.free),
        }
    }

    /// One framework's holdings and shares.
    pub fn framework_snapshot(&self, id: &FrameworkId) -> Option<FrameworkSnapshot> {
        let fw = *self.framework_ids.get(id)?;
        let framework = self.frameworks.get(fw)?;
        let ctx = self.share_ctx();
        let mut all = Qty::default();
        let roles = framework
            .roles
            .iter()
            .map(|membership| {
                for (name, units) in membership.alloc.iter() {
                    all.add(name, units);
                }
                let (offered, used) = self.held_by(fw, membership.role, framework.agents.keys());
                FrameworkRoleSnapshot {
                    role: self.roles.node(membership.role).path.to_string(),
                    offered,
                    used,
                    share: ctx.share(&membership.alloc),
                    suppressed: membership.suppressed,
                }
            })
            .collect();
        Some(FrameworkSnapshot {
            id: id.clone(),
            active: framework.active,
            dominant_share: ctx.share(&all),
            roles,
        })
    }

    /// A framework's dominant share over all its roles, divided by the effective weight of
    /// its first role: the quantity weighted DRF equalises. Cheap (no agent scan).
    pub fn weighted_share(&self, id: &FrameworkId) -> Option<f64> {
        let framework = self.frameworks.get(*self.framework_ids.get(id)?)?;
        let mut all = Qty::default();
        for membership in &framework.roles {
            for (name, units) in membership.alloc.iter() {
                all.add(name, units);
            }
        }
        let weight = framework
            .roles
            .first()
            .map_or(1.0, |m| self.roles.effective_weight(m.role));
        Some(self.share_ctx().share(&all) / weight)
    }

    fn held_by<'a>(
        &self,
        fw: u32,
        role: u32,
        agents: impl Iterator<Item = &'a u32>,
    ) -> (Resources, Resources) {
        let mut offered = Pool::default();
        let mut used = Pool::default();
        for agent in agents.filter_map(|a| self.agents.get(*a)) {
            if let Some(at) = agent.holding(fw, role) {
                offered.add(&agent.holdings[at].offered);
                used.add(&agent.holdings[at].used);
            }
        }
        (self.resources_of(&offered), self.resources_of(&used))
    }

    /// One role's weight, shares, consumption and quota.
    pub fn role_snapshot(&self, role: &str) -> Option<RoleSnapshot> {
        self.roles.get(role).map(|idx| self.role_view(idx))
    }

    fn role_view(&self, idx: u32) -> RoleSnapshot {
        let node = self.roles.node(idx);
        let ctx = self.share_ctx();
        let share = ctx.share(&node.subtree_alloc);
        let mut consumption = Qty::default();
        for (name, units) in node.subtree_alloc.iter() {
            // What quota counts: revocable resources count in none.
            if !self.catalog.is_revocable(name) {
                consumption.add(name, units);
            }
        }
        for (name, units) in node.subtree_reserved_free.iter() {
            consumption.add(name, units);
        }
        RoleSnapshot {
            role: node.path.to_string(),
            weight: node.weight,
            allocated: self.quantities_of(&node.subtree_alloc),
            share,
            weighted_share: share / self.roles.effective_weight(idx),
            consumption: self.quantities_of(&consumption),
            quota: node.quota.as_ref().map(|q| q.spec.clone()),
        }
    }

    fn quantities_of(&self, qty: &Qty) -> Resources {
        let mut pool = Pool::default();
        for (name, units) in qty.iter() {
            pool.push(Slot {
                name,
                res: UNRESERVED,
                units,
            });
        }
        self.resources_of(&pool)
    }
}
