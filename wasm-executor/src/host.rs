//! The `wasmesos:executor/host` interface: what an executor component can ask of its agent.
//!
//! Status, messages and log lines become [`GuestEvent`]s on the task's channel; messages from
//! the scheduler arrive through a [`MessageSender`].

use std::time::Duration;

use tokio::sync::mpsc;
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
    tx: mpsc::UnboundedSender<Vec<u8>>,
}

impl MessageSender {
    /// Queues `data` for the guest. Returns `false` when the task has already ended.
    pub fn send(&self, data: Vec<u8>) -> bool {
        self.tx.send(data).is_ok()
    }
}

/// The host side of one task's `host` interface.
pub(crate) struct HostChannels {
    events: mpsc::UnboundedSender<GuestEvent>,
    inbox: mpsc::UnboundedReceiver<Vec<u8>>,
    max_message_bytes: usize,
}

impl HostChannels {
    /// The channels for one task: the host state, the sender for scheduler messages, and the
    /// receiver of guest events.
    pub(crate) fn new(
        max_message_bytes: usize,
    ) -> (Self, MessageSender, mpsc::UnboundedReceiver<GuestEvent>) {
        let (events, events_rx) = mpsc::unbounded_channel();
        let (tx, inbox) = mpsc::unbounded_channel();
        let channels = HostChannels {
            events,
            inbox,
            max_message_bytes,
        };
        (channels, MessageSender { tx }, events_rx)
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
        let inbox = &mut self.host_mut().inbox;
        // A closed inbox can never deliver; like an empty one, the guest sees `none` after its
        // timeout, so closing is not observable as a different behaviour.
        match tokio::time::timeout(Duration::from_millis(timeout_ms), inbox.recv()).await {
            Ok(Some(data)) => Ok(Some(data)),
            Ok(None) => {
                tokio::time::sleep(Duration::from_millis(timeout_ms)).await;
                Ok(None)
            }
            Err(_elapsed) => Ok(None),
        }
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
