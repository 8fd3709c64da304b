//! Frameworks: subscribe and resubscribe, disconnect and failover, suppress and revive,
//! teardown.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use wasmesos_allocator::{FrameworkId, FrameworkSpec, validate_role};
use wasmesos_proto::v1::{
    FrameworkInfo, Reason, ReviveRequest, SubscribeRequest, SuppressRequest, TaskState,
    agent_command, event,
};

use super::tasks::Task;
use super::{Core, Time};
use crate::Error;
use crate::config::DEFAULT_FAILOVER_TIMEOUT;
use crate::error::invalid;

/// The largest FrameworkInfo the master records, so no framework can fail a registry commit
/// (a ZooKeeper znode holds 1 MB) with labels or names.
pub const MAX_FRAMEWORK_INFO_BYTES: usize = 64 * 1024;

/// The shortest HEARTBEAT interval a framework may ask for.
const MIN_HEARTBEAT: Duration = Duration::from_millis(10);
/// The longest: a framework asking for more gets this (the scheduler SDK and the agent cap
/// theirs at an hour too), so the stream's ticker never counts past what an `Instant` holds.
const MAX_HEARTBEAT: Duration = Duration::from_secs(3600);

/// One framework the master knows, connected or waiting for its scheduler to come back.
pub(super) struct Framework {
    pub(super) info: FrameworkInfo,
    pub(super) roles: Vec<String>,
    pub(super) connected: bool,
    pub(super) disconnected_at: Option<Time>,
    pub(super) failover_timeout: Duration,
    pub(super) tasks: HashMap<String, Task>,
    /// Ids of finished tasks, oldest first, so the oldest can be forgotten.
    pub(super) completed: VecDeque<String>,
}

/// A removed framework, kept for the state readers with its most recent tasks.
pub(super) struct CompletedFramework {
    pub(super) framework: Framework,
    /// Unix seconds of its removal.
    pub(super) unregistered_time: f64,
}

/// What a successful SUBSCRIBE gives the RPC layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    /// The framework's id (new, or the one it resubscribed with).
    pub framework_id: String,
    /// How often its stream carries HEARTBEAT events.
    pub heartbeat_interval: Duration,
}

impl Core {
    /// SUBSCRIBE: registers a new framework, or reconnects a known one. Queues SUBSCRIBED.
    pub fn subscribe(&mut self, req: SubscribeRequest, now: Time) -> Result<Subscription, Error> {
        let heartbeat_interval = self.heartbeat_interval(req.heartbeat_interval_seconds)?;
        let mut info = req
            .framework
            .ok_or_else(|| invalid("framework", "is required"))?;
        let roles = validated_roles(&info.roles)?;
        let failover_timeout = failover_timeout(info.failover_timeout_seconds)?;
        if info.name.trim().is_empty() {
            return Err(invalid("framework.name", "must not be empty"));
        }
        let size = prost::Message::encoded_len(&info);
        if size > MAX_FRAMEWORK_INFO_BYTES {
            return Err(invalid(
                "framework",
                format!(
                    "is {size} bytes encoded, more than the {MAX_FRAMEWORK_INFO_BYTES} allowed"
                ),
            ));
        }
        if info.id.is_empty() {
            info.id = self.new_id('F');
        }
        let id = FrameworkId::from(info.id.as_str());
        if self.removed_frameworks.contains_key(&id) {
            return Err(Error::FrameworkRemoved(info.id));
        }
        info.roles = roles.clone();
        match self.frameworks.get(&id) {
            Some(known) if known.roles != roles => {
                return Err(invalid(
                    "framework.roles",
                    format!(
                        "cannot change from {:?} to {roles:?} on resubscribe",
                        known.roles
                    ),
                ));
            }
            Some(known) if known.info.principal != info.principal => {
                return Err(Error::Forbidden(format!(
                    "framework {id} belongs to principal '{}'; principal '{}' may not take it over",
                    known.info.principal, info.principal
                )));
            }
            Some(_) => self.reconnect(&id, info, failover_timeout, now),
            None => {
                self.check_frameworks_of(&info.principal)?;
                self.add_framework(&id, info, roles, failover_timeout)?
            }
        }
        self.persist_framework(&id);
        self.outbox.event(
            id.as_str(),
            event::Event::Subscribed(event::Subscribed {
                framework_id: id.to_string(),
                heartbeat_interval_seconds: heartbeat_interval.as_secs_f64(),
                master: Some(self.master.clone()),
            }),
        );
        self.request_allocation(now);
        self.check_preemption_soon(now);
        tracing::info!(framework_id = %id, "framework subscribed");
        Ok(Subscription {
            framework_id: id.to_string(),
            heartbeat_interval,
        })
    }

