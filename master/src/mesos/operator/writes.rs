//! The operator calls that change something, as the native `Operator` service's requests:
//! weights, quota (UPDATE_QUOTA's guarantees and limits; the deprecated SET_QUOTA's
//! guarantee, which Mesos 1.11 also makes the limit; REMOVE_QUOTA as no quota), and
//! reservations of an agent's free resources. Mesos's `mem`/`disk` are MB.

use std::collections::HashMap;

use axum::http::StatusCode;
use wasmesos_proto::mesos::v1 as mesos;
use wasmesos_proto::mesos::v1::master::Call;
use wasmesos_proto::v1::{
    Quota, ReserveResourcesRequest, Resource, Resources, RoleWeight, SetQuotaRequest,
    UnreserveResourcesRequest, UpdateWeightsRequest, ValueType,
};

use super::{Refusal, refusal};
use crate::mesos::MesosApi;
use crate::mesos::resources::{self, MAX_RESOURCES};

/// Bytes in Mesos's megabyte.
const MB: f64 = 1024.0 * 1024.0;

fn bad(message: String) -> Refusal {
    Refusal::bad_request(message)
}

pub(super) async fn update_weights(api: &MesosApi, call: Call) -> Result<(), Refusal> {
    let infos = call
        .update_weights
        .map(|u| u.weight_infos)
        .unwrap_or_default();
    if infos.len() > MAX_RESOURCES {
        return Err(bad(format!(
            "Failed to validate update weights request JSON: at most {MAX_RESOURCES} weights"
        )));
    }
    let mut weights = Vec::with_capacity(infos.len());
    for info in infos {
        let role = info.role.unwrap_or_default().trim().to_string();
        if info.weight <= 0.0 || !info.weight.is_finite() {
            return Err(bad(format!(
                "Failed to validate update weights request JSON for role '{role}': \
                 Invalid weight '{}': Weights must be positive",
                info.weight
            )));
        }
        weights.push(RoleWeight {
            role,
            weight: info.weight,
        });
    }
    if weights.is_empty() {
        // Mesos answers an empty update 200 and changes nothing.
        return Ok(());
    }
    api.actor
        .update_weights(UpdateWeightsRequest { weights })
        .await
        .map_err(refusal)
}

/// Scalar quantities (`{"cpus": {"value": 1}}`) as wasmesos resources, MB turned to bytes.
fn quantities(map: &HashMap<String, mesos::value::Scalar>) -> Result<Resources, Refusal> {
    if map.len() > MAX_RESOURCES {
        return Err(bad(format!(
            "Invalid QuotaConfig: at most {MAX_RESOURCES} resources"
        )));
    }
    let mut names: Vec<&String> = map.keys().collect();
    names.sort();
    let resources = names
        .into_iter()
        .map(|name| {
            let value = map.get(name).map_or(0.0, |s| s.value);
            Resource {
                name: name.clone(),
                r#type: ValueType::Scalar as i32,
                value: if name == "mem" || name == "disk" {
                    value * MB
                } else {
                    value
                },
                ..Default::default()
            }
        })
        .collect();
    Ok(Resources { resources })
}

pub(super) async fn update_quota(api: &MesosApi, call: Call) -> Result<(), Refusal> {
    let configs = call
        .update_quota
        .map(|u| u.quota_configs)
        .unwrap_or_default();
    if configs.len() > MAX_RESOURCES {
        return Err(bad(format!(
            "Invalid QuotaConfig: at most {MAX_RESOURCES} configs per call"
        )));
    }
    // Every config is translated before any is applied.
    let mut requests = Vec::with_capacity(configs.len());
    for config in configs {
        let guarantee = quantities(&config.guarantees)?;
        let limit = (!config.limits.is_empty())
            .then(|| quantities(&config.limits))
            .transpose()?;
        requests.push(SetQuotaRequest {
            role: config.role,
            quota: Some(Quota {
                guarantee: Some(guarantee),
                limit,
            }),
        });
    }
    for request in requests {
        api.actor.set_quota(request).await.map_err(refusal)?;
    }
    Ok(())
}

