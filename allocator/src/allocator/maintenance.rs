//! Inverse offers for maintenance, as Mesos's hierarchical allocator makes them
//! (`updateUnavailability`, `updateInverseOffer`, `generateInverseOffers`,
//! `getInverseOfferStatuses`).
//!
//! An agent under maintenance (its machine is in the schedule) asks every *active* framework
//! that holds resources there, offered or used, to give them back: one inverse offer per
//! framework and agent at a time. An answer (accept or decline) is kept as that framework's
//! latest status for the agent, and its `refuse` filter keeps the next inverse offer for the
//! same agent away until it expires; an inverse offer rescinded or timed out leaves no
//! status. A new unavailability for the agent starts afresh: no outstanding offer, no
//! status, no filter. Like Mesos, this is not DRF: inverse offers go to every holder, in no
//! order of shares, and only on agents the allocator offers (an operator-deactivated agent
//! gets none). The master supplies the unavailability; this state machine knows only which
//! agents are under maintenance, and holds no clock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use super::{Allocator, Time};
use crate::{AgentId, FrameworkId};

/// A framework's answer to an inverse offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InverseOfferAnswer {
    /// It will give the resources back before the unavailability starts.
    Accept,
    /// It cannot, or probably will not.
    Decline,
}

/// A framework's latest answer for one agent, and when it came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InverseOfferStatus {
    /// What it answered.
    pub answer: InverseOfferAnswer,
    /// When (the caller's time).
    pub at: Time,
}

/// One agent under maintenance.
#[derive(Debug, Default)]
struct AgentMaintenance {
    /// Frameworks with an inverse offer for this agent not answered yet.
    outstanding: BTreeSet<FrameworkId>,
    /// Each framework's latest answer.
    statuses: BTreeMap<FrameworkId, InverseOfferStatus>,
}

/// The maintenance state of the allocator: which agents are under maintenance, the inverse
/// offers out, the answers and the filters. Driven by the master next to [`Allocator`];
/// [`InverseOffers::generate`] reads who holds what from it.
#[derive(Debug, Default)]
pub struct InverseOffers {
    agents: HashMap<AgentId, AgentMaintenance>,
    /// Refusal filters: no inverse offer to the framework for the agent until the time.
    filters: HashMap<(FrameworkId, AgentId), Time>,
}

impl InverseOffers {
    /// No agent under maintenance.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts (`true`) or ends an agent's maintenance, as Mesos's `updateUnavailability`:
    /// either way afresh, with no inverse offer outstanding, no status kept and every
    /// framework's filter for the agent dropped, so frameworks reassess the new window.
    /// The master rescinds the outstanding inverse offers itself.
    pub fn set_unavailable(&mut self, agent: &AgentId, unavailable: bool) {
        self.filters.retain(|(_, filtered), _| filtered != agent);
        if unavailable {
            self.agents
                .insert(agent.clone(), AgentMaintenance::default());
        } else {
            self.agents.remove(agent);
        }
    }

    /// Whether the agent is under maintenance.
    pub fn is_unavailable(&self, agent: &AgentId) -> bool {
        self.agents.contains_key(agent)
    }

    /// An inverse offer answered (`Some`), or rescinded or timed out (`None`), as Mesos's
    /// `updateInverseOffer`: the framework may get a new one in a later round, after the
    /// `refuse` filter (if any, and not zero) expires. An answer for an inverse offer that
    /// is not outstanding (old, or for an agent no longer under maintenance) is ignored;
    /// its filter still applies, as in Mesos.
    pub fn update(
        &mut self,
        agent: &AgentId,
        framework: &FrameworkId,
        answer: Option<InverseOfferAnswer>,
        refuse: Option<Duration>,
        now: Time,
    ) {
        let Some(maintenance) = self.agents.get_mut(agent) else {
            return;
        };
        if maintenance.outstanding.remove(framework)
            && let Some(answer) = answer
        {
            maintenance
                .statuses
                .insert(framework.clone(), InverseOfferStatus { answer, at: now });
        }
        if let Some(refuse) = refuse.filter(|refuse| !refuse.is_zero()) {
            let until = now.saturating_add(refuse);
            let expiry = self
                .filters
                .entry((framework.clone(), agent.clone()))
                .or_insert(until);
            *expiry = (*expiry).max(until);
        }
    }

