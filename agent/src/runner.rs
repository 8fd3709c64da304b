//! One task's life on this agent: STARTING, fetch its `uris` into its sandbox (`fetcher`),
//! load the executor (uploaded, or one of the fetched files), launch it in the sandbox with
//! the granted limits, RUNNING (again with each new status text), relay its
//! messages and log lines, then exactly one terminal update from its report.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tracing::{Instrument, debug, error, info, info_span, warn};
use wasmesos_proto::fetch::{self, FetchPlan};
use wasmesos_proto::resource_names::PORTS;
use wasmesos_proto::{FrameworkCapability, FrameworkInfo, Reason, TaskInfo, TaskState};
use wasmesos_wasm_executor::{
    AllowedAddr, CpuClock, GuestEvent, GuestEvents, KillHandle, MessageSender, OutputMemory,
    Program, ProgramKind, Report, RunningService, RunningTask, ServiceConfig, TaskSpec, TaskStream,
    log_guest_line,
};

use crate::Error;
use crate::agent::Agent;
use crate::health::{self, HealthPolicy, Verdict};
use crate::ids::check_path_id;
use crate::registry::{Attach, Place, TaskControl, TaskKey, kill_grace};
use crate::reporter::Reporter;
use crate::spec::{MAX_PORT_ENV, task_spec};
use crate::updates::Update;

/// Takes one task of a `launch` command in and starts its runner.
pub(crate) fn launch(agent: &Arc<Agent>, framework: &FrameworkInfo, mut task: TaskInfo) {
    let key = TaskKey {
        framework_id: framework.id.clone(),
        task_id: task.task_id.clone(),
    };
    let ids = check_path_id("framework id", &key.framework_id)
        .and_then(|()| check_path_id("task id", &key.task_id));
    // A bad id never becomes a path; the task is still booked so its error is acknowledged.
    let data = std::mem::take(&mut task.data);
    let staging = Update::staging().stamp(&key, agent.current_id(), false);
    let Some(kill_signal) = agent.registry.admit(&key, task.clone(), staging) else {
        warn!(framework_id = %key.framework_id, task_id = %key.task_id, "ignoring a launch of a task that is already active");
        return;
    };
    // Before the runner starts, so the record is on disk before any of the task's updates.
    agent.checkpoint.task(&key, &task);
    task.data = data;
    let span = info_span!(
        "task",
        task_id = %key.task_id,
        framework_id = %key.framework_id,
        agent_id = %agent.current_id()
    );
    let killing_state = framework
        .capabilities()
        .any(|capability| capability == FrameworkCapability::TaskKillingState);
    let runner = run(
        Arc::clone(agent),
        key,
        task,
        ids,
        kill_signal,
        killing_state,
    );
    tokio::spawn(runner.instrument(span));
}

