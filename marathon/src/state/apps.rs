//! The operations the REST API makes on apps: create, update (scale, change, rollback),
//! restart, delete, kill tasks, cancel deployments. Each checks, stores, then answers.

use std::collections::BTreeSet;

use serde_json::json;

use super::{
    APPS, Action, AppRecord, DEPLOYMENTS, Deployment, KillReason, Refusal, State, TASKS, VERSIONS,
    version_key,
};
use crate::durable::Batch;
use crate::model::{App, AppUpdate, PathId, Violation, validate};
use crate::time::Timestamp;

/// What a change answers: Marathon's `{"version", "deploymentId"}`.
#[derive(Debug, Clone)]
pub struct Change {
    pub version: String,
    pub deployment_id: String,
    /// Whether a PUT created the app.
    pub created: bool,
}

/// What a kill answers: the tasks killed, or with `scale` the deployment that scaled.
#[derive(Debug)]
pub enum Killed {
    Tasks(Vec<super::Task>),
    Scaled(Change),
}

impl State {
    /// POST /v2/apps.
    pub fn create_app(
        &mut self,
        update: AppUpdate,
        now: Timestamp,
    ) -> Result<(App, Deployment), Refusal> {
        let Some(id_text) = update.id.clone() else {
            return Err(Refusal::Invalid(vec![Violation::new(
                "/id",
                "error.path.missing",
            )]));
        };
        let id = PathId::parse(&id_text).map_err(|why| invalid("/id", why))?;
        if self.apps.contains_key(&id) {
            return Err(Refusal::Conflict(format!(
                "An app with id [{id}] already exists."
            )));
        }
        self.check_not_group(&id)?;
        let app = update.apply_with_ports(None, id, now, &self.service_ports_except(None));
        let steps = vec![Action::StartApplication, Action::ScaleApplication];
        let deployment = self.save(app.clone(), steps, Vec::new(), now)?;
        Ok((app, deployment))
    }

    /// PUT or PATCH /v2/apps/{id}: a partial update, a rollback (`{"version": …}`), or the
    /// creation of a missing app.
    pub fn update_app(
        &mut self,
        id: &PathId,
        update: AppUpdate,
        force: bool,
        now: Timestamp,
    ) -> Result<Change, Refusal> {
        let Some(record) = self.apps.get(id) else {
            let update = AppUpdate {
                id: Some(id.to_string()),
                ..update
            };
            let (app, deployment) = self.create_app(update, now)?;
            return Ok(Change {
                version: app.version,
                deployment_id: deployment.id,
                created: true,
            });
        };
        let base = record.app.clone();
        let cancelled = self.unlocked(id, force)?;
        let app = if update.is_rollback() {
            let wanted = update.version.unwrap_or_default();
            let mut old = self
                .versions(id)?
                .into_iter()
                .find(|app| app.version == wanted)
                .ok_or_else(|| {
                    Refusal::NotFound(format!("App '{id}' does not exist in version {wanted}"))
                })?;
            old.version = now.iso();
            old.version_info.last_scaling_at = now.iso();
            if base.config_differs(&old) {
                old.version_info.last_config_change_at = now.iso();
            }
            old
        } else {
            update.apply_with_ports(
                Some(&base),
                id.clone(),
                now,
                &self.service_ports_except(Some(id)),
            )
        };
        let action = if base.config_differs(&app) {
            Action::RestartApplication
        } else {
            Action::ScaleApplication
        };
        let deployment = self.save(app, vec![action], cancelled, now)?;
        Ok(Change {
            version: deployment.version.clone(),
            deployment_id: deployment.id,
            created: false,
        })
    }

    /// POST /v2/apps/{id}/restart: a new config version, so every task is replaced by a
    /// rolling upgrade.
    pub fn restart_app(
        &mut self,
        id: &PathId,
        force: bool,
        now: Timestamp,
    ) -> Result<Change, Refusal> {
        let record = self.apps.get(id).ok_or_else(|| no_app(id))?;
        let mut app = record.app.clone();
        let cancelled = self.unlocked(id, force)?;
        app.version = now.iso();
        app.version_info.last_scaling_at = now.iso();
        app.version_info.last_config_change_at = now.iso();
        let deployment = self.save(app, vec![Action::RestartApplication], cancelled, now)?;
        Ok(Change {
            version: deployment.version.clone(),
            deployment_id: deployment.id,
            created: false,
        })
    }

