//! Agents: registration and re-registration, and liveness (an agent that misses its pings
//! is marked unreachable: `partitions.rs`).

use std::collections::HashSet;

use wasmesos_allocator::{AgentId, FrameworkId, Resources};
use wasmesos_proto::v1::{
    AgentCommand, AgentInfo, Reason, RegisterRequest, TaskReport, TaskState, agent_command,
};

use super::convert::{Amounts, resources_from_proto};
use super::{Core, Time};
use crate::Error;
use crate::error::invalid;

/// One registered agent.
pub(super) struct Agent {
    /// As registered, with its id filled in.
    pub(super) info: AgentInfo,
    pub(super) total: Resources,
    /// Unix seconds.
    pub(super) registered_at: f64,
    pub(super) last_seen: Time,
    /// Whether its command stream is open.
    pub(super) connected: bool,
    /// Its tasks that have not reached a terminal state.
    pub(super) tasks: HashSet<(FrameworkId, String)>,
}

/// The answer to an agent's REGISTER.
#[derive(Clone, Debug, PartialEq)]
pub enum Registration {
    /// Registered (or re-registered) under this id; its stream starts with `registered`.
    Accepted {
        /// The agent's id.
        agent_id: String,
    },
    /// The id is not one this master knows (removed, or from before a restart): the agent
    /// must stop its tasks and register again without an id. Its stream carries these
    /// commands and ends: `registered` echoing the id (every stream starts with it), then
    /// `shutdown` saying why. The master records nothing.
    Refused {
        /// What the stream carries.
        commands: Vec<AgentCommand>,
    },
}

/// The largest AgentInfo the master records (attributes and resources included), so no
/// agent can fail a registry commit (a ZooKeeper znode holds 1 MB).
pub const MAX_AGENT_INFO_BYTES: usize = 256 * 1024;

impl Core {
    /// REGISTER: a new agent gets an id; a known one re-registers with its task reports.
    pub fn register_agent(
        &mut self,
        req: RegisterRequest,
        now: Time,
    ) -> Result<Registration, Error> {
        let mut info = req.agent.ok_or_else(|| invalid("agent", "is required"))?;
        let size = prost::Message::encoded_len(&info);
        if size > MAX_AGENT_INFO_BYTES {
            return Err(invalid(
                "agent",
                format!("is {size} bytes encoded, more than the {MAX_AGENT_INFO_BYTES} allowed"),
            ));
        }
        let total = resources_from_proto(info.resources.as_ref(), Amounts::NonNegative)
            .map_err(|why| invalid("agent.resources", why))?;
        if !total.revocable().is_empty() {
            return Err(invalid(
                "agent.resources",
                "revocable resources are sent with UpdateOversubscribed, not registered",
            ));
        }
        if let Some(refused) = self.refuse_on_down_machine(&info) {
            return refused;
        }
        // Commands queued for the agent's previous stream would arrive before `registered`
        // on the new one: they are dropped; what this registration queues is kept.
        self.outbox.commands.remove(info.id.as_str());
        if info.id.is_empty() {
            info.id = self.new_id('A');
            let registered_at = self.unix(now);
            self.add_agent(info.clone(), total, now, registered_at)?;
        } else if self.agents.contains_key(info.id.as_str()) {
            let reported = req
                .tasks
                .iter()
                .filter_map(|report| {
                    let task = report.task.as_ref()?;
                    Some((
                        FrameworkId::from(report.framework_id.as_str()),
                        task.task_id.clone(),
                    ))
                })
                .collect();
            self.reregister(info.clone(), &reported, now);
        } else if self.is_recovering(&AgentId::from(info.id.as_str())) {
            self.readmit(info.clone(), total, &req.tasks, now)?;
        } else if self.is_unreachable(&AgentId::from(info.id.as_str())) {
            self.readmit_unreachable(info.clone(), total, &req.tasks, now)?;
        } else {
            let why = if self.removed_agents.contains_key(info.id.as_str()) {
                "was removed by this master"
            } else {
                "is unknown to this master (registered before a restart?)"
            };
            let message = format!(
                "agent {} {why}: stop its tasks and register again without an id",
                info.id
            );
            tracing::warn!(agent_id = %info.id, "refused re-registration of an unknown agent");
            let shutdown = agent_command::Shutdown { message };
            let commands = vec![
                self.registered_command(&info.id),
                AgentCommand {
                    command: Some(agent_command::Command::Shutdown(shutdown)),
                },
            ];
            return Ok(Registration::Refused { commands });
        }
        let agent_id = info.id;
        let registered = self.registered_command(&agent_id);
        self.outbox
            .commands
            .entry(agent_id.clone())
            .or_default()
            .insert(0, registered);
        self.shut_down_removed_frameworks(&agent_id, &req.tasks);
        self.continue_drain(&AgentId::from(agent_id.as_str()), now);
        self.refresh_unavailability(&AgentId::from(agent_id.as_str()), now);
        self.request_allocation(now);
        Ok(Registration::Accepted { agent_id })
    }

