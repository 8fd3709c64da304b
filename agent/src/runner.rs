//! One task's life on this agent: STARTING, fetch and load the executor, launch it in the
//! sandbox with the granted limits, RUNNING (again with each new status text), relay its
//! messages and log lines, then exactly one terminal update from its report.

use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::Notify;
use tracing::{Instrument, debug, error, info_span, warn};
use wasmesos_proto::{FrameworkInfo, TaskInfo};
use wasmesos_wasm_executor::{
    GuestEvent, GuestEvents, KillHandle, MessageSender, OutputMemory, Program, Report, RunningTask,
    TaskSpec, TaskStream, log_guest_line,
};

use crate::Error;
use crate::agent::Agent;
use crate::ids::check_path_id;
use crate::registry::{Attach, Place, TaskControl, TaskKey};
use crate::reporter::Reporter;
use crate::spec::task_spec;
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
    let runner = run(Arc::clone(agent), key, task, ids, kill_signal);
    tokio::spawn(runner.instrument(span));
}

async fn run(
    agent: Arc<Agent>,
    key: TaskKey,
    task: TaskInfo,
    ids: Result<(), Error>,
    kill_signal: Arc<Notify>,
) {
    let mut reporter = Reporter::new(&agent, &key);
    let (spec, digest) = match ids.and_then(|()| spec_for(&agent, task)) {
        Ok(spec) => spec,
        Err(err) => {
            warn!(err = %err, "refusing an invalid task");
            reporter.emit(Update::from_error(&err));
            return;
        }
    };
    reporter.hold(Update::starting());
    // The executor's pool has a fixed number of instance slots: a task waits for one (still
    // STARTING) rather than fail when the agent is full.
    let mut ready = pin!(async {
        let program = agent.artifacts.program(&digest).await?;
        let slot = Arc::clone(&agent.slots)
            .acquire_owned()
            .await
            .map_err(|_| Error::Internal("the task slots are closed".into()))?;
        Ok::<_, Error>((program, slot))
    });
    let ready = match ready.as_mut().now_or_never() {
        Some(ready) => ready,
        None => {
            reporter.flush();
            tokio::select! {
                biased;
                () = kill_signal.notified() => {
                    reporter.emit(Update::killed_before_start());
                    return;
                }
                ready = ready => ready,
            }
        }
    };
    let (program, _slot) = match ready {
        Ok(ready) => ready,
        Err(err) => {
            warn!(%digest, err = %err, "cannot load the executor");
            reporter.emit(Update::from_error(&err));
            return;
        }
    };
    let started = start(&agent, &key, &program, spec, &mut reporter).await;
    let Some((running, sandbox, output)) = started else {
        return;
    };
    let report = supervise(&agent, &key, running, &mut reporter).await;
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
    let Some(report) = report else { return };
    debug!(outcome = %report.outcome, duration = ?report.duration, peak_memory = report.peak_memory_bytes, "task ended");
    reporter.emit(Update::from_report(report, agent.config.max_result_bytes));
}

/// Launches the task in a sandbox directory with its output held in memory, and books where
/// its output is. `None` (with the task's update sent) when it cannot start.
async fn start(
    agent: &Agent,
    key: &TaskKey,
    program: &Program,
    mut spec: TaskSpec,
    reporter: &mut Reporter<'_>,
) -> Option<(RunningTask, PathBuf, OutputMemory)> {
    let sandbox = match agent.sandboxes.take_waiting() {
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
    spec.sandbox_dir.clone_from(&sandbox);
    spec.output.memory = Some(output.clone());
    match agent.executor.launch_inline(program, spec) {
        Ok(running) => {
            let place = Place {
                sandbox: Some(sandbox.clone()),
                output: Some(output.clone()),
            };
            agent.registry.place(key, place);
            Some((running, sandbox, output))
        }
        Err(err) => {
            let err = Error::from(err);
            error!(err = %err, "cannot launch the task");
            agent.sandboxes.settle(sandbox, key, true).await;
            reporter.emit(Update::from_error(&err));
            None
        }
    }
}

/// Makes the running task reachable for kills and messages, and follows it to its end.
/// `None` when the task was dropped from the books meanwhile (nothing is to be reported).
async fn supervise(
    agent: &Agent,
    key: &TaskKey,
    mut running: RunningTask,
    reporter: &mut Reporter<'_>,
) -> Option<Report> {
    let control = ExecutorControl {
        kill: running.kill_handle(),
        messages: running.messages_to_guest(),
    };
    match agent.registry.attach(key, Box::new(control)) {
        Attach::Attached => reporter.emit(Update::running("")),
        // Killed while it was being fetched: straight to TASK_KILLED, never RUNNING.
        Attach::KillRequested => {
            reporter.flush();
            running.kill_handle().kill();
        }
        Attach::Gone(control) => {
            control.kill();
            running.wait().await;
            return None;
        }
    }
    let events = std::mem::take(running.events());
    Some(follow(agent, key, running.wait(), events).await)
}

/// The executor's task spec and the executor digest, checked before anything is fetched.
/// Its sandbox directory is chosen when the task starts.
fn spec_for(agent: &Agent, mut task: TaskInfo) -> Result<(TaskSpec, String), Error> {
    let digest = task
        .executor
        .as_mut()
        .map(|executor| std::mem::take(&mut executor.digest))
        .unwrap_or_default();
    let spec = task_spec(
        task,
        agent.executor.config(),
        agent.config.output_cap_bytes,
        &agent.hostname,
    )?;
    Ok((spec, digest))
}

/// Relays the guest's events until it ends, then those it left behind.
async fn follow(
    agent: &Agent,
    key: &TaskKey,
    wait: impl Future<Output = Report>,
    mut events: GuestEvents,
) -> Report {
    let mut wait = pin!(wait);
    let mut shown_status = String::new();
    loop {
        tokio::select! {
            biased;
            report = &mut wait => {
                // Status text after the end is moot, but messages and logs still count.
                while let Some(event) = events.try_recv() {
                    relay(agent, key, event, None);
                }
                return report;
            }
            event = events.recv() => match event {
                Some(event) => relay(agent, key, event, Some(&mut shown_status)),
                None => return wait.await,
            },
        }
    }
}

fn relay(agent: &Agent, key: &TaskKey, event: GuestEvent, shown_status: Option<&mut String>) {
    match event {
        GuestEvent::Status(text) => {
            if let Some(shown) = shown_status
                && *shown != text
            {
                shown.clone_from(&text);
                agent.emit(key, Update::running(text));
            }
        }
        GuestEvent::Message(data) => {
            agent
                .relay
                .send(key.framework_id.clone(), key.task_id.clone(), data);
        }
        // Here, inside the task's span: the executor leaves guest log lines to its reader.
        GuestEvent::Log { level, message } => log_guest_line(level, &message),
    }
}

/// How the registry reaches a task running in the executor.
struct ExecutorControl {
    kill: KillHandle,
    messages: MessageSender,
}

impl TaskControl for ExecutorControl {
    fn kill(&self) {
        self.kill.kill();
    }

    fn deliver(&self, data: Vec<u8>) -> bool {
        self.messages.send(data)
    }
}
