//! One task's `host` traffic as queues: scheduler messages in through a [`MessageSender`],
//! the guest's status, messages and log lines out as [`GuestEvent`]s.
//!
//! It owns the queues, the size cap on what the guest sends, and their end when the task's
//! store is dropped; `host` answers the guest's calls with them.

use std::sync::Arc;
use std::time::Duration;

use crate::queue::Queue;

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

/// Logs one of the guest's log lines through `tracing`, at its level, under the target
/// `wasmesos::guest` (so `RUST_LOG=wasmesos::guest=info` shows them).
///
/// The executor itself never logs them: whoever reads the [`GuestEvents`] calls this, so that
/// each line is logged once, in the reader's span (on an agent, the task's span with its ids).
pub fn log_guest_line(level: LogLevel, message: &str) {
    match level {
        LogLevel::Trace => tracing::trace!(target: "wasmesos::guest", "{message}"),
        LogLevel::Debug => tracing::debug!(target: "wasmesos::guest", "{message}"),
        LogLevel::Info => tracing::info!(target: "wasmesos::guest", "{message}"),
        LogLevel::Warn => tracing::warn!(target: "wasmesos::guest", "{message}"),
        LogLevel::Error => tracing::error!(target: "wasmesos::guest", "{message}"),
    }
}

/// Sends scheduler messages to a running guest, which reads them with `host.receive-message`.
#[derive(Debug, Clone)]
pub struct MessageSender {
    mailboxes: Arc<Mailboxes>,
}

impl MessageSender {
    /// Queues `data` for the guest. Returns `false` when the task has already ended, or when
    /// [`INBOX_BYTES`] of messages already wait for it to read them.
    pub fn send(&self, data: Vec<u8>) -> bool {
        self.mailboxes.to_guest.push(data)
    }
}

/// The guest's [`GuestEvent`]s, in order, as it emits them.
///
/// [`recv`](Self::recv) returns `None` once the task ended and every event was read. The
/// default value is a stream that has already ended (to leave in place of one taken).
#[derive(Debug)]
pub struct GuestEvents {
    mailboxes: Arc<Mailboxes>,
}

impl GuestEvents {
    /// The next event, waiting for one; `None` once the task ended and all were read.
    pub async fn recv(&mut self) -> Option<GuestEvent> {
        self.mailboxes.from_guest.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<GuestEvent> {
        self.mailboxes.from_guest.pop()
    }
}

impl Default for GuestEvents {
    fn default() -> Self {
        GuestEvents {
            mailboxes: Arc::new(Mailboxes {
                to_guest: Queue::closed(),
                from_guest: Queue::closed(),
            }),
        }
    }
}

/// Bytes of scheduler messages waiting for one guest to read them at most: a framework that
/// sends to a guest that never reads cannot grow the agent's memory.
pub const INBOX_BYTES: usize = 16 * 1024 * 1024;

/// Bytes of a guest's events waiting for the host at most; beyond it the guest's newest
/// events are dropped (the host reads them as they come, so this only bounds a host that
/// falls far behind).
pub const OUTBOX_BYTES: usize = 16 * 1024 * 1024;

/// Both directions of one task's `host` traffic, in one allocation.
#[derive(Debug)]
struct Mailboxes {
    to_guest: Queue<Vec<u8>>,
    from_guest: Queue<GuestEvent>,
}

impl Default for Mailboxes {
    fn default() -> Self {
        Mailboxes {
            to_guest: Queue::bounded(INBOX_BYTES, Vec::len),
            from_guest: Queue::bounded(OUTBOX_BYTES, GuestEvent::weight),
        }
    }
}

impl GuestEvent {
    /// The bytes it holds.
    fn weight(&self) -> usize {
        match self {
            GuestEvent::Status(text) => text.len(),
            GuestEvent::Message(data) => data.len(),
            GuestEvent::Log { message, .. } => message.len(),
        }
    }
}

/// The host side of one task's `host` interface.
pub(crate) struct HostChannels {
    mailboxes: Arc<Mailboxes>,
    max_message_bytes: usize,
}

impl Drop for HostChannels {
    /// The task's store is gone: its guest reads no more messages and emits no more events.
    fn drop(&mut self) {
        self.mailboxes.to_guest.close_and_clear();
        self.mailboxes.from_guest.close();
    }
}

impl HostChannels {
    /// The channels for one task: the host state, the sender for scheduler messages, and the
    /// guest's events.
    pub(crate) fn new(max_message_bytes: usize) -> (Self, MessageSender, GuestEvents) {
        let mailboxes = Arc::new(Mailboxes::default());
        let sender = MessageSender {
            mailboxes: Arc::clone(&mailboxes),
        };
        let events = GuestEvents {
            mailboxes: Arc::clone(&mailboxes),
        };
        let channels = HostChannels {
            mailboxes,
            max_message_bytes,
        };
        (channels, sender, events)
    }

    pub(crate) fn emit(&self, event: GuestEvent) {
        // Nobody listening is fine: the agent may not care about events. A host too far
        // behind loses the newest (see `OUTBOX_BYTES`).
        let _ = self.mailboxes.from_guest.push(event);
    }

    /// The next message from the scheduler, or `None` after `timeout`.
    pub(crate) async fn receive(&self, timeout: Duration) -> Option<Vec<u8>> {
        // The inbox closes only when the store is gone, so `recv` cannot end early here.
        tokio::time::timeout(timeout, self.mailboxes.to_guest.recv())
            .await
            .ok()
            .flatten()
    }

    pub(crate) fn check_size(&self, what: &str, len: usize) -> wasmtime::Result<()> {
        if len > self.max_message_bytes {
            wasmtime::bail!(
                "{what} of {len} bytes exceeds the limit of {} bytes",
                self.max_message_bytes
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_hold_a_bounded_number_of_bytes() {
        let (host, sender, mut events) = HostChannels::new(INBOX_BYTES);
        let mib = vec![0u8; 1024 * 1024];
        for _ in 0..16 {
            assert!(sender.send(mib.clone()));
        }
        assert!(
            !sender.send(vec![0]),
            "a guest that never reads has a full inbox"
        );
        for _ in 0..16 {
            host.emit(GuestEvent::Message(mib.clone()));
        }
        host.emit(GuestEvent::Log {
            level: LogLevel::Info,
            message: "dropped".into(),
        });
        let mut read = 0;
        while let Some(event) = events.try_recv() {
            assert!(matches!(event, GuestEvent::Message(_)));
            read += 1;
        }
        assert_eq!(read, 16, "the event past the limit was dropped");
        host.emit(GuestEvent::Status("room again".into()));
        assert_eq!(
            events.try_recv(),
            Some(GuestEvent::Status("room again".into()))
        );
    }

    #[tokio::test]
    async fn events_end_after_the_task_and_messages_are_refused() {
        let (host, sender, mut events) = HostChannels::new(1024);
        host.emit(GuestEvent::Status("working".into()));
        assert!(sender.send(b"unread".to_vec()));
        drop(host);
        assert!(!sender.send(b"late".to_vec()));
        assert_eq!(
            events.recv().await,
            Some(GuestEvent::Status("working".into()))
        );
        assert_eq!(events.recv().await, None);
        assert_eq!(GuestEvents::default().recv().await, None);
    }
}
