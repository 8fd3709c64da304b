//! `GET /v2/events`: Marathon's server-sent events, `event: <type>` and `data: <json>`,
//! filtered by `?event_type=` (repeatable). It opens with `event_stream_attached`; a
//! subscriber that falls behind the bus's backlog skips what it missed.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use serde_json::json;
use tokio_stream::wrappers::BroadcastStream;

use super::Ctx;
use super::query::Query;
use crate::events::Event;
use crate::time::Timestamp;

pub async fn stream(
    State(ctx): State<Arc<Ctx>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(raw): RawQuery,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let query = Query::parse(raw.as_deref());
    let wanted: Vec<String> = query
        .all("event_type")
        .iter()
        .map(|s| s.to_string())
        .collect();
    let receiver = match ctx.lock() {
        Ok(state) => state.events().subscribe(),
        Err(_) => crate::events::EventBus::default().subscribe(),
    };
    let attached = Event {
        event_type: "event_stream_attached",
        data: json!({"remoteAddress": peer.ip().to_string(), "eventType": "event_stream_attached",
                     "timestamp": Timestamp::now().iso()}),
    };
    let events = stream::once(async move { attached })
        .chain(BroadcastStream::new(receiver).filter_map(|item| async move { item.ok() }))
        .filter(move |event| {
            let keep = wanted.is_empty() || wanted.iter().any(|w| w == event.event_type);
            async move { keep }
        })
        .map(|event| {
            Ok(SseEvent::default()
                .event(event.event_type)
                .data(event.data.to_string()))
        });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
