//! `POST /api/v1/scheduler`: decode the call, check who sends it (Mesos's order and
//! messages: framework known, subscribed over HTTP, right `Mesos-Stream-Id`), then hand it
//! to the actor operation the native scheduler service uses. Answers 202 with an empty body.

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use wasmesos_proto::mesos::v1 as mesos;
use wasmesos_proto::mesos::v1::scheduler::{Call, call};
use wasmesos_proto::v1::{
    self as native, AcceptRequest, AcknowledgeRequest, Acknowledgement, DeclineRequest,
    FrameworkMessageRequest, KillPolicy, KillRequest, ReconcileRequest, ReviveRequest,
    SuppressRequest, operation, reconcile_request,
};

use super::MesosApi;
use super::codec::{self, Refusal};
use super::resources;
use super::subscribe::{self, STREAM_ID};
use super::tasks::{task_error, task_from_mesos};
use crate::Error;
use crate::auth::Caller;

/// Most operations and offers one ACCEPT or DECLINE may list.
const MAX_LIST: usize = 1024;

/// Handles one scheduler call.
#[tracing::instrument(name = "Mesos.Scheduler", skip_all,
    fields(call = tracing::field::Empty, framework_id = tracing::field::Empty))]
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
    let kind = call
        .r#type
        .and_then(|t| call::Type::try_from(t).ok())
        .unwrap_or(call::Type::Unknown);
    tracing::Span::current().record("call", kind.as_str_name());
    if kind == call::Type::Subscribe {
        return subscribe::subscribe(&api, &headers, call, &caller).await;
    }
    if kind == call::Type::UpdateFramework
        && let Err(refusal) = update_framework_checks(&call)
    {
        return refusal.into_response();
    }
    let answer = match framework_of(&api, &headers, &call, &caller) {
        Ok(framework_id) => {
            tracing::Span::current().record("framework_id", framework_id.as_str());
            dispatch(&api, kind, framework_id, call).await
        }
        Err(refusal) => Err(refusal),
    };
    match answer {
        // As Mesos: UPDATE_FRAMEWORK answers 200 once applied, the others 202.
        Ok(()) if kind == call::Type::UpdateFramework => StatusCode::OK.into_response(),
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

fn invalid(why: &str) -> Refusal {
    Refusal::bad_request(format!("Failed to validate scheduler::Call: {why}"))
}

/// The framework a non-SUBSCRIBE call acts for, checked as Mesos checks it.
fn framework_of(
    api: &MesosApi,
    headers: &HeaderMap,
    call: &Call,
    caller: &Caller,
) -> Result<String, Refusal> {
    let Some(framework_id) = call.framework_id.as_ref().map(|f| f.value.clone()) else {
        return Err(invalid("Expecting 'framework_id' to be present"));
    };
    let open = api
        .streams()
        .get(&framework_id)
        .map(|s| (s.id, s.principal.clone()));
    if let Some((_, principal)) = &open
        && *principal != caller.principal
    {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            format!("Framework {framework_id} belongs to another principal"),
        ));
    }
    let expected = open.map(|(id, _)| id);
    let Some(expected) = expected else {
        let snapshot = api.actor.snapshots().borrow().clone();
        return Err(
            match snapshot.frameworks.iter().find(|f| f.id == framework_id) {
                None => Refusal::bad_request("Framework cannot be found"),
                Some(f) if f.connected => {
                    Refusal::new(StatusCode::FORBIDDEN, "Framework is not connected via HTTP")
                }
                Some(_) => Refusal::new(StatusCode::FORBIDDEN, "Framework is not subscribed"),
            },
        );
    };
    let Some(given) = headers.get(STREAM_ID) else {
        return Err(Refusal::bad_request(
            "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
        ));
    };
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    if given.as_bytes() != expected.hyphenated().encode_lower(&mut text).as_bytes() {
        return Err(Refusal::bad_request(format!(
            "The stream ID '{}' included in this request didn't match the stream ID \
             currently associated with framework ID {framework_id}",
            String::from_utf8_lossy(given.as_bytes())
        )));
    }
    Ok(framework_id)
}

