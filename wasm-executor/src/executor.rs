//! [`Executor`]: loads components and launches tasks.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::OnceCell;
use wasmtime::component::Linker;

use crate::cache::{CacheStats, CompileCache, Digest};
use crate::engine::{Engines, MeteredEngine, Metering};
use crate::program::{self, Prepared, Program, ProgramInner, ProgramKind};
use crate::service::{self, RunningService, ServiceConfig};
use crate::spec::TaskSpec;
use crate::store::TaskState;
use crate::task::{self, Driver, Launch, RunningTask};
use crate::{Error, ExecutorConfig, host, sandbox};

/// Runs tasks as WebAssembly components. Cheap to clone; all clones share one engine, pool,
/// epoch ticker and compile cache.
#[derive(Clone)]
pub struct Executor {
    inner: Arc<ExecutorInner>,
}

struct ExecutorInner {
    config: ExecutorConfig,
    engines: Engines,
    plain_linker: Linker<TaskState>,
    /// Built the first time a task asks for fuel.
    fuel: OnceCell<(MeteredEngine, Linker<TaskState>)>,
    cache: CompileCache,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Executor {
    /// Builds the engines and the pool, and starts the epoch ticker.
    pub fn new(config: ExecutorConfig) -> Result<Executor, Error> {
        let engines = Engines::new(&config)?;
        let plain_linker = linker(&engines.plain)?;
        let cache = CompileCache::new(config.cache_dir.clone())?;
        Ok(Executor {
            inner: Arc::new(ExecutorInner {
                config,
                engines,
                plain_linker,
                fuel: OnceCell::new(),
                cache,
            }),
        })
    }

    /// The configuration this executor was built with.
    pub fn config(&self) -> &ExecutorConfig {
        &self.inner.config
    }

    /// Where compiled code came from so far.
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    /// Drops the in-memory compiled code of `digest` (programs already loaded keep theirs).
    pub fn forget(&self, digest: &Digest) {
        self.inner.cache.forget(digest);
    }

    /// Validates a component and compiles it, once per sha256 digest however many loads ask
    /// for it at once, reusing the on-disk cache when there is one.
    ///
    /// Fails on bytes that are not a component, a core module, a component too large, one
    /// that exports neither world, or one that imports interfaces this host lacks (naming
    /// them).
    pub async fn load(&self, bytes: &[u8]) -> Result<Program, Error> {
        program::check_bytes(bytes, self.inner.config.max_component_bytes)?;
        let digest = Digest::of(bytes);
        let bytes: Arc<[u8]> = Arc::from(bytes);
        let plain = &self.inner.engines.plain;
        let component = self
            .inner
            .cache
            .component(plain, Metering::Plain, &digest, &bytes)
            .await?;
        let (kind, prepared) = program::prepare(&self.inner.plain_linker, &component)?;
        tracing::debug!(%digest, ?kind, "component loaded");
        Ok(Program {
            inner: Arc::new(ProgramInner {
                digest,
                kind,
                bytes,
                plain: prepared,
                fuel: OnceCell::new(),
            }),
        })
    }

    /// [`load`](Self::load)s the component in a file.
    pub async fn load_file(&self, path: &Path) -> Result<Program, Error> {
        let limit = self.inner.config.max_component_bytes;
        let metadata = tokio::fs::metadata(path)
            .await
            .map_err(|err| Error::io("reading", path, err))?;
        if metadata.len() > limit {
            return Err(Error::TooLarge {
                size: metadata.len(),
                limit,
            });
        }
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|err| Error::io("reading", path, err))?;
        self.load(&bytes).await
    }

    /// Starts a task on the current tokio runtime, as a tokio task of its own. Creates the
    /// sandbox dir if needed; fails only if the spec is invalid, the sandbox cannot be
    /// prepared, or the program is a service ([`ProgramKind::HttpService`], which
    /// [`serve`](Self::serve) starts). Everything after that is reported by
    /// [`RunningTask::wait`].
    ///
    /// [`ProgramKind::HttpService`]: crate::ProgramKind::HttpService
    pub fn launch(&self, program: &Program, spec: TaskSpec) -> Result<RunningTask, Error> {
        self.start(program, spec, Driver::Spawn)
    }

    /// Like [`launch`](Self::launch), but the task runs inside [`RunningTask::wait`], on the
    /// caller's tokio task, which saves a spawn and a join per task. Until `wait` is polled
    /// the guest makes no progress: no events arrive and its CPU time stays zero, though
    /// kill and timeout still apply (the timeout counts from this call). Dropping the handle
    /// unwaited spawns the task, as `launch` would have.
    ///
    /// For callers that wait for the end anyway while relaying events, as the agent does.
    pub fn launch_inline(&self, program: &Program, spec: TaskSpec) -> Result<RunningTask, Error> {
        self.start(program, spec, Driver::Inline)
    }

