//! Inverse offers: made after each allocation round for the agents under maintenance (the
//! allocator's `InverseOffers` says to whom), answered by ACCEPT_INVERSE_OFFERS or
//! DECLINE_INVERSE_OFFERS, rescinded when their agent leaves or its unavailability changes
//! and when their framework disconnects or goes, timed out with the offer timeout. Their
//! ids share the offers' sequence, as in Mesos.

use std::collections::BTreeMap;

use wasmesos_allocator::{AgentId, FrameworkId, InverseOfferAnswer};
use wasmesos_proto::v1::{InverseOffer, InverseOffersAnswer, event};

use super::super::{Core, Time};
use crate::Error;

/// An inverse offer sent and not yet answered.
#[derive(Clone, Debug)]
pub(super) struct OutstandingInverseOffer {
    framework_id: FrameworkId,
    agent_id: AgentId,
}

impl Core {
    /// Sends the inverse offers the allocator's maintenance state makes now: to each
    /// connected framework holding resources on a registered, connected, active agent under
    /// maintenance, one per agent until answered. Called after every allocation round.
    pub(in crate::core) fn send_inverse_offers(&mut self, now: Time) {
        if self.maintenance.unavailable.is_empty() {
            return;
        }
        let (agents, deactivated) = (&self.agents, &self.deactivated);
        let eligible = |id: &AgentId| {
            agents.get(id).is_some_and(|agent| agent.connected) && !deactivated.contains_key(id)
        };
        let made = self
            .maintenance
            .answers
            .generate(&self.allocator, eligible, now);
        let mut by_framework: BTreeMap<FrameworkId, Vec<InverseOffer>> = BTreeMap::new();
        for (framework_id, agent_id) in made {
            let connected = self
                .frameworks
                .get(&framework_id)
                .is_some_and(|framework| framework.connected);
            let (Some(agent), Some(unavailability), true) = (
                self.agents.get(&agent_id),
                self.maintenance.unavailable.get(&agent_id).copied(),
                connected,
            ) else {
                self.maintenance
                    .answers
                    .update(&agent_id, &framework_id, None, None, now);
                continue;
            };
            let hostname = agent.info.hostname.clone();
            let id = self.new_id('O');
            tracing::debug!(inverse_offer_id = %id, %framework_id, %agent_id, "inverse offer");
            by_framework
                .entry(framework_id.clone())
                .or_default()
                .push(InverseOffer {
                    id: id.clone(),
                    framework_id: framework_id.to_string(),
                    agent_id: agent_id.to_string(),
                    hostname,
                    unavailability: Some(unavailability),
                });
            if self.config.offer_timeout.is_some() {
                self.offer_queue.push_back((now, id.clone()));
            }
            let outstanding = OutstandingInverseOffer {
                framework_id,
                agent_id,
            };
            self.maintenance.inverse_offers.insert(id, outstanding);
        }
        for (framework_id, inverse_offers) in by_framework {
            let event = event::InverseOffers { inverse_offers };
            self.outbox
                .event(framework_id.as_str(), event::Event::InverseOffers(event));
        }
    }

    /// ACCEPT_INVERSE_OFFERS (`Accept`) or DECLINE_INVERSE_OFFERS (`Decline`): each of the
    /// framework's outstanding inverse offers named is answered, its answer kept for
    /// GET_MAINTENANCE_STATUS, and the framework gets no new one for the same agent until
    /// the call's `refuse_seconds` (default 5 s) pass. Unknown ids are ignored: they may have
    /// been rescinded on the way, as Mesos ignores them.
    pub fn answer_inverse_offers(
        &mut self,
        req: InverseOffersAnswer,
        answer: InverseOfferAnswer,
        now: Time,
    ) -> Result<(), Error> {
        let framework_id = self.subscribed(&req.framework_id)?;
        let refuse = self.refuse_filter(req.filters.as_ref())?;
        for id in &req.inverse_offer_ids {
            let ours = self
                .maintenance
                .inverse_offers
                .get(id)
                .is_some_and(|offer| offer.framework_id == framework_id);
            let Some(offer) = ours
                .then(|| self.maintenance.inverse_offers.remove(id))
                .flatten()
            else {
                tracing::debug!(inverse_offer_id = %id, "ignoring an answer to an inverse offer no longer valid");
                continue;
            };
            tracing::info!(inverse_offer_id = %id, %framework_id, agent_id = %offer.agent_id,
                ?answer, "inverse offer answered");
            self.maintenance.answers.update(
                &offer.agent_id,
                &framework_id,
                Some(answer),
                Some(refuse),
                now,
            );
        }
        Ok(())
    }

    /// Rescinds every inverse offer on an agent (it leaves, or its unavailability changed).
    pub(in crate::core) fn rescind_inverse_offers_on(&mut self, agent_id: &AgentId, now: Time) {
        let ids: Vec<String> = self
            .maintenance
            .inverse_offers
            .iter()
            .filter(|(_, offer)| offer.agent_id == *agent_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.withdraw_inverse_offer(&id, true, now);
        }
    }

    /// Takes back every inverse offer of a framework (it reconnected, disconnected or was
    /// removed), telling it when `tell` is set, and drops its inverse offer filters.
    pub(in crate::core) fn recover_inverse_offers_of(
        &mut self,
        framework_id: &FrameworkId,
        tell: bool,
        now: Time,
    ) {
        let ids: Vec<String> = self
            .maintenance
            .inverse_offers
            .iter()
            .filter(|(_, offer)| offer.framework_id == *framework_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.withdraw_inverse_offer(&id, tell, now);
        }
        self.maintenance.answers.forget_framework(framework_id);
    }

    /// An inverse offer past the offer timeout is rescinded; false if `id` is no inverse
    /// offer outstanding.
    pub(in crate::core) fn expire_inverse_offer(&mut self, id: &str, now: Time) -> bool {
        if !self.maintenance.inverse_offers.contains_key(id) {
            return false;
        }
        tracing::debug!(inverse_offer_id = %id, "inverse offer timed out");
        self.withdraw_inverse_offer(id, true, now);
        true
    }

    /// Removes an outstanding inverse offer without an answer, rescinding it when `tell`
    /// is set and its framework is connected.
    fn withdraw_inverse_offer(&mut self, id: &str, tell: bool, now: Time) {
        let Some(offer) = self.maintenance.inverse_offers.remove(id) else {
            return;
        };
        self.maintenance
            .answers
            .update(&offer.agent_id, &offer.framework_id, None, None, now);
        let connected = self
            .frameworks
            .get(&offer.framework_id)
            .is_some_and(|framework| framework.connected);
        if tell && connected {
            let rescind = event::RescindInverseOffer {
                inverse_offer_id: id.to_string(),
            };
            self.outbox.event(
                offer.framework_id.as_str(),
                event::Event::RescindInverseOffer(rescind),
            );
        }
    }
}