async fn run(
    agent: Arc<Agent>,
    key: TaskKey,
    task: TaskInfo,
    ids: Result<(), Error>,
    kill_signal: Arc<Notify>,
    killing_state: bool,
) {
    let mut reporter = Reporter::new(&agent, &key);
    let (launch, executable, watch) = match ids.and_then(|()| spec_for(&agent, task, killing_state))
    {
        Ok(spec) => spec,
        Err(err) => {
            warn!(err = %err, "refusing an invalid task");
            reporter.emit(Update::from_error(&err));
            return;
        }
    };
    reporter.hold(Update::starting());
    let fetched_into = match fetch_sandbox(&agent, &executable.plan, &mut reporter).await {
        Ok(sandbox) => sandbox,
        Err(err) => {
            error!(err = %err, "cannot make a sandbox directory");
            reporter.emit(Update::from_error(&err));
            return;
        }
    };
    // The executor's pool has a fixed number of instance slots: a task waits for one (still
    // STARTING) rather than fail when the agent is full.
    // A service takes one slot per instance it may run at once.
    let service_slots = launch.service.max_concurrency;
    let disk_budget = launch.spec.limits.disk_bytes;
    // `None` as the error: killed before it started.
    let ready: Result<_, Option<Error>> = {
        let mut ready = pin!(async {
            if let Some(sandbox) = &fetched_into {
                let plan = &executable.plan;
                agent
                    .fetcher
                    .fetch_all(&agent.artifacts, plan, sandbox, disk_budget)
                    .await?;
            }
            let program = match (&executable.plan.program, &fetched_into) {
                (Some(name), Some(sandbox)) => {
                    agent.executor.load_file(&sandbox.join(name)).await?
                }
                _ => agent.artifacts.program(&executable.digest).await?,
            };
            let slots = match program.kind() {
                ProgramKind::HttpService => service_slots,
                ProgramKind::Command | ProgramKind::Executor => 1,
            };
            let slot = Arc::clone(&agent.slots)
                .acquire_many_owned(slots)
                .await
                .map_err(|_| Error::Internal("the task slots are closed".into()))?;
            Ok::<_, Error>((program, slot))
        });
        match ready.as_mut().now_or_never() {
            Some(ready) => ready.map_err(Some),
            None => {
                reporter.flush();
                tokio::select! {
                    biased;
                    () = kill_signal.notified() => Err(None),
                    ready = ready => ready.map_err(Some),
                }
            }
        }
    };
    let (program, _slot) = match ready {
        Ok(ready) => ready,
        Err(why) => {
            let update = match why {
                None => Update::killed_before_start(),
                Some(err) => {
                    warn!(digest = %executable.digest, err = %err, "cannot fetch or load the executor");
                    Update::from_error(&err)
                }
            };
            if let Some(sandbox) = fetched_into {
                keep_fetched(&agent, &key, sandbox).await;
            }
            reporter.emit(update);
            return;
        }
    };
    let started = start(&agent, &key, &program, launch, fetched_into, &mut reporter).await;
    let Some((running, sandbox, output)) = started else {
        return;
    };
    let ending = supervise(&agent, &key, running, watch, &mut reporter).await;
    // Where the output is must be on the books before the terminal update goes out: the
    // framework may ask for it as soon as it sees the update.
    let reusable = [TaskStream::Stdout, TaskStream::Stderr]
        .into_iter()
        .all(|stream| output.held(stream).is_some());
    let sandbox = agent.sandboxes.settle(sandbox, &key, reusable).await;
    let place = Place {
        sandbox,
        output: Some(output),
    };
    if !agent.registry.place(&key, place) {
        return;
    }
    let Some(ending) = ending else { return };
    let report = &ending.report;
    debug!(outcome = %report.outcome, duration = ?report.duration, peak_memory = report.peak_memory_bytes, "task ended");
    reporter.emit(ending.update(agent.config.max_result_bytes));
}

/// The sandbox a task's files are fetched into before it starts (STARTING is sent first);
/// `None` when it fetches nothing, and its sandbox is chosen when it starts.
async fn fetch_sandbox(
    agent: &Agent,
    plan: &FetchPlan,
    reporter: &mut Reporter<'_>,
) -> Result<Option<PathBuf>, Error> {
    if plan.fetches.is_empty() {
        return Ok(None);
    }
    reporter.flush();
    match agent.sandboxes.take_waiting() {
        Some(sandbox) => Ok(Some(sandbox)),
        None => agent.sandboxes.create().await.map(Some),
    }
}

/// Books the sandbox of a task that ended before it started, so what was fetched stays
/// readable with the task's other files (an empty one goes back to the pool).
async fn keep_fetched(agent: &Agent, key: &TaskKey, sandbox: PathBuf) {
    let sandbox = agent.sandboxes.settle(sandbox, key, true).await;
    let place = Place {
        sandbox,
        output: None,
    };
    agent.registry.place(key, place);
}

/// What the runner starts: the task's spec, and for a wasi:http service where it listens.
struct Launch {
    spec: TaskSpec,
    service: ServiceLaunch,
}

/// How a wasi:http service is served (ignored for other programs).
struct ServiceLaunch {
    /// The task's ports; the service is served on the first.
    ports: Vec<u16>,
    /// Instances at once, each holding one of the agent's slots.
    max_concurrency: u32,
}

