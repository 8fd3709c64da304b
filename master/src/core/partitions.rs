//! Partitions, as Mesos 1.11: an agent that misses its pings is marked *unreachable*, not
//! removed. Its offers are rescinded and its resources leave the allocator; the tasks of
//! PARTITION_AWARE frameworks become TASK_UNREACHABLE (not terminal), the others TASK_LOST.
//! The registry records the agent as unreachable, so a new master keeps waiting for it.
//!
//! An unreachable agent that re-registers within `agent_unreachable_timeout` is admitted
//! again under its id: the tasks it reports run there again, and partition-aware frameworks
//! get each one's state from the master (REASON_AGENT_REREGISTERED). Tasks whose framework was
//! told TASK_LOST are killed on it, so nothing runs that its framework believes ended. Past the
//! timeout the agent is removed (TASK_GONE), and an operator may mark any agent gone
//! (TASK_GONE_BY_OPERATOR); either way a later re-registration is refused with `shutdown`.

use std::collections::HashSet;

use wasmesos_allocator::{AgentId, FrameworkId, Resources};
use wasmesos_proto::v1::{
    AgentInfo, FrameworkCapability, Reason, TaskReport, TaskState, agent_command, event,
};

use super::frameworks::Framework;
use super::{Core, Time};
use crate::Error;
use crate::registry::{AgentRecord, Op};

/// An agent that missed its pings and may still come back.
pub(super) struct UnreachableAgent {
    pub(super) info: AgentInfo,
    /// Unix seconds of its first registration.
    pub(super) registered_at: f64,
    /// Unix seconds since which it is unreachable.
    pub(super) unreachable_at: f64,
    /// Tasks of partition-aware frameworks left TASK_UNREACHABLE there.
    pub(super) tasks: HashSet<(FrameworkId, String)>,
    /// Tasks their framework asked to kill while the agent was away: killed when it returns.
    pub(super) kills: HashSet<(FrameworkId, String)>,
}

/// Why an agent leaves the registered set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Departure {
    /// It missed its pings: it may come back.
    Unreachable,
    /// An operator marked it gone: it must never come back with its tasks.
    Gone,
}

impl Framework {
    /// Whether the framework asked for TASK_UNREACHABLE and TASK_GONE* (PARTITION_AWARE).
    pub(super) fn partition_aware(&self) -> bool {
        self.info
            .capabilities
            .contains(&(FrameworkCapability::PartitionAware as i32))
    }
}

impl Core {
    /// Whether an agent is unreachable (missed its pings, not back yet, not removed).
    pub(super) fn is_unreachable(&self, agent_id: &AgentId) -> bool {
        self.unreachable.contains_key(agent_id)
    }

    /// Marks every registered agent silent for the ping timeout unreachable.
    pub(super) fn mark_silent_agents_unreachable(&mut self, now: Time) {
        let timeout = self.config.agent_ping_timeout;
        let silent: Vec<AgentId> = self
            .agents
            .iter()
            .filter(|(_, agent)| now.saturating_sub(agent.last_seen) >= timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in silent {
            let why = format!("no heartbeat for {timeout:?}");
            self.depart(&id, Departure::Unreachable, &why, now);
        }
    }

    /// A registered agent leaves: its offers are rescinded, every connected framework gets a
    /// FAILURE event, then each of its tasks gets the state `departure` gives it, the
    /// allocator forgets the agent and its stream ends. An agent marked gone is also told to
    /// shut its tasks down.
    pub(super) fn depart(&mut self, id: &AgentId, departure: Departure, why: &str, now: Time) {
        let Some(agent) = self.agents.remove(id) else {
            return;
        };
        tracing::warn!(agent_id = %id, ?departure, why, "agent left");
        self.rescind_offers_on(id);
        self.maintenance_agent_left(id, now);
        // FAILURE first: the proto promises the task updates follow it.
        for (framework_id, framework) in &self.frameworks {
            if framework.connected {
                let failure = event::Failure {
                    agent_id: id.to_string(),
                };
                self.outbox
                    .event(framework_id.as_str(), event::Event::Failure(failure));
            }
        }
        let timestamp = self.unix(now);
        let message = match departure {
            Departure::Unreachable => format!("agent {id} is unreachable: {why}"),
            Departure::Gone => format!("agent {id} was marked gone: {why}"),
        };
        let mut left_unreachable = HashSet::new();
        for key in &agent.tasks {
            if self.task_departs(key, departure, &message, timestamp) {
                left_unreachable.insert(key.clone());
            }
        }
        if let Err(err) = self.allocator.remove_agent(id) {
            tracing::error!(agent_id = %id, %err, "allocator did not know the agent");
        }
        self.outbox.close_agents.push(id.to_string());
        match departure {
            Departure::Unreachable => {
                let away = UnreachableAgent {
                    info: agent.info,
                    registered_at: agent.registered_at,
                    unreachable_at: timestamp,
                    tasks: left_unreachable,
                    kills: HashSet::new(),
                };
                self.persist_unreachable(&away);
                self.unreachable.insert(id.clone(), away);
            }
            Departure::Gone => {
                let shutdown = agent_command::Shutdown { message };
                self.outbox
                    .command(id.as_str(), agent_command::Command::Shutdown(shutdown));
                self.record_removed(id, agent.info, agent.registered_at, true, timestamp);
            }
        }
    }

    /// One task of a departing agent: TASK_UNREACHABLE (kept, returns true) or
    /// TASK_GONE_BY_OPERATOR for a partition-aware framework, TASK_LOST for any other.
    fn task_departs(
        &mut self,
        (framework_id, task_id): &(FrameworkId, String),
        departure: Departure,
        message: &str,
        timestamp: f64,
    ) -> bool {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return false;
        };
        let aware = framework.partition_aware();
        let Some(task) = framework.tasks.get_mut(task_id) else {
            return false;
        };
        if task.is_terminal() {
            return false;
        }
        let (state, reason) = match (departure, aware) {
            (Departure::Unreachable, true) => (TaskState::TaskUnreachable, Reason::AgentLost),
            (Departure::Gone, true) => (
                TaskState::TaskGoneByOperator,
                Reason::AgentRemovedByOperator,
            ),
            (_, false) => (TaskState::TaskLost, Reason::AgentLost),
        };
        let mut status = task.set_master_status(state, reason, message.to_string(), timestamp);
        if departure == Departure::Unreachable {
            status.unreachable_time = Some(timestamp);
            task.status.unreachable_time = Some(timestamp);
        }
        // The allocator drops the agent's holdings wholesale.
        task.freed = true;
        if framework.connected {
            self.outbox.update(framework_id.as_str(), status);
        }
        self.persist_task(framework_id, task_id);
        if state == TaskState::TaskUnreachable {
            return true;
        }
        self.remember_completed(framework_id, task_id);
        false
    }