    /// Drops a framework's inverse offer filters (Mesos clears them when a framework is
    /// deactivated or removed) and its outstanding marks (the master rescinds the offers).
    pub fn forget_framework(&mut self, framework: &FrameworkId) {
        self.filters
            .retain(|(filtered, _), _| filtered != framework);
        for maintenance in self.agents.values_mut() {
            maintenance.outstanding.remove(framework);
        }
    }

    /// The inverse offers to make now, as Mesos's `generateInverseOffers`: for each agent
    /// under maintenance that `eligible` admits and the allocator offers (not deactivated),
    /// every active framework holding resources there that has no inverse offer outstanding
    /// for it and no unexpired filter. Each is marked outstanding. Sorted by framework, then
    /// agent. Expired filters are forgotten.
    pub fn generate(
        &mut self,
        allocator: &Allocator,
        eligible: impl Fn(&AgentId) -> bool,
        now: Time,
    ) -> Vec<(FrameworkId, AgentId)> {
        self.filters.retain(|_, until| *until > now);
        let mut out = Vec::new();
        for (agent, maintenance) in &mut self.agents {
            if !eligible(agent) {
                continue;
            }
            for framework in allocator.active_holders(agent) {
                let filtered = self
                    .filters
                    .contains_key(&(framework.clone(), agent.clone()));
                if filtered || maintenance.outstanding.contains(&framework) {
                    continue;
                }
                maintenance.outstanding.insert(framework.clone());
                out.push((framework, agent.clone()));
            }
        }
        out.sort();
        out
    }

    /// The frameworks' latest answers for an agent under maintenance, by framework id.
    pub fn statuses(
        &self,
        agent: &AgentId,
    ) -> impl Iterator<Item = (&FrameworkId, &InverseOfferStatus)> {
        self.agents
            .get(agent)
            .into_iter()
            .flat_map(|maintenance| maintenance.statuses.iter())
    }

    /// When the earliest inverse offer filter expires: the master should run a round then,
    /// since a framework may be due a new inverse offer.
    pub fn next_filter_expiry(&self) -> Option<Time> {
        self.filters.values().min().copied()
    }
}

impl Allocator {
    /// The active frameworks holding resources (offered or used) on an active agent, each
    /// once, in id order; none on an agent the allocator does not know or does not offer.
    pub fn active_holders(&self, agent: &AgentId) -> Vec<FrameworkId> {
        let Some(state) = self
            .agent_ids
            .get(agent)
            .and_then(|idx| self.agents.get(*idx))
            .filter(|state| state.active)
        else {
            return Vec::new();
        };
        let mut holders: Vec<FrameworkId> = state
            .holdings
            .iter()
            .filter_map(|holding| self.frameworks.get(holding.fw))
            .filter(|framework| framework.active)
            .map(|framework| framework.id.clone())
            .collect();
        holders.sort();
        holders.dedup();
        holders
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AllocatorConfig, FrameworkSpec, Resources};

    fn cluster() -> Allocator {
        let mut allocator = Allocator::new(AllocatorConfig::default()).expect("allocator");
        let total: Resources = "cpus:4;mem:4GiB".parse().expect("resources");
        for agent in ["a1", "a2"] {
            allocator.add_agent(agent.into(), &total).expect("agent");
        }
        for framework in ["f1", "f2"] {
            allocator
                .add_framework(framework.into(), FrameworkSpec::with_roles(["*"]))
                .expect("framework");
        }
        allocator
    }

    fn secs(s: u64) -> Time {
        Duration::from_secs(s)
    }