    /// Refuses a new framework of a principal that has as many as it may.
    fn check_frameworks_of(&self, principal: &str) -> Result<(), Error> {
        let max = self.config.security.max_frameworks_per_principal;
        let count = self
            .frameworks
            .values()
            .filter(|f| f.info.principal == principal)
            .count();
        if count >= max {
            let who = if principal.is_empty() {
                "frameworks without a principal".to_string()
            } else {
                format!("principal {principal:?}")
            };
            return Err(Error::Limit(format!(
                "{who} already has {count} frameworks registered, the most allowed \
                 (--max-frameworks-per-principal); tear one down first"
            )));
        }
        Ok(())
    }

    fn add_framework(
        &mut self,
        id: &FrameworkId,
        info: FrameworkInfo,
        roles: Vec<String>,
        failover_timeout: Duration,
    ) -> Result<(), Error> {
        self.allocator
            .add_framework(id.clone(), FrameworkSpec::with_roles(roles.clone()))
            .map_err(|err| invalid("framework.roles", err))?;
        let framework = Framework {
            info,
            roles,
            connected: true,
            disconnected_at: None,
            failover_timeout,
            tasks: HashMap::new(),
            completed: VecDeque::new(),
        };
        self.frameworks.insert(id.clone(), framework);
        self.sync_revocable_capability(id);
        Ok(())
    }

    /// A known framework subscribes again. Offers sent on its previous stream are rescinded
    /// quietly, because the new stream never saw them; the resources are offered anew.
    fn reconnect(
        &mut self,
        id: &FrameworkId,
        info: FrameworkInfo,
        failover_timeout: Duration,
        now: Time,
    ) {
        self.recover_offers_of(id, false, now);
        if let Some(framework) = self.frameworks.get_mut(id) {
            framework.info = info;
            framework.failover_timeout = failover_timeout;
            framework.connected = true;
            framework.disconnected_at = None;
        }
        if let Err(err) = self.allocator.activate_framework(id) {
            tracing::warn!(framework_id = %id, %err, "allocator refused to activate framework");
        }
        self.sync_revocable_capability(id);
    }

    /// UPDATE_FRAMEWORK: a subscribed framework replaces its FrameworkInfo without
    /// resubscribing (Mesos's `Master::updateFramework`). Its principal, user and checkpoint
    /// flag cannot change. Roles may: offers made to a dropped role are rescinded, tasks
    /// running in one keep running; the framework is suppressed in exactly
    /// `suppressed_roles` (a subset of its roles). The new info is persisted as on
    /// SUBSCRIBE.
    pub fn update_framework(
        &mut self,
        mut info: FrameworkInfo,
        suppressed_roles: &[String],
        now: Time,
    ) -> Result<(), Error> {
        let id = self.subscribed(&info.id)?;
        let roles = validated_roles(&info.roles)?;
        let failover_timeout = failover_timeout(info.failover_timeout_seconds)?;
        if info.name.trim().is_empty() {
            return Err(invalid("framework.name", "must not be empty"));
        }
        for role in suppressed_roles {
            if !roles.contains(role) {
                return Err(Error::InvalidArgument(format!(
                    "Suppressed role '{role}' is not contained in the list of roles"
                )));
            }
        }
        let Some(known) = self.frameworks.get(&id) else {
            return Err(Error::NotSubscribed(info.id));
        };
        if known.info.principal != info.principal {
            return Err(Error::InvalidArgument(
                "Changing framework's principal is not allowed.".into(),
            ));
        }
        if known.info.user != info.user {
            return Err(Error::InvalidArgument(format!(
                "Updating 'FrameworkInfo.user' is unsupported; attempted to update from \
                 '{}' to '{}'",
                known.info.user, info.user
            )));
        }
        if known.info.checkpoint != info.checkpoint {
            return Err(Error::InvalidArgument(format!(
                "Updating 'FrameworkInfo.checkpoint' is unsupported; attempted to update \
                 from '{}' to '{}'",
                known.info.checkpoint, info.checkpoint
            )));
        }
        // Offers made to a dropped role are rescinded before the allocator forgets it.
        let dropped: Vec<String> = self
            .offers
            .iter()
            .filter(|(_, o)| o.framework_id == id && !roles.contains(&o.role))
            .map(|(offer_id, _)| offer_id.clone())
            .collect();
        for offer_id in dropped {
            if let Some(offer) = self.offers.remove(&offer_id) {
                self.send_rescind(&offer.framework_id, offer_id);
                self.recover_offer(&offer, None, now);
            }
        }
        self.allocator
            .update_framework(&id, &roles, suppressed_roles)
            .map_err(|err| invalid("framework.roles", err))?;
        info.roles = roles.clone();
        if let Some(framework) = self.frameworks.get_mut(&id) {
            framework.info = info;
            framework.roles = roles;
            framework.failover_timeout = failover_timeout;
        }
        self.sync_revocable_capability(&id);
        self.rescind_revocable_offers_of(&id, now);
        self.persist_framework(&id);
        self.request_allocation(now);
        tracing::info!(framework_id = %id, "framework updated");
        Ok(())
    }

