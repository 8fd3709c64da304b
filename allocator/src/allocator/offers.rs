//! What happens to offered resources: launched, declined, finished; reservations.

use std::cmp::Reverse;
use std::time::Duration;

use super::{Allocator, Time};
use crate::pool::{Pool, RoleIdx, UNRESERVED};
use crate::roles::FwIdx;
use crate::state::{AgentIdx, Filter};
use crate::{AgentId, Error, FrameworkId, Resources};

/// Which part of a holding resources come back from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    Offered,
    Used,
}

impl Held {
    fn label(self) -> &'static str {
        match self {
            Held::Offered => "offered",
            Held::Used => "used",
        }
    }
}

impl Allocator {
    /// Tasks were launched from an offer: `resources` move from offered to used. They keep
    /// counting toward the framework's share until [`Allocator::recover_used`].
    pub fn launch(
        &mut self,
        framework: &FrameworkId,
        agent: &AgentId,
        role: &str,
        resources: &Resources,
    ) -> Result<(), Error> {
        let (fw, a, r) = self.locate(framework, agent, role)?;
        let pool = self.held_pool(agent, resources, Held::Offered)?;
        let state = self
            .agents
            .get_mut(a)
            .ok_or_else(|| Error::UnknownAgent(agent.clone()))?;
        let moved = match state.holding(fw, r) {
            Some(at) => {
                let holding = &mut state.holdings[at];
                let taken = holding.offered.take(&pool);
                if taken {
                    holding.used.add(&pool);
                }
                taken
            }
            None => false,
        };
        if moved {
            Ok(())
        } else {
            Err(self.not_available(a, fw, r, resources, Held::Offered))
        }
    }

    /// Tasks found running on an agent that registers again after a master restart:
    /// `resources` go from the agent's free pool straight to the framework's used ones, as
    /// if offered and launched.
    pub fn add_used(
        &mut self,
        framework: &FrameworkId,
        agent: &AgentId,
        role: &str,
        resources: &Resources,
    ) -> Result<(), Error> {
        self.track_role(framework, role)?;
        let (fw, a, r) = self.locate(framework, agent, role)?;
        let pool = self.held_pool(agent, resources, Held::Used)?;
        let taken = self
            .agents
            .get_mut(a)
            .is_some_and(|state| state.free.take(&pool));
        if !taken {
            let available = self
                .agents
                .get(a)
                .map(|state| self.resources_of(&state.free).to_string())
                .unwrap_or_default();
            return Err(Error::NotAvailable {
                agent: agent.clone(),
                wanted: resources.to_string(),
                state: "free",
                available,
            });
        }
        self.on_free_change(&pool, -1);
        self.on_alloc_change(fw, r, &pool, 1);
        self.hold(a, fw, r, pool.clone());
        if let Some(state) = self.agents.get_mut(a)
            && let Some(at) = state.holding(fw, r)
        {
            let holding = &mut state.holdings[at];
            if holding.offered.take(&pool) {
                holding.used.add(&pool);
            }
        }
        self.mark_dirty(a);
        Ok(())
    }

    /// An offer was declined, rescinded, timed out, or partly unused at ACCEPT: `resources`
    /// go from offered back to free. With `refuse` (Mesos's `refuse_seconds`, default 5 s in
    /// the master), the framework is not offered these resources (or fewer) on this agent
    /// under this role again until `now + refuse`, unless it revives.
    #[allow(clippy::too_many_arguments)]
    pub fn recover_offered(
        &mut self,
        framework: &FrameworkId,
        agent: &AgentId,
        role: &str,
        resources: &Resources,
        refuse: Option<Duration>,
        now: Time,
    ) -> Result<(), Error> {
        let (fw, a, r) = self.locate(framework, agent, role)?;
        let pool = self.held_pool(agent, resources, Held::Offered)?;
        self.give_back(fw, a, r, &pool, Held::Offered)
            .map_err(|()| self.not_available(a, fw, r, resources, Held::Offered))?;
        if let Some(refuse) = refuse.filter(|d| !d.is_zero()) {
            self.install_filter(fw, a, r, pool, now.saturating_add(refuse));
        }
        Ok(())
    }

    /// Tasks ended: `resources` they used go back to free.
    pub fn recover_used(
        &mut self,
        framework: &FrameworkId,
        agent: &AgentId,
        role: &str,
        resources: &Resources,
    ) -> Result<(), Error> {
        let (fw, a, r) = self.locate(framework, agent, role)?;
        let pool = self.held_pool(agent, resources, Held::Used)?;
        self.give_back(fw, a, r, &pool, Held::Used)
            .map_err(|()| self.not_available(a, fw, r, resources, Held::Used))
    }

