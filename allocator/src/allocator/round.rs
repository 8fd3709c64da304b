//! One allocation round: expire filters, pick the agents worth a look, hand out their free
//! resources by guarantee first and then by weighted DRF.

use std::borrow::Cow;
use std::cmp::Reverse;

use super::limits::{Stage, meets_min, meets_min_pool};
use super::{Allocation, Allocator, Time, share_ctx};
use crate::config::SorterKind;
use crate::pool::{Pool, Qty, RoleIdx};
use crate::rng::SplitMix64;
use crate::roles::{Entry, FwIdx, ROOT};
use crate::share::share_key;
use crate::state::{Agent, AgentIdx, Holding};

/// Bounds the grants for one agent in one round; each grant takes a non-empty part of
/// the agent's free pool, so this only guards against a bug looping forever.
const MAX_GRANTS_PER_AGENT: usize = 64;

/// A framework and role chosen for an agent, with what they are offered.
struct Choice {
    fw: FwIdx,
    role: RoleIdx,
    /// `None`: everything the agent has free, moved rather than copied.
    offer: Option<Pool>,
}

impl Allocator {
    /// Runs one round and returns the new offers. Only agents whose free resources changed,
    /// whose filters expired, or all free agents after a framework/role change (new or
    /// revived framework, quota change, a limit or guarantee that stopped blocking) are
    /// looked at, so a round with nothing to do costs next to nothing.
    pub fn allocate(&mut self, now: Time) -> Vec<Allocation> {
        self.expire_filters(now);
        if self.shares_stale {
            self.refresh_all_shares();
        }
        let mut candidates = self.take_candidates();
        if candidates.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(candidates.len());
        let mut rng = std::mem::take(&mut self.rng);
        // Visit agents in storage order (a full shuffle costs ~30% in cache misses at
        // 10,000 agents) from a random starting point, so no agent is always first.
        candidates.sort_unstable();
        let start = rng.below(candidates.len());
        candidates.rotate_left(start);
        if !self.guaranteed_roles.is_empty() {
            for agent in &candidates {
                self.guarantee_stage(*agent, now, &mut rng, &mut out);
            }
        }
        for agent in &candidates {
            self.fair_stage(*agent, now, &mut rng, &mut out);
        }
        self.rng = rng;
        out
    }

    fn expire_filters(&mut self, now: Time) {
        while let Some(Reverse((at, fw, agent, role))) = self.filter_heap.peek().copied() {
            let live = self
                .frameworks
                .get(fw)
                .and_then(|f| f.filters.get(&(agent, role)))
                .map(|f| f.expiry);
            match live {
                Some(expiry) if expiry == at && at > now => break,
                Some(expiry) if expiry == at => {
                    if let Some(framework) = self.frameworks.get_mut(fw) {
                        framework.filters.remove(&(agent, role));
                    }
                    self.mark_dirty(agent);
                }
                _ => {}
            }
            self.filter_heap.pop();
        }
    }

    fn refresh_all_shares(&mut self) {
        let ctx = share_ctx!(self);
        self.roles.refresh_all(&ctx);
        for (fw, framework) in self.frameworks.iter_mut() {
            for membership in &mut framework.roles {
                if let Some(old) = membership.key {
                    let new = share_key(ctx.share(&membership.alloc), 1.0);
                    self.roles.move_member(membership.role, fw, old, new);
                    membership.key = Some(new);
                }
            }
        }
        self.shares_stale = false;
    }

    fn take_candidates(&mut self) -> Vec<AgentIdx> {
        let dirty = std::mem::take(&mut self.dirty);
        for agent in &dirty {
            if let Some(state) = self.agents.get_mut(*agent) {
                state.dirty = false;
            }
        }
        if std::mem::take(&mut self.dirty_all) {
            return self
                .agents
                .iter()
                .filter(|(_, agent)| agent.active && !agent.free.is_empty())
                .map(|(idx, _)| idx)
                .collect();
        }
        dirty
            .into_iter()
            .filter(|a| {
                self.agents
                    .get(*a)
                    .is_some_and(|s| s.active && !s.free.is_empty())
            })
            .collect()
    }

    /// Offers `agent`'s resources to roles whose guarantee is unmet, up to that guarantee.
    fn guarantee_stage(
        &mut self,
        agent: AgentIdx,
        now: Time,
        rng: &mut SplitMix64,
        out: &mut Vec<Allocation>,
    ) {
        for _ in 0..MAX_GRANTS_PER_AGENT {
            let mut granted = false;
            for quota_role in self.guarantee_order.clone() {
                if !self.roles.node(quota_role).is_present() || !self.has_unmet(quota_role) {
                    continue;
                }
                let stage = Stage::Guarantee(quota_role);
                if let Some(choice) = self.find(agent, quota_role, stage, now, rng) {
                    self.grant(agent, choice, out);
                    granted = true;
                }
            }
            if !granted {
                return;
            }
        }
    }

