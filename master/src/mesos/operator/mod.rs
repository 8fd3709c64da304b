//! `POST /api/v1`: Mesos's v1 operator API (`mesos.v1.master.Call`), as Mesos 1.11's
//! `Master::Http::api` answers it: the body is decoded by its `Content-Type`, the call checked
//! (`Failed to validate master::Call: …`), then the answer encoded as `Accept` asks.
//!
//! | calls | answer |
//! |---|---|
//! | GET_HEALTH, GET_VERSION, GET_FLAGS, GET_METRICS, GET_STATE, GET_AGENTS, GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS, GET_MASTER | 200 and the Response, read from the published state snapshot ([`state`]) |
//! | GET_ROLES, GET_WEIGHTS, GET_QUOTA, GET_MAINTENANCE_STATUS, GET_MAINTENANCE_SCHEDULE | 200 and the Response, read through the actor (so a write just answered is seen) |
//! | UPDATE_MAINTENANCE_SCHEDULE, START_MAINTENANCE, STOP_MAINTENANCE | 200 with an empty body, 400 with Mesos's message ([`super::maintenance`]) |
//! | UPDATE_WEIGHTS, UPDATE_QUOTA, SET_QUOTA, REMOVE_QUOTA | 200 with an empty body, as Mesos |
//! | RESERVE_RESOURCES, UNRESERVE_RESOURCES | 202 with an empty body, as Mesos |
//! | SUBSCRIBE | 200 and a RecordIO stream of events ([`events`]) |
//! | DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT, MARK_AGENT_GONE, TEARDOWN | 200 with an empty body |
//! | the others (files, logging level, volumes, operations) | 501 and why |
//!
//! Writes go through the same [`crate::actor::Actor`] operations as the native `Operator`
//! gRPC service; reads never wait on the actor except the three that must see a write just
//! made.

mod authorize;
mod events;
mod state;
mod writes;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use wasmesos_proto::mesos::v1::master::{Call, Response as MesosResponse, call, response};

use super::MesosApi;
use super::codec::{self, Format, Refusal};
use crate::Error;
use crate::auth::{Action, Caller};
use axum::Extension;

use super::maintenance;
pub(crate) use events::Subscribers;
pub(crate) use state::master_flags;

/// Handles one operator call.
#[tracing::instrument(name = "Mesos.Operator", skip_all, fields(call = tracing::field::Empty))]
pub(crate) async fn handle(
    State(api): State<MesosApi>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = match codec::decode::<Call>(&headers, &body, "Call") {
        Ok((call, _)) => call,
        Err(refusal) => return refusal.into_response(),
    };
    let kind = match validate(&call) {
        Ok(kind) => kind,
        Err(refusal) => return refusal.into_response(),
    };
    tracing::Span::current().record("call", kind.as_str_name());
    let format = match codec::accept(&headers) {
        Ok(format) => format,
        Err(refusal) => return refusal.into_response(),
    };
    if let Err(refusal) = authorize::authorize(api.actor.security(), &caller, kind, &call) {
        return refusal.into_response();
    }
    match dispatch(&api, kind, call, format, &caller).await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    }
}

