//! The data of a task's wasmtime `Store`: its WASI and `wasi:http` contexts and resource
//! table, its memory limiter and its `host` channels.
//!
//! Near a leaf: `host`, `imports`, `program`, `executor`, `task` and `service` name this
//! type, and it names none of them (only the leaves it holds).

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::limiter::MemoryLimiter;
use crate::mailbox::HostChannels;
use crate::outgoing::OutgoingHttp;
use crate::watchdog::Watchdog;

/// What one task's `Store` holds (or one request's, for a service).
pub(crate) struct TaskState {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    outgoing: OutgoingHttp,
    pub(crate) limiter: MemoryLimiter,
    host: HostChannels,
}

impl TaskState {
    pub(crate) fn new(
        wasi: WasiCtx,
        limiter: MemoryLimiter,
        host: HostChannels,
        outgoing: OutgoingHttp,
    ) -> Self {
        TaskState {
            wasi,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            outgoing,
            limiter,
            host,
        }
    }

    pub(crate) fn host(&self) -> &HostChannels {
        &self.host
    }

    /// A store on `engine` holding this state, with its limiter, its fuel (on an engine that
    /// meters it) and `watchdog` on every epoch tick.
    pub(crate) fn into_store(
        self,
        engine: &Engine,
        fuel: Option<u64>,
        mut watchdog: Watchdog,
    ) -> Store<TaskState> {
        let mut store = Store::new(engine, self);
        store.limiter(|state| &mut state.limiter);
        if let Some(fuel) = fuel {
            // Only fails on an engine without fuel, and callers pick the engine by `fuel`.
            let _ = store.set_fuel(fuel);
        }
        // A new store's deadline is 0: without this, instantiation itself would be interrupted.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| Ok(watchdog.on_tick()));
        store
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

impl WasiHttpView for TaskState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outgoing,
        }
    }
}
