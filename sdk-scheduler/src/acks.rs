//! Batched acknowledgements: updates are acknowledged in the background, many per call.
//!
//! The queue is drained whole into one ACKNOWLEDGE whenever no call is in flight, so a burst
//! of updates costs a few calls, and a lone update is acknowledged at once (no timer).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, watch};
use tracing::Instrument;
use wasmesos_proto::{AcknowledgeRequest, Acknowledgement, TaskStatus};

use crate::link::MasterLink;

/// Keeps each ACKNOWLEDGE well under the master's message size limit.
const MAX_BATCH: usize = 8192;

pub(crate) struct AckQueue {
    sender: mpsc::UnboundedSender<Acknowledgement>,
    queued: AtomicU64,
    handled: watch::Receiver<u64>,
}

impl AckQueue {
    /// Starts the task that sends acknowledgements; it ends when the queue is dropped.
    pub(crate) fn start(link: Arc<MasterLink>) -> Self {
        #[allow(
            clippy::disallowed_methods,
            reason = "acknowledgements: one per received update, which the master's stream already paces"
        )]
        let (sender, receiver) = mpsc::unbounded_channel();
        let (handled_tx, handled) = watch::channel(0);
        tokio::spawn(send_batches(link, receiver, handled_tx));
        AckQueue {
            sender,
            queued: AtomicU64::new(0),
            handled,
        }
    }

    pub(crate) fn push(&self, status: &TaskStatus) {
        if status.uuid.is_empty() {
            return;
        }
        let ack = Acknowledgement {
            agent_id: status.agent_id.clone(),
            task_id: status.task_id.clone(),
            uuid: status.uuid.clone(),
        };
        if self.sender.send(ack).is_ok() {
            self.queued.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Waits until everything queued before this call was sent (or failed to send; the agent
    /// resends unacknowledged updates, so a lost acknowledgement costs only a duplicate).
    pub(crate) async fn flush(&self) {
        let target = self.queued.load(Ordering::SeqCst);
        let mut handled = self.handled.clone();
        // An error means the sender task ended, so nothing more will be sent anyway.
        let _ = handled.wait_for(|count| *count >= target).await;
    }
}

async fn send_batches(
    link: Arc<MasterLink>,
    mut receiver: mpsc::UnboundedReceiver<Acknowledgement>,
    handled: watch::Sender<u64>,
) {
    let mut batch = Vec::new();
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let count = batch.len() as u64;
        send_one_batch(&link, std::mem::take(&mut batch)).await;
        handled.send_modify(|total| *total += count);
    }
}

async fn send_one_batch(link: &MasterLink, acks: Vec<Acknowledgement>) {
    let Some(framework_id) = link.framework_id() else {
        tracing::debug!(
            count = acks.len(),
            "dropping acknowledgements: not subscribed"
        );
        return;
    };
    let span = tracing::debug_span!("call", call = "acknowledge", framework_id = %framework_id);
    let count = acks.len();
    let request = AcknowledgeRequest { framework_id, acks };
    let result = link.client().acknowledge(request).instrument(span).await;
    if let Err(status) = result {
        tracing::warn!(count, err = %status.message(), "acknowledge failed; the agent will resend");
    }
}