/// Launches the task in a sandbox directory (the one its files were fetched into, if any)
/// with its output held in memory, and books where its output is. `None` (with the task's update sent) when it cannot start.
async fn start(
    agent: &Agent,
    key: &TaskKey,
    program: &Program,
    launch: Launch,
    fetched_into: Option<PathBuf>,
    reporter: &mut Reporter<'_>,
) -> Option<(Instance, PathBuf, OutputMemory)> {
    let sandbox = match fetched_into.or_else(|| agent.sandboxes.take_waiting()) {
        Some(sandbox) => Ok(sandbox),
        None => {
            reporter.flush();
            agent.sandboxes.create().await
        }
    };
    let sandbox = match sandbox {
        Ok(sandbox) => sandbox,
        Err(err) => {
            error!(err = %err, "cannot make a sandbox directory");
            reporter.emit(Update::from_error(&err));
            return None;
        }
    };
    let output = OutputMemory::new(agent.config.output_memory_bytes);
    let mut spec = launch.spec;
    spec.sandbox_dir.clone_from(&sandbox);
    spec.output.memory = Some(output.clone());
    let started = match program.kind() {
        ProgramKind::HttpService => serve(agent, program, spec, launch.service)
            .await
            .map(Instance::Service),
        ProgramKind::Command | ProgramKind::Executor => agent
            .executor
            .launch_inline(program, spec)
            .map(Instance::Task)
            .map_err(Error::from),
    };
    match started {
        Ok(instance) => {
            let place = Place {
                sandbox: Some(sandbox.clone()),
                output: Some(output.clone()),
            };
            agent.registry.place(key, place);
            Some((instance, sandbox, output))
        }
        Err(err) => {
            error!(err = %err, "cannot launch the task");
            agent.sandboxes.settle(sandbox, key, true).await;
            reporter.emit(Update::from_error(&err));
            None
        }
    }
}

/// Binds the service's first port on the agent's task address and serves it there.
async fn serve(
    agent: &Agent,
    program: &Program,
    spec: TaskSpec,
    service: ServiceLaunch,
) -> Result<RunningService, Error> {
    let Some(&port) = service.ports.first() else {
        return Err(Error::InvalidTask(
            "a wasi:http service needs a port to listen on: give the task one from the \
             offer's `ports`"
                .into(),
        ));
    };
    let addr = SocketAddr::new(agent.task_ip, port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|err| Error::PortUnavailable {
            addr,
            reason: err.to_string(),
        })?;
    let config = ServiceConfig {
        max_concurrency: service.max_concurrency,
        ..ServiceConfig::default()
    };
    Ok(agent.executor.serve(program, spec, listener, config)?)
}

/// A task's running instance: a command or executor, or a wasi:http service.
enum Instance {
    Task(RunningTask),
    Service(RunningService),
}

impl Instance {
    fn kill_handle(&self) -> KillHandle {
        match self {
            Instance::Task(task) => task.kill_handle(),
            Instance::Service(service) => service.kill_handle(),
        }
    }

    fn cpu_clock(&self) -> CpuClock {
        match self {
            Instance::Task(task) => task.cpu_clock(),
            Instance::Service(service) => service.cpu_clock(),
        }
    }

    /// Where framework messages go; a service takes none.
    fn messages(&self) -> Option<MessageSender> {
        match self {
            Instance::Task(task) => Some(task.messages_to_guest()),
            Instance::Service(_) => None,
        }
    }

    /// The guest's events (a service's log lines go to its output files).
    fn take_events(&mut self) -> Option<GuestEvents> {
        match self {
            Instance::Task(task) => Some(std::mem::take(task.events())),
            Instance::Service(_) => None,
        }
    }

    async fn wait(self) -> Report {
        match self {
            Instance::Task(task) => task.wait().await,
            Instance::Service(service) => service.wait().await,
        }
    }
}

/// Makes the running task reachable for kills and messages, and follows it to its end.
/// `None` when the task was dropped from the books meanwhile (nothing is to be reported).
async fn supervise(
    agent: &Agent,
    key: &TaskKey,
    mut running: Instance,
    watch: Watch,
    reporter: &mut Reporter<'_>,
) -> Option<Ending> {
    let (kills, kill_requests) = tokio::sync::watch::channel(None);
    let (suspends, suspend_requests) = tokio::sync::watch::channel(None);
    let control = ExecutorControl {
        kills,
        suspends,
        messages: running.messages(),
        cpu: running.cpu_clock(),
    };
    let instance = running.kill_handle();
    match agent.registry.attach(key, Box::new(control)) {
        Attach::Attached => reporter.emit(Update::running("")),
        // Killed while it was being fetched: straight to TASK_KILLED, never RUNNING.
        Attach::KillRequested => {
            reporter.flush();
            instance.kill();
        }
        Attach::Gone => {
            instance.kill();
            running.wait().await;
            return None;
        }
    }
    // RUNNING may have been committed in place: let the status sender it woke on this
    // worker send it before the guest runs on.
    tokio::task::yield_now().await;
    let events = running.take_events();
    let follower = Follower {
        agent,
        key,
        instance,
        watch,
        healthy: None,
        unhealthy: None,
        killed_for: Reason::Unspecified,
        stopping: false,
        status: GuestStatus::default(),
    };
    let requests = Requests {
        kills: kill_requests,
        suspends: suspend_requests,
    };
    Some(follower.follow(running.wait(), events, requests).await)
}