    fn start(
        &self,
        program: &Program,
        spec: TaskSpec,
        driver: Driver,
    ) -> Result<RunningTask, Error> {
        let started = Instant::now();
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        if program.kind() == ProgramKind::HttpService {
            return Err(Error::WrongKind {
                kind: ProgramKind::HttpService,
                start: "Executor::serve",
            });
        }
        self.check_spec(&spec)?;
        let sandbox = sandbox::build(&spec).map_err(Error::Sandbox)?;
        let launch = Launch {
            executor: self.clone(),
            program: program.clone(),
            spec,
            sandbox,
            started,
        };
        Ok(task::start(launch, driver, runtime))
    }

    /// Serves a `wasi:http` component ([`ProgramKind::HttpService`]) on `listener`, HTTP/1.1,
    /// one instance per request, until it is killed or stopped gracefully
    /// ([`RunningService::shutdown`]) or hits a service-wide limit. Must be called within a
    /// tokio runtime; creates the sandbox dir if needed.
    ///
    /// The spec's limits apply as follows (the crate's `service` module says more):
    /// - `mem_bytes`: one budget for all the instances running at once. A grow it refuses
    ///   ends the whole service with [`FailureReason::MemoryLimit`], as an out-of-memory kill
    ///   ends a container.
    /// - `cpus`: a share for the whole service, across its concurrent instances.
    /// - `disk_bytes`: the quota of the sandbox dir, which every instance sees at `/`, so
    ///   state kept there outlives each request. Over it, the service ends with
    ///   [`FailureReason::DiskLimit`].
    /// - `fuel` and `timeout`: per request, from the start of its instance. A request over
    ///   either gets a 500 or a 504, is logged, and the service goes on.
    /// - output: stdout and stderr of all instances go to the same two capped streams.
    ///
    /// Fails, before anything runs, if the program is not a service, the spec or `config` is
    /// invalid, or the sandbox cannot be prepared.
    ///
    /// [`ProgramKind::HttpService`]: crate::ProgramKind::HttpService
    /// [`FailureReason::MemoryLimit`]: crate::FailureReason::MemoryLimit
    /// [`FailureReason::DiskLimit`]: crate::FailureReason::DiskLimit
    pub fn serve(
        &self,
        program: &Program,
        spec: TaskSpec,
        listener: tokio::net::TcpListener,
        config: ServiceConfig,
    ) -> Result<RunningService, Error> {
        let started = Instant::now();
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        if program.kind() != ProgramKind::HttpService {
            return Err(Error::WrongKind {
                kind: program.kind(),
                start: "Executor::launch",
            });
        }
        self.check_spec(&spec)?;
        config.check()?;
        let launch = service::Launch {
            executor: self.clone(),
            program: program.clone(),
            spec,
            listener,
            config,
            started,
        };
        service::start(launch, &runtime)
    }

    fn check_spec(&self, spec: &TaskSpec) -> Result<(), Error> {
        let limits = &spec.limits;
        if let Some(cpus) = limits.cpus
            && !(cpus.is_finite() && cpus > 0.0)
        {
            return Err(Error::InvalidSpec(format!(
                "cpus must be a positive number, not {cpus}"
            )));
        }
        let max_mem = self.inner.config.max_task_memory_bytes;
        if limits.mem_bytes > max_mem {
            return Err(Error::InvalidSpec(format!(
                "mem of {} bytes exceeds this executor's maximum of {max_mem} bytes",
                limits.mem_bytes
            )));
        }
        Ok(())
    }

    pub(crate) fn nudge(&self) -> crate::engine::Nudge {
        self.inner.engines.nudge()
    }

    /// Keeps the epoch ticker running for as long as the guard lives.
    pub(crate) fn task_started(&self) -> crate::engine::Ticking<'_> {
        self.inner.engines.task_started()
    }

    /// The program pre-instantiated on the engine `metering` selects; the fuel-metered
    /// variant is compiled the first time a task asks for it.
    pub(crate) async fn prepared<'p>(
        &self,
        program: &'p Program,
        metering: Metering,
    ) -> Result<&'p Prepared, Error> {
        let inner = &program.inner;
        if metering == Metering::Plain {
            return Ok(&inner.plain);
        }
        let prepared = inner
            .fuel
            .get_or_try_init(|| async {
                let (engine, linker) = self.fuel_engine().await?;
                let component = self
                    .inner
                    .cache
                    .component(engine, Metering::Fuel, &inner.digest, &inner.bytes)
                    .await?;
                let (_, prepared) = program::prepare(linker, &component)?;
                Ok::<_, Error>(prepared)
            })
            .await?;
        Ok(prepared)
    }
}

impl Executor {
    async fn fuel_engine(&self) -> Result<&(MeteredEngine, Linker<TaskState>), Error> {
        self.inner
            .fuel
            .get_or_try_init(|| async {
                let engine = self.inner.engines.build_fuel()?;
                let linker = linker(&engine)?;
                Ok((engine, linker))
            })
            .await
    }
}

fn linker(engine: &MeteredEngine) -> Result<Linker<TaskState>, Error> {
    let mut linker = Linker::new(&engine.engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|err| Error::host(&err))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
        .map_err(|err| Error::host(&err))?;
    host::add_to_linker(&mut linker).map_err(|err| Error::host(&err))?;
    Ok(linker)
}
