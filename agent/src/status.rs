//! The status-update sender: a single task that owns the [`Outbox`] and talks `UpdateStatus`.
//!
//! Whatever is queued when nothing is in flight goes out at once as one batch; there is no
//! timer in that path. At most one call is in flight, so batches (and each task's updates)
//! reach the master in order. Unacknowledged updates are resent when their delay runs out,
//! and all of them at once after every (re-)registration.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{Instrument, debug, info_span, warn};
use wasmesos_detector::MasterService as Channel;
use wasmesos_proto::agent_channel_client::AgentChannelClient;
use wasmesos_proto::{StatusUpdates, TaskStatus};

use crate::outbox::{BatchLimits, Outbox};

enum Command {
    /// Updates queued together, in order.
    Send(Vec<TaskStatus>),
    Ack {
        framework_id: String,
        task_id: String,
        uuid: Vec<u8>,
    },
    ResendTask {
        framework_id: String,
        task_id: String,
    },
    Registered(String),
    Disconnected,
    Clear,
}

/// The handle the rest of the agent queues updates and acknowledgements through.
#[derive(Clone)]
pub(crate) struct StatusSender {
    commands: mpsc::UnboundedSender<Command>,
    unacknowledged: Arc<AtomicU64>,
}

impl StatusSender {
    /// Starts the sender task on the current runtime; it ends when every handle is dropped.
    pub(crate) fn spawn(channel: Channel, first_retry: Duration, max_retry: Duration) -> Self {
        #[allow(
            clippy::disallowed_methods,
            reason = "status commands: one per task update, bounded by the agent's task slots"
        )]
        let (commands, receiver) = mpsc::unbounded_channel();
        let unacknowledged = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            client: crate::link::master_client(channel),
            outbox: Outbox::new(first_retry, max_retry),
            agent_id: None,
            in_flight: None,
            unacknowledged: Arc::clone(&unacknowledged),
        };
        tokio::spawn(worker.run(receiver));
        StatusSender {
            commands,
            unacknowledged,
        }
    }

    /// A sender with no worker behind it, and what it was asked to send, for tests.
    #[cfg(test)]
    pub(crate) fn detached() -> (Self, Sent) {
        #[allow(
            clippy::disallowed_methods,
            reason = "a test's view of what was sent, drained by the test"
        )]
        let (commands, receiver) = mpsc::unbounded_channel();
        let sender = StatusSender {
            commands,
            unacknowledged: Arc::new(AtomicU64::new(0)),
        };
        (sender, Sent(receiver))
    }

    fn command(&self, command: Command) {
        // Fails only while the agent shuts down, when nothing is left to send to.
        let _ = self.commands.send(command);
    }

    /// Queues `statuses`, in order; they reach the master in one batch unless the batch
    /// limits split them.
    pub(crate) fn send(&self, statuses: Vec<TaskStatus>) {
        self.command(Command::Send(statuses));
    }

    pub(crate) fn ack(&self, framework_id: String, task_id: String, uuid: Vec<u8>) {
        self.command(Command::Ack {
            framework_id,
            task_id,
            uuid,
        });
    }

    /// Resends a task's unacknowledged updates now.
    pub(crate) fn resend_task(&self, framework_id: String, task_id: String) {
        self.command(Command::ResendTask {
            framework_id,
            task_id,
        });
    }

    /// The agent is registered under `agent_id`: send everything pending.
    pub(crate) fn registered(&self, agent_id: String) {
        self.command(Command::Registered(agent_id));
    }

    /// The command stream dropped: hold updates until the next registration.
    pub(crate) fn disconnected(&self) {
        self.command(Command::Disconnected);
    }

    /// Drops every pending update (the master removed this agent).
    pub(crate) fn clear(&self) {
        self.command(Command::Clear);
    }

    pub(crate) fn unacknowledged(&self) -> u64 {
        self.unacknowledged.load(Ordering::Relaxed)
    }
}

/// What a [`StatusSender::detached`] was asked to send.
#[cfg(test)]
pub(crate) struct Sent(mpsc::UnboundedReceiver<Command>);

#[cfg(test)]
impl Sent {
    /// The batches of updates queued so far, in order.
    pub(crate) fn batches(&mut self) -> Vec<Vec<TaskStatus>> {
        let mut batches = Vec::new();
        while let Ok(command) = self.0.try_recv() {
            if let Command::Send(statuses) = command {
                batches.push(statuses);
            }
        }
        batches
    }
}

type Call = Pin<Box<dyn Future<Output = Result<(), tonic::Status>> + Send>>;

struct Worker {
    client: AgentChannelClient<Channel>,
    outbox: Outbox,
    agent_id: Option<String>,
    in_flight: Option<Call>,
    unacknowledged: Arc<AtomicU64>,
}

impl Worker {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            self.start_call_if_idle();
            // While a call is in flight its completion wakes the loop; a past resend time
            // must not spin it meanwhile.
            let idle = self.in_flight.is_none() && self.agent_id.is_some();
            let resend = self.outbox.next_resend().filter(|_| idle);
            tokio::select! {
                command = commands.recv() => {
                    let Some(command) = command else { return };
                    self.apply(command);
                    while let Ok(command) = commands.try_recv() {
                        self.apply(command);
                    }
                    self.publish_count();
                }
                result = in_flight(&mut self.in_flight) => {
                    self.in_flight = None;
                    if let Err(err) = result {
                        warn!(code = ?err.code(), err = %err.message(), "status update call failed; will resend");
                    }
                }
                () = sleep_until(resend) => {}
            }
        }
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Send(statuses) => statuses
                .into_iter()
                .for_each(|status| self.outbox.push(status)),
            Command::Ack {
                framework_id,
                task_id,
                uuid,
            } => {
                if !self.outbox.ack(&framework_id, &task_id, &uuid) {
                    debug!(%framework_id, %task_id, "acknowledgement for no pending update");
                }
            }
            Command::ResendTask {
                framework_id,
                task_id,
            } => {
                self.outbox.task_due(&framework_id, &task_id);
            }
            Command::Registered(agent_id) => {
                self.agent_id = Some(agent_id);
                self.outbox.all_due();
            }
            Command::Disconnected => self.agent_id = None,
            Command::Clear => self.outbox.clear(),
        }
    }

    fn start_call_if_idle(&mut self) {
        if self.in_flight.is_some() {
            return;
        }
        let Some(agent_id) = &self.agent_id else {
            return;
        };
        let now = Instant::now();
        self.outbox.promote(now);
        if !self.outbox.has_due() {
            return;
        }
        let mut statuses = self.outbox.take_batch(now, BatchLimits::default());
        for status in &mut statuses {
            status.agent_id.clone_from(agent_id);
        }
        let request = StatusUpdates {
            agent_id: agent_id.clone(),
            statuses,
        };
        let mut client = self.client.clone();
        let span =
            info_span!("update_status", agent_id = %agent_id, count = request.statuses.len());
        self.in_flight = Some(Box::pin(
            async move { client.update_status(request).await.map(drop) }.instrument(span),
        ));
    }

    fn publish_count(&self) {
        let count = self.outbox.unacknowledged() as u64;
        self.unacknowledged.store(count, Ordering::Relaxed);
    }
}

async fn in_flight(call: &mut Option<Call>) -> Result<(), tonic::Status> {
    match call {
        Some(call) => call.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