    /// The framework's event stream ended: no more offers until it resubscribes, and its
    /// failover timeout starts.
    pub fn framework_disconnected(&mut self, framework_id: &str, now: Time) {
        let Some(framework) = self.frameworks.get_mut(framework_id) else {
            return;
        };
        framework.connected = false;
        framework.disconnected_at = Some(now);
        let id = FrameworkId::from(framework_id);
        if let Err(err) = self.allocator.deactivate_framework(&id) {
            tracing::warn!(framework_id, %err, "allocator refused to deactivate framework");
        }
        self.recover_offers_of(&id, false, now);
        tracing::info!(framework_id, "framework disconnected");
    }

    /// The id of a subscribed (connected) framework, or the error to answer with.
    pub(super) fn subscribed(&self, framework_id: &str) -> Result<FrameworkId, Error> {
        if framework_id.is_empty() {
            return Err(invalid("framework_id", "is required"));
        }
        match self.frameworks.get_key_value(framework_id) {
            Some((id, framework)) if framework.connected => Ok(id.clone()),
            _ => Err(Error::NotSubscribed(framework_id.to_string())),
        }
    }

    /// SUPPRESS: no offers for these roles (all when empty) until REVIVE.
    pub fn suppress(&mut self, req: SuppressRequest, _now: Time) -> Result<(), Error> {
        let id = self.subscribed(&req.framework_id)?;
        let roles = (!req.roles.is_empty()).then_some(req.roles.as_slice());
        self.allocator
            .suppress(&id, roles)
            .map_err(|err| invalid("roles", err))
    }

    /// REVIVE: clears suppression and refusal filters for these roles (all when empty).
    pub fn revive(&mut self, req: ReviveRequest, now: Time) -> Result<(), Error> {
        let id = self.subscribed(&req.framework_id)?;
        let roles = (!req.roles.is_empty()).then_some(req.roles.as_slice());
        self.allocator
            .revive(&id, roles)
            .map_err(|err| invalid("roles", err))?;
        self.request_allocation(now);
        self.check_preemption_soon(now);
        Ok(())
    }

    /// TEARDOWN: kills the framework's tasks, rescinds its offers, frees its resources and
    /// forgets it; its stream ends.
    pub fn teardown(&mut self, framework_id: &str, now: Time) -> Result<(), Error> {
        let id = self.subscribed(framework_id)?;
        self.remove_framework(&id, "torn down by its scheduler", now);
        Ok(())
    }

    /// An operator's TEARDOWN: removes a framework, connected or not.
    pub fn operator_teardown(&mut self, framework_id: &str, now: Time) -> Result<(), Error> {
        let id = FrameworkId::from(framework_id);
        if !self.frameworks.contains_key(&id) {
            return Err(Error::NotFound(format!("no framework {framework_id}")));
        }
        self.remove_framework(&id, "torn down by an operator", now);
        Ok(())
    }