/// Mesos's checks of a call before it runs (`validation::master::call::validate`).
#[allow(
    deprecated,
    reason = "SET_QUOTA and REMOVE_QUOTA are deprecated in Mesos 1.11 and still answered"
)]
pub(crate) fn validate(call: &Call) -> Result<call::Type, Refusal> {
    let invalid =
        |why: &str| Refusal::bad_request(format!("Failed to validate master::Call: {why}"));
    let Some(kind) = call.r#type else {
        return Err(invalid("Expecting 'type' to be present"));
    };
    // A number this master does not know reads as UNKNOWN, which Mesos answers 501.
    let kind = call::Type::try_from(kind).unwrap_or(call::Type::Unknown);
    use call::Type as T;
    let present = match kind {
        T::GetMetrics => presence(call.get_metrics.is_some(), "get_metrics"),
        T::SetLoggingLevel => presence(call.set_logging_level.is_some(), "set_logging_level"),
        T::ListFiles => presence(call.list_files.is_some(), "list_files"),
        T::ReadFile => presence(call.read_file.is_some(), "read_file"),
        T::UpdateWeights => presence(call.update_weights.is_some(), "update_weights"),
        T::ReserveResources => presence(call.reserve_resources.is_some(), "reserve_resources"),
        T::UnreserveResources => {
            presence(call.unreserve_resources.is_some(), "unreserve_resources")
        }
        T::CreateVolumes => presence(call.create_volumes.is_some(), "create_volumes"),
        T::DestroyVolumes => presence(call.destroy_volumes.is_some(), "destroy_volumes"),
        T::GrowVolume => presence(call.grow_volume.is_some(), "grow_volume"),
        T::ShrinkVolume => presence(call.shrink_volume.is_some(), "shrink_volume"),
        T::UpdateMaintenanceSchedule => presence(
            call.update_maintenance_schedule.is_some(),
            "update_maintenance_schedule",
        ),
        T::StartMaintenance => presence(call.start_maintenance.is_some(), "start_maintenance"),
        T::StopMaintenance => presence(call.stop_maintenance.is_some(), "stop_maintenance"),
        T::DrainAgent => presence(call.drain_agent.is_some(), "drain_agent"),
        T::DeactivateAgent => presence(call.deactivate_agent.is_some(), "deactivate_agent"),
        T::ReactivateAgent => presence(call.reactivate_agent.is_some(), "reactivate_agent"),
        T::UpdateQuota => presence(call.update_quota.is_some(), "update_quota"),
        T::SetQuota => presence(call.set_quota.is_some(), "set_quota"),
        T::RemoveQuota => presence(call.remove_quota.is_some(), "remove_quota"),
        T::Teardown => presence(call.teardown.is_some(), "teardown"),
        T::MarkAgentGone => presence(call.mark_agent_gone.is_some(), "mark_agent_gone"),
        _ => Ok(()),
    };
    present.map_err(|field| invalid(&format!("Expecting '{field}' to be present")))?;
    Ok(kind)
}

