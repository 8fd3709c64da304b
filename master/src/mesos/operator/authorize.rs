//! The ACL checks of Mesos operator calls that change the cluster, made before the call is
//! translated: `update_weights` and `set_quotas` per role named, `reserve_resources` and
//! `unreserve_resources` and the agent actions (`mark_agents_gone`, `drain_agents`,
//! `deactivate_agents`, `reactivate_agents`) by the caller alone. A refusal is Mesos's 403.

use axum::http::StatusCode;
use wasmesos_proto::mesos::v1::master::{Call, call};

use crate::auth::{Action, Caller, Security};
use crate::mesos::codec::Refusal;

/// Checks `call` (of type `kind`) for `caller`.
#[allow(
    deprecated,
    reason = "SET_QUOTA and REMOVE_QUOTA are deprecated in Mesos 1.11 and still answered"
)]
pub(super) fn authorize(
    security: &Security,
    caller: &Caller,
    kind: call::Type,
    call: &Call,
) -> Result<(), Refusal> {
    if let Some(checked) = crate::mesos::maintenance::authorize(security, caller, kind, call) {
        return checked;
    }
    use call::Type as T;
    let roles: Vec<&str> = match kind {
        T::UpdateWeights => call
            .update_weights
            .iter()
            .flat_map(|u| &u.weight_infos)
            .map(|w| w.role.as_deref().unwrap_or_default())
            .collect(),
        T::UpdateQuota => call
            .update_quota
            .iter()
            .flat_map(|u| &u.quota_configs)
            .map(|c| c.role.as_str())
            .collect(),
        T::SetQuota => call
            .set_quota
            .iter()
            .map(|s| s.quota_request.role.as_deref().unwrap_or_default())
            .collect(),
        T::RemoveQuota => call.remove_quota.iter().map(|r| r.role.as_str()).collect(),
        _ => Vec::new(),
    };
    let action = match kind {
        T::UpdateWeights => Action::UpdateWeights,
        T::UpdateQuota | T::SetQuota | T::RemoveQuota => Action::SetQuotas,
        T::ReserveResources => Action::ReserveResources,
        T::UnreserveResources => Action::UnreserveResources,
        T::MarkAgentGone => Action::MarkAgentsGone,
        T::DrainAgent => Action::DrainAgents,
        T::DeactivateAgent => Action::DeactivateAgents,
        T::ReactivateAgent => Action::ReactivateAgents,
        _ => return Ok(()),
    };
    let refuse = |err: crate::Error| Refusal::new(StatusCode::FORBIDDEN, err.to_string());
    if let Some(agent) = agent_of(call) {
        // Mesos's agent actions name their object implicitly: a rule's `agents` is ANY or NONE.
        return security
            .check(caller, action, &[("agents", agent)])
            .map_err(refuse);
    }
    if roles.is_empty() {
        return security.check(caller, action, &[]).map_err(refuse);
    }
    for role in roles {
        security
            .check(caller, action, &[("roles", role)])
            .map_err(refuse)?;
    }
    Ok(())
}

/// The agent an agent call (MARK_AGENT_GONE, DRAIN_AGENT, DEACTIVATE_AGENT,
/// REACTIVATE_AGENT) names.
fn agent_of(call: &Call) -> Option<&str> {
    let id = call
        .mark_agent_gone
        .as_ref()
        .map(|c| &c.agent_id)
        .or(call.drain_agent.as_ref().map(|c| &c.agent_id))
        .or(call.deactivate_agent.as_ref().map(|c| &c.agent_id))
        .or(call.reactivate_agent.as_ref().map(|c| &c.agent_id))?;
    Some(id.value.as_str())
}