/// What the runner watches while the task runs, besides the task itself.
pub(crate) struct Watch {
    /// The task's health check, validated, and the address its ports are on.
    health: Option<(HealthPolicy, IpAddr)>,
    /// The framework wants TASK_KILLING when a kill begins.
    killing_state: bool,
    /// The grace period a health check's kill gives the task (its kill policy's).
    grace: Duration,
}

/// How a task ended: its report, and what the runner adds to the terminal update.
struct Ending {
    report: Report,
    /// Set when the health check killed the task.
    unhealthy: Option<String>,
    /// The master's reason for killing it, if it gave one.
    killed_for: Reason,
    healthy: Option<bool>,
}

impl Ending {
    fn update(self, max_result_bytes: u64) -> Update {
        let update = Update::from_report(self.report, max_result_bytes);
        match self.unhealthy {
            Some(message) if update.state == TaskState::TaskKilled => update.unhealthy(message),
            _ if update.state == TaskState::TaskKilled
                && self.killed_for != Reason::Unspecified =>
            {
                update.killed_for(self.killed_for).with_health(self.healthy)
            }
            _ => update.with_health(self.healthy),
        }
    }
}

/// Follows one running task: relays its events, runs its health check, and stops it when a
/// kill comes or the check fails.
struct Follower<'a> {
    agent: &'a Agent,
    key: &'a TaskKey,
    instance: KillHandle,
    watch: Watch,
    healthy: Option<bool>,
    unhealthy: Option<String>,
    /// Why the master killed the task, when it said (REASON_AGENT_DRAINING).
    killed_for: Reason,
    stopping: bool,
    status: GuestStatus,
}

/// The guest's `set_status` texts on their way out as RUNNING updates: at most one is
/// unacknowledged at a time. While it waits, a newer text replaces the one held back, so a
/// guest that calls `set_status` in a loop costs one checkpoint write and one relay per
/// acknowledgement round trip, not one per call; the latest text still goes out.
#[derive(Default)]
struct GuestStatus {
    /// The text of the last update sent.
    shown: String,
    /// The newest text, waiting for the sent one's acknowledgement.
    held: Option<String>,
    /// Whether the last update sent still waits for its acknowledgement.
    awaiting_ack: bool,
}

