//! Marathon's event bus: what `/v2/events` streams (`status_update_event`,
//! `deployment_info`, `deployment_success`, `api_post_event`, …). A bounded broadcast: a
//! subscriber that falls behind skips the events it missed rather than holding memory.

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::time::Timestamp;

/// Events kept for slow subscribers before they start skipping.
const BACKLOG: usize = 1024;

/// One event: its `eventType` and its JSON (which carries `eventType` and `timestamp` too).
#[derive(Debug, Clone)]
pub struct Event {
    pub event_type: &'static str,
    pub data: Value,
}

/// The sending side; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            sender: broadcast::channel(BACKLOG).0,
        }
    }
}

impl EventBus {
    /// Publishes `fields` under `event_type`, adding `eventType` and `timestamp`.
    pub fn publish(&self, event_type: &'static str, fields: Value, now: Timestamp) {
        let mut data = fields;
        if let Value::Object(map) = &mut data {
            map.insert("eventType".into(), json!(event_type));
            map.insert("timestamp".into(), json!(now.iso()));
        }
        // No subscriber is not an error: events are only for whoever listens now.
        let _ = self.sender.send(Event { event_type, data });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}
