//! One running task: its store, its run, and how the run's end becomes an [`Outcome`].

use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use wasmtime::{Store, Trap, WasmBacktrace};
use wasmtime_wasi::{I32Exit, WasiCtx};

use crate::control::{Control, KillHandle, StopReason};
use crate::cpu::{CpuMeter, Metered, Throttle};
use crate::engine::Metering;
use crate::host::bindings::wasmesos::executor::types::{Resources, TaskInfo};
use crate::limiter::MemoryLimiter;
use crate::mailbox::{GuestEvents, HostChannels, MessageSender};
use crate::outcome::{FailureReason, Outcome, Report, TaskError};
use crate::outgoing::OutgoingHttp;
use crate::program::{Prepared, Program};
use crate::sandbox::Sandbox;
use crate::spec::TaskSpec;
use crate::store::TaskState;
use crate::watchdog::Watchdog;
use crate::{Executor, disk};

/// A launched task. Drop it to detach: the task keeps running until it ends or is killed.
pub struct RunningTask {
    control: Arc<Control>,
    meter: Arc<CpuMeter>,
    messages: MessageSender,
    events: GuestEvents,
    runner: Runner,
}

/// Where a task's runner future is polled.
enum Runner {
    /// On its own tokio task, from launch on.
    Spawned(JoinHandle<Report>),
    /// By [`RunningTask::wait`], on the caller's task; `None` once `wait` took it. Dropping
    /// the handle before that spawns it on `Handle`, so that it still runs to its end.
    Inline(Option<(Metered<dyn Future<Output = Report> + Send>, Handle)>),
}

type BoxedRun = Pin<Box<dyn Future<Output = Report> + Send>>;

impl RunningTask {
    /// A handle that stops the task.
    pub fn kill_handle(&self) -> KillHandle {
        KillHandle {
            control: Arc::clone(&self.control),
            drain: None,
        }
    }

    /// Sends scheduler messages to the guest (`host.receive-message`).
    pub fn messages_to_guest(&self) -> MessageSender {
        self.messages.clone()
    }

    /// Status, messages and log lines from the guest, in order. `std::mem::take` it to read
    /// the events while [`wait`](Self::wait) runs.
    pub fn events(&mut self) -> &mut GuestEvents {
        &mut self.events
    }

    /// CPU time the task has used so far (updated whenever its guest yields or blocks, at
    /// least every few milliseconds while it runs).
    pub fn cpu_time(&self) -> Duration {
        self.meter.used()
    }

    /// A handle that reads the task's CPU time after this `RunningTask` is consumed.
    pub fn cpu_clock(&self) -> crate::CpuClock {
        crate::CpuClock::task(Arc::clone(&self.meter))
    }

    /// Waits for the task to end. A task started with
    /// [`Executor::launch_inline`](crate::Executor::launch_inline) runs inside this future.
    pub async fn wait(mut self) -> Report {
        match &mut self.runner {
            Runner::Spawned(join) => match join.await {
                Ok(report) => report,
                Err(err) => runner_failed(&err),
            },
            Runner::Inline(run) => match run.take() {
                Some((run, _)) => run.await,
                None => runner_failed(&"it was already waited for"),
            },
        }
    }
}

impl Drop for RunningTask {
    fn drop(&mut self) {
        if let Runner::Inline(run) = &mut self.runner
            && let Some((run, runtime)) = run.take()
        {
            // Detached before it was waited for: it runs to its end on its own, like a
            // spawned task would. Its report has no reader.
            drop(runtime.spawn(run));
        }
    }
}

pub(crate) fn runner_failed(err: &dyn std::fmt::Display) -> Report {
    Report {
        outcome: Outcome::Error(TaskError::Host(format!("the runner failed: {err}"))),
        duration: Duration::ZERO,
        peak_memory_bytes: 0,
        fuel_consumed: None,
        cpu_time: Duration::ZERO,
    }
}

/// Everything a task's runner owns.
pub(crate) struct Launch {
    pub(crate) executor: Executor,
    pub(crate) program: Program,
    pub(crate) spec: TaskSpec,
    pub(crate) sandbox: Sandbox,
    pub(crate) started: Instant,
}

/// How a launched task's runner is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Driver {
    /// Spawned on the runtime at once.
    Spawn,
    /// Polled by `wait`, spawned only if the handle is dropped first.
    Inline,
}