impl Follower<'_> {
    /// Relays the guest's events until it ends, then those it left behind.
    async fn follow(
        mut self,
        wait: impl Future<Output = Report>,
        mut events: Option<GuestEvents>,
        requests: Requests,
    ) -> Ending {
        let Requests {
            kills: mut kill_requests,
            suspends: mut suspend_requests,
        } = requests;
        let mut suspends_open = true;
        let mut wait = pin!(wait);
        let (mut verdicts, _checker) = match self.watch.health.take() {
            Some((policy, host)) => {
                let (sender, verdicts) = mpsc::channel(4);
                let checker = health::watch(policy, host, Instant::now(), sender);
                (
                    Some(verdicts),
                    Some(AbortOnDrop(tokio::spawn(checker.in_current_span()))),
                )
            }
            None => (None, None),
        };
        let mut kills_open = true;
        // Gone only when the master dropped the task: then nothing is sent anyway.
        let acked = self.agent.registry.ack_signal(self.key);
        loop {
            tokio::select! {
                biased;
                report = &mut wait => {
                    // What the guest emitted before it ended: messages and logs, and the
                    // latest status text, which goes out before the terminal update.
                    while let Some(event) = events.as_mut().and_then(GuestEvents::try_recv) {
                        self.relay(event, false);
                    }
                    if let Some(text) = self.status.held.take() {
                        self.show(text, false);
                    }
                    return Ending {
                        report,
                        unhealthy: self.unhealthy,
                        killed_for: self.killed_for,
                        healthy: self.healthy,
                    };
                }
                () = next_ack(acked.as_deref()), if self.status.awaiting_ack => {
                    self.status.awaiting_ack = false;
                    if let Some(text) = self.status.held.take() {
                        self.show(text, true);
                    }
                }
                changed = kill_requests.changed(), if kills_open => match changed {
                    Ok(()) => {
                        let order = *kill_requests.borrow_and_update();
                        if let Some((grace, reason)) = order {
                            if self.killed_for == Reason::Unspecified {
                                self.killed_for = reason;
                            }
                            self.stop(grace);
                        }
                    }
                    // The registry dropped the task's control: no more kills will come.
                    Err(_) => kills_open = false,
                },
                changed = suspend_requests.changed(), if suspends_open => match changed {
                    Ok(()) => {
                        let order = suspend_requests.borrow_and_update().clone();
                        if let Some((suspended, message)) = order {
                            self.suspend(suspended, message);
                        }
                    }
                    Err(_) => suspends_open = false,
                },
                verdict = next_verdict(&mut verdicts) => match verdict {
                    Some(Verdict::Report { healthy, message }) => {
                        self.healthy = Some(healthy);
                        self.agent.emit(self.key, Update::health(healthy, message));
                    }
                    Some(Verdict::Kill { message }) => {
                        warn!(%message, "killing an unhealthy task");
                        self.healthy = Some(false);
                        self.unhealthy = Some(message);
                        verdicts = None;
                        self.stop(self.watch.grace);
                    }
                    None => verdicts = None,
                },
                event = next_event(&mut events) => match event {
                    Some(event) => self.relay(event, true),
                    None => events = None,
                },
            }
        }
    }

    /// Suspends or resumes the instance, and says so in a RUNNING update when it changed.
    fn suspend(&mut self, suspended: bool, message: String) {
        if self.stopping {
            return;
        }
        let changed = if suspended {
            self.instance.suspend()
        } else {
            self.instance.resume()
        };
        if changed {
            info!(suspended, %message, "suspension changed");
            self.agent.emit(
                self.key,
                Update::suspension(suspended, message).with_health(self.healthy),
            );
        }
    }

    /// Begins stopping the task (once): TASK_KILLING to a framework that wants it, then the
    /// instance is told to stop within `grace`.
    fn stop(&mut self, grace: Duration) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        if self.watch.killing_state {
            self.agent
                .emit(self.key, Update::killing(grace).with_health(self.healthy));
        }
        // A service finishes what it serves within the grace (running again if it was
        // suspended); a command stops at once.
        self.instance.resume();
        self.instance.kill_within(grace);
    }

    /// Passes on one guest event. A status goes out at once only while the task runs
    /// (`running`) and no earlier one waits for its acknowledgement; else it is held.
    fn relay(&mut self, event: GuestEvent, running: bool) {
        match event {
            GuestEvent::Status(text) => {
                if running && !self.status.awaiting_ack {
                    self.show(text, true);
                } else {
                    self.status.held = Some(text);
                }
            }
            GuestEvent::Message(data) => {
                self.agent.relay.send(
                    self.key.framework_id.clone(),
                    self.key.task_id.clone(),
                    data,
                );
            }
            // Here, inside the task's span: the executor leaves guest log lines to its reader.
            GuestEvent::Log { level, message } => log_guest_line(level, &message),
        }
    }
}

impl Follower<'_> {
    /// Sends `text` as the task's RUNNING update, unless it is what was shown last or the
    /// task is stopping. `watched`: the next one waits for its acknowledgement.
    fn show(&mut self, text: String, watched: bool) {
        if text == self.status.shown || self.stopping {
            return;
        }
        self.status.shown.clone_from(&text);
        let update = Update::running(text).with_health(self.healthy);
        if watched {
            self.status.awaiting_ack = true;
            self.agent.emit_watched(self.key, update);
        } else {
            self.agent.emit(self.key, update);
        }
    }
}

/// The acknowledgement the runner waits for; pending forever without a signal.
async fn next_ack(acked: Option<&Notify>) {
    match acked {
        Some(acked) => acked.notified().await,
        None => std::future::pending().await,
    }
}

/// The guest's next event; `None` once it sends no more, pending forever when it has none.
async fn next_event(events: &mut Option<GuestEvents>) -> Option<GuestEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

