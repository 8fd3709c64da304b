//! Agents and frameworks coming and going; suppression; weights and quotas.

use std::collections::HashMap;

use super::{Allocator, share_ctx};
use crate::config::{FrameworkSpec, Quota};
use crate::pool::{NameId, Pool, RoleIdx};
use crate::roles::{FwIdx, NodeQuota, ROOT};
use crate::share::share_key;
use crate::state::{Agent, AgentIdx, Framework, FwRole, MinSets};
use crate::{AgentId, Error, FrameworkId, Resources};

impl Allocator {
    /// Adds an agent with its `total` resources, static reservations included
    /// (`cpus(ads):2`). All of it starts free and is considered in the next round.
    pub fn add_agent(&mut self, id: AgentId, total: &Resources) -> Result<(), Error> {
        if self.agent_ids.contains_key(&id) {
            return Err(Error::DuplicateAgent(id));
        }
        let total = self.pool_from(total)?;
        let agent = Agent {
            id: id.clone(),
            total: total.clone(),
            free: total.clone(),
            holdings: Vec::new(),
            dirty: false,
            active: true,
        };
        let idx = self
            .agents
            .insert(agent)
            .ok_or_else(|| Error::InvalidResources("too many agents".into()))?;
        self.agent_ids.insert(id, idx);
        self.totals.add_pool(&total);
        self.on_free_change(&total, 1);
        self.shares_stale = true;
        self.mark_dirty(idx);
        Ok(())
    }

    /// Replaces an agent's revocable (oversubscribed) resources with `revocable`, its
    /// latest estimate: every entry revocable, as Mesos's `updateSlave` with oversubscribed
    /// resources. They are kept apart from the agent's regular resources, offered only to
    /// frameworks that take revocable resources, and count in no share and no quota. A
    /// name's revocable total never drops below what is offered and used of it (those
    /// tasks run on until they end or the agent's QoS controller ends them); the master
    /// rescinds the outstanding revocable offers first, as Mesos's does.
    pub fn set_revocable(&mut self, id: &AgentId, revocable: &Resources) -> Result<(), Error> {
        if let Some(item) = revocable.iter().find(|item| !item.is_revocable()) {
            return Err(Error::InvalidResources(format!(
                "{}: an agent's oversubscribed resources must all be revocable",
                item.name()
            )));
        }
        let idx = self.agent_idx(id)?;
        let wanted = self.pool_from(revocable)?;
        let Some(agent) = self.agents.get(idx) else {
            return Err(Error::UnknownAgent(id.clone()));
        };
        let mut names: Vec<NameId> = agent
            .total
            .slots()
            .iter()
            .chain(wanted.slots())
            .map(|s| s.name)
            .filter(|name| self.catalog.is_revocable(*name))
            .collect();
        names.sort_unstable();
        names.dedup();
        let units = |pool: &Pool, name: NameId| -> i64 {
            pool.slots()
                .iter()
                .filter(|s| s.name == name)
                .map(|s| s.units)
                .sum()
        };
        let (mut grown, mut shrunk) = (Pool::default(), Pool::default());
        for name in names {
            let held: i64 = agent
                .holdings
                .iter()
                .map(|h| units(&h.offered, name) + units(&h.used, name))
                .sum();
            let delta = units(&wanted, name).max(held) - units(&agent.total, name);
            let slot = crate::pool::Slot {
                name,
                res: crate::pool::UNRESERVED,
                units: delta.abs(),
            };
            if delta > 0 {
                grown.push(slot);
            } else if delta < 0 {
                shrunk.push(slot);
            }
        }
        if grown.is_empty() && shrunk.is_empty() {
            return Ok(());
        }
        if let Some(agent) = self.agents.get_mut(idx) {
            agent.total.add(&grown);
            agent.free.add(&grown);
            // What shrinks was free: the total never drops below what is held.
            agent.total.take(&shrunk);
            agent.free.take(&shrunk);
        }
        self.totals.add_pool(&grown);
        self.totals.sub_pool(&shrunk);
        self.on_free_change(&grown, 1);
        self.on_free_change(&shrunk, -1);
        if !grown.is_empty() {
            self.mark_dirty(idx);
        }
        Ok(())
    }

