//! Revocable (oversubscribed) resources: each agent's estimate of the CPU its tasks were
//! allocated and do not use, which the allocator keeps apart from the agent's regular
//! resources and offers only to frameworks with REVOCABLE_RESOURCES, as Mesos's master does
//! with an `UpdateSlaveMessage` carrying `oversubscribed_resources`.

use wasmesos_allocator::{AgentId, FrameworkId, Resources};
use wasmesos_proto::v1::{FrameworkCapability, FrameworkInfo};

use super::convert::{Amounts, resources_from_proto};
use super::{Core, Time};
use crate::Error;
use crate::error::invalid;

/// Whether a framework asked for revocable resources.
pub(super) fn takes_revocable(info: &FrameworkInfo) -> bool {
    info.capabilities
        .contains(&(FrameworkCapability::RevocableResources as i32))
}

/// A task may not mix revocable and regular amounts of one resource (Mesos's
/// `validateRevocableAndNonRevocableResources`): which of the two it holds decides whether
/// the QoS controller may take it back.
pub(super) fn check_no_mix(resources: &Resources) -> Result<(), String> {
    let revocable = resources.revocable();
    let regular = resources.non_revocable();
    match revocable
        .names()
        .into_iter()
        .find(|name| regular.names().contains(name))
    {
        Some(name) => Err(format!(
            "resources: {name} is both revocable and not; a task takes one or the other"
        )),
        None => Ok(()),
    }
}

impl Core {
    /// Tells the allocator whether the framework takes revocable resources now (its
    /// capabilities may change on resubscription and UPDATE_FRAMEWORK).
    pub(super) fn sync_revocable_capability(&mut self, id: &FrameworkId) {
        let Some(capable) = self
            .frameworks
            .get(id)
            .map(|framework| takes_revocable(&framework.info))
        else {
            return;
        };
        if let Err(err) = self.allocator.set_revocable_capable(id, capable) {
            tracing::error!(framework_id = %id, %err, "allocator did not know the framework");
        }
    }

    /// An agent's new total of revocable resources. As Mesos's master does, every
    /// outstanding offer of revocable resources on the agent is rescinded first (the
    /// regular part of such an offer returns to the pool with it), so nothing offered
    /// exceeds the new estimate; then the allocator takes the estimate, which never drops
    /// below what revocable tasks on the agent hold.
    pub fn update_oversubscribed(
        &mut self,
        agent_id: &str,
        resources: Option<&wasmesos_proto::v1::Resources>,
        now: Time,
    ) -> Result<(), Error> {
        let agent = self.registered(agent_id, now)?;
        let estimate = resources_from_proto(resources, Amounts::NonNegative)
            .map_err(|why| invalid("resources", why))?;
        if estimate.iter().any(|item| !item.is_revocable()) {
            return Err(invalid(
                "resources",
                "every oversubscribed resource must be revocable",
            ));
        }
        self.metrics.oversubscribed_updates.inc();
        self.rescind_revocable_offers_on(&agent, now);
        self.allocator
            .set_revocable(&agent, &estimate)
            .map_err(|err| invalid("resources", err))?;
        tracing::info!(agent_id = %agent, oversubscribed = %estimate,
            "agent updated its revocable resources");
        self.request_allocation(now);
        Ok(())
    }

    fn rescind_revocable_offers_on(&mut self, agent_id: &AgentId, now: Time) {
        self.rescind_revocable_offers(|offer| offer.agent_id == *agent_id, now);
    }

    /// A framework that dropped REVOCABLE_RESOURCES (UPDATE_FRAMEWORK) loses the offers
    /// that hold revocable resources.
    pub(super) fn rescind_revocable_offers_of(&mut self, framework_id: &FrameworkId, now: Time) {
        let capable = self
            .frameworks
            .get(framework_id)
            .is_some_and(|framework| takes_revocable(&framework.info));
        if !capable {
            self.rescind_revocable_offers(|offer| offer.framework_id == *framework_id, now);
        }
    }

    fn rescind_revocable_offers(
        &mut self,
        which: impl Fn(&super::offers::OutstandingOffer) -> bool,
        now: Time,
    ) {
        let ids: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, offer)| which(offer) && !offer.resources.revocable().is_empty())
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some(offer) = self.offers.remove(&id) {
                self.send_rescind(&offer.framework_id, id);
                self.recover_offer(&offer, None, now);
            }
        }
    }

    /// Makes room in the agent's revocable pool for a task it reports on revocable
    /// resources (after a master restart or a partition the pool starts empty, and the
    /// agent's next estimate follows its registration).
    pub(super) fn hold_revocable_for(&mut self, agent_id: &AgentId, task: &Resources) {
        let wanted = task.revocable();
        if wanted.is_empty() {
            return;
        }
        let Some(snapshot) = self.allocator.agent_snapshot(agent_id) else {
            return;
        };
        let mut total = snapshot.total.revocable();
        total.add(&wanted);
        if let Err(err) = self.allocator.set_revocable(agent_id, &total) {
            tracing::error!(agent_id = %agent_id, %err, "allocator refused revocable resources");
        }
    }
}
