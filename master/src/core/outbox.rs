//! What the core wants sent: events to frameworks and commands to agents, in order per
//! destination, with status updates and offers coalesced so a burst travels as few messages,
//! each within `EVENT_SPLIT_BYTES` unless one item alone is larger.

use std::collections::HashMap;

use prost::Message as _;
use wasmesos_proto::limits::EVENT_SPLIT_BYTES;
use wasmesos_proto::v1::{AgentCommand, Event, Offer, TaskStatus, agent_command, event};

/// Messages queued by the core since the last [`crate::core::Core::take_outbox`].
#[derive(Debug, Default)]
pub struct Outbox {
    /// Events per framework id, in the order the framework must see them.
    pub events: HashMap<String, Vec<Event>>,
    /// Commands per agent id, in the order the agent must see them.
    pub commands: HashMap<String, Vec<AgentCommand>>,
    /// Frameworks whose event stream must end once the events above are delivered.
    pub close_frameworks: Vec<String>,
    /// Agents whose command stream must end once the commands above are delivered.
    pub close_agents: Vec<String>,
    /// The encoded size of the items merged into each framework's last event so far.
    merged_bytes: HashMap<String, usize>,
}

impl Outbox {
    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.commands.is_empty()
            && self.close_frameworks.is_empty()
            && self.close_agents.is_empty()
    }

    /// Queues an event; an update or offers event right after one of the same kind merges
    /// into it while the merged items stay within [`EVENT_SPLIT_BYTES`] (so that no client
    /// gets a merged event it cannot decode), else it starts the next event.
    pub(crate) fn event(&mut self, framework_id: &str, new: event::Event) {
        let bytes = items_len(&new);
        // `get_mut` first: this runs per status update, and `entry` would allocate the key.
        let queue = match self.events.get_mut(framework_id) {
            Some(queue) => queue,
            None => self.events.entry(framework_id.to_string()).or_default(),
        };
        let merged = match self.merged_bytes.get_mut(framework_id) {
            Some(merged) => merged,
            None => self
                .merged_bytes
                .entry(framework_id.to_string())
                .or_default(),
        };
        let fits = merged.saturating_add(bytes) <= EVENT_SPLIT_BYTES;
        let last = queue
            .last_mut()
            .and_then(|e| e.event.as_mut())
            .filter(|_| fits);
        match (last, new) {
            (Some(event::Event::Update(update)), event::Event::Update(more)) => {
                update.statuses.extend(more.statuses);
                *merged = merged.saturating_add(bytes);
            }
            (Some(event::Event::Offers(offers)), event::Event::Offers(more)) => {
                offers.offers.extend(more.offers);
                *merged = merged.saturating_add(bytes);
            }
            (_, new) => {
                queue.push(Event { event: Some(new) });
                *merged = bytes;
            }
        }
    }

    /// Queues one status update for a framework.
    pub(crate) fn update(&mut self, framework_id: &str, status: TaskStatus) {
        let update = event::Update {
            statuses: vec![status],
        };
        self.event(framework_id, event::Event::Update(update));
    }

    /// Queues one offer for a framework.
    pub(crate) fn offer(&mut self, framework_id: &str, offer: Offer) {
        let offers = event::Offers {
            offers: vec![offer],
        };
        self.event(framework_id, event::Event::Offers(offers));
    }

    /// Queues an ERROR event.
    pub(crate) fn error(&mut self, framework_id: &str, message: String) {
        self.event(framework_id, event::Event::Error(event::Error { message }));
    }

    /// Queues a command; acknowledgements right after acknowledgements merge.
    pub(crate) fn command(&mut self, agent_id: &str, new: agent_command::Command) {
        let queue = match self.commands.get_mut(agent_id) {
            Some(queue) => queue,
            None => self.commands.entry(agent_id.to_string()).or_default(),
        };
        let last = queue.last_mut().and_then(|c| c.command.as_mut());
        match (last, new) {
            (
                Some(agent_command::Command::Acknowledge(acks)),
                agent_command::Command::Acknowledge(more),
            ) => acks.acks.extend(more.acks),
            (_, new) => queue.push(AgentCommand { command: Some(new) }),
        }
    }

    /// Queues one acknowledgement for an agent.
    pub(crate) fn ack(&mut self, agent_id: &str, framework_id: &str, task_id: &str, uuid: Vec<u8>) {
        let ack = agent_command::Acknowledgement {
            framework_id: framework_id.to_string(),
            task_id: task_id.to_string(),
            uuid,
        };
        let acks = agent_command::Acknowledge { acks: vec![ack] };
        self.command(agent_id, agent_command::Command::Acknowledge(acks));
    }
}