/// An actor error as Mesos's status and message.
fn refusal(err: Error) -> Refusal {
    let status = match &err {
        Error::NotSubscribed(_) => {
            return Refusal::new(StatusCode::FORBIDDEN, "Framework is not subscribed");
        }
        Error::InvalidArgument(_) => StatusCode::BAD_REQUEST,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Forbidden(_) | Error::StaleSession(_) => StatusCode::FORBIDDEN,
        Error::Limit(_) => StatusCode::TOO_MANY_REQUESTS,
        Error::Conflict(_) | Error::FrameworkRemoved(_) => StatusCode::CONFLICT,
        err if err.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Refusal::new(status, err.to_string())
}

fn ids(ids: &[mesos::OfferId]) -> Result<Vec<String>, Refusal> {
    if ids.len() > MAX_LIST {
        return Err(invalid(&format!("at most {MAX_LIST} offer ids per call")));
    }
    Ok(ids.iter().map(|id| id.value.clone()).collect())
}

fn filters(filters: Option<&mesos::Filters>) -> Option<native::Filters> {
    filters.map(|f| native::Filters {
        // Mesos's declared default.
        refuse_seconds: Some(f.refuse_seconds.unwrap_or(5.0)),
    })
}

async fn dispatch(
    api: &MesosApi,
    kind: call::Type,
    framework_id: String,
    call: Call,
) -> Result<(), Refusal> {
    let missing = |field: &str| invalid(&format!("Expecting '{field}' to be present"));
    let done = |result: Result<(), Error>| result.map_err(refusal);
    match kind {
        call::Type::Subscribe | call::Type::Unknown => Err(Refusal::new(
            StatusCode::NOT_IMPLEMENTED,
            "Received 'UNKNOWN' call",
        )),
        call::Type::Teardown => done(api.actor.teardown(framework_id).await),
        call::Type::Accept => {
            let accept = call.accept.ok_or_else(|| missing("accept"))?;
            accept_call(api, framework_id, accept).await
        }
        call::Type::Decline => {
            let decline = call.decline.ok_or_else(|| missing("decline"))?;
            let req = DeclineRequest {
                framework_id,
                offer_ids: ids(&decline.offer_ids)?,
                filters: filters(decline.filters.as_ref()),
            };
            done(api.actor.decline(req).await)
        }
        call::Type::Revive => {
            let roles = call.revive.map(|r| r.roles).unwrap_or_default();
            done(
                api.actor
                    .revive(ReviveRequest {
                        framework_id,
                        roles,
                    })
                    .await,
            )
        }
        call::Type::Suppress => {
            let roles = call.suppress.map(|r| r.roles).unwrap_or_default();
            done(
                api.actor
                    .suppress(SuppressRequest {
                        framework_id,
                        roles,
                    })
                    .await,
            )
        }
        call::Type::Kill => {
            let kill = call.kill.ok_or_else(|| missing("kill"))?;
            let kill_policy =
                kill.kill_policy
                    .and_then(|p| p.grace_period)
                    .map(|grace| KillPolicy {
                        #[allow(
                            clippy::cast_precision_loss,
                            reason = "a grace period in nanoseconds, as seconds"
                        )]
                        grace_period_seconds: Some(grace.nanoseconds as f64 / 1e9),
                    });
            let req = KillRequest {
                framework_id,
                task_id: kill.task_id.value,
                kill_policy,
            };
            done(api.actor.kill(req).await)
        }
        call::Type::Shutdown => {
            // A wasmesos executor runs one task whose id is the executor's.
            let shutdown = call.shutdown.ok_or_else(|| missing("shutdown"))?;
            let req = KillRequest {
                framework_id,
                task_id: shutdown.executor_id.value,
                kill_policy: None,
            };
            done(api.actor.kill(req).await)
        }
        call::Type::Acknowledge => {
            let ack = call.acknowledge.ok_or_else(|| missing("acknowledge"))?;
            let req = AcknowledgeRequest {
                framework_id,
                acks: vec![Acknowledgement {
                    agent_id: ack.agent_id.value,
                    task_id: ack.task_id.value,
                    uuid: ack.uuid,
                }],
            };
            done(api.actor.acknowledge(req).await)
        }
        call::Type::Reconcile => {
            let tasks = call.reconcile.map(|r| r.tasks).unwrap_or_default();
            if tasks.len() > MAX_LIST {
                return Err(invalid(&format!("at most {MAX_LIST} tasks per RECONCILE")));
            }
            let req = ReconcileRequest {
                framework_id,
                tasks: tasks
                    .into_iter()
                    .map(|t| reconcile_request::ReconcileTask {
                        task_id: t.task_id.value,
                        agent_id: t.agent_id.map(|a| a.value).unwrap_or_default(),
                    })
                    .collect(),
            };
            done(api.actor.reconcile(req).await)
        }
        call::Type::Message => {
            let message = call.message.ok_or_else(|| missing("message"))?;
            let req = FrameworkMessageRequest {
                framework_id,
                agent_id: message.agent_id.value,
                task_id: message.executor_id.value,
                data: message.data,
            };
            done(api.actor.message(req).await)
        }
        call::Type::AcceptInverseOffers => {
            let accept = call
                .accept_inverse_offers
                .ok_or_else(|| missing("accept_inverse_offers"))?;
            let req = native::InverseOffersAnswer {
                framework_id,
                inverse_offer_ids: ids(&accept.inverse_offer_ids)?,
                filters: filters(accept.filters.as_ref()),
            };
            let answer = wasmesos_allocator::InverseOfferAnswer::Accept;
            done(api.actor.answer_inverse_offers(req, answer).await)
        }
        call::Type::DeclineInverseOffers => {
            let decline = call
                .decline_inverse_offers
                .ok_or_else(|| missing("decline_inverse_offers"))?;
            let req = native::InverseOffersAnswer {
                framework_id,
                inverse_offer_ids: ids(&decline.inverse_offer_ids)?,
                filters: filters(decline.filters.as_ref()),
            };
            let answer = wasmesos_allocator::InverseOfferAnswer::Decline;
            done(api.actor.answer_inverse_offers(req, answer).await)
        }
        // A request names what a task waits for: the master may preempt lower-priority
        // tasks for it (the priority of the framework's role).
        call::Type::Request => {
            let request = call.request.ok_or_else(|| missing("request"))?;
            if request.requests.len() > MAX_LIST {
                return Err(invalid(&format!("at most {MAX_LIST} requests per REQUEST")));
            }
            for wanted in request.requests {
                let resources = super::resources::all_from_mesos(&wanted.resources)
                    .map_err(|why| invalid(&why))?;
                let req = wasmesos_proto::v1::ResourceRequest {
                    framework_id: framework_id.clone(),
                    resources: Some(resources),
                    agent_id: wanted.agent_id.map(|a| a.value).unwrap_or_default(),
                    priority: None,
                };
                done(api.actor.request_resources(req).await)?;
            }
            Ok(())
        }
        // wasmesos has no offer operation feedback, so answering one is a no-op, as for
        // an unknown id.
        call::Type::AcknowledgeOperationStatus | call::Type::ReconcileOperations => Ok(()),
        call::Type::UpdateFramework => {
            let update = call
                .update_framework
                .ok_or_else(|| missing("update_framework"))?;
            update_framework(api, update).await
        }
    }
}

