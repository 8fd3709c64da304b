//! What the agent does with each command the master streams to it.
//!
//! Handling never blocks the command stream: launches start their own runner, everything
//! else is a registry lookup or a message to a worker. Commands about unknown tasks or
//! frameworks are answered or logged, never an error.

use std::sync::Arc;

use tracing::{debug, info, warn};
use wasmesos_proto::agent_command::{Acknowledge, Command, FrameworkMessage, Kill, Launch};
use wasmesos_proto::{AgentCommand, Reason, StatusSource, TaskState};

use crate::agent::Agent;
use crate::registry::{self, TaskKey};
use crate::runner;
use crate::updates::Update;

/// Whether the command stream goes on after a command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Continue,
    /// The master removed this agent: it has dropped its tasks and must register anew.
    Removed,
}

pub(crate) fn handle(agent: &Arc<Agent>, command: AgentCommand) -> Next {
    match command.command {
        Some(Command::Launch(launch_command)) => launch(agent, launch_command),
        Some(Command::Kill(kill_command)) => kill(agent, kill_command),
        Some(Command::Message(message)) => deliver(agent, message),
        Some(Command::Suspend(suspend)) => {
            let key = TaskKey {
                framework_id: suspend.framework_id,
                task_id: suspend.task_id,
            };
            if !agent
                .registry
                .suspend(&key, suspend.suspended, suspend.message)
            {
                debug!(task_id = %key.task_id, suspended = suspend.suspended, "no running task to suspend or resume");
            }
        }
        Some(Command::Acknowledge(acks)) => acknowledge(agent, acks),
        Some(Command::ShutdownFramework(shutdown)) => {
            let tasks = agent.registry.framework_tasks(&shutdown.framework_id);
            info!(framework_id = %shutdown.framework_id, tasks = tasks.len(), "shutting down a framework's tasks");
            for key in tasks {
                agent.registry.kill(&key, None, Reason::Unspecified);
            }
        }
        Some(Command::Shutdown(shutdown)) => {
            // The checkpoint drops the updates it has not forwarded yet, then the sender's.
            let dropped = agent.registry.abandon_all(|| agent.checkpoint.clear());
            agent.forget_id();
            warn!(message = %shutdown.message, dropped, "the master removed this agent; registering anew");
            return Next::Removed;
        }
        Some(Command::Registered(registered)) => {
            debug!(agent_id = %registered.agent_id, "ignoring a repeated `registered`");
        }
        None => warn!("ignoring an empty agent command"),
    }
    Next::Continue
}

fn launch(agent: &Arc<Agent>, launch: Launch) {
    let framework = launch.framework.unwrap_or_default();
    if crate::ids::check_path_id("framework id", &framework.id).is_ok() {
        agent.checkpoint.framework(&framework);
        agent.registry.add_framework(framework.clone());
    }
    for task in launch.tasks {
        runner::launch(agent, &framework, task);
    }
}

fn kill(agent: &Agent, kill: Kill) {
    let key = TaskKey {
        framework_id: kill.framework_id,
        task_id: kill.task_id,
    };
    let reason = Reason::try_from(kill.reason).unwrap_or(Reason::Unspecified);
    match agent.registry.kill(&key, kill.kill_policy.as_ref(), reason) {
        registry::Kill::Signalled => debug!(task_id = %key.task_id, "kill signalled"),
        registry::Kill::Unacknowledged => {
            agent.status.resend_task(key.framework_id, key.task_id);
        }
        registry::Kill::Completed(mut latest) => {
            latest.uuid.clear();
            agent.status.send(vec![latest]);
        }
        registry::Kill::Unknown => {
            let lost = Update {
                state: TaskState::TaskLost,
                reason: Reason::TaskUnknown,
                message: "this agent has no such task".into(),
                data: Vec::new(),
                exit_code: None,
                source: StatusSource::SourceAgent,
                healthy: None,
                suspended: None,
            };
            agent.answer_once(&key, lost);
        }
    }
}

fn deliver(agent: &Agent, message: FrameworkMessage) {
    let key = TaskKey {
        framework_id: message.framework_id,
        task_id: message.task_id,
    };
    if !agent.registry.deliver(&key, message.data) {
        warn!(framework_id = %key.framework_id, task_id = %key.task_id, "dropping a framework message: the task is not running, or its inbox is full");
    }
}

fn acknowledge(agent: &Agent, acknowledge: Acknowledge) {
    let mut expired = Vec::new();
    for ack in acknowledge.acks {
        let key = TaskKey {
            framework_id: ack.framework_id,
            task_id: ack.task_id,
        };
        expired.extend(agent.registry.acknowledged(&key, &ack.uuid));
        agent.checkpoint.acknowledged(&ack.uuid);
        agent.status.ack(key.framework_id, key.task_id, ack.uuid);
    }
    if !expired.is_empty() {
        agent.sandboxes.expire(expired);
    }
}
