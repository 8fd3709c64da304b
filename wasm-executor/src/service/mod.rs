//! `wasi:http` services: a component exporting `wasi:http/incoming-handler`, served over
//! HTTP/1.1 on a listener the caller bound, one instance per request, until it is stopped.
//!
//! A service is one task with many short instances. The task's limits hold for the whole:
//! - memory: one budget shared by the instances running at once ([`SharedMemory`]); a grow
//!   it refuses ends the service with the memory-limit outcome (see there why);
//! - CPU: one share for all instances ([`SharedCpu`], with unused budget kept only up to a
//!   cap, since a service idles);
//! - disk: the quota of the one sandbox dir all instances see at `/`;
//! - output: one pair of capped streams;
//! - fuel and timeout: per request, from the start of its instance; a request over either
//!   gets a 5xx and a log line, and the service goes on.
//!
//! Admission: at most [`ServiceConfig::max_concurrency`] instances run at once; further
//! requests wait in a FIFO of at most [`ServiceConfig::queue_capacity`]; beyond that they get
//! 503 at once. Connections beyond [`ServiceConfig::max_connections`] wait in the kernel's
//! backlog. Instances come from the executor's pool, like tasks' (a full pool answers 503).
//!
//! Ending: a kill drops every connection and instance at once; a graceful stop
//! ([`KillHandle::kill_within`]) closes the listener, lets in-flight requests finish until
//! the grace ends, then kills. Either way the outcome is [`Outcome::Killed`] unless a limit
//! ended the service first. `mod.rs` has the API and the task's life, `accept.rs` the
//! listener and connections, `admission.rs` the queue, `request.rs` one request's instance.
//!
//! [`SharedMemory`]: crate::limiter::SharedMemory
//! [`SharedCpu`]: crate::cpu::SharedCpu
//! [`Outcome::Killed`]: crate::Outcome::Killed

mod accept;
mod admission;
mod idle;
mod request;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::Instrument;
use wasmtime_wasi::filesystem::WasiFilesystemCtx;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::control::{Control, KillHandle, StopReason};
use crate::cpu::{SharedCpu, Throttle};
use crate::engine::Metering;
use crate::limiter::SharedMemory;
use crate::outcome::{Outcome, Report, TaskError};
use crate::outgoing::OutgoingHttp;
use crate::output::CappedOutput;
use crate::program::{Prepared, Program};
use crate::spec::TaskSpec;
use crate::store::TaskState;
use crate::{Error, Executor, disk, sandbox, task};

use admission::Admission;

/// How a service admits connections and requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Instances running at once, each serving one request. At least 1. Each takes a slot
    /// of the executor's pool ([`ExecutorConfig::max_concurrent_tasks`]), and all of them
    /// share the task's memory limit: size it so that this many fit.
    ///
    /// [`ExecutorConfig::max_concurrent_tasks`]: crate::ExecutorConfig::max_concurrent_tasks
    pub max_concurrency: u32,
    /// Requests waiting for an instance, first come first served. One more gets 503 at once.
    pub queue_capacity: u32,
    /// Connections open at once. At least 1. Further connections are not accepted until one
    /// closes; they wait in the listener's backlog.
    pub max_connections: u32,
    /// How long a connection may wait for a request: idle between requests, or with a
    /// client slow to send its headers. Then it is closed, so that a slow or idle client
    /// does not hold a connection forever. A request in flight (its response not yet
    /// written) is never cut by it.
    pub header_read_timeout: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            max_concurrency: 16,
            queue_capacity: 256,
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(30),
        }
    }
}

impl ServiceConfig {
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.max_concurrency == 0 || self.max_connections == 0 {
            return Err(Error::InvalidSpec(
                "a service needs max_concurrency and max_connections of at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// What a service has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceStats {
    /// Requests given an instance.
    pub requests: u64,
    /// Requests answered 503 at once because the queue was full.
    pub rejected: u64,
    /// Requests whose instance failed (trap, fuel, timeout, host fault): answered 5xx.
    pub failed: u64,
    /// Instances running now.
    pub running: u32,
    /// Requests waiting for an instance now.
    pub queued: u32,
}

/// A service being served. Drop it to detach: the service keeps serving until it is killed
/// through a [`KillHandle`] or hits a limit.
pub struct RunningService {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    runner: JoinHandle<Report>,
}

impl std::fmt::Debug for RunningService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningService")
            .field("local_addr", &self.local_addr)
            .field("stats", &self.stats())
            .finish()
    }
}

impl RunningService {
    /// The address the service listens on (its listener's, e.g. to learn a port bound as 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that stops the service, at once ([`KillHandle::kill`]) or gracefully
    /// ([`KillHandle::kill_within`]).
    pub fn kill_handle(&self) -> KillHandle {
        KillHandle {
            control: Arc::clone(&self.shared.control),
            drain: Some(Arc::clone(&self.shared.drain)),
        }
    }

