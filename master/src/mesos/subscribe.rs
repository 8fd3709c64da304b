//! SUBSCRIBE: a 200 whose chunked body is the framework's RecordIO event stream, SUBSCRIBED
//! first and a HEARTBEAT right after it, under a fresh `Mesos-Stream-Id`.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use uuid::Uuid;
use wasmesos_proto::mesos::v1 as mesos;
use wasmesos_proto::mesos::v1::scheduler::{Call, Event, event};
use wasmesos_proto::v1::{self as native, FrameworkCapability, SubscribeRequest};

use super::codec::{self, Format, Refusal};
use super::events;
use super::recordio;
use super::tasks::reservation_format;
use super::{MesosApi, OpenStream};
use crate::Error;
use crate::auth::Caller;
use crate::rpc::stream::PushStream;

/// The header naming a framework's event stream.
pub(crate) const STREAM_ID: &str = "Mesos-Stream-Id";

fn native_heartbeat() -> native::Event {
    native::Event {
        event: Some(native::event::Event::Heartbeat(native::event::Heartbeat {})),
    }
}

/// The native SUBSCRIBE for a Mesos one.
pub(crate) fn subscribe_request(call: &Call) -> Result<SubscribeRequest, Refusal> {
    let invalid =
        |why: &str| Refusal::bad_request(format!("Failed to validate scheduler::Call: {why}"));
    let Some(subscribe) = &call.subscribe else {
        return Err(invalid("Expecting 'subscribe' to be present"));
    };
    let info = &subscribe.framework_info;
    let info_id = info.id.as_ref().map(|id| id.value.clone());
    let call_id = call.framework_id.as_ref().map(|id| id.value.clone());
    if call_id.is_some() && call_id != info_id {
        return Err(invalid(
            "'framework_id' differs from 'subscribe.framework_info.id'",
        ));
    }
    Ok(SubscribeRequest {
        framework: Some(framework_info(info).map_err(|why| invalid(&why))?),
        heartbeat_interval_seconds: 0.0,
    })
}