    /// Frameworks disconnected for longer than their failover timeout are removed.
    pub(super) fn expire_failovers(&mut self, now: Time) {
        let expired: Vec<FrameworkId> = self
            .frameworks
            .iter()
            .filter(|(_, f)| {
                f.disconnected_at
                    .is_some_and(|at| now.saturating_sub(at) >= f.failover_timeout)
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.remove_framework(&id, "failover timeout passed", now);
        }
    }

    /// Removes a framework: agents shut its tasks down, the allocator frees everything it
    /// held, and its records are dropped.
    pub(super) fn remove_framework(&mut self, id: &FrameworkId, why: &str, now: Time) {
        self.recover_offers_of(id, true, now);
        let Some(mut framework) = self.frameworks.remove(id) else {
            return;
        };
        let timestamp = self.unix(now);
        let mut agents_to_tell = Vec::new();
        for task in framework.tasks.values_mut() {
            if task.is_terminal() {
                continue;
            }
            task.set_master_status(
                TaskState::TaskKilled,
                Reason::FrameworkRemoved,
                format!("framework {why}"),
                timestamp,
            );
            if let Some(agent) = self.agents.get_mut(task.agent_id.as_str()) {
                agent.tasks.remove(&(id.clone(), task.info.task_id.clone()));
                agents_to_tell.push(task.agent_id.clone());
            }
        }
        agents_to_tell.sort();
        agents_to_tell.dedup();
        for agent_id in agents_to_tell {
            let shutdown = agent_command::ShutdownFramework {
                framework_id: id.to_string(),
            };
            self.outbox.command(
                agent_id.as_str(),
                agent_command::Command::ShutdownFramework(shutdown),
            );
        }
        if let Err(err) = self.allocator.remove_framework(id) {
            tracing::warn!(framework_id = %id, %err, "allocator did not know the framework");
        }
        for task_id in framework.tasks.keys() {
            self.forget_task(id, task_id);
        }
        self.registry_ops.push(crate::registry::Op::PutFramework(
            crate::registry::FrameworkRecord {
                info: Some(framework.info.clone()),
                removed: true,
                removed_at: timestamp,
            },
        ));
        self.outbox.close_frameworks.push(id.to_string());
        self.removed_frameworks.insert(id.clone(), timestamp);
        framework.connected = false;
        self.remember_completed_framework(framework, timestamp);
        self.request_allocation(now);
        tracing::info!(framework_id = %id, why, "framework removed");
    }

    /// Keeps a removed framework and its latest `max_completed_tasks_per_framework` tasks,
    /// forgetting the oldest completed framework beyond `max_completed_frameworks`.
    fn remember_completed_framework(&mut self, mut framework: Framework, unregistered_time: f64) {
        let max_tasks = self.config.max_completed_tasks_per_framework;
        if framework.tasks.len() > max_tasks {
            let mut by_age: Vec<(f64, String)> = framework
                .tasks
                .iter()
                .map(|(id, task)| (task.status.timestamp, id.clone()))
                .collect();
            by_age.sort_by(|a, b| a.0.total_cmp(&b.0));
            let excess = by_age.len().saturating_sub(max_tasks);
            for (_, id) in by_age.into_iter().take(excess) {
                framework.tasks.remove(&id);
            }
        }
        framework.completed.clear();
        if self.config.max_completed_frameworks == 0 {
            return;
        }
        while self.completed_frameworks.len() >= self.config.max_completed_frameworks {
            self.completed_frameworks.pop_front();
        }
        self.completed_frameworks.push_back(CompletedFramework {
            framework,
            unregistered_time,
        });
    }

    fn heartbeat_interval(&self, seconds: f64) -> Result<Duration, Error> {
        if seconds == 0.0 {
            return Ok(self.config.framework_heartbeat_interval);
        }
        match Duration::try_from_secs_f64(seconds) {
            Ok(interval) => Ok(interval.clamp(MIN_HEARTBEAT, MAX_HEARTBEAT)),
            Err(_) => Err(invalid(
                "heartbeat_interval_seconds",
                format!("{seconds} must be a positive number of seconds"),
            )),
        }
    }
}

/// The framework's roles, validated; none means the default role `*`.
pub(super) fn validated_roles(roles: &[String]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for role in roles {
        validate_role(role).map_err(|err| invalid("framework.roles", err))?;
        if !out.contains(role) {
            out.push(role.clone());
        }
    }
    if out.is_empty() {
        out.push("*".to_string());
    }
    Ok(out)
}

/// The failover timeout a framework asked for; 0 means [`DEFAULT_FAILOVER_TIMEOUT`].
pub(super) fn failover_timeout(seconds: f64) -> Result<Duration, Error> {
    if seconds == 0.0 {
        return Ok(DEFAULT_FAILOVER_TIMEOUT);
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        invalid(
            "framework.failover_timeout_seconds",
            format!("{seconds} must be a non-negative number of seconds"),
        )
    })
}
