//! The data of a task's wasmtime `Store`: its WASI context and resource table, its memory
//! limiter and its `host` channels.
//!
//! A leaf: `host`, `imports`, `program`, `executor` and `task` name this type, and it names
//! none of them.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::limiter::MemoryLimiter;
use crate::mailbox::HostChannels;

/// What one task's `Store` holds.
pub(crate) struct TaskState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    host: HostChannels,
}

impl TaskState {
    pub(crate) fn new(wasi: WasiCtx, limiter: MemoryLimiter, host: HostChannels) -> Self {
        TaskState {
            wasi,
            table: ResourceTable::new(),
            limiter,
            host,
        }
    }

    pub(crate) fn host(&self) -> &HostChannels {
        &self.host
    }
}

impl WasiView for TaskState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
