//! The wasmtime engines: pooling allocator, epochs, and the ticker thread that drives them.
//!
//! There are two engines built from one configuration. Fuel metering makes every compiled
//! function count instructions, so only tasks that ask for a fuel budget run on the engine
//! that has it; the rest run on the plain one and pay nothing for it.

use std::hash::Hasher;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;

use sha2::{Digest as _, Sha256};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::{Error, ExecutorConfig};

const WASM_PAGE: u64 = 64 * 1024;
/// Room on a task's fiber stack for host code (WASI, our host functions) above the guest's.
const HOST_STACK_BYTES: usize = 1024 * 1024;

/// Which of the two engines a compiled artifact belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Metering {
    Plain,
    Fuel,
}

/// One engine and the hash that tells whether precompiled code fits it.
#[derive(Clone)]
pub(crate) struct MeteredEngine {
    pub(crate) engine: Engine,
    /// Hex sha256 of `Engine::precompile_compatibility_hash`, part of every cache key.
    pub(crate) compat_hash: String,
}

/// The engines, plus the ticker that advances their epochs.
///
/// The fuel-metered engine is built on first use: each engine has its own pool, whose stack
/// slots alone cost two memory mappings per task slot, and most executors never meter fuel.
pub(crate) struct Engines {
    config: ExecutorConfig,
    pub(crate) plain: MeteredEngine,
    ticker: Ticker,
}

impl Engines {
    pub(crate) fn new(config: &ExecutorConfig) -> Result<Self, Error> {
        validate(config)?;
        let plain = build(config, Metering::Plain)?;
        let ticker = Ticker::start(plain.engine.clone(), config.epoch_tick)?;
        Ok(Engines {
            config: config.clone(),
            plain,
            ticker,
        })
    }

    /// Builds the fuel-metered engine and has the ticker drive it too. Call once.
    pub(crate) fn build_fuel(&self) -> Result<MeteredEngine, Error> {
        let fuel = build(&self.config, Metering::Fuel)?;
        self.ticker.drive(fuel.engine.clone());
        Ok(fuel)
    }

    /// Marks a task as running until the returned guard drops: the ticker ticks meanwhile.
    pub(crate) fn task_started(&self) -> Ticking<'_> {
        self.ticker.task_started()
    }

    /// A handle that advances every engine's epoch at once.
    pub(crate) fn nudge(&self) -> Nudge {
        Nudge {
            shared: Arc::clone(&self.ticker.shared),
        }
    }
}

/// Advances the engines' epochs outside the ticker's rhythm. Every running guest then makes
/// its epoch check at its next loop back-edge or call: a kill takes effect without waiting up
/// to a tick (or longer, if the ticker thread is slow to be scheduled). The other guests' extra
/// check costs them one callback.
#[derive(Clone)]
pub(crate) struct Nudge {
    shared: Arc<TickerShared>,
}

impl Nudge {
    pub(crate) fn nudge(&self) {
        for engine in self.shared.lock_engines().iter() {
            engine.increment_epoch();
        }
    }
}

impl Drop for Engines {
    fn drop(&mut self) {
        self.ticker.stop();
    }
}

fn validate(config: &ExecutorConfig) -> Result<(), Error> {
    if config.max_concurrent_tasks == 0 {
        return Err(Error::Config(
            "max_concurrent_tasks must be at least 1".into(),
        ));
    }
    if config.max_task_memory_bytes < WASM_PAGE || config.max_task_memory_bytes > 4 << 30 {
        return Err(Error::Config(
            "max_task_memory_bytes must be between 64 KiB and 4 GiB".into(),
        ));
    }
    if config.epoch_tick.is_zero() {
        return Err(Error::Config("epoch_tick must be positive".into()));
    }
    Ok(())
}

fn build(config: &ExecutorConfig, metering: Metering) -> Result<MeteredEngine, Error> {
    let wasm = wasmtime_config(config, metering);
    let engine = Engine::new(&wasm).map_err(|err| Error::Config(format!("{err:#}")))?;
    let compat_hash = compat_hash(&engine);
    Ok(MeteredEngine {
        engine,
        compat_hash,
    })
}

/// The wasmtime configuration of one of the executor's engines.
pub(crate) fn wasmtime_config(config: &ExecutorConfig, metering: Metering) -> Config {
    let mut wasm = Config::new();
    wasm.wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(metering == Metering::Fuel)
        .max_wasm_stack(config.max_wasm_stack_bytes)
        .async_stack_size(config.max_wasm_stack_bytes + HOST_STACK_BYTES)
        .memory_reservation(round_up_to_page(config.max_task_memory_bytes))
        .memory_reservation_for_growth(0)
        .memory_may_move(false)
        .memory_init_cow(config.memory_init_cow)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool(config)));
    wasm
}