    /// Whether the framework is offered revocable resources too (Mesos's capability
    /// REVOCABLE_RESOURCES, which UPDATE_FRAMEWORK may change).
    pub fn set_revocable_capable(&mut self, id: &FrameworkId, capable: bool) -> Result<(), Error> {
        let idx = self.framework_idx(id)?;
        if let Some(framework) = self.frameworks.get_mut(idx)
            && framework.revocable != capable
        {
            framework.revocable = capable;
            self.dirty_all = true;
        }
        Ok(())
    }

    /// Removes an agent; its offers and allocations vanish from every framework's share.
    /// The master rescinds the offers and marks the tasks lost itself.
    pub fn remove_agent(&mut self, id: &AgentId) -> Result<(), Error> {
        let idx = self.agent_idx(id)?;
        let Some(agent) = self.agents.remove(idx) else {
            return Err(Error::UnknownAgent(id.clone()));
        };
        self.agent_ids.remove(id);
        self.on_free_change(&agent.free, -1);
        for holding in &agent.holdings {
            let mut held = holding.offered.clone();
            held.add(&holding.used);
            self.on_alloc_change(holding.fw, holding.role, &held, -1);
            self.forget_agent_holding(holding.fw, idx);
        }
        for (_, framework) in self.frameworks.iter_mut() {
            framework.filters.retain(|(agent, _), _| *agent != idx);
            framework.agents.remove(&idx);
        }
        self.totals.sub_pool(&agent.total);
        self.shares_stale = true;
        Ok(())
    }

    /// Stops offering an agent's free resources; what is offered or used stays where it is
    /// (the master rescinds the offers). Its tasks keep running.
    pub fn deactivate_agent(&mut self, id: &AgentId) -> Result<(), Error> {
        let idx = self.agent_idx(id)?;
        if let Some(agent) = self.agents.get_mut(idx) {
            agent.active = false;
        }
        Ok(())
    }

    /// Offers a deactivated agent's free resources again, from the next round.
    pub fn activate_agent(&mut self, id: &AgentId) -> Result<(), Error> {
        let idx = self.agent_idx(id)?;
        if let Some(agent) = self.agents.get_mut(idx) {
            agent.active = true;
        }
        self.mark_dirty(idx);
        Ok(())
    }

    fn forget_agent_holding(&mut self, fw: FwIdx, agent: AgentIdx) {
        if let Some(framework) = self.frameworks.get_mut(fw)
            && let Some(count) = framework.agents.get_mut(&agent)
        {
            *count -= 1;
            if *count == 0 {
                framework.agents.remove(&agent);
            }
        }
    }

    /// Adds a framework subscribed to `spec.roles`. It is active and unsuppressed in every
    /// role, and every free agent is reconsidered for it in the next round.
    pub fn add_framework(&mut self, id: FrameworkId, spec: FrameworkSpec) -> Result<(), Error> {
        if self.framework_ids.contains_key(&id) {
            return Err(Error::DuplicateFramework(id));
        }
        let mut roles: Vec<RoleIdx> = Vec::new();
        for role in &spec.roles {
            let idx = self.roles.ensure(role)?;
            if !roles.contains(&idx) {
                roles.push(idx);
            }
        }
        if roles.is_empty() {
            return Err(Error::NoRoles(id));
        }
        let min_allocatable = match &spec.min_allocatable {
            Some(sets) => Some(self.min_sets(sets)?),
            None => None,
        };
        match &min_allocatable {
            Some(sets) => *self.min_overrides.entry(sets.clone()).or_insert(0) += 1,
            None => self.plain_frameworks += 1,
        }
        let framework = Framework {
            id: id.clone(),
            roles: roles.iter().map(|role| new_membership(*role)).collect(),
            active: true,
            min_allocatable,
            revocable: false,
            filters: HashMap::default(),
            agents: HashMap::default(),
        };
        let idx = self
            .frameworks
            .insert(framework)
            .ok_or_else(|| Error::DuplicateFramework(id.clone()))?;
        self.framework_ids.insert(id, idx);
        for role in roles {
            self.set_presence(idx, role, true);
        }
        self.dirty_all = true;
        Ok(())
    }