    /// An unreachable agent re-registers: it is admitted again under its id, the tasks it
    /// reports run there again (partition-aware frameworks are told their state), its
    /// unreachable tasks it does not report are TASK_GONE, and kills asked for while it was
    /// away are sent.
    pub(super) fn readmit_unreachable(
        &mut self,
        info: AgentInfo,
        total: Resources,
        reports: &[TaskReport],
        now: Time,
    ) -> Result<(), Error> {
        let id = AgentId::from(info.id.as_str());
        let Some(away) = self.unreachable.remove(&id) else {
            return Ok(());
        };
        if let Err(err) = self.add_agent(info, total, now, away.registered_at) {
            self.unreachable.insert(id, away);
            return Err(err);
        }
        let mut back = HashSet::new();
        for report in reports {
            if let Some(key) = self.adopt(&id, report, now) {
                back.insert(key);
            }
        }
        let timestamp = self.unix(now);
        let message = format!("agent {id} re-registered after it was unreachable");
        for key in away.tasks.intersection(&back) {
            self.tell_task_is_back(key, &message, timestamp);
        }
        for (framework_id, task_id) in away.tasks.difference(&back) {
            self.end_task_by_master(
                framework_id,
                task_id,
                (TaskState::TaskGone, Reason::AgentRestarted),
                format!("agent {id} came back without this task"),
                timestamp,
            );
        }
        for (framework_id, task_id) in away.kills.intersection(&back) {
            let kill = agent_command::Kill {
                framework_id: framework_id.to_string(),
                task_id: task_id.clone(),
                kill_policy: None,
                ..Default::default()
            };
            self.outbox
                .command(id.as_str(), agent_command::Command::Kill(kill));
        }
        let unreachable_for = timestamp - away.unreachable_at;
        tracing::info!(agent_id = %id, tasks = back.len(), unreachable_for, "unreachable agent re-registered");
        Ok(())
    }

