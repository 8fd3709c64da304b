use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use axum::http::{Request, StatusCode, header};
use futures::StreamExt;
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt;

use super::{KEEP_ALIVE, LiveState, MAX_LIVE_TASKS, THROTTLE, live_tasks, routes};
use crate::core::{StateSnapshot, TaskView};

/// One parsed Server-Sent Event.
#[derive(Debug, Default)]
struct Received {
    event: String,
    id: String,
    data: String,
}

struct Reader {
    body: BodyDataStream,
    buffer: String,
}

impl Reader {
    /// The next event, or `None` when the stream ended.
    async fn next(&mut self) -> Option<Received> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&frame) {
                    return Some(event);
                }
                continue;
            }
            let chunk = self.body.next().await?.expect("the body streams");
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
        }
    }
}

/// An event frame; `None` for a comment-only frame.
fn parse(frame: &str) -> Option<Received> {
    let mut received = Received::default();
    let mut any = false;
    for line in frame.lines() {
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.strip_prefix(' ').unwrap_or(value);
        any |= !field.is_empty();
        match field {
            "event" => received.event = value.to_string(),
            "id" => received.id = value.to_string(),
            "data" => received.data.push_str(value),
            _ => {}
        }
    }
    any.then_some(received)
}

fn snapshot(generation: u64) -> Arc<StateSnapshot> {
    Arc::new(StateSnapshot {
        generation,
        ..StateSnapshot::default()
    })
}

async fn open(rx: watch::Receiver<Arc<StateSnapshot>>) -> Reader {
    let request = Request::get("/events")
        .body(Body::empty())
        .expect("a request");
    let response = routes(rx, Arc::default())
        .oneshot(request)
        .await
        .expect("an answer");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    assert_eq!(
        content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    Reader {
        body: response.into_body().into_data_stream(),
        buffer: String::new(),
    }
}

fn generation_of(received: &Received) -> u64 {
    let json: serde_json::Value = serde_json::from_str(&received.data).expect("JSON data");
    json["generation"].as_u64().expect("a generation")
}

#[tokio::test(start_paused = true)]
async fn a_new_stream_gets_the_current_state_at_once() {
    let (_tx, rx) = watch::channel(snapshot(7));
    let mut reader = open(rx).await;
    let started = Instant::now();
    let first = reader.next().await.expect("a first event");
    assert_eq!(first.event, "state");
    assert_eq!(first.id, "7");
    assert_eq!(generation_of(&first), 7);
    assert!(started.elapsed() < THROTTLE, "{:?}", started.elapsed());
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_snapshots_arrives_as_one_throttled_event_with_the_latest() {
    let (tx, rx) = watch::channel(snapshot(1));
    let mut reader = open(rx).await;
    let first = reader.next().await.expect("a first event");
    let first_at = Instant::now();
    assert_eq!(first.id, "1");
    for generation in 2..=10 {
        tx.send_replace(snapshot(generation));
    }
    let second = reader.next().await.expect("a second event");
    assert_eq!(second.event, "state");
    assert_eq!(
        generation_of(&second),
        10,
        "the burst collapses into its last state"
    );
    assert!(first_at.elapsed() >= THROTTLE, "{:?}", first_at.elapsed());
}

#[tokio::test(start_paused = true)]
async fn a_quiet_stream_sends_pings() {
    let (_tx, rx) = watch::channel(snapshot(1));
    let mut reader = open(rx).await;
    reader.next().await.expect("a first event");
    let quiet_since = Instant::now();
    let ping = reader.next().await.expect("a ping");
    assert_eq!(ping.event, "ping");
    assert!(quiet_since.elapsed() >= KEEP_ALIVE - Duration::from_millis(1));
}

#[tokio::test(start_paused = true)]
async fn the_stream_ends_when_the_master_stops_publishing() {
    let (tx, rx) = watch::channel(snapshot(1));
    let mut reader = open(rx).await;
    reader.next().await.expect("a first event");
    drop(tx);
    let after = tokio::time::timeout(Duration::from_secs(5), reader.next())
        .await
        .expect("the stream ends rather than hanging");
    assert!(after.is_none(), "{after:?}");
}

fn task(index: usize, terminal: bool) -> Arc<TaskView> {
    Arc::new(TaskView {
        task_id: format!("task-{index}"),
        terminal,
        state: if terminal { "FINISHED" } else { "RUNNING" }.to_string(),
        ..TaskView::default()
    })
}

#[test]
fn the_live_task_list_keeps_every_active_task_then_the_newest_finished() {
    // The oldest 100 tasks still run; 1,400 newer ones finished.
    let tasks: Vec<Arc<TaskView>> = (0..1500).map(|i| task(i, i >= 100)).collect();
    let kept = live_tasks(&tasks, MAX_LIVE_TASKS);
    assert_eq!(kept.len(), MAX_LIVE_TASKS);
    assert_eq!(kept.iter().filter(|t| !t.terminal).count(), 100);
    let first_finished = kept.iter().find(|t| t.terminal).map(|t| t.task_id.clone());
    assert_eq!(first_finished.as_deref(), Some("task-600"));
    assert_eq!(kept.last().map(|t| t.task_id.as_str()), Some("task-1499"));
    let indices: Vec<usize> = kept
        .iter()
        .filter_map(|t| t.task_id.strip_prefix("task-")?.parse().ok())
        .collect();
    assert!(indices.windows(2).all(|w| w[0] < w[1]), "order is kept");
}

#[test]
fn more_active_tasks_than_the_cap_keeps_the_newest_active() {
    let tasks: Vec<Arc<TaskView>> = (0..12).map(|i| task(i, i % 3 == 0)).collect();
    let kept = live_tasks(&tasks, 4);
    let ids: Vec<&str> = kept.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["task-7", "task-8", "task-10", "task-11"]);
}

#[test]
fn the_live_state_counts_every_task_and_carries_the_capped_list() {
    let snapshot = StateSnapshot {
        tasks: (0..MAX_LIVE_TASKS + 5).map(|i| task(i, true)).collect(),
        ..StateSnapshot::default()
    };
    let json = serde_json::to_value(LiveState::of(&snapshot)).expect("JSON");
    assert_eq!(json["tasks_total"], MAX_LIVE_TASKS + 5);
    assert_eq!(json["tasks"].as_array().map(Vec::len), Some(MAX_LIVE_TASKS));
    for field in [
        "master",
        "resources",
        "agents",
        "frameworks",
        "roles",
        "maintenance",
        "generation",
    ] {
        assert!(json.get(field).is_some(), "{field} is missing");
    }
}
