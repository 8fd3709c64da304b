//! Taking an agent out of service, as Mesos 1.11's DEACTIVATE_AGENT, DRAIN_AGENT and
//! REACTIVATE_AGENT.
//!
//! A deactivated agent is offered to no one (its outstanding offers are rescinded) while its
//! tasks keep running. Draining deactivates it and kills every task on it, each with at most
//! the drain's `max_grace_period_seconds` of grace (Mesos's rule: the drain's grace replaces
//! a task's longer or missing one), reported TASK_KILLED with REASON_AGENT_DRAINING. Once no
//! task is left the agent is DRAINED, or marked gone when the drain asked for it. A DRAINED
//! or deactivated agent returns to service by REACTIVATE_AGENT; a DRAINING one cannot.
//!
//! The registry keeps both (`AgentRecord.deactivated` and `drain`), so a new master goes on
//! draining an agent when it re-registers. An unreachable or recovering agent may be
//! deactivated or drained too: its kills go out when it comes back.

use wasmesos_allocator::AgentId;
use wasmesos_proto::v1::{DrainInfo, DrainState, KillPolicy, Reason, TaskInfo, agent_command};

use super::{Core, Time};
use crate::Error;
use crate::registry::{AgentRecord, Op};

impl Core {
    /// DEACTIVATE_AGENT: its resources are offered to no one until it is reactivated.
    pub fn deactivate_agent(&mut self, agent_id: &str, now: Time) -> Result<(), Error> {
        let id = self.known_agent(agent_id)?;
        if !self.deactivated.contains_key(&id) {
            self.deactivated.insert(id.clone(), None);
            self.stop_offering(&id, now);
            self.persist_known_agent(&id);
            tracing::info!(agent_id = %id, "agent deactivated");
        }
        Ok(())
    }

    /// REACTIVATE_AGENT: a deactivated or DRAINED agent is offered again. Refused for an
    /// agent that is active, or still DRAINING (Mesos's answers).
    pub fn reactivate_agent(&mut self, agent_id: &str, now: Time) -> Result<(), Error> {
        let id = AgentId::from(agent_id);
        match self.deactivated.get(&id) {
            None => {
                return Err(Error::InvalidArgument("Agent is not deactivated".into()));
            }
            Some(Some(drain)) if drain.state == DrainState::Draining as i32 => {
                return Err(Error::InvalidArgument(
                    "Agent is still in the DRAINING state".into(),
                ));
            }
            Some(_) => {}
        }
        self.deactivated.remove(&id);
        if self.agents.contains_key(&id) {
            if let Err(err) = self.allocator.activate_agent(&id) {
                tracing::error!(agent_id = %id, %err, "allocator did not know the agent");
            }
            self.request_allocation(now);
        }
        self.persist_known_agent(&id);
        tracing::info!(agent_id = %id, "agent reactivated");
        Ok(())
    }

    /// DRAIN_AGENT: deactivates the agent and kills its tasks with at most `max_grace`
    /// seconds of grace; DRAINED (or gone, with `mark_gone`) once none is left. Draining
    /// again replaces the drain's settings and kills what is left with them.
    pub fn drain_agent(
        &mut self,
        agent_id: &str,
        max_grace: Option<f64>,
        mark_gone: bool,
        now: Time,
    ) -> Result<(), Error> {
        if let Some(grace) = max_grace
            && !(grace.is_finite() && grace >= 0.0)
        {
            return Err(Error::InvalidArgument(format!(
                "max_grace_period_seconds: {grace} is not a duration of zero or more seconds"
            )));
        }
        let id = self.known_agent(agent_id)?;
        let drain = DrainInfo {
            state: DrainState::Draining as i32,
            max_grace_period_seconds: max_grace,
            mark_gone,
        };
        let was_active = self.deactivated.insert(id.clone(), Some(drain)).is_none();
        if was_active {
            self.stop_offering(&id, now);
        }
        self.persist_known_agent(&id);
        tracing::info!(agent_id = %id, ?max_grace, mark_gone, "agent draining");
        self.continue_drain(&id, now);
        Ok(())
    }

    /// Kills every task left on a registered DRAINING agent, then sees whether it is
    /// drained. Called when the drain begins and whenever the agent (re-)registers.
    pub(super) fn continue_drain(&mut self, id: &AgentId, now: Time) {
        let Some(Some(drain)) = self.deactivated.get(id) else {
            return;
        };
        if drain.state != DrainState::Draining as i32 {
            return;
        }
        let max_grace = drain.max_grace_period_seconds;
        let Some(agent) = self.agents.get(id) else {
            return;
        };
        let mut kills = Vec::with_capacity(agent.tasks.len());
        for (framework_id, task_id) in &agent.tasks {
            let Some(task) = self
                .frameworks
                .get(framework_id)
                .and_then(|framework| framework.tasks.get(task_id))
            else {
                continue;
            };
            kills.push(agent_command::Kill {
                framework_id: framework_id.to_string(),
                task_id: task_id.clone(),
                kill_policy: drain_kill_policy(&task.info, max_grace),
                reason: Reason::AgentDraining as i32,
            });
        }
        for kill in kills {
            self.outbox
                .command(id.as_str(), agent_command::Command::Kill(kill));
        }
        self.check_drained(id, now);
    }

