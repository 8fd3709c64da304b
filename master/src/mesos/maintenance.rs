//! Maintenance in Mesos's shapes: the operator calls GET_MAINTENANCE_SCHEDULE,
//! UPDATE_MAINTENANCE_SCHEDULE, GET_MAINTENANCE_STATUS, START_MAINTENANCE and
//! STOP_MAINTENANCE, and Mesos's older endpoints `/maintenance/schedule` (GET and POST),
//! `/maintenance/status`, `/machine/down` and `/machine/up` (also under `/master/`), all as
//! Mesos 1.11 answers them: 200 with an empty body for a change, 400 with Mesos's message
//! for a schedule or machine list it would refuse, 403 without the ACL. They call the same
//! actor operations as the native `Operator` service; this module only translates.

use axum::Extension;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use wasmesos_proto::mesos::v1 as mesos;
use wasmesos_proto::mesos::v1::maintenance::{ClusterStatus, Schedule, Window, cluster_status};
use wasmesos_proto::mesos::v1::master::{Call, call};
use wasmesos_proto::v1 as native;

use super::MesosApi;
use super::codec::{APPLICATION_JSON, Refusal};
use super::json::{self, MesosMessage};
use crate::Error;
use crate::auth::{Action, Caller, Security};
use crate::rpc::maintenance::{scheduled_machines, visible_schedule, visible_status};

/// A Mesos machine id as wasmesos's.
pub(crate) fn machine_from_mesos(id: &mesos::MachineId) -> native::MachineId {
    native::MachineId {
        hostname: id.hostname.clone().unwrap_or_default(),
        ip: id.ip.clone().unwrap_or_default(),
    }
}

/// A wasmesos machine id as Mesos's (a field not given stays unset).
pub(crate) fn machine_to_mesos(id: &native::MachineId) -> mesos::MachineId {
    let given = |text: &str| (!text.is_empty()).then(|| text.to_string());
    mesos::MachineId {
        hostname: given(&id.hostname),
        ip: given(&id.ip),
    }
}

/// A Mesos unavailability as wasmesos's.
pub(crate) fn unavailability_from_mesos(u: &mesos::Unavailability) -> native::Unavailability {
    native::Unavailability {
        start_nanos: u.start.nanoseconds,
        duration_nanos: u.duration.as_ref().map(|d| d.nanoseconds),
    }
}

/// A wasmesos unavailability as Mesos's.
pub(crate) fn unavailability_to_mesos(u: &native::Unavailability) -> mesos::Unavailability {
    mesos::Unavailability {
        start: mesos::TimeInfo {
            nanoseconds: u.start_nanos,
        },
        duration: u
            .duration_nanos
            .map(|nanoseconds| mesos::DurationInfo { nanoseconds }),
    }
}

fn schedule_from_mesos(schedule: &Schedule) -> native::MaintenanceSchedule {
    native::MaintenanceSchedule {
        windows: schedule
            .windows
            .iter()
            .map(|window| native::MaintenanceWindow {
                machine_ids: window.machine_ids.iter().map(machine_from_mesos).collect(),
                unavailability: Some(unavailability_from_mesos(&window.unavailability)),
            })
            .collect(),
    }
}

fn schedule_to_mesos(schedule: &native::MaintenanceSchedule) -> Schedule {
    Schedule {
        windows: schedule
            .windows
            .iter()
            .map(|window| Window {
                machine_ids: window.machine_ids.iter().map(machine_to_mesos).collect(),
                unavailability: unavailability_to_mesos(&window.unavailability.unwrap_or_default()),
            })
            .collect(),
    }
}

fn status_to_mesos(status: &native::MaintenanceStatus) -> ClusterStatus {
    use mesos::allocator::inverse_offer_status::Status;
    let draining = status.draining_machines.iter().map(|machine| {
        let statuses = machine.statuses.iter().map(|status| {
            let answer = match status.status() {
                native::inverse_offer_status::Status::Accept => Status::Accept,
                native::inverse_offer_status::Status::Decline => Status::Decline,
                native::inverse_offer_status::Status::Unknown => Status::Unknown,
            };
            #[allow(
                clippy::cast_possible_truncation,
                reason = "Unix seconds as nanoseconds fit an i64 until 2262"
            )]
            let nanoseconds = (status.timestamp * 1e9) as i64;
            mesos::allocator::InverseOfferStatus {
                status: answer as i32,
                framework_id: mesos::FrameworkId {
                    value: status.framework_id.clone(),
                },
                timestamp: mesos::TimeInfo { nanoseconds },
            }
        });
        cluster_status::DrainingMachine {
            id: machine_to_mesos(&machine.id.clone().unwrap_or_default()),
            statuses: statuses.collect(),
        }
    });
    ClusterStatus {
        draining_machines: draining.collect(),
        down_machines: status.down_machines.iter().map(machine_to_mesos).collect(),
    }
}