    #[test]
    fn holders_of_an_agent_under_maintenance_get_one_inverse_offer_each() {
        let mut allocator = cluster();
        let offered = allocator.allocate(secs(0));
        assert!(!offered.is_empty());
        let mut maintenance = InverseOffers::new();
        maintenance.set_unavailable(&"a1".into(), true);
        let first = maintenance.generate(&allocator, |_| true, secs(1));
        let expected: Vec<(FrameworkId, AgentId)> = offered
            .iter()
            .filter(|o| o.agent_id.as_str() == "a1")
            .map(|o| (o.framework_id.clone(), o.agent_id.clone()))
            .collect();
        assert_eq!(first, expected, "only a1's holders, once each");
        assert!(
            maintenance
                .generate(&allocator, |_| true, secs(2))
                .is_empty(),
            "outstanding inverse offers are not sent again"
        );
        assert!(
            maintenance
                .generate(&allocator, |a| a.as_str() != "a1", secs(2))
                .is_empty()
        );
    }

    #[test]
    fn answers_are_kept_and_filters_delay_the_next_inverse_offer() {
        let mut allocator = cluster();
        let offered = allocator.allocate(secs(0));
        let holder = offered
            .iter()
            .find(|o| o.agent_id.as_str() == "a1")
            .expect("a1 offered")
            .framework_id
            .clone();
        let agent: AgentId = "a1".into();
        let mut maintenance = InverseOffers::new();
        maintenance.set_unavailable(&agent, true);
        assert_eq!(maintenance.generate(&allocator, |_| true, secs(1)).len(), 1);
        maintenance.update(
            &agent,
            &holder,
            Some(InverseOfferAnswer::Decline),
            Some(secs(10)),
            secs(2),
        );
        let statuses: Vec<_> = maintenance.statuses(&agent).collect();
        assert_eq!(statuses.len(), 1);
        assert_eq!(statuses[0].1.answer, InverseOfferAnswer::Decline);
        assert_eq!(statuses[0].1.at, secs(2));
        assert_eq!(maintenance.next_filter_expiry(), Some(secs(12)));
        assert!(
            maintenance
                .generate(&allocator, |_| true, secs(11))
                .is_empty()
        );
        assert_eq!(
            maintenance.generate(&allocator, |_| true, secs(12)).len(),
            1
        );
        assert_eq!(maintenance.next_filter_expiry(), None);
        // A rescind clears the outstanding mark without a status.
        maintenance.update(&agent, &holder, None, None, secs(13));
        assert_eq!(
            maintenance.statuses(&agent).next().map(|s| s.1.answer),
            Some(InverseOfferAnswer::Decline)
        );
        // A new unavailability starts afresh.
        maintenance.set_unavailable(&agent, true);
        assert_eq!(maintenance.statuses(&agent).count(), 0);
        maintenance.set_unavailable(&agent, false);
        assert!(!maintenance.is_unavailable(&agent));
        assert!(
            maintenance
                .generate(&allocator, |_| true, secs(14))
                .is_empty()
        );
    }

    #[test]
    fn inactive_frameworks_and_deactivated_agents_get_no_inverse_offers() {
        let mut allocator = cluster();
        let offered = allocator.allocate(secs(0));
        let agent: AgentId = "a1".into();
        let holder = offered
            .iter()
            .find(|o| o.agent_id == agent)
            .expect("a1 offered")
            .framework_id
            .clone();
        let mut maintenance = InverseOffers::new();
        maintenance.set_unavailable(&agent, true);
        allocator.deactivate_framework(&holder).expect("known");
        assert!(
            maintenance
                .generate(&allocator, |_| true, secs(1))
                .is_empty()
        );
        allocator.activate_framework(&holder).expect("known");
        allocator.deactivate_agent(&agent).expect("known");
        assert!(
            maintenance
                .generate(&allocator, |_| true, secs(1))
                .is_empty()
        );
        allocator.activate_agent(&agent).expect("known");
        assert_eq!(maintenance.generate(&allocator, |_| true, secs(1)).len(), 1);
        maintenance.forget_framework(&holder);
        assert_eq!(
            maintenance.generate(&allocator, |_| true, secs(1)).len(),
            1,
            "a forgotten framework's inverse offer is made again"
        );
    }
}