/// The next verdict of a health check; pending forever when there is none.
async fn next_verdict(verdicts: &mut Option<mpsc::Receiver<Verdict>>) -> Option<Verdict> {
    match verdicts {
        Some(verdicts) => verdicts.recv().await,
        None => std::future::pending().await,
    }
}

/// Aborts the spawned task when dropped: the health check ends with its task.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a task runs: an uploaded component (`digest`), or `plan.program` among the files
/// `plan` fetches.
struct Executable {
    digest: String,
    plan: FetchPlan,
}

/// The executor's task spec, what it runs and what to watch while it runs, checked before
/// anything is fetched. Its sandbox directory is chosen when the task starts (or when its
/// files are fetched).
fn spec_for(
    agent: &Agent,
    mut task: TaskInfo,
    killing_state: bool,
) -> Result<(Launch, Executable, Watch), Error> {
    let executable = match task.executor.as_mut() {
        Some(executor) => Executable {
            plan: fetch::plan(executor).map_err(|why| Error::InvalidTask(why.0))?,
            digest: std::mem::take(&mut executor.digest),
        },
        None => Executable {
            digest: String::new(),
            plan: FetchPlan::default(),
        },
    };
    let health = task
        .health_check
        .as_ref()
        .map(|check| HealthPolicy::from_proto(check, &task_ports(&task)))
        .transpose()?
        .map(|policy| (policy, agent.task_ip));
    let watch = Watch {
        health,
        killing_state,
        grace: kill_grace(task.kill_policy.as_ref()),
    };
    let service = ServiceLaunch {
        ports: task_ports(&task),
        max_concurrency: match task.max_concurrency {
            0 => DEFAULT_SERVICE_CONCURRENCY,
            n => n,
        }
        .min(agent.executor.config().max_concurrent_tasks),
    };
    let mut spec = task_spec(
        task,
        agent.executor.config(),
        agent.config.output_cap_bytes,
        &agent.hostname,
    )?;
    agent.network.apply(&mut spec.network)?;
    // A task may listen on its own ports through wasi:sockets, on the agent's task address
    // or on all addresses (which the ports being the task's makes the same thing).
    let any = match agent.task_ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    for &port in &service.ports {
        for ip in [agent.task_ip, any] {
            spec.network
                .allow
                .push(AllowedAddr::Socket(SocketAddr::new(ip, port)));
        }
    }
    Ok((Launch { spec, service }, executable, watch))
}

/// Instances a wasi:http service runs at once unless its task says otherwise.
const DEFAULT_SERVICE_CONCURRENCY: u32 = 4;

/// The ports a task was given, lowest first (those beyond 65535, which no socket has, are
/// left out).
fn task_ports(task: &TaskInfo) -> Vec<u16> {
    task.resources
        .as_ref()
        .map(|resources| {
            resources
                .ranges(PORTS)
                .values()
                .take(MAX_PORT_ENV)
                .filter_map(|port| u16::try_from(port).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// What the registry asks of a running task's follower: kills, and suspensions or resumes.
struct Requests {
    kills: tokio::sync::watch::Receiver<Option<(Duration, Reason)>>,
    suspends: tokio::sync::watch::Receiver<Option<(bool, String)>>,
}

/// How the registry reaches a task running in the executor: kills go to its runner, which
/// stops the instance after saying TASK_KILLING where the framework wants it; a second kill
/// may only shorten the grace period.
struct ExecutorControl {
    kills: tokio::sync::watch::Sender<Option<(Duration, Reason)>>,
    suspends: tokio::sync::watch::Sender<Option<(bool, String)>>,
    messages: Option<MessageSender>,
    cpu: CpuClock,
}

impl TaskControl for ExecutorControl {
    fn kill(&self, grace: Duration, reason: Reason) {
        self.kills.send_modify(|current| {
            *current = Some(match *current {
                None => (grace, reason),
                // The first reason given stands; a framework's kill gives none.
                Some((now, first)) if first != Reason::Unspecified => (now.min(grace), first),
                Some((now, _)) => (now.min(grace), reason),
            });
        });
    }

    fn deliver(&self, data: Vec<u8>) -> bool {
        self.messages
            .as_ref()
            .is_some_and(|messages| messages.send(data))
    }

    fn suspend(&self, suspended: bool, message: String) {
        self.suspends.send_replace(Some((suspended, message)));
    }

    fn cpu_time(&self) -> Duration {
        self.cpu.used()
    }
}