/// An actor error as Mesos's answer to a maintenance change.
fn refusal(err: Error) -> Refusal {
    let status = match &err {
        Error::InvalidArgument(_) => StatusCode::BAD_REQUEST,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        err if err.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Refusal::new(status, err.to_string())
}

fn forbidden(err: Error) -> Refusal {
    Refusal::new(StatusCode::FORBIDDEN, err.to_string())
}

/// The ACL check of a maintenance operator call, made before the call runs (`None` for
/// the other calls). The two reads are never refused: they leave out what the caller may
/// not see.
pub(super) fn authorize(
    security: &Security,
    caller: &Caller,
    kind: call::Type,
    call: &Call,
) -> Option<Result<(), Refusal>> {
    let (action, machines) = match kind {
        call::Type::UpdateMaintenanceSchedule => {
            let schedule = call
                .update_maintenance_schedule
                .as_ref()
                .map(|u| schedule_from_mesos(&u.schedule))
                .unwrap_or_default();
            (
                Action::UpdateMaintenanceSchedules,
                scheduled_machines(&schedule),
            )
        }
        call::Type::StartMaintenance => (
            Action::StartMaintenances,
            machines_of(call.start_maintenance.as_ref().map(|s| &s.machines)),
        ),
        call::Type::StopMaintenance => (
            Action::StopMaintenances,
            machines_of(call.stop_maintenance.as_ref().map(|s| &s.machines)),
        ),
        _ => return None,
    };
    Some(
        security
            .check_machines(caller, action, &machines)
            .map_err(forbidden),
    )
}

fn machines_of(ids: Option<&Vec<mesos::MachineId>>) -> Vec<native::MachineId> {
    ids.map(|ids| ids.iter().map(machine_from_mesos).collect())
        .unwrap_or_default()
}

/// GET_MAINTENANCE_SCHEDULE's payload: the machines `caller` may see.
pub(super) async fn schedule(api: &MesosApi, caller: &Caller) -> Result<Schedule, Refusal> {
    let schedule = api.actor.maintenance_schedule().await.map_err(refusal)?;
    let visible = visible_schedule(api.actor.security(), caller, schedule);
    Ok(schedule_to_mesos(&visible))
}

/// GET_MAINTENANCE_STATUS's payload: the machines `caller` may see.
pub(super) async fn status(api: &MesosApi, caller: &Caller) -> Result<ClusterStatus, Refusal> {
    let status = api.actor.maintenance_status().await.map_err(refusal)?;
    let visible = visible_status(api.actor.security(), caller, status);
    Ok(status_to_mesos(&visible))
}

/// UPDATE_MAINTENANCE_SCHEDULE (its ACL checked by [`authorize`]).
pub(super) async fn update(api: &MesosApi, schedule: &Schedule) -> Result<(), Refusal> {
    api.actor
        .update_maintenance_schedule(schedule_from_mesos(schedule))
        .await
        .map_err(refusal)
}

/// START_MAINTENANCE (its ACL checked by [`authorize`]).
pub(super) async fn start(api: &MesosApi, machines: &[mesos::MachineId]) -> Result<(), Refusal> {
    let machines = machines.iter().map(machine_from_mesos).collect();
    api.actor.start_maintenance(machines).await.map_err(refusal)
}

/// STOP_MAINTENANCE (its ACL checked by [`authorize`]).
pub(super) async fn stop(api: &MesosApi, machines: &[mesos::MachineId]) -> Result<(), Refusal> {
    let machines = machines.iter().map(machine_from_mesos).collect();
    api.actor.stop_maintenance(machines).await.map_err(refusal)
}

/// A 200 with `message` in Mesos's JSON.
fn json_ok<M: MesosMessage>(message: &M) -> Response {
    match json::to_json_string(message) {
        Ok(text) => ([(header::CONTENT_TYPE, APPLICATION_JSON)], text).into_response(),
        Err(err) => {
            Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response()
        }
    }
}

fn parse_body(body: &Bytes) -> Result<serde_json::Value, Refusal> {
    serde_json::from_slice(body)
        .map_err(|err| Refusal::bad_request(format!("Failed to parse JSON: {err}")))
}

/// `GET /maintenance/schedule`: the schedule as JSON.
pub(crate) async fn get_schedule(
    State(api): State<MesosApi>,
    Extension(caller): Extension<Caller>,
) -> Response {
    match schedule(&api, &caller).await {
        Ok(schedule) => json_ok(&schedule),
        Err(refusal) => refusal.into_response(),
    }
}

/// `POST /maintenance/schedule`: a schedule as JSON replaces the current one.
pub(crate) async fn post_schedule(
    State(api): State<MesosApi>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let answer = async {
        let value = parse_body(&body)?;
        if !value.is_object() {
            return Err(Refusal::bad_request("Expecting a JSON object"));
        }
        let schedule: Schedule =
            json::from_json(&value).map_err(|err| Refusal::bad_request(err.to_string()))?;
        let machines = scheduled_machines(&schedule_from_mesos(&schedule));
        api.actor
            .security()
            .check_machines(&caller, Action::UpdateMaintenanceSchedules, &machines)
            .map_err(forbidden)?;
        update(&api, &schedule).await
    };
    match answer.await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// `GET /maintenance/status`: each DRAINING machine with its frameworks' answers, and the
/// DOWN machines.
pub(crate) async fn get_status(
    State(api): State<MesosApi>,
    Extension(caller): Extension<Caller>,
) -> Response {
    match status(&api, &caller).await {
        Ok(status) => json_ok(&status),
        Err(refusal) => refusal.into_response(),
    }
}

/// The body of `/machine/down` and `/machine/up`: a JSON array of machine ids.
fn machine_list(body: &Bytes) -> Result<Vec<mesos::MachineId>, Refusal> {
    let value = parse_body(body)?;
    let Some(items) = value.as_array() else {
        return Err(Refusal::bad_request("Expecting a JSON array"));
    };
    items
        .iter()
        .map(|item| json::from_json(item).map_err(|err| Refusal::bad_request(err.to_string())))
        .collect()
}

/// `POST /machine/down`: START_MAINTENANCE for the machines listed.
pub(crate) async fn machine_down(
    State(api): State<MesosApi>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    machines_call(&api, &caller, &body, Action::StartMaintenances).await
}

/// `POST /machine/up`: STOP_MAINTENANCE for the machines listed.
pub(crate) async fn machine_up(
    State(api): State<MesosApi>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    machines_call(&api, &caller, &body, Action::StopMaintenances).await
}

async fn machines_call(api: &MesosApi, caller: &Caller, body: &Bytes, action: Action) -> Response {
    let answer = async {
        let machines = machine_list(body)?;
        api.actor
            .security()
            .check_machines(caller, action, &machines_of(Some(&machines)))
            .map_err(forbidden)?;
        if action == Action::StartMaintenances {
            start(api, &machines).await
        } else {
            stop(api, &machines).await
        }
    };
    match answer.await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_keep_their_shape_both_ways() {
        let text = r#"{"windows":[{"machine_ids":[{"hostname":"machine1","ip":"10.0.0.1"},{"hostname":"machine2"}],
            "unavailability":{"start":{"nanoseconds":1443830400000000000},"duration":{"nanoseconds":3600000000000}}}]}"#;
        let value: serde_json::Value = serde_json::from_str(text).expect("json");
        let schedule: Schedule = json::from_json(&value).expect("a schedule");
        let native = schedule_from_mesos(&schedule);
        assert_eq!(native.windows[0].machine_ids[1].ip, "");
        assert_eq!(
            native.windows[0]
                .unavailability
                .and_then(|u| u.duration_nanos),
            Some(3_600_000_000_000)
        );
        let back = json::to_json(&schedule_to_mesos(&native)).expect("json");
        assert_eq!(back, value);
    }

    #[test]
    fn statuses_are_mesos_cluster_statuses() {
        let status = native::MaintenanceStatus {
            draining_machines: vec![native::maintenance_status::DrainingMachine {
                id: Some(native::MachineId {
                    hostname: "h".into(),
                    ip: String::new(),
                }),
                statuses: vec![native::InverseOfferStatus {
                    status: native::inverse_offer_status::Status::Decline as i32,
                    framework_id: "f1".into(),
                    timestamp: 2.5,
                }],
            }],
            down_machines: vec![native::MachineId {
                hostname: String::new(),
                ip: "10.0.0.2".into(),
            }],
        };
        let json = json::to_json(&status_to_mesos(&status)).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "draining_machines": [{"id": {"hostname": "h"}, "statuses": [
                    {"status": "DECLINE", "framework_id": {"value": "f1"},
                     "timestamp": {"nanoseconds": 2_500_000_000_i64}}]}],
                "down_machines": [{"ip": "10.0.0.2"}]
            })
        );
    }
}
