//! Messages from executors to their framework's scheduler, sent one by one, in order, through
//! `AgentChannel.ExecutorMessage`.
//!
//! Framework messages are best effort, as in Mesos: a message that cannot be delivered (no
//! registration, master unreachable, queue full) is dropped with a warning, never retried.

use tokio::sync::{mpsc, watch};
use wasmesos_detector::MasterService as Channel;
use tracing::{Instrument, info_span, warn};
use wasmesos_proto::ExecutorMessageRequest;
use wasmesos_proto::agent_channel_client::AgentChannelClient;

/// Messages queued beyond this are dropped, so a chatty guest cannot grow the agent's memory.
const QUEUE_CAPACITY: usize = 4096;

#[derive(Clone)]
pub(crate) struct MessageRelay {
    queue: mpsc::Sender<ExecutorMessageRequest>,
}

impl MessageRelay {
    pub(crate) fn spawn(channel: Channel, agent_id: watch::Receiver<Option<String>>) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(forward(
            crate::link::master_client(channel),
            agent_id,
            receiver,
        ));
        MessageRelay { queue }
    }

    pub(crate) fn send(&self, framework_id: String, task_id: String, data: Vec<u8>) {
        let request = ExecutorMessageRequest {
            agent_id: String::new(),
            framework_id,
            task_id,
            data,
        };
        if let Err(err) = self.queue.try_send(request) {
            warn!(err = %err, "dropping an executor message: the relay queue is full or closed");
        }
    }
}

async fn forward(
    mut client: AgentChannelClient<Channel>,
    agent_id: watch::Receiver<Option<String>>,
    mut receiver: mpsc::Receiver<ExecutorMessageRequest>,
) {
    while let Some(mut request) = receiver.recv().await {
        let Some(id) = agent_id.borrow().clone() else {
            warn!(task_id = %request.task_id, "dropping an executor message: not registered");
            continue;
        };
        let span = info_span!(
            "executor_message",
            agent_id = %id,
            framework_id = %request.framework_id,
            task_id = %request.task_id
        );
        request.agent_id = id;
        let sent = client
            .executor_message(request)
            .instrument(span.clone())
            .await;
        if let Err(err) = sent {
            span.in_scope(|| warn!(err = %err.message(), "executor message not delivered"));
        }
    }
}