    fn give_back(
        &mut self,
        fw: FwIdx,
        a: AgentIdx,
        r: RoleIdx,
        pool: &Pool,
        from: Held,
    ) -> Result<(), ()> {
        let state = self.agents.get_mut(a).ok_or(())?;
        let at = state.holding(fw, r).ok_or(())?;
        let holding = &mut state.holdings[at];
        let taken = match from {
            Held::Offered => holding.offered.take(pool),
            Held::Used => holding.used.take(pool),
        };
        if !taken {
            return Err(());
        }
        state.free.add(pool);
        if state.prune_holding(at) {
            self.forget_holding(fw, a);
        }
        self.on_alloc_change(fw, r, pool, -1);
        self.on_free_change(pool, 1);
        self.mark_dirty(a);
        Ok(())
    }

    fn forget_holding(&mut self, fw: FwIdx, a: AgentIdx) {
        if let Some(framework) = self.frameworks.get_mut(fw)
            && let Some(count) = framework.agents.get_mut(&a)
        {
            *count -= 1;
            if *count == 0 {
                framework.agents.remove(&a);
            }
        }
    }

    fn install_filter(
        &mut self,
        fw: FwIdx,
        a: AgentIdx,
        r: RoleIdx,
        resources: Pool,
        expiry: Time,
    ) {
        if let Some(framework) = self.frameworks.get_mut(fw) {
            framework
                .filters
                .insert((a, r), Filter { resources, expiry });
            self.filter_heap.push(Reverse((expiry, fw, a, r)));
        }
    }

    /// Operator RESERVE: turns free unreserved resources into the reserved ones named.
    /// Every entry of `resources` must carry a reservation (`cpus(ads):2`); the role's
    /// quota limit must leave room for it.
    pub fn reserve(&mut self, agent: &AgentId, resources: &Resources) -> Result<(), Error> {
        let a = self.agent_idx(agent)?;
        let reserved = self.reservation_pool(resources, true)?;
        let unreserved = unreserved_twin(&reserved);
        self.check_reservation_limits(&reserved)?;
        let state = self
            .agents
            .get_mut(a)
            .ok_or_else(|| Error::UnknownAgent(agent.clone()))?;
        if !state.free.take(&unreserved) {
            return Err(self.pool_error(a, resources, "free unreserved"));
        }
        swap_in_total(state, &unreserved, &reserved);
        state.free.add(&reserved);
        self.on_free_change(&unreserved, -1);
        self.on_free_change(&reserved, 1);
        self.mark_dirty(a);
        Ok(())
    }

    /// Operator UNRESERVE: turns free reserved resources back into unreserved ones.
    pub fn unreserve(&mut self, agent: &AgentId, resources: &Resources) -> Result<(), Error> {
        let a = self.agent_idx(agent)?;
        let reserved = self.reservation_pool(resources, false)?;
        let unreserved = unreserved_twin(&reserved);
        let state = self
            .agents
            .get_mut(a)
            .ok_or_else(|| Error::UnknownAgent(agent.clone()))?;
        if !state.free.take(&reserved) {
            return Err(self.pool_error(a, resources, "free reserved"));
        }
        swap_in_total(state, &reserved, &unreserved);
        state.free.add(&unreserved);
        self.on_free_change(&reserved, -1);
        self.on_free_change(&unreserved, 1);
        self.mark_dirty(a);
        Ok(())
    }

    /// The RESERVE offer operation: part of an offer becomes reserved for the offer's role
    /// and stays offered to the framework.
    pub fn reserve_offered(
        &mut self,
        framework: &FrameworkId,
        agent: &AgentId,
        role: &str,
        resources: &Resources,
    ) -> Result<(), Error> {
        let (fw, a, r) = self.locate(framework, agent, role)?;
        let reserved = self.reservation_pool(resources, true)?;
        let other_role = reserved.slots().iter().any(|s| s.res != r)
            || reserved.discrete().iter().any(|d| d.res != r);
        if other_role {
            return Err(Error::InvalidReservation(format!(
                "{resources} must be reserved for the offer's role {role:?}"
            )));
        }
        self.check_reservation_limits(&reserved)?;
        self.convert_offered(fw, a, r, &unreserved_twin(&reserved), &reserved)
            .map_err(|()| self.not_available(a, fw, r, resources, Held::Offered))
    }

    /// The UNRESERVE offer operation: reserved resources in an offer become unreserved and
    /// stay offered to the framework.
    pub fn unreserve_offered(
        &mut self,
        framework: &FrameworkId,
        agent: &AgentId,
        role: &str,
        resources: &Resources,
    ) -> Result<(), Error> {
        let (fw, a, r) = self.locate(framework, agent, role)?;
        let reserved = self.reservation_pool(resources, false)?;
        self.convert_offered(fw, a, r, &reserved, &unreserved_twin(&reserved))
            .map_err(|()| self.not_available(a, fw, r, resources, Held::Offered))
    }