    /// Tells a partition-aware framework the state its formerly unreachable task is in now,
    /// as Mesos does (SOURCE_MASTER, REASON_AGENT_REREGISTERED, nothing to acknowledge).
    /// A task the agent reported ended stays UNREACHABLE here: the agent resends its end.
    fn tell_task_is_back(
        &mut self,
        (framework_id, task_id): &(FrameworkId, String),
        message: &str,
        timestamp: f64,
    ) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        let Some(task) = framework.tasks.get_mut(task_id) else {
            return;
        };
        let state = task.state();
        if state == TaskState::TaskUnreachable || state.is_terminal() {
            return;
        }
        task.status.unreachable_time = None;
        let mut update = task.status.clone();
        update.uuid = Vec::new();
        update.source = wasmesos_proto::v1::StatusSource::SourceMaster as i32;
        update.reason = Reason::AgentReregistered as i32;
        update.message = message.to_string();
        update.timestamp = timestamp;
        if framework.connected {
            self.outbox.update(framework_id.as_str(), update);
        }
    }

    /// Remembers a kill asked for a task on an unreachable agent, to send when it returns.
    pub(super) fn kill_when_back(
        &mut self,
        agent_id: &AgentId,
        framework_id: &FrameworkId,
        task_id: &str,
    ) {
        if let Some(away) = self.unreachable.get_mut(agent_id) {
            away.kills
                .insert((framework_id.clone(), task_id.to_string()));
        }
    }

    /// Unreachable agents not back within `agent_unreachable_timeout` are removed: the
    /// tasks left there are TASK_GONE, and the agent is refused if it ever returns.
    pub(super) fn expire_unreachable(&mut self, now: Time) {
        let timeout = self.config.agent_unreachable_timeout;
        let timestamp = self.unix(now);
        let expired: Vec<AgentId> = self
            .unreachable
            .iter()
            .filter(|(_, away)| timestamp - away.unreachable_at >= timeout.as_secs_f64())
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            let Some(away) = self.unreachable.remove(&id) else {
                continue;
            };
            tracing::warn!(agent_id = %id, "unreachable agent did not come back in time: removed");
            let message = format!("agent {id} was unreachable for longer than {timeout:?}");
            for (framework_id, task_id) in &away.tasks {
                self.end_task_by_master(
                    framework_id,
                    task_id,
                    (TaskState::TaskGone, Reason::AgentLost),
                    message.clone(),
                    timestamp,
                );
            }
            self.record_removed(&id, away.info, away.registered_at, false, timestamp);
        }
    }

    /// MARK_AGENT_GONE: an operator asserts that an agent, registered or unreachable, is
    /// down for good. Its tasks are TASK_GONE_BY_OPERATOR (TASK_LOST for frameworks that are
    /// not partition-aware) and it is refused if it ever re-registers. Marking a removed agent
    /// gone again changes nothing; an agent this master never knew is `NotFound`.
    pub fn mark_agent_gone(&mut self, agent_id: &str, now: Time) -> Result<(), Error> {
        let id = AgentId::from(agent_id);
        let why = "an operator asserted it is down";
        if self.agents.contains_key(&id) {
            self.depart(&id, Departure::Gone, why, now);
        } else if let Some(away) = self.unreachable.remove(&id) {
            let timestamp = self.unix(now);
            let message = format!("agent {id} was marked gone: {why}");
            for (framework_id, task_id) in &away.tasks {
                let aware = self
                    .frameworks
                    .get(framework_id)
                    .is_some_and(Framework::partition_aware);
                let ending = if aware {
                    (
                        TaskState::TaskGoneByOperator,
                        Reason::AgentRemovedByOperator,
                    )
                } else {
                    (TaskState::TaskLost, Reason::AgentLost)
                };
                self.end_task_by_master(framework_id, task_id, ending, message.clone(), timestamp);
            }
            self.record_removed(&id, away.info, away.registered_at, true, timestamp);
        } else if self.removed_agents.contains_key(&id) {
            // Already removed (gone, or timed out): nothing more to do, as Mesos answers.
            return Ok(());
        } else {
            return Err(Error::NotFound(format!("no agent {id}")));
        }
        self.request_allocation(now);
        tracing::warn!(agent_id = %id, "agent marked gone");
        Ok(())
    }

    /// Records an agent removed for good (refused if it comes back).
    fn record_removed(
        &mut self,
        id: &AgentId,
        info: AgentInfo,
        registered_at: f64,
        gone: bool,
        timestamp: f64,
    ) {
        self.registry_ops.push(Op::PutAgent(AgentRecord {
            info: Some(info),
            removed: true,
            registered_at,
            removed_at: timestamp,
            unreachable_at: 0.0,
            gone,
            ..AgentRecord::default()
        }));
        self.removed_agents.insert(id.clone(), timestamp);
        // A removed agent is out of service for good: nothing to reactivate or drain.
        self.deactivated.remove(id);
    }

    fn persist_unreachable(&mut self, away: &UnreachableAgent) {
        self.registry_ops
            .push(Op::PutAgent(unreachable_record(away)));
    }

    /// The registry record of an unreachable agent.
    pub(super) fn unreachable_record(&self, id: &AgentId) -> Option<AgentRecord> {
        self.unreachable.get(id).map(unreachable_record)
    }

    /// An agent the registry holds as unreachable, back in the core after a restart (its
    /// tasks join it as the task records load).
    pub(super) fn recover_unreachable(&mut self, record: AgentRecord) {
        let id = AgentId::from(record.id());
        let away = UnreachableAgent {
            info: record.info.unwrap_or_default(),
            registered_at: record.registered_at,
            unreachable_at: record.unreachable_at,
            tasks: HashSet::new(),
            kills: HashSet::new(),
        };
        self.unreachable.insert(id, away);
    }
}

fn unreachable_record(away: &UnreachableAgent) -> AgentRecord {
    AgentRecord {
        info: Some(away.info.clone()),
        registered_at: away.registered_at,
        unreachable_at: away.unreachable_at,
        ..AgentRecord::default()
    }
}