/// The native FrameworkInfo for a Mesos one (SUBSCRIBE and UPDATE_FRAMEWORK), or why it
/// is not valid.
#[allow(
    deprecated,
    reason = "`role` names the one role of a framework without MULTI_ROLE"
)]
pub(super) fn framework_info(info: &mesos::FrameworkInfo) -> Result<native::FrameworkInfo, String> {
    use mesos::framework_info::capability::Type as Capability;
    let has = |wanted: Capability| {
        info.capabilities
            .iter()
            .any(|c| c.r#type == Some(wanted as i32))
    };
    let roles = if has(Capability::MultiRole) {
        info.roles.clone()
    } else {
        if !info.roles.is_empty() {
            return Err(
                "'FrameworkInfo.roles' is set but the framework lacks the MULTI_ROLE capability"
                    .into(),
            );
        }
        vec![info.role.clone().unwrap_or_else(|| "*".to_string())]
    };
    let capabilities = [
        (
            Capability::TaskKillingState,
            FrameworkCapability::TaskKillingState,
        ),
        (
            Capability::PartitionAware,
            FrameworkCapability::PartitionAware,
        ),
        (
            Capability::RevocableResources,
            FrameworkCapability::RevocableResources,
        ),
    ]
    .into_iter()
    .filter(|(mesos, _)| has(*mesos))
    .map(|(_, native)| native as i32)
    .collect();
    let labels: Vec<native::Label> = info
        .labels
        .as_ref()
        .map(|l| {
            l.labels
                .iter()
                .map(|label| native::Label {
                    key: label.key.clone(),
                    value: label.value.clone().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(native::FrameworkInfo {
        id: info
            .id
            .as_ref()
            .map(|id| id.value.clone())
            .unwrap_or_default(),
        name: info.name.clone(),
        roles,
        principal: info.principal.clone().unwrap_or_default(),
        failover_timeout_seconds: info.failover_timeout.unwrap_or(0.0),
        hostname: info.hostname.clone().unwrap_or_default(),
        capabilities,
        user: info.user.clone(),
        checkpoint: info.checkpoint.unwrap_or(false),
        webui_url: info.webui_url.clone().unwrap_or_default(),
        preemptible: labels
            .iter()
            .any(|label| label.key == super::tasks::LABEL_PREEMPTIBLE && label.value == "true"),
        labels,
    })
}

fn frame(event: &Event, format: Format) -> Result<Bytes, Infallible> {
    Ok(recordio::frame(&codec::encode(event, format)))
}

fn stream_response(format: Format, stream_id: Option<Uuid>, body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Some(id) = stream_id
        && let Ok(value) = HeaderValue::from_str(&id.to_string())
    {
        headers.insert(STREAM_ID, value);
    }
    response
}

/// Answers a SUBSCRIBE call.
pub(crate) async fn subscribe(
    api: &MesosApi,
    headers: &HeaderMap,
    call: Call,
    caller: &Caller,
) -> Response {
    if headers.contains_key(STREAM_ID) {
        return Refusal::bad_request(
            "Subscribe calls should not include the 'Mesos-Stream-Id' header",
        )
        .into_response();
    }
    let format = match codec::accept(headers) {
        Ok(format) => format,
        Err(refusal) => return refusal.into_response(),
    };
    let mut request = match subscribe_request(&call) {
        Ok(request) => request,
        Err(refusal) => return refusal.into_response(),
    };
    if let Some(info) = request.framework.as_mut()
        && let Err(err) = api.actor.security().admit_framework(caller, info)
    {
        return Refusal::new(StatusCode::FORBIDDEN, err.to_string()).into_response();
    }
    let reservations = call
        .subscribe
        .as_ref()
        .map(|s| reservation_format(&s.framework_info.capabilities))
        .unwrap_or(super::resources::ReservationFormat::Legacy);
    // Bounded: a scheduler that stops reading has its stream ended (see `rpc::queue`).
    let (tx, rx) = crate::rpc::queue::channel(crate::rpc::queue::FRAMEWORK_EVENT_QUEUE);
    let weak = tx.downgrade();
    let (subscription, actor_stream) = match api.actor.subscribe(request, tx).await {
        Ok(answer) => answer,
        Err(Error::InvalidArgument(why)) => {
            return Refusal::bad_request(format!("Failed to validate scheduler::Call: {why}"))
                .into_response();
        }
        Err(err) => {
            // As Mesos: the stream opens and carries one ERROR (e.g. a removed framework).
            let only = frame(&events::error(err.to_string()), format);
            let body = Body::from_stream(futures::stream::iter([only]));
            return stream_response(format, None, body);
        }
    };
    let framework_id = subscription.framework_id.clone();
    tracing::Span::current().record("framework_id", framework_id.as_str());
    let stream_id = Uuid::new_v4();
    api.streams().insert(
        framework_id.clone(),
        OpenStream {
            id: stream_id,
            events: weak,
            principal: caller.principal.clone(),
        },
    );
    let on_close = {
        let api = api.clone();
        let framework_id = framework_id.clone();
        Box::new(move || {
            let mut streams = api.streams();
            if streams
                .get(&framework_id)
                .is_some_and(|s| s.id == stream_id)
            {
                streams.remove(&framework_id);
            }
            drop(streams);
            api.actor
                .framework_stream_closed(framework_id, actor_stream);
        })
    };
    let body = PushStream::new(rx, on_close)
        .with_heartbeat(subscription.heartbeat_interval, native_heartbeat)
        .flat_map(move |item| {
            let mesos_events = match item {
                Ok(native) => events::to_mesos(native, reservations),
                Err(_) => Vec::new(),
            };
            let mut frames = Vec::with_capacity(mesos_events.len().saturating_add(1));
            for event in mesos_events {
                let subscribed = event.r#type == Some(event::Type::Subscribed as i32);
                frames.push(frame(&event, format));
                if subscribed {
                    frames.push(frame(&events::heartbeat(), format));
                }
            }
            futures::stream::iter(frames)
        });
    let mut response = stream_response(format, Some(stream_id), Body::from_stream(body));
    *response.status_mut() = StatusCode::OK;
    response
}