    /// Removes a framework: everything it was offered or was using goes back to free.
    pub fn remove_framework(&mut self, id: &FrameworkId) -> Result<(), Error> {
        let idx = self.framework_idx(id)?;
        let roles: Vec<RoleIdx> = self.framework_roles(idx);
        for role in &roles {
            self.set_presence(idx, *role, false);
        }
        let agents: Vec<AgentIdx> = self
            .frameworks
            .get(idx)
            .map(|f| f.agents.keys().copied().collect())
            .unwrap_or_default();
        for agent in agents {
            self.release_holdings(agent, idx);
        }
        if let Some(framework) = self.frameworks.remove(idx) {
            self.forget_min_rule(framework.min_allocatable.as_ref());
        }
        self.framework_ids.remove(id);
        Ok(())
    }

    fn forget_min_rule(&mut self, rule: Option<&MinSets>) {
        let Some(sets) = rule else {
            self.plain_frameworks = self.plain_frameworks.saturating_sub(1);
            return;
        };
        if let Some(count) = self.min_overrides.get_mut(sets) {
            *count -= 1;
            if *count == 0 {
                self.min_overrides.remove(sets);
            }
        }
    }

    /// Returns every holding of `fw` on `agent` to the agent's free pool.
    fn release_holdings(&mut self, agent: AgentIdx, fw: FwIdx) {
        let Some(state) = self.agents.get_mut(agent) else {
            return;
        };
        let mut released = Vec::new();
        state.holdings.retain(|h| {
            let mine = h.fw == fw;
            if mine {
                let mut held = h.offered.clone();
                held.add(&h.used);
                released.push((h.role, held));
            }
            !mine
        });
        for (role, held) in released {
            if let Some(state) = self.agents.get_mut(agent) {
                state.free.add(&held);
            }
            self.on_alloc_change(fw, role, &held, -1);
            self.on_free_change(&held, 1);
        }
        self.mark_dirty(agent);
    }

    fn framework_roles(&self, fw: FwIdx) -> Vec<RoleIdx> {
        self.frameworks
            .get(fw)
            .map(|f| f.roles.iter().map(|r| r.role).collect())
            .unwrap_or_default()
    }

    /// Puts a framework's role membership into, or out of, the role's sorted set. It is in
    /// the set only while the framework is active and unsuppressed in that role.
    fn set_presence(&mut self, fw: FwIdx, role: RoleIdx, want: bool) {
        let ctx = share_ctx!(self);
        let Some(framework) = self.frameworks.get_mut(fw) else {
            return;
        };
        let active = framework.active;
        let Some(at) = framework.role_slot(role) else {
            return;
        };
        let membership = &mut framework.roles[at];
        let present = want && active && !membership.suppressed;
        match (membership.key, present) {
            (None, true) => {
                let key = share_key(ctx.share(&membership.alloc), 1.0);
                membership.key = Some(key);
                self.roles.set_member(role, fw, key, true, &ctx);
            }
            (Some(key), false) => {
                membership.key = None;
                self.roles.set_member(role, fw, key, false, &ctx);
            }
            _ => {}
        }
    }

    /// UPDATE_FRAMEWORK: the framework is now subscribed to exactly `roles`, suppressed in
    /// exactly `suppressed` (a subset of `roles`) and unsuppressed in the others (filters
    /// stay). A dropped role gets no more offers; what the framework holds in it stays
    /// accounted to it until released. The master rescinds the dropped roles' offers.
    pub fn update_framework(
        &mut self,
        id: &FrameworkId,
        roles: &[String],
        suppressed: &[String],
    ) -> Result<(), Error> {
        let idx = self.framework_idx(id)?;
        let mut wanted: Vec<RoleIdx> = Vec::new();
        for role in roles {
            let role = self.roles.ensure(role)?;
            if !wanted.contains(&role) {
                wanted.push(role);
            }
        }
        if wanted.is_empty() {
            return Err(Error::NoRoles(id.clone()));
        }
        let mut quiet: Vec<RoleIdx> = Vec::new();
        for role in suppressed {
            match self.roles.get(role).filter(|r| wanted.contains(r)) {
                Some(role) => quiet.push(role),
                None => {
                    return Err(Error::NotSubscribed {
                        framework: id.clone(),
                        role: role.clone(),
                    });
                }
            }
        }
        // Drop the roles no longer wanted: out of the sorter, then forgotten when nothing
        // is held in them.
        for role in self.framework_roles(idx) {
            if wanted.contains(&role) {
                continue;
            }
            self.set_suppressed(idx, role, true);
            if let Some(framework) = self.frameworks.get_mut(idx)
                && let Some(at) = framework.role_slot(role)
            {
                framework.roles[at].subscribed = false;
                if framework.roles[at].alloc.iter().next().is_none() {
                    framework.roles.remove(at);
                }
                framework.filters.retain(|(_, r), _| *r != role);
            }
        }
        for role in wanted {
            if let Some(framework) = self.frameworks.get_mut(idx) {
                match framework.role_slot(role) {
                    Some(at) => framework.roles[at].subscribed = true,
                    None => framework.roles.push(new_membership(role)),
                }
            }
            self.set_suppressed(idx, role, quiet.contains(&role));
        }
        self.dirty_all = true;
        Ok(())
    }