fn presence(present: bool, field: &'static str) -> Result<(), &'static str> {
    if present { Ok(()) } else { Err(field) }
}

/// A 200 carrying `response` in `format`.
fn ok(response: &MesosResponse, format: Format) -> Response {
    let mut answer = Response::new(axum::body::Body::from(codec::encode(response, format)));
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    answer
}

/// A Response of `kind` whose payload `fill` sets.
fn reply(kind: response::Type, fill: impl FnOnce(&mut MesosResponse)) -> MesosResponse {
    let mut out = MesosResponse {
        r#type: Some(kind as i32),
        ..Default::default()
    };
    fill(&mut out);
    out
}

/// 501 for a call wasmesos has no counterpart for.
fn unsupported(kind: call::Type, why: &str) -> Refusal {
    Refusal::new(
        StatusCode::NOT_IMPLEMENTED,
        format!("{} is not supported by wasmesos: {why}", kind.as_str_name()),
    )
}

/// An actor error as Mesos's status and message for an operator call.
fn refusal(err: Error) -> Refusal {
    let status = match &err {
        // Mesos answers an unknown agent with 400 "No agent found with specified ID".
        Error::InvalidArgument(_) | Error::NotFound(_) => StatusCode::BAD_REQUEST,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::Forbidden(_) | Error::StaleSession(_) => StatusCode::FORBIDDEN,
        Error::Limit(_) => StatusCode::TOO_MANY_REQUESTS,
        err if err.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Refusal::new(status, err.to_string())
}

#[allow(
    deprecated,
    reason = "SET_QUOTA and REMOVE_QUOTA are deprecated in Mesos 1.11 and still answered"
)]
async fn dispatch(
    api: &MesosApi,
    kind: call::Type,
    call: Call,
    format: Format,
    caller: &Caller,
) -> Result<Response, Refusal> {
    use call::Type as T;
    use response::Type as R;
    let snapshot = || {
        api.actor
            .security()
            .view(caller, super::legacy::snapshot(api))
    };
    let answer = match kind {
        T::Unknown => return Err(Refusal::new(StatusCode::NOT_IMPLEMENTED, "")),
        T::GetHealth => reply(R::GetHealth, |r| {
            r.get_health = Some(response::GetHealth { healthy: true });
        }),
        T::GetVersion => reply(R::GetVersion, |r| {
            r.get_version = Some(response::GetVersion {
                version_info: state::version_info(&snapshot()),
            });
        }),
        T::GetFlags => reply(R::GetFlags, |r| {
            r.get_flags = Some(state::flags(&api.flags));
        }),
        T::GetMetrics => reply(R::GetMetrics, |r| {
            r.get_metrics = Some(state::metrics(&super::legacy::metrics_map(api)));
        }),
        T::GetState => {
            let snapshot = snapshot();
            let get_state = tokio::task::spawn_blocking(move || state::get_state(&snapshot))
                .await
                .map_err(|err| {
                    Refusal::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("building the state failed: {err}"),
                    )
                })?;
            reply(R::GetState, |r| r.get_state = Some(get_state))
        }
        T::GetAgents => reply(R::GetAgents, |r| {
            r.get_agents = Some(state::get_agents(&snapshot()));
        }),
        T::GetFrameworks => reply(R::GetFrameworks, |r| {
            r.get_frameworks = Some(state::get_frameworks(&snapshot()));
        }),
        T::GetExecutors => reply(R::GetExecutors, |r| {
            r.get_executors = Some(state::get_executors(&snapshot()));
        }),
        T::GetTasks => reply(R::GetTasks, |r| {
            r.get_tasks = Some(state::get_tasks(&snapshot()));
        }),
        T::GetMaster => reply(R::GetMaster, |r| {
            r.get_master = Some(state::get_master(&snapshot()));
        }),
        T::GetMaintenanceStatus => {
            let status = maintenance::status(api, caller).await?;
            reply(R::GetMaintenanceStatus, |r| {
                r.get_maintenance_status = Some(response::GetMaintenanceStatus { status });
            })
        }
        T::GetMaintenanceSchedule => {
            let schedule = maintenance::schedule(api, caller).await?;
            reply(R::GetMaintenanceSchedule, |r| {
                r.get_maintenance_schedule = Some(response::GetMaintenanceSchedule { schedule });
            })
        }
        T::GetRoles => {
            let roles = api.actor.roles().await.map_err(refusal)?;
            reply(R::GetRoles, |r| {
                r.get_roles = Some(state::get_roles(&roles))
            })
        }
        T::GetWeights => {
            let roles = api.actor.roles().await.map_err(refusal)?;
            reply(R::GetWeights, |r| {
                r.get_weights = Some(state::get_weights(&roles));
            })
        }
        T::GetQuota => {
            let roles = api.actor.roles().await.map_err(refusal)?;
            reply(R::GetQuota, |r| {
                r.get_quota = Some(state::get_quota(&roles))
            })
        }
        T::Subscribe => return Ok(events::subscribe(api, format).await),
        T::UpdateWeights => {
            return writes::update_weights(api, call)
                .await
                .map(|()| done(StatusCode::OK));
        }
        T::UpdateQuota => {
            return writes::update_quota(api, call)
                .await
                .map(|()| done(StatusCode::OK));
        }
        T::SetQuota => {
            return writes::set_quota(api, call)
                .await
                .map(|()| done(StatusCode::OK));
        }
        T::RemoveQuota => {
            return writes::remove_quota(api, call)
                .await
                .map(|()| done(StatusCode::OK));
        }
        T::ReserveResources => {
            return writes::reserve(api, call)
                .await
                .map(|()| done(StatusCode::ACCEPTED));
        }
        T::UnreserveResources => {
            return writes::unreserve(api, call)
                .await
                .map(|()| done(StatusCode::ACCEPTED));
        }
        T::GetLoggingLevel | T::SetLoggingLevel => {
            return Err(unsupported(
                kind,
                "the master logs through tracing, set with RUST_LOG at start",
            ));
        }
        T::ListFiles | T::ReadFile => {
            return Err(unsupported(
                kind,
                "read task sandboxes with /files/read or Operator.ReadTaskFile",
            ));
        }
        T::GetOperations => {
            return Err(unsupported(
                kind,
                "wasmesos has no offer operation feedback",
            ));
        }
        T::CreateVolumes | T::DestroyVolumes | T::GrowVolume | T::ShrinkVolume => {
            return Err(unsupported(kind, "wasmesos has no persistent volumes"));
        }
        T::UpdateMaintenanceSchedule => {
            let schedule = call
                .update_maintenance_schedule
                .map(|u| u.schedule)
                .unwrap_or_default();
            return maintenance::update(api, &schedule)
                .await
                .map(|()| done(StatusCode::OK));
        }
        T::StartMaintenance => {
            let machines = call
                .start_maintenance
                .map(|s| s.machines)
                .unwrap_or_default();
            return maintenance::start(api, &machines)
                .await
                .map(|()| done(StatusCode::OK));
        }
        T::StopMaintenance => {
            let machines = call
                .stop_maintenance
                .map(|s| s.machines)
                .unwrap_or_default();
            return maintenance::stop(api, &machines)
                .await
                .map(|()| done(StatusCode::OK));
        }
        T::DrainAgent => {
            let drain = call.drain_agent.unwrap_or_default();
            let max_grace = drain
                .max_grace_period
                .map(|d| d.seconds as f64 + f64::from(d.nanos) / 1e9);
            let applied = api.actor.drain_agent(
                drain.agent_id.value,
                max_grace,
                drain.mark_gone.unwrap_or(false),
            );
            return applied
                .await
                .map(|()| done(StatusCode::OK))
                .map_err(refusal);
        }
        T::DeactivateAgent => {
            let agent_id = call
                .deactivate_agent
                .map(|c| c.agent_id.value)
                .unwrap_or_default();
            return api
                .actor
                .deactivate_agent(agent_id)
                .await
                .map(|()| done(StatusCode::OK))
                .map_err(refusal);
        }
        T::ReactivateAgent => {
            let agent_id = call
                .reactivate_agent
                .map(|c| c.agent_id.value)
                .unwrap_or_default();
            return api
                .actor
                .reactivate_agent(agent_id)
                .await
                .map(|()| done(StatusCode::OK))
                .map_err(refusal);
        }
        T::MarkAgentGone => {
            let agent_id = call
                .mark_agent_gone
                .map(|m| m.agent_id.value)
                .unwrap_or_default();
            return match api.actor.mark_agent_gone(agent_id).await {
                Ok(()) => Ok(done(StatusCode::OK)),
                Err(Error::NotFound(why)) => Err(Refusal::new(StatusCode::NOT_FOUND, why)),
                Err(err) => Err(refusal(err)),
            };
        }
        T::Teardown => {
            let framework_id = call
                .teardown
                .map(|t| t.framework_id.value)
                .unwrap_or_default();
            return teardown(api, caller, framework_id)
                .await
                .map(|()| done(StatusCode::OK));
        }
    };
    Ok(ok(&answer, format))
}

