//! Messages from executors to their framework's scheduler, sent one by one, in order, through
//! `AgentChannel.ExecutorMessage`.
//!
//! Framework messages are best effort, as in Mesos: a message that cannot be delivered (no
//! registration, master unreachable, queue full) is dropped with a warning, never retried.
//! The queue is bounded by bytes as well as by count, and each task may hold only part of
//! it, so one chatty guest neither grows the agent's memory nor crowds out other tasks'
//! messages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, watch};
use tracing::{Instrument, info_span, warn};
use wasmesos_detector::MasterService as Channel;
use wasmesos_proto::ExecutorMessageRequest;
use wasmesos_proto::agent_channel_client::AgentChannelClient;

/// Messages queued beyond this are dropped, so a chatty guest cannot grow the agent's memory.
const QUEUE_CAPACITY: usize = 4096;

/// Bytes of messages queued at most, of all tasks together.
const QUEUE_BYTES: usize = 64 * 1024 * 1024;

/// Bytes of messages one task may have queued at most.
const TASK_BYTES: usize = 8 * 1024 * 1024;

#[derive(Clone)]
pub(crate) struct MessageRelay {
    queue: mpsc::Sender<ExecutorMessageRequest>,
    queued: Arc<Mutex<Queued>>,
}

/// Bytes queued now, in all and per task (an entry leaves when its task has none queued).
#[derive(Default)]
struct Queued {
    total: usize,
    by_task: HashMap<(String, String), usize>,
}

impl Queued {
    /// Charges `len` bytes to a task if both budgets allow it.
    fn charge(&mut self, task: &(String, String), len: usize) -> Result<(), &'static str> {
        let held = self.by_task.get(task).copied().unwrap_or(0);
        if held.saturating_add(len) > TASK_BYTES {
            return Err("the task has too many bytes of messages queued");
        }
        if self.total.saturating_add(len) > QUEUE_BYTES {
            return Err("the relay has too many bytes of messages queued");
        }
        self.total = self.total.saturating_add(len);
        self.by_task.insert(task.clone(), held.saturating_add(len));
        Ok(())
    }

    /// Gives back what a message sent (or dropped) held.
    fn release(&mut self, task: &(String, String), len: usize) {
        self.total = self.total.saturating_sub(len);
        if let Some(held) = self.by_task.get_mut(task) {
            *held = held.saturating_sub(len);
            if *held == 0 {
                self.by_task.remove(task);
            }
        }
    }
}

fn lock(queued: &Mutex<Queued>) -> std::sync::MutexGuard<'_, Queued> {
    queued.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MessageRelay {
    pub(crate) fn spawn(channel: Channel, agent_id: watch::Receiver<Option<String>>) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let queued = Arc::new(Mutex::new(Queued::default()));
        tokio::spawn(forward(
            crate::link::master_client(channel),
            agent_id,
            receiver,
            Arc::clone(&queued),
        ));
        MessageRelay { queue, queued }
    }

    pub(crate) fn send(&self, framework_id: String, task_id: String, data: Vec<u8>) {
        let task = (framework_id, task_id);
        let len = data.len();
        if let Err(why) = lock(&self.queued).charge(&task, len) {
            warn!(task_id = %task.1, bytes = len, "dropping an executor message: {why}");
            return;
        }
        let request = ExecutorMessageRequest {
            agent_id: String::new(),
            framework_id: task.0.clone(),
            task_id: task.1.clone(),
            data,
        };
        if let Err(err) = self.queue.try_send(request) {
            lock(&self.queued).release(&task, len);
            warn!(err = %err, "dropping an executor message: the relay queue is full or closed");
        }
    }
}

async fn forward(
    mut client: AgentChannelClient<Channel>,
    agent_id: watch::Receiver<Option<String>>,
    mut receiver: mpsc::Receiver<ExecutorMessageRequest>,
    queued: Arc<Mutex<Queued>>,
) {
    while let Some(mut request) = receiver.recv().await {
        let task = (request.framework_id.clone(), request.task_id.clone());
        lock(&queued).release(&task, request.data.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_may_hold_only_its_share_and_all_tasks_only_the_total() {
        let mut queued = Queued::default();
        let chatty = ("f".to_string(), "chatty".to_string());
        let quiet = ("f".to_string(), "quiet".to_string());
        assert!(queued.charge(&chatty, TASK_BYTES).is_ok());
        assert!(queued.charge(&chatty, 1).is_err(), "over the task's share");
        assert!(
            queued.charge(&quiet, 1).is_ok(),
            "another task still has room"
        );
        queued.release(&chatty, TASK_BYTES);
        assert!(
            queued.charge(&chatty, 1).is_ok(),
            "sent messages give their bytes back"
        );
        let mut full = Queued::default();
        for i in 0..QUEUE_BYTES / TASK_BYTES {
            let task = ("f".to_string(), format!("t{i}"));
            assert!(full.charge(&task, TASK_BYTES).is_ok());
        }
        let one_more = ("f".to_string(), "late".to_string());
        assert!(full.charge(&one_more, 1).is_err(), "over the total");
        assert_eq!(full.total, QUEUE_BYTES);
        queued.release(&quiet, 1);
        queued.release(&chatty, 1);
        assert!(queued.by_task.is_empty() && queued.total == 0);
    }
}
