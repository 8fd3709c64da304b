//! `/events`: the web UI's live feed, as Server-Sent Events.
//!
//! A `state` event carries the operator state as JSON (its `id` is the snapshot
//! generation): once on connect, then whenever the actor publishes a new snapshot, at most
//! once per [`THROTTLE`]. Bursts collapse into the latest state. A `ping` event every
//! [`KEEP_ALIVE`] lets the page tell a dead stream from a quiet cluster. The stream ends
//! when the actor stops, so graceful shutdown never waits on a browser.
//!
//! The live state is the snapshot with its task list capped at [`MAX_LIVE_TASKS`] (every
//! active task first, then the newest finished ones) and `tasks_total` added: a page
//! re-rendered a few times a second cannot use more, and `/tasks` pages through the rest.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Extension, Router};
use futures::Stream;
use serde::Serialize;
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;

use crate::auth::{Caller, Security};
use crate::core::{AgentView, ClusterResources, FrameworkView, MachineView, MasterView, RoleView};
use crate::core::{StateSnapshot, TaskView};

/// The shortest time between two `state` events on one stream.
pub(crate) const THROTTLE: Duration = Duration::from_millis(250);
/// How often a quiet stream sends `ping`.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(10);
/// The most tasks one `state` event carries.
pub(crate) const MAX_LIVE_TASKS: usize = 1000;

/// The latest live state as JSON and the snapshot generation it was built from.
type JsonCache = Mutex<Option<(u64, Arc<str>)>>;

/// What the `/events` handler shares across streams.
#[derive(Clone)]
struct Feed {
    snapshots: watch::Receiver<Arc<StateSnapshot>>,
    /// The latest live state as JSON, serialized once per generation for every stream.
    cache: Arc<JsonCache>,
    /// The ACLs that decide what each caller's stream shows.
    security: Arc<Security>,
}

/// `/events`, fed by the actor's snapshot channel.
pub(crate) fn routes(
    snapshots: watch::Receiver<Arc<StateSnapshot>>,
    security: Arc<Security>,
) -> Router {
    let feed = Feed {
        snapshots,
        cache: Arc::default(),
        security,
    };
    Router::new().route("/events", get(events)).with_state(feed)
}

async fn events(
    State(feed): State<Feed>,
    caller: Option<Extension<Caller>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // The authentication middleware sets it on every request the master serves.
    let caller = caller.map(|Extension(caller)| caller).unwrap_or_default();
    tracing::debug!("a live feed opened");
    let keep_alive = KeepAlive::new()
        .interval(KEEP_ALIVE)
        .event(Event::default().event("ping"));
    Sse::new(stream(feed, caller)).keep_alive(keep_alive)
}

/// Where one stream is.
struct Cursor {
    feed: Feed,
    /// Whom the stream is for: it shows what the ACLs let them see.
    caller: Caller,
    /// When the previous event went out; `None` before the first.
    sent: Option<Instant>,
}

fn stream(mut feed: Feed, caller: Caller) -> impl Stream<Item = Result<Event, Infallible>> {
    feed.snapshots.mark_changed();
    let cursor = Cursor {
        feed,
        caller,
        sent: None,
    };
    futures::stream::unfold(cursor, |mut cursor| async move {
        if let Some(sent) = cursor.sent {
            tokio::time::sleep(THROTTLE.saturating_sub(sent.elapsed())).await;
        }
        if cursor.feed.snapshots.changed().await.is_err() {
            tracing::debug!("a live feed ended: the master is stopping");
            return None;
        }
        let snapshot = Arc::clone(&cursor.feed.snapshots.borrow_and_update());
        let event = state_event(&cursor.feed, &cursor.caller, snapshot).await;
        cursor.sent = Some(Instant::now());
        Some((Ok(event), cursor))
    })
}

