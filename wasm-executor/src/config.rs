//! How an [`Executor`](crate::Executor) sizes its engine and pool.

use std::path::PathBuf;
use std::time::Duration;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Sizing of the engine, the pooling allocator and the compile cache.
///
/// The pool reserves address space for `max_concurrent_tasks` tasks up front, each with room
/// for `max_memories_per_task` linear memories of `max_task_memory_bytes`. Tasks ask for less
/// through [`Limits::mem_bytes`](crate::Limits); nothing they do can get more.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Directory of the on-disk compiled-artifact cache; `None` keeps compiled code in memory
    /// only.
    pub cache_dir: Option<PathBuf>,
    /// How many tasks may be instantiated at once (pooling allocator slots).
    pub max_concurrent_tasks: u32,
    /// The largest `mem` any task may get, across all its memories and tables. Sizes each
    /// memory slot's address-space reservation.
    pub max_task_memory_bytes: u64,
    /// Period of the epoch ticker that drives interruption, kill checks and CPU throttling.
    pub epoch_tick: Duration,
    /// The largest component accepted by [`Executor::load`](crate::Executor::load).
    pub max_component_bytes: u64,
    /// Linear memories one task's component may define.
    pub max_memories_per_task: u32,
    /// Tables one task's component may define.
    pub max_tables_per_task: u32,
    /// Core instances one task's component may create (its modules plus generated shims).
    pub max_core_instances_per_task: u32,
    /// Elements per table.
    pub max_table_elements: usize,
    /// Native stack available to guest code; deeper recursion fails as a stack overflow.
    pub max_wasm_stack_bytes: usize,
    /// Bytes of each freed memory, table and stack slot reset with `memset` and kept resident
    /// instead of being returned to the OS with `madvise`. Trades idle RSS for launch speed.
    ///
    /// On Linux 6.7+ (`PAGEMAP_SCAN`) only the pages the last task dirtied are reset and kept,
    /// so a slot's idle RSS is at most what its last task had resident anyway; the default
    /// there is 2 MiB, which covers a small Rust guest's whole working set. Elsewhere the
    /// first bytes of the slot are reset whether touched or not, which faults in untouched
    /// pages, so the default stays at 64 KiB.
    pub keep_resident_bytes: usize,
    /// The largest single message a guest may send to its scheduler or log.
    pub max_message_bytes: usize,
    /// Map linear memories' initial images copy-on-write instead of copying data segments in.
    /// Off by default: it saves little for small guests and costs two more memory mappings
    /// per running task, which keeps 10,000 tasks from fitting in Linux's default limit of
    /// 65,530 mappings per process (`vm.max_map_count`). Turn it on for guests with large
    /// data segments when fewer tasks run at once.
    pub memory_init_cow: bool,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            cache_dir: None,
            max_concurrent_tasks: 10_000,
            max_task_memory_bytes: GIB,
            epoch_tick: Duration::from_millis(1),
            max_component_bytes: 64 * MIB,
            max_memories_per_task: 1,
            max_tables_per_task: 4,
            max_core_instances_per_task: 16,
            max_table_elements: 20_000,
            max_wasm_stack_bytes: 512 * KIB as usize,
            keep_resident_bytes: default_keep_resident_bytes(),
            max_message_bytes: 4 * MIB as usize,
            memory_init_cow: false,
        }
    }
}

/// See [`ExecutorConfig::keep_resident_bytes`]: measured on the `hello` guest, 2 MiB with
/// `PAGEMAP_SCAN` cut the bare launch's p99 by a third, while 2 MiB without it made the p50
/// a third slower than 64 KiB (it `memset`s a megabyte the guest never touched).
fn default_keep_resident_bytes() -> usize {
    if crate::engine::pagemap_scan_available() {
        2 * MIB as usize
    } else {
        64 * KIB as usize
    }
}

impl ExecutorConfig {
    /// A small pool for tests and tools that run a handful of tasks: `exec`, unit tests.
    pub fn small() -> Self {
        ExecutorConfig {
            max_concurrent_tasks: 64,
            ..ExecutorConfig::default()
        }
    }

    /// The wasmtime configuration the executor's engine uses (the fuel-metered one when
    /// `fuel`), for tools and benchmarks that compare against bare wasmtime on equal terms.
    pub fn wasmtime_config(&self, fuel: bool) -> wasmtime::Config {
        let metering = if fuel {
            crate::engine::Metering::Fuel
        } else {
            crate::engine::Metering::Plain
        };
        crate::engine::wasmtime_config(self, metering)
    }
}
