//! The `wasmesos:executor/host` interface: what an executor component can ask of its agent.
//!
//! Each call of the guest is answered from the task's `HostChannels`: status, messages and
//! log lines become [`GuestEvent`]s, and `receive-message` reads what a `MessageSender`
//! queued.

use std::time::Duration;
use wasmtime::component::HasSelf;

use crate::mailbox::{GuestEvent, LogLevel};
use crate::store::TaskState;

pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../sdk-guest/wit",
        world: "executor",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

use bindings::wasmesos::executor::host::{self, LogLevel as WitLogLevel};

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
        let timeout = Duration::from_millis(timeout_ms);
        Ok(self.host().receive(timeout).await)
    }

    async fn log(&mut self, level: WitLogLevel, message: String) -> wasmtime::Result<()> {
        let host = self.host();
        host.check_size("log line", message.len())?;
        // Logged by whoever reads the events (`log_guest_line`), in its span: once per line.
        let level = LogLevel::from(level);
        host.emit(GuestEvent::Log { level, message });
        Ok(())
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