/// Starts the task on `runtime` (the current tokio runtime).
pub(crate) fn start(launch: Launch, driver: Driver, runtime: Handle) -> RunningTask {
    let max_message_bytes = launch.executor.config().max_message_bytes;
    let (host, messages, events) = HostChannels::new(max_message_bytes);
    let control = Arc::new(Control::new(launch.executor.nudge()));
    let throttled = Throttle::new(launch.spec.limits.cpus, launch.started).is_some();
    let meter = Arc::new(CpuMeter::new(throttled, launch.started));
    let span =
        tracing::info_span!("task", task_id = %launch.spec.task_id, name = %launch.spec.name);
    let run: BoxedRun = Box::pin(run(launch, host, Arc::clone(&control), Arc::clone(&meter)));
    let run = Metered::in_span(run, Arc::clone(&meter), span);
    let runner = match driver {
        Driver::Spawn => Runner::Spawned(runtime.spawn(run)),
        Driver::Inline => Runner::Inline(Some((run, runtime))),
    };
    RunningTask {
        control,
        meter,
        messages,
        events,
        runner,
    }
}

async fn run(
    launch: Launch,
    host: HostChannels,
    control: Arc<Control>,
    meter: Arc<CpuMeter>,
) -> Report {
    let Launch {
        executor,
        program,
        spec,
        sandbox,
        started,
    } = launch;
    let _ticking = executor.task_started();
    let disk_watch = spec
        .limits
        .disk_bytes
        .map(|quota| disk::watch(spec.sandbox_dir.clone(), quota, Arc::clone(&control)));
    let guest = Guest {
        executor: &executor,
        program: &program,
        spec: &spec,
        control: &control,
        meter: &meter,
        started,
    };
    let (outcome, usage) = guest.run(sandbox.wasi, host).await;
    if let Some(watch) = disk_watch {
        watch.abort();
    }
    let outcome = check_disk_at_end(outcome, &spec).await;
    let dropped = sandbox.stdout.finish() + sandbox.stderr.finish();
    let ended = Instant::now();
    let report = Report {
        outcome,
        duration: ended.saturating_duration_since(started),
        peak_memory_bytes: usage.peak_memory_bytes,
        fuel_consumed: usage.fuel_consumed,
        // This runs inside the task's metered poll: count that poll so far too.
        cpu_time: meter.used_in_poll_at(ended),
    };
    tracing::debug!(outcome = %report.outcome, ?report.duration, dropped_output_bytes = dropped, "task ended");
    report
}

/// A finished task that left more on disk than its quota failed with `DiskLimit`.
async fn check_disk_at_end(outcome: Outcome, spec: &TaskSpec) -> Outcome {
    let Some(quota) = spec.limits.disk_bytes else {
        return outcome;
    };
    match outcome {
        Outcome::Finished { .. } if disk::over_quota(&spec.sandbox_dir, quota).await => {
            Outcome::Failed(FailureReason::DiskLimit)
        }
        other => other,
    }
}

#[derive(Debug, Default)]
struct Usage {
    peak_memory_bytes: u64,
    fuel_consumed: Option<u64>,
}

/// What the guest's call produced, before classification.
enum Ended {
    Command(Result<(), ()>),
    Executor(Result<Vec<u8>, String>),
}

/// Where a guest error happened: instantiation errors may be the host's fault.
enum Failure {
    Instantiate(wasmtime::Error),
    Run(wasmtime::Error),
    Stopped(StopReason),
    Prepare(crate::Error),
}

struct Guest<'a> {
    executor: &'a Executor,
    program: &'a Program,
    spec: &'a TaskSpec,
    control: &'a Arc<Control>,
    meter: &'a Arc<CpuMeter>,
    started: Instant,
}

