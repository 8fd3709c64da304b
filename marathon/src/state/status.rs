//! Status updates from the master: a task's state and health, its end (a failure delays
//! the next launch), and tasks Marathon did not know (adopted when their app exists).

use serde_json::json;
use wasmesos_proto::{Reason, TaskState, TaskStatus};

use super::{Delay, Effect, HealthRecord, KillReason, State, TASKS, Task, mesos_name};
use crate::durable::Batch;
use crate::model::PathId;
use crate::time::Timestamp;

impl State {
    /// Applies one status update; returns a kill for a task that belongs to no app.
    pub fn on_status(&mut self, status: &TaskStatus, now: Timestamp) -> Vec<Effect> {
        let state = status.state();
        let terminal = state.is_terminal();
        if !self.tasks.contains_key(&status.task_id) {
            if terminal {
                return Vec::new();
            }
            if !self.adopt(status, now) {
                return vec![Effect::Kill {
                    task_id: status.task_id.clone(),
                    grace: None,
                }];
            }
        }
        let Some(mut task) = self.tasks.remove(&status.task_id) else {
            return Vec::new();
        };
        task.confirmed = true;
        let previous_health = task.healthy;
        task.state = mesos_name(state);
        if state == TaskState::TaskRunning && task.started_at.is_none() {
            task.started_at = Some(now);
        }
        if let Some(healthy) = status.healthy {
            task.healthy = Some(healthy);
            record_health(&mut task.health, healthy, &status.message, now);
        }
        self.publish_status(&task, status, now);
        if previous_health != task.healthy
            && let Some(alive) = task.healthy
        {
            self.events.publish(
                "health_status_changed_event",
                json!({"appId": task.app_id, "taskId": task.id, "instanceId": task.id,
                       "version": task.version, "alive": alive}),
                now,
            );
        }
        let mut batch = Batch::default();
        if terminal {
            batch.delete(TASKS, &task.id);
            self.ended(&task, status, now, &mut batch);
        } else {
            self.put_task(&mut batch, &task);
            self.tasks.insert(task.id.clone(), task);
        }
        self.persist(batch);
        Vec::new()
    }

    /// Takes in a running task Marathon has no record of (launched before a crash that
    /// lost nothing but this record); `false` when no app claims it.
    fn adopt(&mut self, status: &TaskStatus, now: Timestamp) -> bool {
        let Some(app_id) = PathId::of_task_id(&status.task_id) else {
            return false;
        };
        let Some(record) = self.apps.get(&app_id) else {
            return false;
        };
        let app = &record.app;
        tracing::info!(task_id = %status.task_id, app_id = %app_id, "adopting a running task");
        let task = Task {
            id: status.task_id.clone(),
            app_id: app_id.clone(),
            version: app.version.clone(),
            config_version: app.version_info.last_config_change_at.clone(),
            agent_id: status.agent_id.clone(),
            host: String::new(),
            ports: Vec::new(),
            service_ports: app.port_definitions.iter().map(|d| d.port).collect(),
            staged_at: now,
            started_at: None,
            state: mesos_name(TaskState::TaskStaging),
            healthy: None,
            health: HealthRecord::default(),
            kill: None,
            kill_sent: None,
            confirmed: true,
        };
        self.tasks.insert(task.id.clone(), task);
        true
    }

    /// A task ended: unless Marathon killed it, that is a failure of its app, which
    /// delays the next launch and becomes `lastTaskFailure`.
    fn ended(&mut self, task: &Task, status: &TaskStatus, now: Timestamp, batch: &mut Batch) {
        let unhealthy = status.reason() == Reason::TaskUnhealthy;
        if unhealthy {
            self.events.publish(
                "unhealthy_instance_kill_event",
                json!({"appId": task.app_id, "taskId": task.id, "instanceId": task.id,
                       "version": task.version, "reason": status.message,
                       "host": task.host, "slaveId": task.agent_id}),
                now,
            );
        }
        let killed_by_us = task.kill.is_some() && task.kill != Some(KillReason::Unconfirmed);
        if killed_by_us && !unhealthy {
            return;
        }
        let Some(record) = self.apps.get_mut(&task.app_id) else {
            return;
        };
        let failure = json!({
            "appId": task.app_id,
            "host": task.host,
            "message": status.message,
            "state": task.state,
            "taskId": task.id,
            "instanceId": task.id,
            "slaveId": task.agent_id,
            "timestamp": now.iso(),
            "version": task.version,
        });
        record.last_task_failure = Some(failure);
        batch.put(super::APPS, record.app.id.as_str(), &*record);
        if task.config_version == record.app.version_info.last_config_change_at {
            let delay = Delay::after_failure(self.delays.get(&task.app_id), &record.app, now);
            tracing::info!(app_id = %task.app_id, task_id = %task.id, delay = ?delay.current,
                "task ended; next launch delayed");
            self.delays.insert(task.app_id.clone(), delay);
        }
    }

    fn publish_status(&self, task: &Task, status: &TaskStatus, now: Timestamp) {
        self.events.publish(
            "status_update_event",
            json!({
                "slaveId": task.agent_id,
                "taskId": task.id,
                "taskStatus": task.state,
                "message": status.message,
                "appId": task.app_id,
                "host": task.host,
                "ipAddresses": [],
                "ports": task.ports,
                "version": task.version,
            }),
            now,
        );
    }
}

fn record_health(record: &mut HealthRecord, healthy: bool, message: &str, now: Timestamp) {
    if healthy {
        record.consecutive_failures = 0;
        record.first_success.get_or_insert(now);
        record.last_success = Some(now);
    } else {
        record.consecutive_failures = record.consecutive_failures.saturating_add(1);
        record.last_failure = Some(now);
        record.last_failure_cause = Some(message.to_owned());
    }
}