    /// DELETE /v2/apps/{id}: the app is gone at once; a deployment kills its tasks.
    pub fn delete_app(
        &mut self,
        id: &PathId,
        force: bool,
        now: Timestamp,
    ) -> Result<Change, Refusal> {
        if !self.apps.contains_key(id) {
            return Err(no_app(id));
        }
        let cancelled = self.unlocked(id, force)?;
        let mut batch = Batch::default();
        self.cancel(&cancelled, &mut batch, now);
        batch.delete(APPS, id.as_str());
        for version in self.versions(id)? {
            batch.delete(VERSIONS, &version_key(id, &version.version));
        }
        let deployment = Deployment::new(id.clone(), now.iso(), vec![Action::StopApplication]);
        batch.put(DEPLOYMENTS, &deployment.id, &deployment);
        self.store.write(batch)?;
        self.apps.remove(id);
        self.delays.remove(id);
        self.deployments
            .insert(deployment.id.clone(), deployment.clone());
        self.announce(&deployment, now);
        self.events
            .publish("app_terminated_event", json!({"appId": id}), now);
        Ok(Change {
            version: deployment.version,
            deployment_id: deployment.id,
            created: false,
        })
    }

    /// Kills tasks by id (`DELETE /v2/apps/{id}/tasks/{taskId}`, `POST /v2/tasks/delete`);
    /// with `scale`, their apps' `instances` drop by as many, in one new version each.
    pub fn kill_tasks(
        &mut self,
        ids: &[String],
        scale: bool,
        force: bool,
        now: Timestamp,
    ) -> Result<Killed, Refusal> {
        let mut found = Vec::new();
        for id in ids {
            let task = self
                .tasks
                .get(id)
                .ok_or_else(|| Refusal::NotFound(format!("Task '{id}' does not exist")))?;
            found.push(task.clone());
        }
        if !scale {
            let mut batch = Batch::default();
            for task in &found {
                if let Some(task) = self.tasks.get_mut(&task.id) {
                    task.kill.get_or_insert(KillReason::Requested);
                }
            }
            for task in &found {
                if let Some(task) = self.tasks.get(&task.id) {
                    self.put_task(&mut batch, task);
                }
            }
            self.store.write(batch)?;
            return Ok(Killed::Tasks(found));
        }
        let apps: BTreeSet<PathId> = found.iter().map(|t| t.app_id.clone()).collect();
        let mut change = None;
        for app_id in apps {
            let Some(record) = self.apps.get(&app_id) else {
                continue;
            };
            let cancelled = self.unlocked(&app_id, force)?;
            let killed: Vec<&super::Task> = found.iter().filter(|t| t.app_id == app_id).collect();
            let mut app = record.app.clone();
            let count = u32::try_from(killed.len()).unwrap_or(u32::MAX);
            app.instances = app.instances.saturating_sub(count);
            app.version = now.iso();
            app.version_info.last_scaling_at = now.iso();
            for task in &killed {
                if let Some(task) = self.tasks.get_mut(&task.id) {
                    task.kill = Some(KillReason::ScaledDown);
                }
            }
            let mut batch = Batch::default();
            for task in &killed {
                if let Some(task) = self.tasks.get(&task.id) {
                    batch.put(TASKS, &task.id, task);
                }
            }
            self.store.write(batch)?;
            let deployment = self.save(app, vec![Action::ScaleApplication], cancelled, now)?;
            change = Some(Change {
                version: deployment.version.clone(),
                deployment_id: deployment.id,
                created: false,
            });
        }
        Ok(match change {
            Some(change) => Killed::Scaled(change),
            None => Killed::Tasks(found),
        })
    }

    /// DELETE /v2/deployments/{id}: with `force` it is dropped where it stands; otherwise
    /// its app goes back to the version before it (a new app is deleted), in a new
    /// deployment.
    pub fn cancel_deployment(
        &mut self,
        id: &str,
        force: bool,
        now: Timestamp,
    ) -> Result<Option<Change>, Refusal> {
        let deployment = self
            .deployments
            .get(id)
            .cloned()
            .ok_or_else(|| Refusal::NotFound(format!("DeploymentPlan {id} does not exist")))?;
        // A deleted app's versions are gone with it: its stop can only be dropped.
        if force || deployment.is_stop() {
            let mut batch = Batch::default();
            self.cancel(std::slice::from_ref(&deployment.id), &mut batch, now);
            self.store.write(batch)?;
            return Ok(None);
        }
        let app_id = deployment.app_id.clone();
        let previous = self
            .versions(&app_id)?
            .into_iter()
            .find(|app| app.version < deployment.version);
        match previous {
            Some(previous) => {
                let update = AppUpdate {
                    version: Some(previous.version),
                    ..AppUpdate::default()
                };
                self.update_app(&app_id, update, true, now).map(Some)
            }
            None => self.delete_app(&app_id, true, now).map(Some),
        }
    }