impl Guest<'_> {
    async fn run(self, wasi: WasiCtx, host: HostChannels) -> (Outcome, Usage) {
        let metering = match self.spec.limits.fuel {
            Some(_) => Metering::Fuel,
            None => Metering::Plain,
        };
        let prepared = match metering {
            // Ready at once; a kill or timeout that came first still ends the call below.
            Metering::Plain => Ok(&self.program.inner.plain),
            // Compiling the metered variant can take a while: kill and timeout apply to it
            // too. Boxed: its future is large, and this task's would grow by as much,
            // to be copied at every launch.
            Metering::Fuel => {
                let preparing = async {
                    let prepared = self.executor.prepared(self.program, metering).await;
                    prepared.map_err(Failure::Prepare)
                };
                self.guarded(Box::pin(preparing).as_mut()).await
            }
        };
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(failure) => return (self.classify(Err(failure), false), Usage::default()),
        };
        let mut store = self.store(prepared, wasi, host);
        let ended = {
            let calling = std::pin::pin!(call(&mut store, prepared, || self.task_info()));
            self.guarded(calling).await
        };
        let usage = Usage {
            peak_memory_bytes: store.data().limiter.peak(),
            fuel_consumed: self
                .spec
                .limits
                .fuel
                .and_then(|granted| store.get_fuel().ok().map(|left| granted - left)),
        };
        (self.classify(ended, store.data().limiter.refused()), usage)
    }

    /// Runs `work` until it ends, the task is stopped, or its timeout passes, whichever is
    /// first. Dropping `work` is what interrupts a guest blocked in a host call.
    ///
    /// A stop recorded before a poll wins over that poll's work. The work is polled before
    /// the stop and the deadline are waited on, so that a guest that ends in its first poll
    /// (most short tasks) never registers a waiter or a timer; a stop that lands during that
    /// poll is seen right after it.
    ///
    /// `work` comes pinned by the caller: a future passed by value into an async fn takes
    /// room twice in the caller's state (the argument, and the callee's copy), and this
    /// task's whole state is copied at every launch.
    async fn guarded<T, F: Future<Output = Result<T, Failure>> + ?Sized>(
        &self,
        mut work: Pin<&mut F>,
    ) -> Result<T, Failure> {
        let deadline = self
            .spec
            .limits
            .timeout
            .map(|timeout| self.started + timeout);
        let stopped = self.control.stopped();
        let passes = self.control.deadline_passes(deadline);
        let mut stopped = std::pin::pin!(stopped);
        let mut passes = std::pin::pin!(passes);
        std::future::poll_fn(|cx| {
            if let Some(reason) = self.control.reason() {
                return Poll::Ready(Err(Failure::Stopped(reason)));
            }
            if deadline.is_some_and(|deadline| self.control.deadline_passed(deadline)) {
                self.control.stop(StopReason::Timeout);
                return Poll::Ready(Err(Failure::Stopped(StopReason::Timeout)));
            }
            if let Poll::Ready(ended) = work.as_mut().poll(cx) {
                return Poll::Ready(ended);
            }
            if let Poll::Ready(reason) = stopped.as_mut().poll(cx) {
                return Poll::Ready(Err(Failure::Stopped(reason)));
            }
            if passes.as_mut().poll(cx).is_ready() {
                self.control.stop(StopReason::Timeout);
                return Poll::Ready(Err(Failure::Stopped(StopReason::Timeout)));
            }
            Poll::Pending
        })
        .await
    }

    fn store(&self, prepared: &Prepared, wasi: WasiCtx, host: HostChannels) -> Store<TaskState> {
        let config = self.executor.config();
        let limiter = MemoryLimiter::new(
            self.spec.limits.mem_bytes,
            config.max_memories_per_task,
            config.max_tables_per_task,
            config.max_core_instances_per_task,
        );
        let outgoing = OutgoingHttp::new(&self.spec.network);
        let state = TaskState::new(wasi, limiter, host, outgoing);
        let watchdog = Watchdog {
            control: Arc::clone(self.control),
            service: None,
            deadline: self
                .spec
                .limits
                .timeout
                .map(|timeout| self.started + timeout),
            throttle: Throttle::new(self.spec.limits.cpus, self.started),
            meter: Arc::clone(self.meter),
            ticks_since_yield: 0,
        };
        state.into_store(prepared.engine(), self.spec.limits.fuel, watchdog)
    }

    fn task_info(&self) -> TaskInfo {
        let spec = self.spec;
        TaskInfo {
            task_id: spec.task_id.clone(),
            name: spec.name.clone(),
            args: spec.args.clone(),
            env: spec.env.clone(),
            data: spec.data.clone(),
            resources: Resources {
                cpus: spec.limits.cpus.unwrap_or(1.0),
                mem_bytes: spec.limits.mem_bytes,
                disk_bytes: spec.limits.disk_bytes.unwrap_or(u64::MAX),
                fuel: spec.limits.fuel,
                timeout_ms: spec
                    .limits
                    .timeout
                    .map(|timeout| u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
            },
        }
    }

    fn classify(&self, ended: Result<Ended, Failure>, memory_refused: bool) -> Outcome {
        match ended {
            Ok(Ended::Command(Ok(()))) => finished(Vec::new()),
            Ok(Ended::Command(Err(()))) => Outcome::Failed(FailureReason::ExitCode(1)),
            Ok(Ended::Executor(Ok(data))) => finished(data),
            Ok(Ended::Executor(Err(message))) => {
                Outcome::Failed(FailureReason::GuestError(message))
            }
            Err(Failure::Stopped(reason)) => stopped(reason),
            Err(Failure::Prepare(err)) => Outcome::Error(TaskError::Host(err.to_string())),
            Err(Failure::Instantiate(err) | Failure::Run(err))
                if self.control.reason().is_some() =>
            {
                tracing::debug!(err = %format!("{err:#}"), "guest stopped");
                self.control.reason().map_or(Outcome::Killed, stopped)
            }
            Err(_) if memory_refused => Outcome::Failed(FailureReason::MemoryLimit),
            Err(Failure::Instantiate(err)) => instantiate_failure(&err),
            Err(Failure::Run(err)) => run_failure(&err),
        }
    }
}