async fn state_event(feed: &Feed, caller: &Caller, snapshot: Arc<StateSnapshot>) -> Event {
    let generation = snapshot.generation;
    let json = if feed.security.filters_views() {
        // What this caller sees is its own: built for it, not shared through the cache.
        let visible = feed.security.view(caller, snapshot);
        serialize(visible).await
    } else {
        live_json(feed, snapshot).await
    };
    Event::default()
        .event("state")
        .id(generation.to_string())
        .data(&*json)
}

/// The live state's JSON, from the cache when another stream already built it.
async fn live_json(feed: &Feed, snapshot: Arc<StateSnapshot>) -> Arc<str> {
    let mut cache = feed.cache.lock().await;
    if let Some((generation, json)) = cache.as_ref()
        && *generation == snapshot.generation
    {
        return Arc::clone(json);
    }
    let generation = snapshot.generation;
    let json = serialize(snapshot).await;
    *cache = Some((generation, Arc::clone(&json)));
    json
}

/// The live state of `snapshot` as JSON.
async fn serialize(snapshot: Arc<StateSnapshot>) -> Arc<str> {
    // Thousands of tasks take milliseconds to serialize: keep that off the async workers.
    let built =
        tokio::task::spawn_blocking(move || serde_json::to_string(&LiveState::of(&snapshot))).await;
    match built {
        Ok(Ok(json)) => Arc::from(json),
        Ok(Err(err)) => {
            tracing::error!(%err, "cannot serialize the live state");
            Arc::from("{}")
        }
        Err(err) => {
            tracing::error!(%err, "serializing the live state panicked");
            Arc::from("{}")
        }
    }
}

/// The snapshot as the UI gets it: every field but a capped task list.
#[derive(Serialize)]
pub(crate) struct LiveState<'a> {
    generated_at: f64,
    generation: u64,
    master: &'a MasterView,
    resources: &'a ClusterResources,
    agents: &'a [AgentView],
    frameworks: &'a [FrameworkView],
    completed_frameworks: &'a [FrameworkView],
    roles: &'a [RoleView],
    artifacts: usize,
    maintenance: &'a [MachineView],
    tasks: Vec<&'a TaskView>,
    /// How many tasks the snapshot holds, shown or not.
    tasks_total: usize,
}

impl<'a> LiveState<'a> {
    pub(crate) fn of(snapshot: &'a StateSnapshot) -> Self {
        Self {
            generated_at: snapshot.generated_at,
            generation: snapshot.generation,
            master: &snapshot.master,
            resources: &snapshot.resources,
            agents: &snapshot.agents,
            frameworks: &snapshot.frameworks,
            completed_frameworks: &snapshot.completed_frameworks,
            roles: &snapshot.roles,
            artifacts: snapshot.artifacts,
            maintenance: &snapshot.maintenance,
            tasks: live_tasks(&snapshot.tasks, MAX_LIVE_TASKS),
            tasks_total: snapshot.tasks.len(),
        }
    }
}

/// At most `cap` tasks, in the snapshot's order: every active task while they fit, then the
/// newest terminal ones (the snapshot lists tasks by start time).
fn live_tasks(tasks: &[Arc<TaskView>], cap: usize) -> Vec<&TaskView> {
    if tasks.len() <= cap {
        return tasks.iter().map(|task| &**task).collect();
    }
    let active = tasks.iter().filter(|task| !task.terminal).count().min(cap);
    let mut finished_room = cap.saturating_sub(active);
    let mut active_room = active;
    let mut keep: Vec<bool> = tasks
        .iter()
        .rev()
        .map(|task| {
            let room = if task.terminal {
                &mut finished_room
            } else {
                &mut active_room
            };
            let left = room.checked_sub(1);
            *room = left.unwrap_or(0);
            left.is_some()
        })
        .collect();
    keep.reverse();
    tasks
        .iter()
        .zip(keep)
        .filter(|(_, kept)| *kept)
        .map(|(task, _)| &**task)
        .collect()
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
