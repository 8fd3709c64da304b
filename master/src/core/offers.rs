//! Offers: made from the allocator's allocations, declined, rescinded, timed out.

use std::time::Duration;

use wasmesos_allocator::{AgentId, FrameworkId, Resources};
use wasmesos_proto::v1::{DeclineRequest, Offer, event};

use super::convert::resources_to_proto;
use super::{Core, Time};
use crate::Error;

/// An offer sent and not yet answered.
#[derive(Clone, Debug)]
pub(super) struct OutstandingOffer {
    pub(super) framework_id: FrameworkId,
    pub(super) agent_id: AgentId,
    pub(super) role: String,
    pub(super) resources: Resources,
}

impl Core {
    /// Runs an allocation round and sends each allocation as an offer.
    pub(super) fn allocate(&mut self, now: Time) {
        self.allocation_due = None;
        self.last_round = Some(now);
        self.metrics.allocation_rounds.inc();
        for allocation in self.allocator.allocate(now) {
            self.metrics.offers_sent.inc();
            let id = self.new_id('O');
            let hostname = self
                .agents
                .get(&allocation.agent_id)
                .map(|agent| agent.info.hostname.clone())
                .unwrap_or_default();
            let offer = Offer {
                id: id.clone(),
                framework_id: allocation.framework_id.to_string(),
                agent_id: allocation.agent_id.to_string(),
                hostname,
                resources: Some(resources_to_proto(&allocation.resources)),
                role: allocation.role.to_string(),
                unavailability: self.unavailability_of(&allocation.agent_id),
            };
            tracing::debug!(offer_id = %id, framework_id = %allocation.framework_id,
                agent_id = %allocation.agent_id, resources = %allocation.resources, "offer");
            self.outbox.offer(allocation.framework_id.as_str(), offer);
            if self.config.offer_timeout.is_some() {
                self.offer_queue.push_back((now, id.clone()));
            }
            let outstanding = OutstandingOffer {
                framework_id: allocation.framework_id,
                agent_id: allocation.agent_id,
                role: allocation.role.to_string(),
                resources: allocation.resources,
            };
            self.offers.insert(id, outstanding);
        }
        self.send_inverse_offers(now);
    }

    /// DECLINE: the offers' resources return to the pool, filtered from this framework on
    /// those agents for `refuse_seconds` (default 5 s). Unknown offers are ignored: they
    /// may have been rescinded while the decline was on its way.
    pub fn decline(&mut self, req: DeclineRequest, now: Time) -> Result<(), Error> {
        let framework_id = self.subscribed(&req.framework_id)?;
        let refuse = self.refuse_filter(req.filters.as_ref())?;
        for offer_id in &req.offer_ids {
            let ours = self
                .offers
                .get(offer_id)
                .is_some_and(|offer| offer.framework_id == framework_id);
            if let Some(offer) = ours.then(|| self.offers.remove(offer_id)).flatten() {
                self.metrics.offers_declined.inc();
                self.recover_offer(&offer, Some(refuse), now);
            }
        }
        self.request_allocation(now);
        Ok(())
    }

    /// Returns an offer's resources to the pool, with an optional refusal filter.
    pub(super) fn recover_offer(
        &mut self,
        offer: &OutstandingOffer,
        refuse: Option<Duration>,
        now: Time,
    ) {
        self.recover_offered(offer, &offer.resources, refuse, now);
    }

    /// Returns part of an offer's resources to the pool.
    pub(super) fn recover_offered(
        &mut self,
        offer: &OutstandingOffer,
        resources: &Resources,
        refuse: Option<Duration>,
        now: Time,
    ) {
        if resources.is_empty() {
            return;
        }
        let recovered = self.allocator.recover_offered(
            &offer.framework_id,
            &offer.agent_id,
            &offer.role,
            resources,
            refuse,
            now,
        );
        if let Err(err) = recovered {
            tracing::error!(framework_id = %offer.framework_id, agent_id = %offer.agent_id,
                %err, "allocator refused to recover offered resources");
        }
        self.request_allocation(now);
    }

    /// Takes back every outstanding offer of a framework, telling it with RESCIND events
    /// when `tell` is set and it is connected.
    pub(super) fn recover_offers_of(&mut self, framework_id: &FrameworkId, tell: bool, now: Time) {
        self.recover_inverse_offers_of(framework_id, tell, now);
        let ids: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, offer)| offer.framework_id == *framework_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some(offer) = self.offers.remove(&id) {
                if tell {
                    self.send_rescind(&offer.framework_id, id);
                }
                self.recover_offer(&offer, None, now);
            }
        }
    }

    /// Rescinds every offer on an agent that is going away; the allocator forgets the
    /// resources with the agent, so nothing is recovered.
    pub(super) fn rescind_offers_on(&mut self, agent_id: &AgentId) {
        for (id, offer) in self.remove_offers_on(agent_id) {
            self.send_rescind(&offer.framework_id, id);
        }
    }

    /// Rescinds every offer on an agent that stays, returning the resources to its free
    /// pool (no filter), so an operator can reserve or unreserve them.
    pub(super) fn rescind_and_recover_offers_on(&mut self, agent_id: &AgentId, now: Time) {
        for (id, offer) in self.remove_offers_on(agent_id) {
            self.send_rescind(&offer.framework_id, id);
            self.recover_offer(&offer, None, now);
        }
    }

    /// Takes every outstanding offer on the agent out of the book.
    fn remove_offers_on(&mut self, agent_id: &AgentId) -> Vec<(String, OutstandingOffer)> {
        let ids: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, offer)| offer.agent_id == *agent_id)
            .map(|(id, _)| id.clone())
            .collect();
        ids.into_iter()
            .filter_map(|id| self.offers.remove(&id).map(|offer| (id, offer)))
            .collect()
    }

    /// Rescinds offers older than the offer timeout, if one is configured.
    pub(super) fn expire_offers(&mut self, now: Time) {
        let Some(timeout) = self.config.offer_timeout else {
            return;
        };
        while let Some((created, _)) = self.offer_queue.front() {
            if created.saturating_add(timeout) > now {
                break;
            }
            let Some((_, id)) = self.offer_queue.pop_front() else {
                break;
            };
            if let Some(offer) = self.offers.remove(&id) {
                tracing::debug!(offer_id = %id, "offer timed out");
                self.send_rescind(&offer.framework_id, id);
                self.recover_offer(&offer, None, now);
            } else {
                self.expire_inverse_offer(&id, now);
            }
        }
    }

    pub(super) fn send_rescind(&mut self, framework_id: &FrameworkId, offer_id: String) {
        self.metrics.offers_rescinded.inc();
        let connected = self
            .frameworks
            .get(framework_id)
            .is_some_and(|framework| framework.connected);
        if connected {
            self.outbox.event(
                framework_id.as_str(),
                event::Event::Rescind(event::Rescind { offer_id }),
            );
        }
    }
}