fn finished(data: Vec<u8>) -> Outcome {
    Outcome::Finished { exit_code: 0, data }
}

pub(crate) fn stopped(reason: StopReason) -> Outcome {
    match reason {
        StopReason::Killed => Outcome::Killed,
        StopReason::Timeout => Outcome::Failed(FailureReason::Timeout),
        StopReason::DiskLimit => Outcome::Failed(FailureReason::DiskLimit),
        StopReason::MemoryLimit => Outcome::Failed(FailureReason::MemoryLimit),
    }
}

/// A trap while instantiating is the guest's (its start code ran); anything else is the host's.
pub(crate) fn instantiate_failure(err: &wasmtime::Error) -> Outcome {
    if err.downcast_ref::<Trap>().is_some() {
        return run_failure(err);
    }
    Outcome::Error(TaskError::Instantiate(format!("{err:#}")))
}

pub(crate) fn run_failure(err: &wasmtime::Error) -> Outcome {
    if let Some(exit) = err.downcast_ref::<I32Exit>() {
        return match exit.0 {
            0 => finished(Vec::new()),
            code => Outcome::Failed(FailureReason::ExitCode(code)),
        };
    }
    let reason = match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => FailureReason::FuelExhausted,
        Some(Trap::StackOverflow) => FailureReason::StackOverflow,
        _ => FailureReason::Trap(trap_message(err)),
    };
    Outcome::Failed(reason)
}

/// One line: what trapped and in which guest function; the full backtrace goes to the log.
fn trap_message(err: &wasmtime::Error) -> String {
    tracing::debug!(err = %format!("{err:?}"), "guest trapped");
    let what = match err.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{err:#}"),
    };
    let function = err
        .downcast_ref::<WasmBacktrace>()
        .and_then(|backtrace| backtrace.frames().first()?.func_name().map(str::to_owned));
    let message = match function {
        Some(function) => format!("{what} in {function}"),
        None => what,
    };
    message.replace('\n', " ")
}

async fn call(
    store: &mut Store<TaskState>,
    prepared: &Prepared,
    task_info: impl FnOnce() -> TaskInfo,
) -> Result<Ended, Failure> {
    match prepared {
        Prepared::Command(pre) => {
            let command = pre
                .instantiate_async(&mut *store)
                .await
                .map_err(Failure::Instantiate)?;
            let exit = command
                .wasi_cli_run()
                .call_run(&mut *store)
                .await
                .map_err(Failure::Run)?;
            Ok(Ended::Command(exit))
        }
        Prepared::Executor(pre) => {
            let executor = pre
                .instantiate_async(&mut *store)
                .await
                .map_err(Failure::Instantiate)?;
            let result = executor
                .call_run(&mut *store, &task_info())
                .await
                .map_err(Failure::Run)?;
            Ok(Ended::Executor(result))
        }
        // `Executor::launch` refuses services before a task exists.
        Prepared::Http(_) => Err(Failure::Prepare(crate::Error::WrongKind {
            kind: crate::ProgramKind::HttpService,
            start: "Executor::serve",
        })),
    }
}

pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}