    /// Makes sure `role` has a membership in the framework, to account resources it holds
    /// there: a role it dropped (UPDATE_FRAMEWORK) before the master restarted gets one
    /// that is never offered anything.
    pub(super) fn track_role(&mut self, id: &FrameworkId, role: &str) -> Result<(), Error> {
        let idx = self.framework_idx(id)?;
        let role = self.roles.ensure(role)?;
        if let Some(framework) = self.frameworks.get_mut(idx)
            && framework.role_slot(role).is_none()
        {
            let mut membership = new_membership(role);
            membership.subscribed = false;
            membership.suppressed = true;
            framework.roles.push(membership);
        }
        Ok(())
    }

    /// Stops offers to a framework (e.g. its scheduler disconnected) but keeps what it holds.
    pub fn deactivate_framework(&mut self, id: &FrameworkId) -> Result<(), Error> {
        self.set_active(id, false)
    }

    /// Resumes offers to a deactivated framework.
    pub fn activate_framework(&mut self, id: &FrameworkId) -> Result<(), Error> {
        self.set_active(id, true)
    }

    fn set_active(&mut self, id: &FrameworkId, active: bool) -> Result<(), Error> {
        let idx = self.framework_idx(id)?;
        if let Some(framework) = self.frameworks.get_mut(idx) {
            framework.active = active;
        }
        for role in self.framework_roles(idx) {
            self.set_presence(idx, role, active);
        }
        self.dirty_all |= active;
        Ok(())
    }

    /// SUPPRESS: no more offers for the given roles (`None`: all of the framework's roles)
    /// until REVIVE. Outstanding offers are unaffected.
    pub fn suppress(&mut self, id: &FrameworkId, roles: Option<&[String]>) -> Result<(), Error> {
        let idx = self.framework_idx(id)?;
        for role in self.selected_roles(idx, id, roles)? {
            self.set_suppressed(idx, role, true);
        }
        Ok(())
    }

    /// REVIVE: clears suppression and every refusal filter for the given roles (`None`: all
    /// of the framework's roles), so every free agent is offered again in the next round.
    pub fn revive(&mut self, id: &FrameworkId, roles: Option<&[String]>) -> Result<(), Error> {
        let idx = self.framework_idx(id)?;
        let selected = self.selected_roles(idx, id, roles)?;
        if let Some(framework) = self.frameworks.get_mut(idx) {
            framework
                .filters
                .retain(|(_, role), _| !selected.contains(role));
        }
        for role in selected {
            self.set_suppressed(idx, role, false);
        }
        self.dirty_all = true;
        Ok(())
    }

    fn set_suppressed(&mut self, fw: FwIdx, role: RoleIdx, suppressed: bool) {
        if let Some(framework) = self.frameworks.get_mut(fw)
            && let Some(at) = framework.role_slot(role)
        {
            framework.roles[at].suppressed = suppressed;
        }
        self.set_presence(fw, role, !suppressed);
    }

