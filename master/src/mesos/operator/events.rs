//! SUBSCRIBE: a 200 whose chunked body is a RecordIO stream of `mesos.v1.master.Event`s:
//! SUBSCRIBED (the whole state, as GET_STATE, and the heartbeat interval), a HEARTBEAT right
//! after it and every [`HEARTBEAT_INTERVAL`], then the changes as they happen.
//!
//! The changes are the differences between successive published state snapshots: a task
//! new to the state is TASK_ADDED (in TASK_STAGING, as Mesos adds it) followed by a
//! TASK_UPDATED when it has already moved on; a task whose state or health changed is
//! TASK_UPDATED; agents appearing and leaving are AGENT_ADDED and AGENT_REMOVED; frameworks
//! FRAMEWORK_ADDED, FRAMEWORK_UPDATED (connected, name or roles changed) and
//! FRAMEWORK_REMOVED. Snapshots are published at most every 100 ms, so a state a task held
//! for less than that may be skipped, as a slow reader of Mesos's stream would see it.
//!
//! The stream is pulled: a snapshot is compared only when the events of the previous
//! comparison have all been written, so a reader that stops reading holds at most one
//! comparison's events, and the snapshots it missed collapse into the next. At most
//! [`MAX_SUBSCRIBERS`] streams are open; a new one past it ends the oldest, as Mesos's
//! `--max_operator_event_stream_subscribers` does.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::sync::{oneshot, watch};
use tokio::time::{Interval, MissedTickBehavior};
use wasmesos_proto::mesos::v1 as mesos;
use wasmesos_proto::mesos::v1::master::{Event, event};

use super::state;
use crate::core::{AgentView, FrameworkView, StateSnapshot, TaskView};
use crate::mesos::MesosApi;
use crate::mesos::codec::{self, Format};
use crate::mesos::recordio;

/// Mesos's `DEFAULT_HEARTBEAT_INTERVAL` for operator streams.
pub(crate) const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);
/// Mesos's default `--max_operator_event_stream_subscribers`.
pub(crate) const MAX_SUBSCRIBERS: usize = 1000;

/// The open operator event streams, oldest first, each with the signal that ends it.
#[derive(Default)]
pub(crate) struct Subscribers {
    next_id: AtomicU64,
    open: Mutex<BTreeMap<u64, oneshot::Sender<()>>>,
}

impl Subscribers {
    /// Registers a new stream, ending the oldest past [`MAX_SUBSCRIBERS`].
    fn open(self: &Arc<Self>) -> (SubscriberGuard, oneshot::Receiver<()>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.insert(id, tx);
        while open.len() > MAX_SUBSCRIBERS {
            // Dropping its sender ends that stream.
            if open.pop_first().is_some() {
                tracing::info!(
                    max = MAX_SUBSCRIBERS,
                    "reached the most operator event streams: the oldest is closed"
                );
            }
        }
        (
            SubscriberGuard {
                id,
                subscribers: Arc::clone(self),
            },
            rx,
        )
    }