fn pool(config: &ExecutorConfig) -> PoolingAllocationConfig {
    let tasks = config.max_concurrent_tasks;
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(tasks)
        .total_core_instances(tasks.saturating_mul(config.max_core_instances_per_task))
        .total_memories(tasks.saturating_mul(config.max_memories_per_task))
        .total_tables(tasks.saturating_mul(config.max_tables_per_task))
        .total_stacks(tasks)
        .max_core_instances_per_component(config.max_core_instances_per_task)
        .max_memories_per_component(config.max_memories_per_task)
        .max_tables_per_component(config.max_tables_per_task)
        .max_memories_per_module(config.max_memories_per_task)
        .max_tables_per_module(config.max_tables_per_task)
        .max_memory_size(round_up_to_page(config.max_task_memory_bytes) as usize)
        .table_elements(config.max_table_elements)
        .linear_memory_keep_resident(config.keep_resident_bytes)
        .table_keep_resident(config.keep_resident_bytes)
        .async_stack_keep_resident(config.keep_resident_bytes)
        // Where the kernel has `PAGEMAP_SCAN` (Linux 6.7+), only the pages a task dirtied are
        // reset, with `memset` up to `keep_resident_bytes`: no `madvise`, so no TLB shootdown
        // on the other cores and no page faults on the next launch. Elsewhere it is a no-op.
        .pagemap_scan(Enabled::Auto);
    pool
}

/// Whether this host resets pool slots with `PAGEMAP_SCAN`, probed once by building the
/// smallest pooling engine that requires it (wasmtime offers no public query).
pub(crate) fn pagemap_scan_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(1)
            .total_core_instances(1)
            .total_memories(1)
            .total_tables(1)
            .total_stacks(1)
            .max_memory_size(WASM_PAGE as usize)
            .pagemap_scan(Enabled::Yes);
        let mut config = Config::new();
        config
            .memory_reservation(WASM_PAGE)
            .memory_guard_size(0)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        Engine::new(&config).is_ok()
    })
}

fn round_up_to_page(bytes: u64) -> u64 {
    bytes.div_ceil(WASM_PAGE) * WASM_PAGE
}

/// A stable rendering of the engine's compatibility hash: `std`'s `DefaultHasher` may change
/// between Rust releases, which would silently orphan the whole disk cache.
fn compat_hash(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
    hex::encode(&hasher.0.finalize()[..16])
}

struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The thread that advances the engines' epochs every tick.
///
/// One thread per executor, not per task: a task's epoch callback runs on every tick, which is
/// how kill, timeout and CPU share are enforced on guests that never call the host. Ticking
/// costs a wake-up per tick (about 2% of a core at 1 ms), so the thread parks once no task has
/// run for a while.
struct Ticker {
    shared: Arc<TickerShared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct TickerShared {
    stop: AtomicBool,
    running_tasks: AtomicUsize,
    /// The ticker is parked, or about to park: a task that starts must unpark it. While it
    /// ticks, starting a task touches no line the ticker's thread writes.
    parked: AtomicBool,
    engines: Mutex<Vec<Engine>>,
}

impl TickerShared {
    fn lock_engines(&self) -> std::sync::MutexGuard<'_, Vec<Engine>> {
        // A list of engines has no invariant a panicking holder could break.
        self.engines.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Ticks without a running task before the ticker parks. Short tasks and requests come and
/// go many times a tick: parking at each gap would cost every one of them a wake-up of the
/// ticker (a system call, and a context switch on a busy core), and cost more than ticking on.
const IDLE_TICKS_BEFORE_PARKING: u32 = 100;

/// Keeps the ticker ticking while a task runs.
/// Borrows the ticker's state rather than sharing its `Arc`: two atomic operations fewer on a
/// line the ticker's thread reads, at every launch.
pub(crate) struct Ticking<'a> {
    shared: &'a TickerShared,
}

impl Drop for Ticking<'_> {
    fn drop(&mut self) {
        self.shared.running_tasks.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Ticker {
    fn start(engine: Engine, tick: std::time::Duration) -> Result<Self, Error> {
        let shared = Arc::new(TickerShared::default());
        shared.lock_engines().push(engine);
        let state = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("wasmesos-epoch".into())
            .spawn(move || {
                let mut idle_ticks = 0;
                while !state.stop.load(Ordering::Acquire) {
                    if state.running_tasks.load(Ordering::Acquire) == 0 {
                        idle_ticks += 1;
                        if idle_ticks > IDLE_TICKS_BEFORE_PARKING {
                            // Announced before the last look at the count, and `task_started`
                            // counts before it looks at the flag (both SeqCst): either the
                            // ticker sees the new task, or the task sees the flag and
                            // unparks. A token left by an earlier unpark only costs a loop.
                            state.parked.store(true, Ordering::SeqCst);
                            if state.running_tasks.load(Ordering::SeqCst) == 0 {
                                std::thread::park();
                            }
                            state.parked.store(false, Ordering::SeqCst);
                            idle_ticks = 0;
                            continue;
                        }
                    } else {
                        idle_ticks = 0;
                    }
                    std::thread::sleep(tick);
                    for engine in state.lock_engines().iter() {
                        engine.increment_epoch();
                    }
                }
            })
            .map_err(|err| Error::Host(format!("cannot start the epoch ticker: {err}")))?;
        Ok(Ticker {
            shared,
            thread: Some(thread),
        })
    }

    fn drive(&self, engine: Engine) {
        self.shared.lock_engines().push(engine);
    }

    fn task_started(&self) -> Ticking<'_> {
        if self.shared.running_tasks.fetch_add(1, Ordering::SeqCst) == 0
            && self.shared.parked.load(Ordering::SeqCst)
            && let Some(thread) = &self.thread
        {
            thread.thread().unpark();
        }
        Ticking {
            shared: &self.shared,
        }
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            // The ticker only sleeps and increments; it cannot fail, and joining bounds its
            // lifetime to the executor's.
            let _ = thread.join();
        }
    }
}
