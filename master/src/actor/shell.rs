//! The [`Shell`]: the core plus the open streams the actor delivers into. Only the actor's
//! jobs touch it; the operations that open or close a stream live here, next to the streams.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use wasmesos_proto::v1::{AgentCommand, Event, RegisterRequest, SubscribeRequest, agent_command};

use crate::Error;
use crate::core::{Core, Outbox, Registration, Subscription};
use crate::http::snapshots::Publisher;
use crate::metrics::Metrics;
use crate::registry::{Committer, Release};
use crate::rpc::queue::{EventSender, SendError};

/// Which framework event stream or agent command stream a close notice is about: a stream
/// that replaced it has another id, so a late notice does not end the new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StreamId(u64);

/// What REGISTER did with an agent's command stream.
pub(crate) enum AgentStream {
    /// The agent is registered and its commands go to the stream.
    Opened { agent_id: String, stream: StreamId },
    /// The agent was refused; the stream got the commands that say so and nothing more.
    Refused,
}

/// A sender into one framework's or agent's stream.
struct Conn<S> {
    id: StreamId,
    tx: S,
}

/// The core plus the open streams the actor delivers into.
pub(super) struct Shell {
    pub(super) core: Core,
    pub(super) origin: Instant,
    framework_streams: HashMap<String, Conn<EventSender<Event>>>,
    agent_streams: HashMap<String, Conn<EventSender<AgentCommand>>>,
    next_stream: u64,
    pub(super) publisher: Publisher,
    committer: Committer,
    /// RPC answers of this batch, released with its outbox after its commit.
    pub(super) answers: Vec<Release>,
}

impl Shell {
    pub(super) fn new(core: Core, publisher: Publisher, committer: Committer) -> Self {
        Self {
            core,
            origin: Instant::now(),
            framework_streams: HashMap::new(),
            agent_streams: HashMap::new(),
            next_stream: 0,
            publisher,
            committer,
            answers: Vec::new(),
        }
    }

    /// Time as the core measures it: since the actor started.
    pub(super) fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// SUBSCRIBE: the core admits the framework, then `events` becomes its stream,
    /// replacing (and so ending) an older one.
    pub(super) fn subscribe(
        &mut self,
        req: SubscribeRequest,
        events: EventSender<Event>,
    ) -> Result<(Subscription, StreamId), Error> {
        let now = self.now();
        let subscription = self.core.subscribe(req, now)?;
        let id = self.next_stream_id();
        self.framework_streams
            .insert(subscription.framework_id.clone(), Conn { id, tx: events });
        Ok((subscription, id))
    }

    /// REGISTER: the core admits or refuses the agent. Admitted, `commands` becomes its
    /// stream, replacing (and so ending) an older one; refused, it gets the refusal at once.
    pub(super) fn register_agent(
        &mut self,
        req: RegisterRequest,
        commands: EventSender<AgentCommand>,
    ) -> Result<AgentStream, Error> {
        let now = self.now();
        match self.core.register_agent(req, now)? {
            Registration::Accepted { agent_id } => {
                let id = self.next_stream_id();
                self.agent_streams
                    .insert(agent_id.clone(), Conn { id, tx: commands });
                Ok(AgentStream::Opened {
                    agent_id,
                    stream: id,
                })
            }
            Registration::Refused { commands: refusal } => {
                for command in refusal {
                    let _ = commands.send(command);
                }
                Ok(AgentStream::Refused)
            }
        }
    }

    /// A framework's stream ended (client gone); only the current stream's end counts.
    pub(super) fn framework_stream_closed(&mut self, framework_id: &str, stream: StreamId) {
        if self
            .framework_streams
            .get(framework_id)
            .is_some_and(|c| c.id == stream)
        {
            self.framework_streams.remove(framework_id);
            let now = self.now();
            self.core.framework_disconnected(framework_id, now);
        }
    }

    /// An agent's command stream ended; only the current stream's end counts.
    pub(super) fn agent_stream_closed(&mut self, agent_id: &str, stream: StreamId) {
        if self
            .agent_streams
            .get(agent_id)
            .is_some_and(|c| c.id == stream)
        {
            self.agent_streams.remove(agent_id);
            let now = self.now();
            self.core.agent_disconnected(agent_id, now);
        }
    }

    fn next_stream_id(&mut self) -> StreamId {
        self.next_stream = self.next_stream.saturating_add(1);
        StreamId(self.next_stream)
    }

    /// Hands what the core queued, with this batch's registry ops and RPC answers, to the
    /// committer; returns whether the batch waits for the committer task. Deliveries go to the streams open now; a send into a stream whose client
    /// is gone fails quietly: that stream's close notice is already on its way to the actor.
    pub(super) fn flush(&mut self) -> Result<bool, Error> {
        let ops = self.core.take_ops();
        let outbox = self.core.take_outbox();
        if ops.is_empty() && outbox.is_empty() && self.answers.is_empty() {
            return Ok(false);
        }
        let deliveries = self.route(outbox);
        let answers = std::mem::take(&mut self.answers);
        let metrics = std::sync::Arc::clone(self.core.metrics());
        self.committer.submit(
            ops,
            Box::new(move || {
                deliveries.send(&metrics);
                for answer in answers {
                    answer();
                }
            }),
        )
    }

    /// Resolves the outbox to the senders of the streams open now, and forgets the streams
    /// it closes (they end once their last messages are delivered).
    fn route(&mut self, outbox: Outbox) -> Deliveries {
        let Outbox {
            events,
            commands,
            close_frameworks,
            close_agents,
            ..
        } = outbox;
        let mut deliveries = Deliveries::default();
        for (framework_id, events) in events {
            if let Some(conn) = self.framework_streams.get(&framework_id) {
                deliveries.events.push((conn.tx.clone(), events));
            }
        }
        for (agent_id, commands) in commands {
            if let Some(conn) = self.agent_streams.get(&agent_id) {
                deliveries.commands.push((conn.tx.clone(), commands));
            }
        }
        for framework_id in close_frameworks {
            self.framework_streams.remove(&framework_id);
        }
        for agent_id in close_agents {
            self.agent_streams.remove(&agent_id);
        }
        deliveries
    }
}

/// A batch's messages, bound to the streams they go to.
#[derive(Default)]
struct Deliveries {
    events: Vec<(EventSender<Event>, Vec<Event>)>,
    commands: Vec<(EventSender<AgentCommand>, Vec<AgentCommand>)>,
}

impl Deliveries {
    fn send(self, metrics: &Metrics) {
        for (tx, events) in self.events {
            // A closed or overflowed stream drops the rest: its reader is gone or stalled,
            // and its end tells the actor so (see `rpc::queue`).
            for event in events {
                if tx.send(event).is_err() {
                    break;
                }
            }
        }
        for (tx, commands) in self.commands {
            // The same for an agent: a stalled one loses its stream and registers again.
            // Framework messages are best effort, as in Mesos: past their share of the
            // stream they are dropped, so one tenant's flood cannot end the agent's stream.
            for command in commands {
                let best_effort =
                    matches!(command.command, Some(agent_command::Command::Message(_)));
                let sent = if best_effort {
                    tx.send_best_effort(command)
                } else {
                    tx.send(command)
                };
                match sent {
                    Ok(()) => {}
                    Err(SendError::Busy) => {
                        metrics.framework_messages_dropped.inc();
                    }
                    Err(SendError::Closed | SendError::Overflowed) => break,
                }
            }
        }
    }
}
