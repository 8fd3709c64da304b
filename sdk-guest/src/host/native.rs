//! The stand-in for the agent's `host` interface on non-wasm targets.
//!
//! State is per thread, so tests running in parallel never see each other's messages.

use std::cell::RefCell;
use std::collections::VecDeque;

use crate::bindings::wasmesos::executor::host::LogLevel;
use crate::host::Level;

#[derive(Default)]
pub(crate) struct NativeHost {
    pub(crate) status: Option<String>,
    pub(crate) sent: Vec<Vec<u8>>,
    pub(crate) inbox: VecDeque<Vec<u8>>,
    pub(crate) logs: Vec<(Level, String)>,
}

thread_local! {
    static HOST: RefCell<NativeHost> = RefCell::new(NativeHost::default());
}

pub(crate) fn with_host<T>(f: impl FnOnce(&mut NativeHost) -> T) -> T {
    HOST.with(|host| f(&mut host.borrow_mut()))
}

pub(crate) fn set_status(message: &str) {
    with_host(|host| host.status = Some(message.to_owned()));
}

pub(crate) fn send_message(data: &[u8]) {
    with_host(|host| host.sent.push(data.to_vec()));
}

/// Returns at once: nothing else can fill this thread's inbox while it would wait.
pub(crate) fn receive_message(_timeout_ms: u64) -> Option<Vec<u8>> {
    with_host(|host| host.inbox.pop_front())
}

pub(crate) fn log(level: LogLevel, message: &str) {
    with_host(|host| host.logs.push((level_of(level), message.to_owned())));
}

fn level_of(level: LogLevel) -> Level {
    match level {
        LogLevel::Trace => Level::Trace,
        LogLevel::Debug => Level::Debug,
        LogLevel::Info => Level::Info,
        LogLevel::Warn => Level::Warn,
        LogLevel::Error => Level::Error,
    }
}
