//! What one role may be offered from one agent: eligibility of reservations, then quota
//! limits, then the headroom that unmet guarantees of other roles need.

use super::Allocator;
use crate::pool::{NameId, Pool, Qty, RoleIdx, Slot, UNRESERVED};
use crate::roles::RoleNode;
use crate::state::{Agent, MinSets};

/// The two allocation stages of a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stage {
    /// Up to the unmet guarantee of this role, for frameworks in its subtree.
    Guarantee(RoleIdx),
    /// Fair sharing of what is left.
    Fair,
}

impl Allocator {
    /// What frameworks of `role` may be offered from `agent` now; empty if nothing.
    pub(super) fn offer_for(&self, agent: &Agent, role: RoleIdx, stage: Stage) -> Pool {
        let mut offer = agent
            .free
            .filtered(|_, res| res == UNRESERVED || self.roles.is_ancestor_or_self(res, role));
        if offer.is_empty() {
            return offer;
        }
        self.trim_to_limits(&mut offer, role);
        match stage {
            Stage::Fair => self.trim_to_headroom(&mut offer, role),
            Stage::Guarantee(quota_role) => {
                if !self.trim_to_guarantee(&mut offer, quota_role) {
                    return Pool::default();
                }
            }
        }
        offer
    }

    /// Does `slot`, once allocated under a role below `node`, add to `node`'s consumption?
    /// Unallocated reservations inside `node`'s subtree are already counted.
    fn counts_for(&self, node: &RoleNode, slot: &Slot) -> bool {
        !slot.is_reserved() || self.roles.node(slot.res).depth < node.depth
    }

    fn trim_to_limits(&self, offer: &mut Pool, role: RoleIdx) {
        for at in self.roles.chain(role) {
            let node = self.roles.node(at);
            let Some(limit) = node.quota.as_ref().and_then(|q| q.limit.as_ref()) else {
                continue;
            };
            for (name, cap) in limit {
                let headroom = (cap - node.consumption(*name)).max(0);
                let counted: i64 = offer
                    .slots()
                    .iter()
                    .filter(|s| s.name == *name && self.counts_for(node, s))
                    .map(|s| s.units)
                    .sum();
                if counted > headroom {
                    node.limit_blocked.set(true);
                    self.cut(offer, *name, counted - headroom, |s| {
                        self.counts_for(node, s)
                    });
                }
            }
        }
    }

    /// Removes `excess` units of `name` from slots that `counts`, unreserved first.
    fn cut(&self, offer: &mut Pool, name: NameId, mut excess: i64, counts: impl Fn(&Slot) -> bool) {
        offer.retain(|slot| {
            if excess > 0 && slot.name == name && counts(slot) {
                let cut = excess.min(slot.units);
                slot.units -= cut;
                excess -= cut;
            }
            true
        });
    }

    /// In the fair stage, leaves enough free unreserved resources for other roles' unmet
    /// guarantees.
    fn trim_to_headroom(&self, offer: &mut Pool, role: RoleIdx) {
        if self.guaranteed_roles.is_empty() {
            return;
        }
        let names: Vec<NameId> = offer
            .slots()
            .iter()
            .filter(|s| !s.is_reserved())
            .map(|s| s.name)
            .collect();
        for name in names {
            let required: i64 = self
                .guaranteed_roles
                .iter()
                .filter(|q| !self.roles.is_ancestor_or_self(**q, role))
                .map(|q| self.unmet(*q, name))
                .sum();
            if required == 0 {
                continue;
            }
            let spare = (self.free_unreserved.get(name) - required).max(0);
            let offered = offer
                .slots()
                .iter()
                .find(|s| s.name == name && !s.is_reserved());
            if let Some(offered) = offered.map(|s| s.units)
                && offered > spare
            {
                self.headroom_blocked.set(true);
                self.cut(offer, name, offered - spare, |s| !s.is_reserved());
            }
        }
    }

    /// In the guarantee stage, offers guaranteed names only up to what is unmet; returns
    /// false if that leaves nothing that brings the role closer to its guarantee.
    fn trim_to_guarantee(&self, offer: &mut Pool, quota_role: RoleIdx) -> bool {
        let node = self.roles.node(quota_role);
        let Some(quota) = node.quota.as_ref() else {
            return false;
        };
        let mut progress = false;
        for (name, _) in &quota.guarantee {
            let unmet = self.unmet(quota_role, *name);
            let counted: i64 = offer
                .slots()
                .iter()
                .filter(|s| s.name == *name && self.counts_for(node, s))
                .map(|s| s.units)
                .sum();
            if counted > unmet {
                self.cut(offer, *name, counted - unmet, |s| self.counts_for(node, s));
            }
            progress |= counted.min(unmet) > 0;
        }
        progress
    }

    /// How much of `name` the role's guarantee still lacks.
    pub(super) fn unmet(&self, role: RoleIdx, name: NameId) -> i64 {
        let node = self.roles.node(role);
        node.quota
            .as_ref()
            .and_then(|q| q.guarantee.iter().find(|(n, _)| *n == name))
            .map_or(0, |(_, g)| (g - node.consumption(name)).max(0))
    }

    pub(super) fn has_unmet(&self, role: RoleIdx) -> bool {
        self.roles
            .node(role)
            .quota
            .as_ref()
            .is_some_and(|q| q.guarantee.iter().any(|(n, _)| self.unmet(role, *n) > 0))
    }

    /// A cheap skip for a whole subtree: `role`'s limit leaves no room for anything free on
    /// an agent without reservations.
    pub(super) fn limit_exhausted(&self, role: RoleIdx, agent: &Agent) -> bool {
        let node = self.roles.node(role);
        let Some(limit) = node.quota.as_ref().and_then(|q| q.limit.as_ref()) else {
            return false;
        };
        let exhausted = agent.free.slots().iter().all(|slot| {
            !slot.is_reserved()
                && limit
                    .iter()
                    .find(|(n, _)| *n == slot.name)
                    .is_some_and(|(_, cap)| node.consumption(slot.name) >= *cap)
        });
        if exhausted {
            node.limit_blocked.set(true);
        }
        exhausted
    }
}

/// Do `quantities` cover at least one of `sets`? No sets: any non-empty quantities.
pub(super) fn meets_min(sets: &MinSets, quantities: &Qty) -> bool {
    if quantities.iter().next().is_none() {
        return false;
    }
    sets.is_empty()
        || sets.iter().any(|set| {
            set.iter()
                .all(|(name, units)| quantities.get(*name) >= *units)
        })
}

/// [`meets_min`] straight on a pool, without building quantities: for one-off checks. Like
/// it, only scalars count: ports alone are not worth an offer.
/// `base` maps a revocable id to its regular one, as crumb rules count them.
pub(super) fn meets_min_pool(sets: &MinSets, pool: &Pool, base: impl Fn(NameId) -> NameId) -> bool {
    let units_of = |name: NameId| -> i64 {
        pool.slots()
            .iter()
            .filter(|s| base(s.name) == name)
            .map(|s| s.units)
            .sum()
    };
    !pool.slots().is_empty()
        && (sets.is_empty()
            || sets
                .iter()
                .any(|set| set.iter().all(|(name, units)| units_of(*name) >= *units)))
}