/// The deprecated SET_QUOTA: the guarantee, which Mesos 1.11 also sets as the limit.
#[allow(
    deprecated,
    reason = "SET_QUOTA and REMOVE_QUOTA are deprecated in Mesos 1.11 and still answered"
)]
pub(super) async fn set_quota(api: &MesosApi, call: Call) -> Result<(), Refusal> {
    let request = call.set_quota.map(|s| s.quota_request).unwrap_or_default();
    let Some(role) = request.role.filter(|r| !r.is_empty()) else {
        return Err(bad(
            "Failed to validate set quota request: 'QuotaRequest.role' must be set".into(),
        ));
    };
    if has_quota(api, &role).await? {
        return Err(bad(format!(
            "Failed to validate set quota request: Cannot set quota for role '{role}' \
             which already has quota"
        )));
    }
    let guarantee = resources::all_from_mesos(&request.guarantee).map_err(|why| {
        bad(format!(
            "Failed to validate set quota request: QuotaInfo with invalid resource: {why}"
        ))
    })?;
    let req = SetQuotaRequest {
        role,
        quota: Some(Quota {
            guarantee: Some(guarantee.clone()),
            limit: Some(guarantee),
        }),
    };
    api.actor.set_quota(req).await.map_err(refusal)
}

#[allow(
    deprecated,
    reason = "SET_QUOTA and REMOVE_QUOTA are deprecated in Mesos 1.11 and still answered"
)]
pub(super) async fn remove_quota(api: &MesosApi, call: Call) -> Result<(), Refusal> {
    let role = call.remove_quota.map(|r| r.role).unwrap_or_default();
    if !has_quota(api, &role).await? {
        return Err(bad(format!(
            "Failed to remove quota: Role '{role}' has no quota set"
        )));
    }
    let req = SetQuotaRequest { role, quota: None };
    api.actor.set_quota(req).await.map_err(refusal)
}

/// Whether `role` has a quota now (asked of the actor, so a quota just set is seen).
async fn has_quota(api: &MesosApi, role: &str) -> Result<bool, Refusal> {
    Ok(api
        .actor
        .roles()
        .await
        .map_err(refusal)?
        .iter()
        .any(|r| r.name == role && r.quota.is_some()))
}

pub(super) async fn reserve(api: &MesosApi, call: Call) -> Result<(), Refusal> {
    let Some(reserve) = call.reserve_resources else {
        return Err(bad("Expecting 'reserve_resources' to be present".into()));
    };
    if !reserve.source.is_empty() {
        return Err(Refusal::new(
            StatusCode::NOT_IMPLEMENTED,
            "RESERVE_RESOURCES with 'source' (re-reserving reserved resources) is not \
             supported by wasmesos: unreserve them first",
        ));
    }
    let resources = resources::all_from_mesos(&reserve.resources)
        .map_err(|why| bad(format!("Invalid RESERVE operation: {why}")))?;
    let req = ReserveResourcesRequest {
        agent_id: reserve.agent_id.value,
        resources: Some(resources),
        role: String::new(),
    };
    api.actor
        .reserve_resources(req)
        .await
        .map_err(reservation_refusal)
}

/// Mesos's answers to a reservation that cannot be made: 400 for an unknown agent, 409 for
/// resources the agent does not have free.
fn reservation_refusal(err: crate::Error) -> Refusal {
    match err {
        crate::Error::NotFound(_) => bad("No agent found with specified ID".into()),
        other => refusal(other),
    }
}

pub(super) async fn unreserve(api: &MesosApi, call: Call) -> Result<(), Refusal> {
    let Some(unreserve) = call.unreserve_resources else {
        return Err(bad("Expecting 'unreserve_resources' to be present".into()));
    };
    let resources = resources::all_from_mesos(&unreserve.resources)
        .map_err(|why| bad(format!("Invalid UNRESERVE operation: {why}")))?;
    let req = UnreserveResourcesRequest {
        agent_id: unreserve.agent_id.value,
        resources: Some(resources),
        role: String::new(),
    };
    api.actor
        .unreserve_resources(req)
        .await
        .map_err(reservation_refusal)
}