    /// DELETE /v2/queue/{id}/delay: launch again without waiting.
    pub fn reset_delay(&mut self, id: &PathId) -> Result<(), Refusal> {
        if !self.apps.contains_key(id) {
            return Err(no_app(id));
        }
        self.delays.remove(id);
        Ok(())
    }

    /// The deployments to cancel for a change of `id`, or 409 when there are some and the
    /// change is not forced.
    fn unlocked(&self, id: &PathId, force: bool) -> Result<Vec<String>, Refusal> {
        let ids: Vec<String> = self
            .deployments_of(id)
            .iter()
            .map(|d| d.id.clone())
            .collect();
        if ids.is_empty() || force {
            Ok(ids)
        } else {
            Err(Refusal::Locked(ids))
        }
    }

    fn check_not_group(&self, id: &PathId) -> Result<(), Refusal> {
        let clash = self
            .apps
            .keys()
            .find(|other| other.is_under(id) || id.is_under(other));
        match clash {
            Some(other) if other != id => Err(Refusal::Conflict(format!(
                "An app with the path {other} already exists."
            ))),
            _ => Ok(()),
        }
    }

    fn service_ports_except(&self, id: Option<&PathId>) -> BTreeSet<u32> {
        self.apps
            .values()
            .filter(|record| Some(&record.app.id) != id)
            .flat_map(|record| record.app.port_definitions.iter().map(|d| d.port))
            .collect()
    }

    /// Validates and stores `app` as its app's current version, with a new deployment of
    /// `steps`, cancelling `cancelled` first.
    fn save(
        &mut self,
        app: App,
        steps: Vec<Action>,
        cancelled: Vec<String>,
        now: Timestamp,
    ) -> Result<Deployment, Refusal> {
        let violations = validate(&app);
        if !violations.is_empty() {
            return Err(Refusal::Invalid(violations));
        }
        let id = app.id.clone();
        let mut batch = Batch::default();
        self.cancel(&cancelled, &mut batch, now);
        let last_task_failure = self.apps.get(&id).and_then(|r| r.last_task_failure.clone());
        let record = AppRecord {
            app: app.clone(),
            last_task_failure,
        };
        batch.put(APPS, id.as_str(), &record);
        batch.put(VERSIONS, &version_key(&id, &app.version), &app);
        let deployment = Deployment::new(id.clone(), app.version.clone(), steps);
        batch.put(DEPLOYMENTS, &deployment.id, &deployment);
        self.store.write(batch)?;
        self.apps.insert(id.clone(), record);
        self.deployments
            .insert(deployment.id.clone(), deployment.clone());
        self.events.publish(
            "api_post_event",
            json!({"clientIp": null, "uri": format!("/v2/apps{id}"), "appDefinition": app}),
            now,
        );
        self.announce(&deployment, now);
        Ok(deployment)
    }

    /// Drops deployments (in memory now, from the store with `batch`), each a
    /// `deployment_failed` event.
    fn cancel(&mut self, ids: &[String], batch: &mut Batch, now: Timestamp) {
        for id in ids {
            if let Some(deployment) = self.deployments.remove(id) {
                batch.delete(DEPLOYMENTS, id);
                self.events.publish(
                    "deployment_failed",
                    json!({"id": deployment.id, "plan": deployment.plan_json()}),
                    now,
                );
            }
        }
    }

    fn announce(&self, deployment: &Deployment, now: Timestamp) {
        self.events.publish(
            "deployment_info",
            json!({"plan": deployment.plan_json(), "currentStep": deployment.to_json()["currentActions"]}),
            now,
        );
    }
}

pub(crate) fn no_app(id: &PathId) -> Refusal {
    Refusal::NotFound(format!("App '{id}' does not exist"))
}

fn invalid(path: &str, why: String) -> Refusal {
    Refusal::Invalid(vec![Violation::new(path, why)])
}