    /// Stops gracefully: no new connection or request from now on, the requests in flight
    /// finish for at most `grace`, then the remaining instances are dropped. Returns at once;
    /// [`wait`](Self::wait) for the end.
    pub fn shutdown(&self, grace: Duration) {
        self.kill_handle().kill_within(grace);
    }

    /// Requests served, refused and failed so far, and what runs and waits now.
    pub fn stats(&self) -> ServiceStats {
        self.shared.admission.stats()
    }

    /// CPU time the service's instances have used so far, all together.
    pub fn cpu_time(&self) -> Duration {
        self.shared.cpu.used()
    }

    /// A handle that reads [`cpu_time`](Self::cpu_time) after this value is consumed.
    pub fn cpu_clock(&self) -> crate::CpuClock {
        crate::CpuClock::service(Arc::clone(&self.shared.cpu))
    }

    /// Waits for the service to end and reports how: [`Outcome::Killed`] after a kill or a
    /// graceful stop, the limit's [`FailureReason`] when memory or disk ended it, or a host
    /// fault. `peak_memory_bytes` is the most its instances held at once, `fuel_consumed`
    /// the sum over its requests, `cpu_time` the sum over its instances.
    ///
    /// [`Outcome::Killed`]: crate::Outcome::Killed
    /// [`FailureReason`]: crate::FailureReason
    pub async fn wait(self) -> Report {
        match self.runner.await {
            Ok(report) => report,
            Err(err) => task::runner_failed(&err),
        }
    }
}

/// What the handle and the runner share.
struct Shared {
    control: Arc<Control>,
    drain: Arc<Drain>,
    memory: Arc<SharedMemory>,
    cpu: Arc<SharedCpu>,
    admission: Admission,
    fuel_consumed: AtomicU64,
}

/// A service's graceful stop: requested once, with the instant the grace ends.
#[derive(Debug, Default)]
pub(crate) struct Drain {
    requested: AtomicBool,
    /// When the grace ends; `None` for a grace too long to represent (no end).
    deadline: Mutex<Option<Instant>>,
    notify: Notify,
}

impl Drain {
    /// Starts draining with `grace`; a second call may only shorten the grace.
    pub(crate) fn start(&self, grace: Duration) {
        let deadline = Instant::now().checked_add(grace);
        {
            let mut current = self.deadline.lock().unwrap_or_else(PoisonError::into_inner);
            let first = !self.requested.load(Ordering::Acquire);
            *current = match (*current, deadline) {
                _ if first => deadline,
                (Some(current), Some(new)) => Some(current.min(new)),
                (current, new) => current.or(new),
            };
            self.requested.store(true, Ordering::Release);
        }
        self.notify.notify_waiters();
    }