    fn convert_offered(
        &mut self,
        fw: FwIdx,
        a: AgentIdx,
        r: RoleIdx,
        from: &Pool,
        to: &Pool,
    ) -> Result<(), ()> {
        let state = self.agents.get_mut(a).ok_or(())?;
        let at = state.holding(fw, r).ok_or(())?;
        if !state.holdings[at].offered.take(from) {
            return Err(());
        }
        state.holdings[at].offered.add(to);
        swap_in_total(state, from, to);
        Ok(())
    }

    /// Interns reserved resources; `create` allows reservations for roles not seen before.
    fn reservation_pool(&mut self, resources: &Resources, create: bool) -> Result<Pool, Error> {
        if resources.iter().any(|item| item.reservation().is_none()) || resources.is_empty() {
            return Err(Error::InvalidReservation(format!(
                "{resources:?}: every entry must name its role, e.g. cpus(ads):2"
            )));
        }
        let pool = if create {
            self.pool_from(resources)?
        } else {
            self.pool_lookup(resources).ok_or_else(|| {
                Error::InvalidReservation(format!("{resources} is not reserved anywhere"))
            })?
        };
        Ok(pool)
    }

    /// A reservation adds to its role's consumption; refuse one that would pass a limit.
    fn check_reservation_limits(&self, reserved: &Pool) -> Result<(), Error> {
        for slot in reserved.slots() {
            for at in self.roles.chain(slot.res) {
                let node = self.roles.node(at);
                let Some(limit) = node.quota.as_ref().and_then(|q| q.limit.as_ref()) else {
                    continue;
                };
                let cap = limit.iter().find(|(n, _)| *n == slot.name).map(|(_, c)| *c);
                if cap.is_some_and(|cap| node.consumption(slot.name) + slot.units > cap) {
                    return Err(Error::InvalidReservation(format!(
                        "reserving {} would exceed the quota limit of role {:?}",
                        self.resources_of(reserved),
                        node.path
                    )));
                }
            }
        }
        Ok(())
    }

    fn locate(
        &self,
        framework: &FrameworkId,
        agent: &AgentId,
        role: &str,
    ) -> Result<(FwIdx, AgentIdx, RoleIdx), Error> {
        let fw = self.framework_idx(framework)?;
        let a = self.agent_idx(agent)?;
        let r = self
            .roles
            .get(role)
            .filter(|r| {
                self.frameworks
                    .get(fw)
                    .is_some_and(|f| f.role_slot(*r).is_some())
            })
            .ok_or_else(|| Error::NotSubscribed {
                framework: framework.clone(),
                role: role.to_owned(),
            })?;
        Ok((fw, a, r))
    }

    fn held_pool(&self, agent: &AgentId, resources: &Resources, from: Held) -> Result<Pool, Error> {
        self.pool_lookup(resources)
            .ok_or_else(|| Error::NotAvailable {
                agent: agent.clone(),
                wanted: resources.to_string(),
                state: from.label(),
                available: String::new(),
            })
    }

    fn not_available(
        &self,
        a: AgentIdx,
        fw: FwIdx,
        r: RoleIdx,
        wanted: &Resources,
        from: Held,
    ) -> Error {
        let state = self.agents.get(a);
        let held = state
            .and_then(|s| s.holding(fw, r).map(|at| &s.holdings[at]))
            .map(|h| match from {
                Held::Offered => self.resources_of(&h.offered),
                Held::Used => self.resources_of(&h.used),
            })
            .unwrap_or_default();
        Error::NotAvailable {
            agent: state
                .map(|s| s.id.clone())
                .unwrap_or_else(|| AgentId::from("")),
            wanted: wanted.to_string(),
            state: from.label(),
            available: held.to_string(),
        }
    }

    fn pool_error(&self, a: AgentIdx, wanted: &Resources, state: &'static str) -> Error {
        let agent = self.agents.get(a);
        Error::NotAvailable {
            agent: agent
                .map(|s| s.id.clone())
                .unwrap_or_else(|| AgentId::from("")),
            wanted: wanted.to_string(),
            state,
            available: agent
                .map(|s| self.resources_of(&s.free).to_string())
                .unwrap_or_default(),
        }
    }
}

/// The same slots, unreserved.
fn unreserved_twin(reserved: &Pool) -> Pool {
    let mut out = Pool::default();
    for slot in reserved.slots() {
        out.push(crate::pool::Slot {
            res: UNRESERVED,
            ..*slot
        });
    }
    for item in reserved.discrete() {
        out.push_discrete(crate::pool::Discrete {
            res: UNRESERVED,
            ..item.clone()
        });
    }
    out
}

/// Keeps an agent's total in step with a change of reservation on part of it.
fn swap_in_total(state: &mut crate::state::Agent, from: &Pool, to: &Pool) {
    if state.total.take(from) {
        state.total.add(to);
    }
}
