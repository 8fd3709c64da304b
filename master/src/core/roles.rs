//! The operator's hold on the allocator: role listing, weights and quota changed at run
//! time, and reservations made by the operator. Every change reaches the allocator at once
//! and asks for an allocation round. Nothing here is persisted: the registry keeps none of it.

use wasmesos_allocator::{AgentId, Error as AllocError, Quota, Resources, validate_role};
use wasmesos_proto::v1::{
    self as proto, ReserveResourcesRequest, RoleSummary, SetQuotaRequest,
    UnreserveResourcesRequest, UpdateWeightsRequest,
};

use super::convert::{Amounts, resources_from_proto};
use super::state_proto::role_summary;
use super::{Core, Time};
use crate::Error;
use crate::error::invalid;

/// Which way an operator reservation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Reserve,
    Unreserve,
}

impl Core {
    /// Every role the allocator knows (configured, subscribed to, or reserved for), sorted
    /// by path, with weight, shares, consumption, quota, reservations and frameworks.
    pub fn roles(&self) -> Vec<RoleSummary> {
        self.role_views(&self.allocator.snapshot())
            .iter()
            .map(role_summary)
            .collect()
    }

    /// UpdateWeights: every weight is checked before any is applied.
    pub fn update_weights(&mut self, req: UpdateWeightsRequest, now: Time) -> Result<(), Error> {
        if req.weights.is_empty() {
            return Err(invalid("weights", "name at least one role"));
        }
        for (i, item) in req.weights.iter().enumerate() {
            let field = format!("weights[{i}]");
            checked_role(&item.role, &format!("{field}.role"))?;
            if !(item.weight.is_finite() && item.weight > 0.0) {
                return Err(invalid(
                    &format!("{field}.weight"),
                    format!("{} must be positive and finite", item.weight),
                ));
            }
        }
        for item in &req.weights {
            self.allocator
                .set_weight(&item.role, item.weight)
                .map_err(|err| invalid("weights", err))?;
            tracing::info!(role = %item.role, weight = item.weight, "role weight updated");
        }
        self.request_allocation(now);
        Ok(())
    }

    /// SetQuota: a guarantee and an optional limit, both plain quantities; neither removes
    /// the role's quota.
    pub fn set_quota(&mut self, req: SetQuotaRequest, now: Time) -> Result<(), Error> {
        let role = checked_role(&req.role, "role")?;
        let quota = req.quota.unwrap_or_default();
        let guarantee = quantities(quota.guarantee.as_ref(), "quota.guarantee")?;
        let limit = match quota.limit.as_ref() {
            Some(limit) => Some(quantities(Some(limit), "quota.limit")?),
            None => None,
        };
        let quota = Quota { guarantee, limit };
        self.allocator
            .set_quota(role, quota.clone())
            .map_err(|err| invalid("quota", err))?;
        self.quota_set_at_runtime |= !quota.guarantee.is_empty();
        tracing::info!(role, guarantee = %quota.guarantee,
            limit = %quota.limit.as_ref().map(ToString::to_string).unwrap_or_default(),
            "role quota set");
        self.request_allocation(now);
        self.check_preemption_soon(now);
        Ok(())
    }

    /// ReserveResources: free unreserved resources of an agent become reserved. When the free
    /// pool falls short, the agent's outstanding offers are rescinded and it is tried again.
    pub fn reserve_resources(
        &mut self,
        req: ReserveResourcesRequest,
        now: Time,
    ) -> Result<(), Error> {
        let resources = operator_reservation(req.resources.as_ref(), &req.role)?;
        self.change_reservation(&req.agent_id, &resources, Direction::Reserve, now)
    }

    /// UnreserveResources: free reserved resources of an agent become unreserved, with the
    /// same rescind-and-retry as [`Core::reserve_resources`].
    pub fn unreserve_resources(
        &mut self,
        req: UnreserveResourcesRequest,
        now: Time,
    ) -> Result<(), Error> {
        let resources = operator_reservation(req.resources.as_ref(), &req.role)?;
        self.change_reservation(&req.agent_id, &resources, Direction::Unreserve, now)
    }

    fn change_reservation(
        &mut self,
        agent_id: &str,
        resources: &Resources,
        direction: Direction,
        now: Time,
    ) -> Result<(), Error> {
        if agent_id.is_empty() {
            return Err(invalid("agent_id", "is required"));
        }
        let Some(agent) = self
            .agents
            .get_key_value(agent_id)
            .map(|(id, _)| id.clone())
        else {
            return Err(Error::NotFound(format!("no agent {agent_id}")));
        };
        let mut result = self.apply_reservation(&agent, resources, direction);
        if matches!(result, Err(AllocError::NotAvailable { .. })) {
            self.rescind_and_recover_offers_on(&agent, now);
            result = self.apply_reservation(&agent, resources, direction);
        }
        match result {
            Ok(()) => {
                tracing::info!(agent_id, %resources, ?direction, "operator reservation");
                self.request_allocation(now);
                Ok(())
            }
            Err(err @ AllocError::NotAvailable { .. }) => Err(Error::Conflict(err.to_string())),
            Err(err) => Err(invalid("resources", err)),
        }
    }

    fn apply_reservation(
        &mut self,
        agent: &AgentId,
        resources: &Resources,
        direction: Direction,
    ) -> Result<(), AllocError> {
        match direction {
            Direction::Reserve => self.allocator.reserve(agent, resources),
            Direction::Unreserve => self.allocator.unreserve(agent, resources),
        }
    }
}

/// A role path as the allocator accepts it, reported under `field` when it is not.
fn checked_role<'a>(role: &'a str, field: &str) -> Result<&'a str, Error> {
    if role.is_empty() {
        return Err(invalid(field, "is required"));
    }
    validate_role(role).map_err(|err| invalid(field, err))
}

/// Quota amounts: non-negative quantities with no reservation.
fn quantities(resources: Option<&proto::Resources>, field: &str) -> Result<Resources, Error> {
    let parsed =
        resources_from_proto(resources, Amounts::NonNegative).map_err(|why| invalid(field, why))?;
    if !parsed.reserved().is_empty() {
        return Err(invalid(
            field,
            "quota counts quantities: leave Resource.role empty",
        ));
    }
    Ok(parsed)
}

/// The reserved resources an operator names: every entry reserved for `role` when it is
/// given (entries may then leave their role empty), else each for its own role.
pub(super) fn operator_reservation(
    resources: Option<&proto::Resources>,
    role: &str,
) -> Result<Resources, Error> {
    let parsed = resources_from_proto(resources, Amounts::Positive)
        .map_err(|why| invalid("resources", why))?;
    if parsed.is_empty() {
        return Err(invalid("resources", "name at least one resource"));
    }
    if role.is_empty() {
        if !parsed.unreserved().is_empty() {
            return Err(invalid(
                "resources",
                "every entry must name its role, or give `role`",
            ));
        }
        return Ok(parsed);
    }
    if role == "*" {
        return Err(invalid("role", "resources cannot be reserved for `*`"));
    }
    checked_role(role, "role")?;
    if parsed
        .reserved()
        .iter()
        .any(|r| r.reservation() != Some(role))
    {
        return Err(invalid(
            "resources",
            format!("an entry names a role other than {role:?}"),
        ));
    }
    let mut out = parsed
        .unreserved()
        .reserve_for(role)
        .map_err(|err| invalid("role", err))?;
    out.add(&parsed.reserved());
    Ok(out)
}