    /// How many streams are open.
    pub(crate) fn len(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Unregisters its stream when the stream is dropped.
struct SubscriberGuard {
    id: u64,
    subscribers: Arc<Subscribers>,
}

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.subscribers
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

fn heartbeat() -> Event {
    Event {
        r#type: Some(event::Type::Heartbeat as i32),
        ..Default::default()
    }
}

fn subscribed(snapshot: &StateSnapshot) -> Event {
    Event {
        r#type: Some(event::Type::Subscribed as i32),
        subscribed: Some(event::Subscribed {
            get_state: Some(state::get_state(snapshot)),
            heartbeat_interval_seconds: Some(HEARTBEAT_INTERVAL.as_secs_f64()),
        }),
        ..Default::default()
    }
}

/// Where one stream is.
struct Cursor {
    snapshots: watch::Receiver<Arc<StateSnapshot>>,
    /// The state the reader has been told about.
    previous: Arc<StateSnapshot>,
    /// Events of the latest comparison not yet written.
    pending: VecDeque<Event>,
    heartbeat: Interval,
    /// Resolves when the stream is ended to make room for a newer one.
    closed: oneshot::Receiver<()>,
    format: Format,
    _guard: SubscriberGuard,
}

/// Answers SUBSCRIBE.
pub(super) async fn subscribe(api: &MesosApi, format: Format) -> Response {
    let (guard, closed) = api.subscribers.open();
    let mut snapshots = api.actor.snapshots();
    let current = Arc::clone(&snapshots.borrow_and_update());
    // The whole state of a large cluster takes milliseconds: off the runtime's workers.
    let first = {
        let current = Arc::clone(&current);
        tokio::task::spawn_blocking(move || subscribed(&current)).await
    };
    let mut pending = VecDeque::new();
    match first {
        Ok(event) => pending.push_back(event),
        Err(err) => {
            tracing::error!(%err, "building SUBSCRIBED failed");
            return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    pending.push_back(heartbeat());
    let start = tokio::time::Instant::now();
    let mut heartbeat = tokio::time::interval_at(
        start.checked_add(HEARTBEAT_INTERVAL).unwrap_or(start),
        HEARTBEAT_INTERVAL,
    );
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let cursor = Cursor {
        snapshots,
        previous: current,
        pending,
        heartbeat,
        closed,
        format,
        _guard: guard,
    };
    tracing::debug!("an operator event stream opened");
    let body = futures::stream::unfold(cursor, next_frame);
    let mut response = Response::new(Body::from_stream(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
}

/// The stream's next record; `None` ends it (the master stops, or a newer stream took its
/// place).
async fn next_frame(mut cursor: Cursor) -> Option<(Result<Bytes, Infallible>, Cursor)> {
    loop {
        if let Some(event) = cursor.pending.pop_front() {
            let record = recordio::frame(&codec::encode(&event, cursor.format));
            return Some((Ok(record), cursor));
        }
        tokio::select! {
            biased;
            _ = &mut cursor.closed => {
                tracing::debug!("an operator event stream ended for a newer one");
                return None;
            }
            changed = cursor.snapshots.changed() => {
                if changed.is_err() {
                    return None;
                }
                let next = Arc::clone(&cursor.snapshots.borrow_and_update());
                diff(&cursor.previous, &next, &mut cursor.pending);
                cursor.previous = next;
            }
            _ = cursor.heartbeat.tick() => cursor.pending.push_back(heartbeat()),
        }
    }
}

fn framework_changed(before: &FrameworkView, after: &FrameworkView) -> bool {
    before.connected != after.connected
        || before.name != after.name
        || before.roles != after.roles
        || before.info != after.info
}

fn task_updated(task: &TaskView) -> Event {
    Event {
        r#type: Some(event::Type::TaskUpdated as i32),
        task_updated: Some(event::TaskUpdated {
            framework_id: mesos::FrameworkId {
                value: task.framework_id.clone(),
            },
            status: state::task_status(task),
            state: state::task_state(task) as i32,
        }),
        ..Default::default()
    }
}

/// The events that take a reader from `before` to `after`, in Mesos's order: agents and
/// frameworks that appeared, tasks, then frameworks and agents that left.
fn diff(before: &StateSnapshot, after: &StateSnapshot, out: &mut VecDeque<Event>) {
    if std::ptr::eq(before, after) {
        return;
    }
    let agents_before: HashMap<&str, &AgentView> =
        before.agents.iter().map(|a| (a.id.as_str(), a)).collect();
    let agents_after: HashMap<&str, &AgentView> =
        after.agents.iter().map(|a| (a.id.as_str(), a)).collect();
    for agent in &after.agents {
        if !agents_before.contains_key(agent.id.as_str()) {
            out.push_back(Event {
                r#type: Some(event::Type::AgentAdded as i32),
                agent_added: Some(event::AgentAdded {
                    agent: state::agent(agent),
                }),
                ..Default::default()
            });
        }
    }
    let frameworks_before: HashMap<&str, &FrameworkView> = before
        .frameworks
        .iter()
        .map(|f| (f.id.as_str(), f))
        .collect();
    let frameworks_after: HashMap<&str, &FrameworkView> = after
        .frameworks
        .iter()
        .map(|f| (f.id.as_str(), f))
        .collect();
    for framework in &after.frameworks {
        match frameworks_before.get(framework.id.as_str()) {
            None => out.push_back(Event {
                r#type: Some(event::Type::FrameworkAdded as i32),
                framework_added: Some(event::FrameworkAdded {
                    framework: state::framework(framework),
                }),
                ..Default::default()
            }),
            Some(old) if framework_changed(old, framework) => out.push_back(Event {
                r#type: Some(event::Type::FrameworkUpdated as i32),
                framework_updated: Some(event::FrameworkUpdated {
                    framework: state::framework(framework),
                }),
                ..Default::default()
            }),
            Some(_) => {}
        }
    }
    let tasks_before: HashMap<(&str, &str), &Arc<TaskView>> = before
        .tasks
        .iter()
        .map(|t| ((t.framework_id.as_str(), t.task_id.as_str()), t))
        .collect();
    for task in &after.tasks {
        let key = (task.framework_id.as_str(), task.task_id.as_str());
        match tasks_before.get(&key) {
            None => {
                out.push_back(Event {
                    r#type: Some(event::Type::TaskAdded as i32),
                    task_added: Some(event::TaskAdded {
                        task: state::task(task, Some(mesos::TaskState::TaskStaging)),
                    }),
                    ..Default::default()
                });
                if task.state != "STAGING" {
                    out.push_back(task_updated(task));
                }
            }
            Some(old) => {
                if !Arc::ptr_eq(old, task)
                    && (old.state != task.state || old.healthy != task.healthy)
                {
                    out.push_back(task_updated(task));
                }
            }
        }
    }
    for framework in &before.frameworks {
        if !frameworks_after.contains_key(framework.id.as_str()) {
            out.push_back(Event {
                r#type: Some(event::Type::FrameworkRemoved as i32),
                framework_removed: Some(event::FrameworkRemoved {
                    framework_info: state::framework_info(framework),
                }),
                ..Default::default()
            });
        }
    }
    for agent in &before.agents {
        if !agents_after.contains_key(agent.id.as_str()) {
            out.push_back(Event {
                r#type: Some(event::Type::AgentRemoved as i32),
                agent_removed: Some(event::AgentRemoved {
                    agent_id: mesos::AgentId {
                        value: agent.id.clone(),
                    },
                }),
                ..Default::default()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(events: &VecDeque<Event>) -> Vec<event::Type> {
        events
            .iter()
            .map(|e| event::Type::try_from(e.r#type.unwrap_or(0)).unwrap_or(event::Type::Unknown))
            .collect()
    }

    fn task(id: &str, state: &str) -> Arc<TaskView> {
        Arc::new(TaskView {
            task_id: id.into(),
            framework_id: "f".into(),
            agent_id: "a".into(),
            state: state.into(),
            ..Default::default()
        })
    }

    #[test]
    fn differences_become_mesos_events_in_order() {
        let before = StateSnapshot::default();
        let after = StateSnapshot {
            agents: vec![AgentView {
                id: "a".into(),
                ..Default::default()
            }],
            frameworks: vec![FrameworkView {
                id: "f".into(),
                connected: true,
                ..Default::default()
            }],
            tasks: vec![task("t1", "STAGING"), task("t2", "RUNNING")],
            ..Default::default()
        };
        let mut out = VecDeque::new();
        diff(&before, &after, &mut out);
        use event::Type as T;
        assert_eq!(
            kinds(&out),
            vec![
                T::AgentAdded,
                T::FrameworkAdded,
                T::TaskAdded,
                T::TaskAdded,
                T::TaskUpdated
            ]
        );
        let added = out
            .get(3)
            .and_then(|e| e.task_added.as_ref())
            .expect("task added");
        assert_eq!(added.task.state, mesos::TaskState::TaskStaging as i32);

        let mut later = after.clone();
        later.tasks = vec![task("t1", "FINISHED"), Arc::clone(&after.tasks[1])];
        later.frameworks[0].connected = false;
        let mut out = VecDeque::new();
        diff(&after, &later, &mut out);
        assert_eq!(kinds(&out), vec![T::FrameworkUpdated, T::TaskUpdated]);
        let updated = out
            .get(1)
            .and_then(|e| e.task_updated.as_ref())
            .expect("task updated");
        assert_eq!(updated.state, mesos::TaskState::TaskFinished as i32);

        let mut out = VecDeque::new();
        diff(&later, &StateSnapshot::default(), &mut out);
        assert_eq!(kinds(&out), vec![T::FrameworkRemoved, T::AgentRemoved]);
    }

    #[test]
    fn a_stream_past_the_limit_ends_the_oldest() {
        let subscribers = Arc::new(Subscribers::default());
        let (first_guard, mut first) = subscribers.open();
        let mut rest = Vec::new();
        for _ in 0..MAX_SUBSCRIBERS {
            rest.push(subscribers.open());
        }
        assert_eq!(subscribers.len(), MAX_SUBSCRIBERS);
        assert!(
            first
                .try_recv()
                .is_err_and(|e| e == oneshot::error::TryRecvError::Closed)
        );
        drop(first_guard);
        rest.truncate(1);
        assert_eq!(subscribers.len(), 1);
    }
}