    /// A DRAINING agent with no task left becomes DRAINED, or is marked gone.
    pub(super) fn check_drained(&mut self, id: &AgentId, now: Time) {
        let Some(Some(drain)) = self.deactivated.get_mut(id) else {
            return;
        };
        if drain.state != DrainState::Draining as i32
            || self
                .agents
                .get(id)
                .is_none_or(|agent| !agent.tasks.is_empty())
        {
            return;
        }
        if drain.mark_gone {
            tracing::info!(agent_id = %id, "agent drained: marking it gone");
            if let Err(err) = self.mark_agent_gone(id.as_str(), now) {
                tracing::error!(agent_id = %id, %err, "cannot mark the drained agent gone");
            }
            return;
        }
        drain.state = DrainState::Drained as i32;
        self.persist_known_agent(id);
        tracing::info!(agent_id = %id, "agent drained");
    }

    /// Whether an agent is deactivated (by itself or by a drain), and its drain.
    pub(super) fn maintenance_of(&self, id: &AgentId) -> (bool, Option<&DrainInfo>) {
        match self.deactivated.get(id) {
            None => (false, None),
            Some(drain) => (true, drain.as_ref()),
        }
    }

    /// Puts an agent's deactivation and drain on its registry record (every record of an
    /// agent not removed carries them: see [`Core::take_ops`]).
    pub(super) fn stamp_maintenance(&self, record: &mut AgentRecord) {
        let (deactivated, drain) = self.maintenance_of(&AgentId::from(record.id()));
        record.deactivated = deactivated && !record.removed;
        record.drain = drain.filter(|_| !record.removed).cloned();
    }

    /// An agent the registry holds as deactivated or draining, after a restart.
    pub(super) fn recover_maintenance(&mut self, record: &AgentRecord) {
        if record.deactivated && !record.removed {
            self.deactivated
                .insert(AgentId::from(record.id()), record.drain);
        }
    }

    /// The agent named, if this master knows it (registered, unreachable or recovering);
    /// else Mesos's "Unknown agent" (which never echoes what the caller sent).
    fn known_agent(&self, agent_id: &str) -> Result<AgentId, Error> {
        let id = AgentId::from(agent_id);
        if self.agents.contains_key(&id) || self.is_unreachable(&id) || self.is_recovering(&id) {
            Ok(id)
        } else {
            Err(Error::InvalidArgument("Unknown agent".into()))
        }
    }

    /// Takes a registered agent out of the allocator's rounds and rescinds its offers (their
    /// resources return to its free pool, where no round looks).
    fn stop_offering(&mut self, id: &AgentId, now: Time) {
        if self.agents.contains_key(id) {
            if let Err(err) = self.allocator.deactivate_agent(id) {
                tracing::error!(agent_id = %id, %err, "allocator did not know the agent");
            }
            self.rescind_and_recover_offers_on(id, now);
        }
    }

    /// Writes a known agent's record again (with its maintenance, stamped when taken).
    fn persist_known_agent(&mut self, id: &AgentId) {
        let record = if let Some(agent) = self.agents.get(id) {
            AgentRecord {
                info: Some(agent.info.clone()),
                registered_at: agent.registered_at,
                ..AgentRecord::default()
            }
        } else if let Some(record) = self.unreachable_record(id) {
            record
        } else if let Some(record) = self.recovering_record(id) {
            record
        } else {
            return;
        };
        self.registry_ops.push(Op::PutAgent(record));
    }
}

/// The kill policy a drain gives a task: the drain's grace when the task has none or a
/// longer one, else the task's own (`None`: the agent applies it).
fn drain_kill_policy(task: &TaskInfo, max_grace: Option<f64>) -> Option<KillPolicy> {
    let max_grace = max_grace?;
    let own = task
        .kill_policy
        .as_ref()
        .and_then(|policy| policy.grace_period_seconds);
    match own {
        Some(own) if own <= max_grace => None,
        _ => Some(KillPolicy {
            grace_period_seconds: Some(max_grace),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(grace: Option<f64>) -> TaskInfo {
        TaskInfo {
            kill_policy: grace.map(|g| KillPolicy {
                grace_period_seconds: Some(g),
            }),
            ..TaskInfo::default()
        }
    }

    #[test]
    fn a_drain_shortens_a_longer_or_missing_grace_and_keeps_a_shorter_one() {
        let max = |g: Option<KillPolicy>| g.and_then(|p| p.grace_period_seconds);
        assert_eq!(max(drain_kill_policy(&task(None), Some(5.0))), Some(5.0));
        assert_eq!(
            max(drain_kill_policy(&task(Some(60.0)), Some(5.0))),
            Some(5.0)
        );
        assert_eq!(drain_kill_policy(&task(Some(2.0)), Some(5.0)), None);
        assert_eq!(drain_kill_policy(&task(Some(60.0)), None), None);
    }
}