/// The encoded size of the statuses or offers an event would add to a merged one.
fn items_len(event: &event::Event) -> usize {
    match event {
        event::Event::Update(update) => update.encoded_len(),
        event::Event::Offers(offers) => offers.encoded_len(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(task: &str) -> TaskStatus {
        TaskStatus {
            task_id: task.into(),
            ..TaskStatus::default()
        }
    }

    #[test]
    fn consecutive_updates_and_offers_coalesce_but_keep_order() {
        let mut out = Outbox::default();
        out.update("f", status("a"));
        out.update("f", status("b"));
        out.error("f", "boom".into());
        out.update("f", status("c"));
        out.offer("f", Offer::default());
        out.offer("f", Offer::default());
        let events = &out.events["f"];
        assert_eq!(events.len(), 4);
        match events[0].event.as_ref() {
            Some(event::Event::Update(u)) => assert_eq!(u.statuses.len(), 2),
            other => panic!("expected an update, got {other:?}"),
        }
        match events[3].event.as_ref() {
            Some(event::Event::Offers(o)) => assert_eq!(o.offers.len(), 2),
            other => panic!("expected offers, got {other:?}"),
        }
    }

    #[test]
    fn merged_updates_are_cut_by_encoded_size_and_a_large_one_travels_alone() {
        let big = |task: &str, bytes: usize| TaskStatus {
            data: vec![7; bytes],
            ..status(task)
        };
        let mut out = Outbox::default();
        // Five results of a full MiB each: merged, they would make a 5 MiB event.
        for task in ["a", "b", "c", "d", "e"] {
            out.update("f", big(task, EVENT_SPLIT_BYTES));
        }
        // Small ones still share an event, and one larger than the cut is not split.
        out.update("f", status("g"));
        out.update("f", status("h"));
        out.update("f", big("i", 3 * EVENT_SPLIT_BYTES));
        let events = &out.events["f"];
        let sizes: Vec<usize> = events
            .iter()
            .map(|e| match e.event.as_ref() {
                Some(event::Event::Update(u)) => u.statuses.len(),
                other => panic!("expected an update, got {other:?}"),
            })
            .collect();
        assert_eq!(sizes, [1, 1, 1, 1, 1, 2, 1]);
        for event in &events[..6] {
            assert!(event.encoded_len() <= EVENT_SPLIT_BYTES + 64);
        }
        let order: Vec<&str> = events
            .iter()
            .flat_map(|e| match e.event.as_ref() {
                Some(event::Event::Update(u)) => u.statuses.iter().map(|s| s.task_id.as_str()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(order, ["a", "b", "c", "d", "e", "g", "h", "i"]);
    }

    #[test]
    fn merged_offers_are_cut_by_encoded_size() {
        let mut out = Outbox::default();
        let offer = Offer {
            id: "x".repeat(EVENT_SPLIT_BYTES / 2),
            ..Offer::default()
        };
        for _ in 0..5 {
            out.offer("f", offer.clone());
        }
        let counts: Vec<usize> = out.events["f"]
            .iter()
            .map(|e| match e.event.as_ref() {
                Some(event::Event::Offers(o)) => o.offers.len(),
                other => panic!("expected offers, got {other:?}"),
            })
            .collect();
        assert_eq!(
            counts,
            [1, 1, 1, 1, 1],
            "two halves plus framing exceed the cut"
        );
    }

    #[test]
    fn acknowledgements_coalesce_per_agent() {
        let mut out = Outbox::default();
        out.ack("a1", "f", "t1", vec![1]);
        out.ack("a1", "f", "t2", vec![2]);
        out.ack("a2", "f", "t3", vec![3]);
        assert_eq!(out.commands["a1"].len(), 1);
        assert_eq!(out.commands["a2"].len(), 1);
    }
}