    /// Offers what is left of `agent` by weighted DRF until nobody eligible wants more.
    fn fair_stage(
        &mut self,
        agent: AgentIdx,
        now: Time,
        rng: &mut SplitMix64,
        out: &mut Vec<Allocation>,
    ) {
        for _ in 0..MAX_GRANTS_PER_AGENT {
            let worth = self
                .agents
                .get(agent)
                .is_some_and(|s| self.worth_offering(s));
            if !worth {
                return;
            }
            match self.find(agent, ROOT, Stage::Fair, now, rng) {
                Some(choice) => self.grant(agent, choice, out),
                None => return,
            }
        }
    }

    /// Could anyone want this agent's free resources? Checked against the crumb rules in
    /// use (a handful of distinct ones), not per framework, so an agent whose leftovers
    /// nobody can use (say, only disk) costs nothing.
    fn worth_offering(&self, agent: &Agent) -> bool {
        let free = &agent.free;
        let base = |name| self.catalog.base(name);
        !free.is_empty()
            && ((self.plain_frameworks > 0 && meets_min_pool(&self.min_allocatable, free, base))
                || self
                    .min_overrides
                    .keys()
                    .any(|sets| meets_min_pool(sets, free, base)))
    }

    fn find(
        &self,
        agent: AgentIdx,
        node: RoleIdx,
        stage: Stage,
        now: Time,
        rng: &mut SplitMix64,
    ) -> Option<Choice> {
        let state = self.agents.get(agent)?;
        let walk = Walk {
            agent,
            state,
            stage,
            now,
        };
        match self.sorter {
            SorterKind::Drf => self.find_drf(&walk, node),
            SorterKind::WeightedRandom => self.find_random(&walk, node, rng),
        }
    }