    fn selected_roles(
        &self,
        fw: FwIdx,
        id: &FrameworkId,
        roles: Option<&[String]>,
    ) -> Result<Vec<RoleIdx>, Error> {
        let subscribed: Vec<RoleIdx> = self
            .frameworks
            .get(fw)
            .map(|f| {
                f.roles
                    .iter()
                    .filter(|r| r.subscribed)
                    .map(|r| r.role)
                    .collect()
            })
            .unwrap_or_default();
        let Some(roles) = roles else {
            return Ok(subscribed);
        };
        roles
            .iter()
            .map(|role| {
                self.roles
                    .get(role)
                    .filter(|idx| subscribed.contains(idx))
                    .ok_or_else(|| Error::NotSubscribed {
                        framework: id.clone(),
                        role: role.clone(),
                    })
            })
            .collect()
    }

    /// Sets a role's weight (default 1.0). Shares are divided by the weight, so a role of
    /// weight 2 is offered resources until it holds twice the share of a weight-1 sibling.
    pub fn set_weight(&mut self, role: &str, weight: f64) -> Result<(), Error> {
        if !(weight.is_finite() && weight > 0.0) {
            return Err(Error::InvalidWeight {
                role: role.to_owned(),
                weight,
            });
        }
        let idx = self.roles.ensure(role)?;
        self.roles.node_mut(idx).weight = weight;
        let ctx = share_ctx!(self);
        self.roles.refresh_path(idx, &ctx);
        Ok(())
    }

    /// Sets a role's quota; `Quota::default()` removes it. Every free agent is reconsidered.
    pub fn set_quota(&mut self, role: &str, quota: Quota) -> Result<(), Error> {
        let idx = self.roles.ensure(role)?;
        let guarantee = self.quantities(&quota.guarantee)?;
        let limit = match &quota.limit {
            Some(limit) => Some(self.quantities(limit)?),
            None => None,
        };
        if let Some(limit) = &limit {
            check_limit_covers_guarantee(role, &guarantee, limit)?;
        }
        let empty = guarantee.is_empty() && limit.is_none();
        self.roles.node_mut(idx).quota = (!empty).then_some(NodeQuota {
            guarantee,
            limit,
            spec: quota,
        });
        self.refresh_guaranteed_roles();
        self.dirty_all = true;
        Ok(())
    }

    fn quantities(&mut self, resources: &Resources) -> Result<Vec<(NameId, i64)>, Error> {
        if let Some(item) = resources.iter().find(|i| i.kind() != crate::Kind::Scalar) {
            return Err(Error::InvalidResources(format!(
                "{item}: quota counts scalar resources only (as in Mesos)"
            )));
        }
        let pool: Pool = self.pool_from(&resources.quantities())?;
        Ok(pool.slots().iter().map(|s| (s.name, s.units)).collect())
    }

    fn refresh_guaranteed_roles(&mut self) {
        let has_guarantee = |node: &crate::roles::RoleNode| {
            node.quota.as_ref().is_some_and(|q| !q.guarantee.is_empty())
        };
        let mut order: Vec<RoleIdx> = (0..self.roles.nodes.len() as RoleIdx)
            .filter(|idx| *idx != ROOT && has_guarantee(self.roles.node(*idx)))
            .collect();
        order.sort_by_key(|idx| std::cmp::Reverse(self.roles.node(*idx).depth));
        self.guaranteed_roles = order
            .iter()
            .copied()
            .filter(|idx| {
                let parent = self.roles.node(*idx).parent.unwrap_or(ROOT);
                !self
                    .roles
                    .chain(parent)
                    .any(|at| has_guarantee(self.roles.node(at)))
            })
            .collect();
        self.guarantee_order = order;
    }
}

fn new_membership(role: RoleIdx) -> FwRole {
    FwRole {
        role,
        alloc: Default::default(),
        suppressed: false,
        subscribed: true,
        key: None,
    }
}

fn check_limit_covers_guarantee(
    role: &str,
    guarantee: &[(NameId, i64)],
    limit: &[(NameId, i64)],
) -> Result<(), Error> {
    for (name, wanted) in guarantee {
        if let Some((_, cap)) = limit.iter().find(|(n, _)| n == name)
            && cap < wanted
        {
            return Err(Error::InvalidQuota {
                role: role.to_owned(),
                reason: "a limit is below its guarantee".into(),
            });
        }
    }
    Ok(())
}