/// TEARDOWN: removes a framework for an operator, as Mesos does: `teardown_frameworks`
/// judged on the framework's principal; an unknown id is Mesos's 400.
async fn teardown(api: &MesosApi, caller: &Caller, framework_id: String) -> Result<(), Refusal> {
    let snapshot = super::legacy::snapshot(api);
    let principal = snapshot
        .frameworks
        .iter()
        .find(|f| f.id == framework_id)
        .map(|f| f.info.principal.clone())
        .unwrap_or_default();
    api.actor
        .security()
        .check(
            caller,
            Action::TeardownFrameworks,
            &[("framework_principals", &principal)],
        )
        .map_err(|err| Refusal::new(StatusCode::FORBIDDEN, err.to_string()))?;
    match api.actor.operator_teardown(framework_id).await {
        Ok(()) => Ok(()),
        Err(Error::NotSubscribed(_) | Error::NotFound(_) | Error::FrameworkRemoved(_)) => {
            Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "No framework found with specified ID",
            ))
        }
        Err(err) => Err(refusal(err)),
    }
}

/// An answer with no body.
fn done(status: StatusCode) -> Response {
    status.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(kind: Option<i32>) -> Call {
        Call {
            r#type: kind,
            ..Default::default()
        }
    }

    #[test]
    fn calls_are_checked_as_mesos_checks_them() {
        let untyped = validate(&call(None)).expect_err("no type");
        assert_eq!(
            untyped.message,
            "Failed to validate master::Call: Expecting 'type' to be present"
        );
        let bare = validate(&call(Some(call::Type::ReserveResources as i32))).expect_err("bare");
        assert_eq!(
            bare.message,
            "Failed to validate master::Call: Expecting 'reserve_resources' to be present"
        );
        assert_eq!(
            validate(&call(Some(call::Type::GetState as i32))),
            Ok(call::Type::GetState)
        );
        // A call number from a newer Mesos reads as UNKNOWN, which is answered 501.
        assert_eq!(validate(&call(Some(999))), Ok(call::Type::Unknown));
    }

    #[test]
    fn unsupported_calls_say_what_to_use_instead() {
        let refusal = unsupported(call::Type::ReadFile, "read task sandboxes with /files/read");
        assert_eq!(refusal.status, StatusCode::NOT_IMPLEMENTED);
        assert_eq!(
            refusal.message,
            "READ_FILE is not supported by wasmesos: read task sandboxes with /files/read"
        );
    }
}