    /// Depth-first in ascending weighted share: the first eligible framework wins.
    fn find_drf(&self, walk: &Walk<'_>, node: RoleIdx) -> Option<Choice> {
        for (_, entry) in &self.roles.node(node).entries {
            let found = match *entry {
                Entry::Own => self.find_in_role(
                    walk,
                    node,
                    self.roles.node(node).own_fws.iter().map(|(_, fw)| *fw),
                ),
                Entry::Child(child) if self.limit_exhausted(child, walk.state) => None,
                Entry::Child(child) => self.find_drf(walk, child),
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// Like [`Self::find_drf`], but each level is visited in a weighted random order.
    fn find_random(&self, walk: &Walk<'_>, node: RoleIdx, rng: &mut SplitMix64) -> Option<Choice> {
        let mut pending: Vec<(f64, Entry)> = self
            .roles
            .node(node)
            .entries
            .iter()
            .map(|(_, entry)| (self.entry_weight(*entry), *entry))
            .collect();
        while !pending.is_empty() {
            let entry = pending.swap_remove(pick_weighted(&pending, rng)).1;
            let found = match entry {
                Entry::Own => {
                    let mut fws: Vec<FwIdx> = self
                        .roles
                        .node(node)
                        .own_fws
                        .iter()
                        .map(|(_, fw)| *fw)
                        .collect();
                    rng.shuffle(&mut fws);
                    self.find_in_role(walk, node, fws.into_iter())
                }
                Entry::Child(child) if self.limit_exhausted(child, walk.state) => None,
                Entry::Child(child) => self.find_random(walk, child, rng),
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    fn entry_weight(&self, entry: Entry) -> f64 {
        match entry {
            Entry::Own => 1.0,
            Entry::Child(child) => self.roles.node(child).weight,
        }
    }

    /// The first of `fws` (frameworks of `role`) that would take `role`'s offer here.
    fn find_in_role(
        &self,
        walk: &Walk<'_>,
        role: RoleIdx,
        fws: impl Iterator<Item = FwIdx>,
    ) -> Option<Choice> {
        let offer = self.offer_cow(walk, role);
        if offer.is_empty() {
            return None;
        }
        let quantities = self.crumb_quantities(&offer);
        let crumbs_ok = meets_min(&self.min_allocatable, &quantities);
        let has_revocable = offer
            .slots()
            .iter()
            .any(|s| self.catalog.is_revocable(s.name));
        // Without revocable resources in the offer, or for a framework that takes them, the
        // role's offer as is; for the others, the offer without them (built once).
        let mut regular: Option<(Pool, Qty, bool)> = None;
        for fw in fws {
            let capable = self.frameworks.get(fw).is_some_and(|f| f.revocable);
            if !has_revocable || capable {
                if self.eligible(walk, fw, role, &offer, &quantities, crumbs_ok) {
                    return Some(Choice {
                        fw,
                        role,
                        offer: match offer {
                            Cow::Borrowed(_) => None,
                            Cow::Owned(offer) => Some(offer),
                        },
                    });
                }
                continue;
            }
            let (pool, qty, ok) = regular.get_or_insert_with(|| {
                let pool = offer.filtered(|name, _| !self.catalog.is_revocable(name));
                let qty = self.crumb_quantities(&pool);
                let ok = meets_min(&self.min_allocatable, &qty);
                (pool, qty, ok)
            });
            if !pool.is_empty() && self.eligible(walk, fw, role, pool, qty, *ok) {
                return Some(Choice {
                    fw,
                    role,
                    offer: Some(pool.clone()),
                });
            }
        }
        None
    }

    /// What crumb rules see of `pool`: revocable amounts count as their regular name, so
    /// an agent with only revocable CPU left is still worth offering.
    fn crumb_quantities(&self, pool: &Pool) -> Qty {
        let mut quantities = Qty::default();
        for slot in pool.slots() {
            quantities.add(self.catalog.base(slot.name), slot.units);
        }
        quantities
    }

    /// The agent's free pool as is when nothing can trim it for `role` (no reservation on
    /// the agent, no limit above the role, no guarantee anywhere): the common case, without
    /// a copy per role visited.
    fn offer_cow<'a>(&self, walk: &Walk<'a>, role: RoleIdx) -> Cow<'a, Pool> {
        let untrimmed = walk.stage == Stage::Fair
            && self.guaranteed_roles.is_empty()
            && !walk.state.free.has_reserved()
            && !self.roles.chain(role).any(|at| {
                self.roles
                    .node(at)
                    .quota
                    .as_ref()
                    .is_some_and(|q| q.limit.is_some())
            });
        if untrimmed {
            Cow::Borrowed(&walk.state.free)
        } else {
            Cow::Owned(self.offer_for(walk.state, role, walk.stage))
        }
    }

    fn eligible(
        &self,
        walk: &Walk<'_>,
        fw: FwIdx,
        role: RoleIdx,
        offer: &Pool,
        quantities: &Qty,
        crumbs_ok: bool,
    ) -> bool {
        let Some(framework) = self.frameworks.get(fw) else {
            return false;
        };
        let big_enough = match &framework.min_allocatable {
            Some(sets) => meets_min(sets, quantities),
            None => crumbs_ok,
        };
        if !big_enough {
            return false;
        }
        let filtered = framework
            .filters
            .get(&(walk.agent, role))
            .is_some_and(|f| walk.now < f.expiry && f.resources.contains(offer));
        !filtered
    }

    /// Moves the chosen offer from free to offered and books it.
    fn grant(&mut self, agent: AgentIdx, choice: Choice, out: &mut Vec<Allocation>) {
        let Choice { fw, role, offer } = choice;
        let Some(state) = self.agents.get_mut(agent) else {
            return;
        };
        let offer = match offer {
            Some(offer) if state.free.take(&offer) => offer,
            Some(_) => return,
            None => std::mem::take(&mut state.free),
        };
        let agent_id = state.id.clone();
        self.on_free_change(&offer, -1);
        self.on_alloc_change(fw, role, &offer, 1);
        if let Some(framework) = self.frameworks.get(fw) {
            out.push(Allocation {
                framework_id: framework.id.clone(),
                agent_id,
                role: self.roles.node(role).path.clone(),
                resources: self.resources_of(&offer),
            });
        }
        self.hold(agent, fw, role, offer);
    }

    /// Adds `offer` to the framework's holding on the agent, creating it if new.
    pub(super) fn hold(&mut self, agent: AgentIdx, fw: FwIdx, role: RoleIdx, offer: Pool) {
        let Some(state) = self.agents.get_mut(agent) else {
            return;
        };
        let new_holding = match state.holding(fw, role) {
            Some(at) => {
                state.holdings[at].offered.add(&offer);
                false
            }
            None => {
                state.holdings.push(Holding {
                    fw,
                    role,
                    offered: offer,
                    used: Pool::default(),
                });
                true
            }
        };
        if let Some(framework) = self.frameworks.get_mut(fw) {
            *framework.agents.entry(agent).or_insert(0) += u32::from(new_holding);
        }
    }
}

/// What stays fixed while one agent is matched against the role tree.
struct Walk<'a> {
    agent: AgentIdx,
    state: &'a Agent,
    stage: Stage,
    now: Time,
}

/// Index of an entry drawn with probability proportional to its weight.
fn pick_weighted(entries: &[(f64, Entry)], rng: &mut SplitMix64) -> usize {
    let total: f64 = entries.iter().map(|(w, _)| *w).sum();
    let mut point = rng.next_f64() * total;
    for (at, (weight, _)) in entries.iter().enumerate() {
        if point < *weight {
            return at;
        }
        point -= weight;
    }
    entries.len().saturating_sub(1)
}