/// What Mesos's call validation checks of an UPDATE_FRAMEWORK before looking the framework
/// up.
pub(crate) fn update_framework_checks(call: &Call) -> Result<(), Refusal> {
    let Some(framework_id) = &call.framework_id else {
        return Err(invalid("Expecting 'framework_id' to be present"));
    };
    let Some(update) = &call.update_framework else {
        return Err(invalid("Expecting 'update_framework' to be present"));
    };
    if update.framework_info.id.as_ref() != Some(framework_id) {
        return Err(invalid(
            "'framework_id' differs from 'update_framework.framework_info.id'",
        ));
    }
    Ok(())
}

/// Mesos's `stringify` of a set of strings.
fn set_text(items: &[String]) -> String {
    let mut items: Vec<&str> = items.iter().map(String::as_str).collect();
    items.sort_unstable();
    items.dedup();
    format!("{{ {} }}", items.join(", "))
}

/// UPDATE_FRAMEWORK (Mesos's `Master::updateFramework`): the FrameworkInfo is checked as
/// Mesos checks it, then replaces the framework's in the core. Offer constraints are not
/// supported: a non-empty set is refused rather than silently ignored.
async fn update_framework(api: &MesosApi, update: call::UpdateFramework) -> Result<(), Refusal> {
    let not_valid =
        |why: String| Refusal::bad_request(format!("Supplied FrameworkInfo is not valid: {why}"));
    let info = subscribe::framework_info(&update.framework_info).map_err(not_valid)?;
    for role in &info.roles {
        if let Err(err) = wasmesos_allocator::validate_role(role) {
            return Err(not_valid(format!(
                "'FrameworkInfo.roles' contains invalid role: {err}"
            )));
        }
    }
    let timeout = info.failover_timeout_seconds;
    if !(timeout.is_finite() && timeout >= 0.0) {
        return Err(not_valid(format!(
            "The framework failover_timeout ({timeout}) is invalid"
        )));
    }
    let call_invalid =
        |why: String| Refusal::bad_request(format!("'UpdateFramework' call is not valid: {why}"));
    let stray: Vec<String> = update
        .suppressed_roles
        .iter()
        .filter(|r| !info.roles.contains(r))
        .cloned()
        .collect();
    if !stray.is_empty() {
        return Err(call_invalid(format!(
            "Suppressed roles {} are not contained in the set of roles",
            set_text(&stray)
        )));
    }
    if update
        .offer_constraints
        .as_ref()
        .is_some_and(|c| !c.role_constraints.is_empty())
    {
        return Err(call_invalid(
            "offer constraints are not supported by wasmesos".into(),
        ));
    }
    match api
        .actor
        .update_framework(info, update.suppressed_roles)
        .await
    {
        Ok(()) => Ok(()),
        Err(Error::InvalidArgument(why)) => Err(Refusal::bad_request(format!(
            "FrameworkInfo update is not valid: {why}"
        ))),
        Err(err) => Err(refusal(err)),
    }
}