    /// Tasks an agent reports for frameworks removed while it was away (its
    /// `shutdown_framework` never arrived) must stop too.
    fn shut_down_removed_frameworks(&mut self, agent_id: &str, reports: &[TaskReport]) {
        let mut removed: Vec<&str> = reports
            .iter()
            .map(|report| report.framework_id.as_str())
            .filter(|id| self.removed_frameworks.contains_key(*id))
            .collect();
        removed.sort_unstable();
        removed.dedup();
        for framework_id in removed {
            let shutdown = agent_command::ShutdownFramework {
                framework_id: framework_id.to_string(),
            };
            self.outbox.command(
                agent_id,
                agent_command::Command::ShutdownFramework(shutdown),
            );
        }
    }

    /// The `registered` command that opens every command stream.
    pub(super) fn registered_command(&self, agent_id: &str) -> AgentCommand {
        let registered = agent_command::Registered {
            agent_id: agent_id.to_string(),
            heartbeat_interval_seconds: self.config.agent_heartbeat_interval.as_secs_f64(),
            master: Some(self.master.clone()),
        };
        AgentCommand {
            command: Some(agent_command::Command::Registered(registered)),
        }
    }

    /// Admits an agent (new, or back under its id, first registered at `registered_at`).
    pub(super) fn add_agent(
        &mut self,
        info: AgentInfo,
        total: Resources,
        now: Time,
        registered_at: f64,
    ) -> Result<(), Error> {
        let id = AgentId::from(info.id.as_str());
        self.allocator
            .add_agent(id.clone(), &total)
            .map_err(|err| invalid("agent.resources", err))?;
        tracing::info!(agent_id = %id, resources = %total, "agent registered");
        if self.deactivated.contains_key(&id)
            && let Err(err) = self.allocator.deactivate_agent(&id)
        {
            tracing::error!(agent_id = %id, %err, "allocator did not know the agent");
        }
        let agent = Agent {
            info,
            total,
            registered_at,
            last_seen: now,
            connected: true,
            tasks: HashSet::new(),
        };
        self.persist_agent(&agent);
        self.agents.insert(id, agent);
        Ok(())
    }

    /// A known agent registers again (its stream had ended). Tasks the master launched there
    /// that the agent does not report never reached it: they are LOST.
    fn reregister(
        &mut self,
        info: AgentInfo,
        reported: &HashSet<(FrameworkId, String)>,
        now: Time,
    ) {
        let id = AgentId::from(info.id.as_str());
        let Some(agent) = self.agents.get_mut(&id) else {
            return;
        };
        agent.connected = true;
        agent.last_seen = now;
        agent.info.address = info.address;
        agent.info.hostname = info.hostname;
        let missing: Vec<(FrameworkId, String)> =
            agent.tasks.difference(reported).cloned().collect();
        tracing::info!(agent_id = %id, missing = missing.len(), "agent re-registered");
        let timestamp = self.unix(now);
        for (framework_id, task_id) in missing {
            let Some(framework) = self.frameworks.get_mut(&framework_id) else {
                continue;
            };
            let Some(task) = framework.tasks.get_mut(&task_id) else {
                continue;
            };
            let status = task.set_master_status(
                TaskState::TaskLost,
                Reason::AgentRestarted,
                "the agent re-registered without this task".into(),
                timestamp,
            );
            let (role, resources) = (task.role.clone(), task.resources.clone());
            task.freed = true;
            if framework.connected {
                self.outbox.update(framework_id.as_str(), status);
            }
            self.persist_task(&framework_id, &task_id);
            self.task_ended(&framework_id, &id, &task_id, &role, &resources, now);
        }
    }

    /// HEARTBEAT from an agent.
    pub fn agent_heartbeat(&mut self, agent_id: &str, now: Time) -> Result<(), Error> {
        self.registered(agent_id, now).map(|_| ())
    }

    /// The agent's command stream ended; it stays registered until it re-registers or its
    /// ping timeout passes.
    pub fn agent_disconnected(&mut self, agent_id: &str, _now: Time) {
        if let Some(agent) = self.agents.get_mut(agent_id) {
            agent.connected = false;
            tracing::info!(agent_id, "agent command stream closed");
        }
    }

    /// The id of a registered agent, whose liveness this call refreshes.
    pub(super) fn registered(&mut self, agent_id: &str, now: Time) -> Result<AgentId, Error> {
        if agent_id.is_empty() {
            return Err(invalid("agent_id", "is required"));
        }
        match self.agents.get_mut(agent_id) {
            Some(agent) => {
                agent.last_seen = now;
                Ok(AgentId::from(agent.info.id.as_str()))
            }
            None => Err(Error::NotRegistered(agent_id.to_string())),
        }
    }
}
