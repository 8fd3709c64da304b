//! The `wasmesos:executor/host` interface: what an executor component can ask of its agent.
//!
//! Status, messages and log lines become [`GuestEvent`]s on the task's channel; messages from
//! the scheduler arrive through a [`MessageSender`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use wasmtime::component::HasSelf;

use crate::task::TaskState;

pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../sdk-guest/wit",
        world: "executor",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

use bindings::wasmesos::executor::host::{self, LogLevel as WitLogLevel};

/// Something the guest told the host while it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestEvent {
    /// `host.set-status`: the message for the task's RUNNING update.
    Status(String),
    /// `host.send-message`: bytes for the framework's scheduler.
    Message(Vec<u8>),
    /// `host.log`: one structured log line.
    Log {
        /// Its severity.
        level: LogLevel,
        /// The line.
        message: String,
    },
}

/// Severity of a [`GuestEvent::Log`] line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Finest detail.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal progress.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}

/// Sends scheduler messages to a running guest, which reads them with `host.receive-message`.
#[derive(Debug, Clone)]
pub struct MessageSender {
    inbox: Arc<Inbox>,
}

impl MessageSender {
    /// Queues `data` for the guest. Returns `false` when the task has already ended.
    pub fn send(&self, data: Vec<u8>) -> bool {
        self.inbox.push(data)
    }
}

/// Scheduler messages on their way to one guest.
///
/// A queue and a wake-up rather than a channel: most tasks never get a message, and a tokio
/// channel costs two allocations and a block of slots at every launch.
#[derive(Debug, Default)]
struct Inbox {
    queue: Mutex<InboxQueue>,
    arrived: Notify,
}

#[derive(Debug, Default)]
struct InboxQueue {
    messages: VecDeque<Vec<u8>>,
    /// The task ended: nothing sent from now on can be read.
    closed: bool,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, InboxQueue> {
        // A queue of byte strings has no invariant a panicking holder could break.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, data: Vec<u8>) -> bool {
        let mut queue = self.lock();
        if queue.closed {
            return false;
        }
        queue.messages.push_back(data);
        drop(queue);
        // The guest is the only reader: `notify_one` keeps a permit if it is not waiting yet.
        self.arrived.notify_one();
        true
    }

    fn pop(&self) -> Option<Vec<u8>> {
        self.lock().messages.pop_front()
    }

    /// The next message, waiting for one to arrive.
    async fn recv(&self) -> Vec<u8> {
        loop {
            if let Some(data) = self.pop() {
                return data;
            }
            self.arrived.notified().await;
        }
    }

    fn close(&self) {
        let mut queue = self.lock();
        queue.closed = true;
        queue.messages.clear();
    }
}

/// The host side of one task's `host` interface.
pub(crate) struct HostChannels {
    events: mpsc::UnboundedSender<GuestEvent>,
    inbox: Arc<Inbox>,
    max_message_bytes: usize,
}

impl Drop for HostChannels {
    /// The task's store is gone: its guest reads no more messages.
    fn drop(&mut self) {
        self.inbox.close();
    }
}

impl HostChannels {
    /// The channels for one task: the host state, the sender for scheduler messages, and the
    /// receiver of guest events.
    pub(crate) fn new(
        max_message_bytes: usize,
    ) -> (Self, MessageSender, mpsc::UnboundedReceiver<GuestEvent>) {
        let (events, events_rx) = mpsc::unbounded_channel();
        let inbox = Arc::new(Inbox::default());
        let sender = MessageSender {
            inbox: Arc::clone(&inbox),
        };
        let channels = HostChannels {
            events,
            inbox,
            max_message_bytes,
        };
        (channels, sender, events_rx)
    }

    fn emit(&self, event: GuestEvent) {
        // Nobody listening is fine: the agent may not care about events.
        let _ = self.events.send(event);
    }

    fn check_size(&self, what: &str, len: usize) -> wasmtime::Result<()> {
        if len > self.max_message_bytes {
            wasmtime::bail!(
                "{what} of {len} bytes exceeds the limit of {} bytes",
                self.max_message_bytes
            );
        }
        Ok(())
    }
}

pub(crate) fn add_to_linker(
    linker: &mut wasmtime::component::Linker<TaskState>,
) -> wasmtime::Result<()> {
    host::add_to_linker::<TaskState, HasSelf<TaskState>>(linker, |state| state)
}

impl host::Host for TaskState {
    async fn set_status(&mut self, message: String) -> wasmtime::Result<()> {
        let host = self.host();
        host.check_size("status", message.len())?;
        host.emit(GuestEvent::Status(message));
        Ok(())
    }

    async fn send_message(&mut self, data: Vec<u8>) -> wasmtime::Result<()> {
        let host = self.host();
        host.check_size("message", data.len())?;
        host.emit(GuestEvent::Message(data));
        Ok(())
    }

    async fn receive_message(&mut self, timeout_ms: u64) -> wasmtime::Result<Option<Vec<u8>>> {
        let inbox = &self.host().inbox;
        let timeout = Duration::from_millis(timeout_ms);
        Ok(tokio::time::timeout(timeout, inbox.recv()).await.ok())
    }

    async fn log(&mut self, level: WitLogLevel, message: String) -> wasmtime::Result<()> {
        let host = self.host();
        host.check_size("log line", message.len())?;
        let level = LogLevel::from(level);
        trace_guest_log(level, &message);
        host.emit(GuestEvent::Log { level, message });
        Ok(())
    }
}

fn trace_guest_log(level: LogLevel, message: &str) {
    match level {
        LogLevel::Trace => tracing::trace!(target: "wasmesos::guest", "{message}"),
        LogLevel::Debug => tracing::debug!(target: "wasmesos::guest", "{message}"),
        LogLevel::Info => tracing::info!(target: "wasmesos::guest", "{message}"),
        LogLevel::Warn => tracing::warn!(target: "wasmesos::guest", "{message}"),
        LogLevel::Error => tracing::error!(target: "wasmesos::guest", "{message}"),
    }
}

impl From<WitLogLevel> for LogLevel {
    fn from(level: WitLogLevel) -> Self {
        match level {
            WitLogLevel::Trace => LogLevel::Trace,
            WitLogLevel::Debug => LogLevel::Debug,
            WitLogLevel::Info => LogLevel::Info,
            WitLogLevel::Warn => LogLevel::Warn,
            WitLogLevel::Error => LogLevel::Error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_arrive_in_order_and_wake_a_waiting_reader() {
        let (host, sender, _events) = HostChannels::new(1024);
        assert!(sender.send(b"one".to_vec()));
        assert_eq!(host.inbox.recv().await, b"one");
        let reader = host.inbox.recv();
        let writer = async {
            tokio::task::yield_now().await;
            assert!(sender.send(b"two".to_vec()));
            assert!(sender.send(b"three".to_vec()));
        };
        let (received, ()) = tokio::join!(reader, writer);
        assert_eq!(received, b"two");
        assert_eq!(host.inbox.pop().as_deref(), Some(&b"three"[..]));
    }

    #[test]
    fn nothing_is_accepted_once_the_task_ended() {
        let (host, sender, _events) = HostChannels::new(1024);
        assert!(sender.send(b"unread".to_vec()));
        drop(host);
        assert!(!sender.send(b"late".to_vec()));
    }
}