/// ACCEPT: LAUNCH, LAUNCH_GROUP, RESERVE and UNRESERVE become native operations; a task
/// Mesos would refuse on its own gets TASK_ERROR while its siblings go on; operations
/// wasmesos has no counterpart for (volumes, disks) are dropped as Mesos drops an operation
/// that fails validation.
async fn accept_call(
    api: &MesosApi,
    framework_id: String,
    accept: call::Accept,
) -> Result<(), Refusal> {
    use mesos::offer::operation::Type as Op;
    if accept.operations.len() > MAX_LIST {
        return Err(invalid(&format!(
            "at most {MAX_LIST} operations per ACCEPT"
        )));
    }
    let mut operations = Vec::new();
    let mut refused = Vec::new();
    for op in &accept.operations {
        let kind = op
            .r#type
            .and_then(|t| Op::try_from(t).ok())
            .unwrap_or(Op::Unknown);
        match kind {
            Op::Launch => {
                let tasks = op
                    .launch
                    .as_ref()
                    .map(|l| l.task_infos.as_slice())
                    .unwrap_or_default();
                let launched = launch(&framework_id, tasks, None, &mut refused);
                operations.push(launched);
            }
            Op::LaunchGroup => {
                if let Some(group) = &op.launch_group {
                    let launched = launch(
                        &framework_id,
                        &group.task_group.tasks,
                        Some(&group.executor),
                        &mut refused,
                    );
                    operations.push(launched);
                }
            }
            Op::Reserve | Op::Unreserve => {
                let list = match (kind, &op.reserve, &op.unreserve) {
                    (Op::Reserve, Some(r), _) => &r.resources,
                    (Op::Unreserve, _, Some(u)) => &u.resources,
                    _ => continue,
                };
                let resources = resources::all_from_mesos(list).map_err(|why| invalid(&why))?;
                operations.push(native::Operation {
                    operation: Some(if kind == Op::Reserve {
                        operation::Operation::Reserve(operation::Reserve {
                            resources: Some(resources),
                            agent_id: String::new(),
                        })
                    } else {
                        operation::Operation::Unreserve(operation::Unreserve {
                            resources: Some(resources),
                            agent_id: String::new(),
                        })
                    }),
                });
            }
            other => {
                tracing::warn!(
                    operation = other.as_str_name(),
                    "dropping an offer operation wasmesos does not support"
                );
            }
        }
    }
    if !refused.is_empty() {
        send_updates(api, &framework_id, refused);
    }
    let req = AcceptRequest {
        framework_id,
        offer_ids: ids(&accept.offer_ids)?,
        operations,
        filters: filters(accept.filters.as_ref()),
    };
    api.actor.accept(req).await.map_err(refusal)
}

/// A LAUNCH of the tasks that translate; the others' TASK_ERRORs go to `refused`.
fn launch(
    framework_id: &str,
    tasks: &[mesos::TaskInfo],
    executor: Option<&mesos::ExecutorInfo>,
    refused: &mut Vec<native::TaskStatus>,
) -> native::Operation {
    let mut launched = Vec::new();
    for task in tasks {
        match task_from_mesos(task, executor) {
            Ok(info) => launched.push(info),
            Err(why) => refused.push(task_error(framework_id, task, why)),
        }
    }
    native::Operation {
        operation: Some(operation::Operation::Launch(operation::Launch {
            tasks: launched,
        })),
    }
}

/// Delivers `statuses` on the framework's stream, as the master's own updates.
fn send_updates(api: &MesosApi, framework_id: &str, statuses: Vec<native::TaskStatus>) {
    let sender = api
        .streams()
        .get(framework_id)
        .and_then(|s| s.events.upgrade());
    if let Some(sender) = sender {
        let event = native::Event {
            event: Some(native::event::Event::Update(native::event::Update {
                statuses,
            })),
        };
        // A closed stream has no reader to tell.
        let _ = sender.send(event);
    }
}