    /// Resolves once draining was requested, with the end of the grace.
    async fn requested(&self) -> Option<Instant> {
        loop {
            let notified = self.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.requested.load(Ordering::Acquire) {
                return *self.deadline.lock().unwrap_or_else(PoisonError::into_inner);
            }
            notified.await;
        }
    }
}

/// Everything [`start`] needs.
pub(crate) struct Launch {
    pub(crate) executor: Executor,
    pub(crate) program: Program,
    pub(crate) spec: TaskSpec,
    pub(crate) listener: TcpListener,
    pub(crate) config: ServiceConfig,
    pub(crate) started: Instant,
}

/// Prepares the sandbox and spawns the service's runner on `runtime`.
pub(crate) fn start(
    launch: Launch,
    runtime: &tokio::runtime::Handle,
) -> Result<RunningService, Error> {
    let local_addr = launch
        .listener
        .local_addr()
        .map_err(|err| Error::Host(format!("the service's listener has no address: {err}")))?;
    std::fs::create_dir_all(&launch.spec.sandbox_dir).map_err(|err| {
        let dir = launch.spec.sandbox_dir.display();
        Error::Sandbox(format!("cannot create {dir}: {err}"))
    })?;
    let (stdout, stderr) = sandbox::streams(&launch.spec).map_err(Error::Sandbox)?;
    let control = Arc::new(Control::new(launch.executor.nudge()));
    let shared = Arc::new(Shared {
        memory: Arc::new(SharedMemory::new(
            launch.spec.limits.mem_bytes,
            Arc::clone(&control),
        )),
        control,
        drain: Arc::new(Drain::default()),
        cpu: Arc::new(SharedCpu::default()),
        admission: Admission::new(&launch.config),
        fuel_consumed: AtomicU64::new(0),
    });
    let span = tracing::info_span!(
        "service",
        task_id = %launch.spec.task_id,
        name = %launch.spec.name,
        %local_addr,
    );
    let run = run(launch, Arc::clone(&shared), (stdout, stderr), span.clone());
    let runner = runtime.spawn(run.instrument(span));
    Ok(RunningService {
        shared,
        local_addr,
        runner,
    })
}

/// One service's state while it serves: what every connection and request reads.
struct Service {
    executor: Executor,
    spec: TaskSpec,
    config: ServiceConfig,
    pre: ProxyPre<TaskState>,
    /// The sandbox dir, opened once and shared by every request's WASI context.
    filesystem: WasiFilesystemCtx,
    shared: Arc<Shared>,
    stdout: CappedOutput,
    stderr: CappedOutput,
    outgoing: OutgoingHttp,
    throttle: Option<Throttle>,
    span: tracing::Span,
}

async fn run(
    launch: Launch,
    shared: Arc<Shared>,
    (stdout, stderr): (CappedOutput, CappedOutput),
    span: tracing::Span,
) -> Report {
    let Launch {
        executor,
        program,
        spec,
        listener,
        config,
        started,
    } = launch;
    let pre = match prepare(&executor, &program, &spec, &shared.control).await {
        Ok(pre) => pre,
        Err(outcome) => return report(&shared, outcome, &spec, started),
    };
    let filesystem = match sandbox::open_shared(&spec) {
        Ok(filesystem) => filesystem,
        Err(message) => {
            let outcome = Outcome::Error(TaskError::Sandbox(message));
            return report(&shared, outcome, &spec, started);
        }
    };
    tracing::debug!("serving");
    let disk_watch = spec
        .limits
        .disk_bytes
        .map(|quota| disk::watch(spec.sandbox_dir.clone(), quota, Arc::clone(&shared.control)));
    let service = Arc::new(Service {
        outgoing: OutgoingHttp::new(&spec.network),
        throttle: Throttle::for_service(spec.limits.cpus, started),
        executor,
        spec,
        config,
        pre,
        filesystem,
        shared: Arc::clone(&shared),
        stdout,
        stderr,
        span,
    });
    let reason = accept::serve(&service, listener).await;
    // No instance may outlive the report: wait until every one has dropped its store.
    service.shared.admission.idle().await;
    if let Some(watch) = disk_watch {
        watch.abort();
    }
    let dropped = service.stdout.finish() + service.stderr.finish();
    let report = report(&shared, task::stopped(reason), &service.spec, started);
    tracing::debug!(outcome = %report.outcome, ?report.duration, dropped_output_bytes = dropped, "service ended");
    report
}

/// The program pre-instantiated on the engine the spec needs (the fuel-metered one is
/// compiled on first use, which a kill may interrupt).
async fn prepare(
    executor: &Executor,
    program: &Program,
    spec: &TaskSpec,
    control: &Control,
) -> Result<ProxyPre<TaskState>, Outcome> {
    let metering = match spec.limits.fuel {
        Some(_) => Metering::Fuel,
        None => Metering::Plain,
    };
    let prepared = tokio::select! {
        biased;
        reason = control.stopped() => return Err(task::stopped(reason)),
        prepared = executor.prepared(program, metering) => prepared,
    };
    match prepared {
        Ok(Prepared::Http(pre)) => Ok(pre.clone()),
        Ok(_) => Err(Outcome::Error(TaskError::Host(
            "the program is not a wasi:http service".into(),
        ))),
        Err(err) => Err(Outcome::Error(TaskError::Host(err.to_string()))),
    }
}

fn report(shared: &Shared, outcome: Outcome, spec: &TaskSpec, started: Instant) -> Report {
    Report {
        outcome,
        duration: started.elapsed(),
        peak_memory_bytes: shared.memory.peak(),
        fuel_consumed: spec
            .limits
            .fuel
            .map(|_| shared.fuel_consumed.load(Ordering::Relaxed)),
        cpu_time: shared.cpu.used(),
    }
}

/// Stops `control` with `reason` unless it was stopped already, and returns the reason that
/// stands.
fn stop(control: &Control, reason: StopReason) -> StopReason {
    control.stop(reason);
    control.reason().unwrap_or(reason)
}
