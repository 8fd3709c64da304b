//! What each app needs now: which tasks to kill (scale down, replace in a rolling upgrade,
//! orphans, tasks never confirmed) and how many to launch, within the upgrade strategy's
//! bounds; and which deployments are done.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;

use super::{DEPLOYMENTS, Effect, KILL_RETRY, KillReason, State, TASKS, Task, UNCONFIRMED_TIMEOUT};
use crate::durable::Batch;
use crate::model::App;
use crate::model::PathId;
use crate::model::app::KillSelection;
use crate::time::Timestamp;

/// One app's needs.
#[derive(Debug, Default, PartialEq)]
pub struct AppPlan {
    pub kill: Vec<(String, KillReason)>,
    pub launch: u32,
}

/// Plans `app` over its live `tasks` (killing ones included): a steady app keeps
/// `instances`; an app with tasks of an older config is upgraded without dropping below
/// `minimumHealthCapacity` healthy tasks or running more than `maximumOverCapacity` over
/// (except, as in Marathon, one task over when the two bounds leave no room at all).
pub fn plan_app(app: &App, tasks: &[&Task]) -> AppPlan {
    let health_checked = app.has_health_checks();
    let config = &app.version_info.last_config_change_at;
    let alive: Vec<&Task> = tasks.iter().copied().filter(|t| t.is_wanted()).collect();
    let killing = tasks.len() - alive.len();
    let (current, old): (Vec<&Task>, Vec<&Task>) =
        alive.into_iter().partition(|t| &t.config_version == config);
    let instances = usize::try_from(app.instances).unwrap_or(usize::MAX);
    let mut plan = AppPlan::default();
    let mut current = in_kill_order(current, app.kill_selection, health_checked);
    while current.len() > instances {
        if let Some(task) = current.pop() {
            plan.kill.push((task.id.clone(), KillReason::ScaledDown));
        }
    }
    if old.is_empty() {
        plan.launch = count(instances.saturating_sub(current.len()));
        return plan;
    }
    let strategy = app.upgrade_strategy;
    let min_healthy = usize::try_from(strategy.min_healthy(app.instances)).unwrap_or(usize::MAX);
    let mut max_capacity =
        usize::try_from(strategy.max_capacity(app.instances)).unwrap_or(usize::MAX);
    // As Marathon: when no old task may stop and no new one may start, one over capacity.
    if min_healthy >= max_capacity {
        max_capacity = min_healthy + 1;
    }
    let ready_new = current
        .iter()
        .filter(|t| t.is_ready(health_checked))
        .count();
    let ready_old = old.iter().filter(|t| t.is_ready(health_checked)).count();
    let mut healthy = ready_new + ready_old;
    // Old tasks killed now still run until they end: they count against the capacity.
    let running = old.len() + current.len() + killing;
    // Old tasks that are not ready first: killing them costs no healthy capacity.
    for task in in_kill_order(old, app.kill_selection, health_checked)
        .into_iter()
        .rev()
    {
        let ready = task.is_ready(health_checked);
        if !ready || healthy > min_healthy {
            plan.kill.push((task.id.clone(), KillReason::Upgraded));
            if ready {
                healthy -= 1;
            }
        }
    }
    let missing = instances.saturating_sub(current.len());
    plan.launch = count(missing.min(max_capacity.saturating_sub(running)));
    plan
}

/// `tasks` with the one to kill first last: not-ready tasks go first, then by selection.
fn in_kill_order(
    mut tasks: Vec<&Task>,
    selection: KillSelection,
    health_checked: bool,
) -> Vec<&Task> {
    tasks.sort_by_key(|t| (t.staged_at, t.id.clone()));
    if selection == KillSelection::OldestFirst {
        tasks.reverse();
    }
    // Stable: among ready and among unready tasks the order above holds.
    tasks.sort_by_key(|t| !t.is_ready(health_checked));
    tasks
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl State {
    /// Brings every app toward its definition at `now`; returns what the master must hear.
    pub fn step(&mut self, now: Timestamp) -> Vec<Effect> {
        let mut batch = Batch::default();
        self.drop_unconfirmed(now, &mut batch);
        let mut marks: Vec<(String, KillReason)> = self
            .tasks
            .values()
            .filter(|t| t.is_wanted() && !self.apps.contains_key(&t.app_id))
            .map(|t| (t.id.clone(), KillReason::Orphaned))
            .collect();
        self.queue.clear();
        for (id, record) in &self.apps {
            let tasks: Vec<&Task> = self.tasks.values().filter(|t| &t.app_id == id).collect();
            let plan = plan_app(&record.app, &tasks);
            marks.extend(plan.kill);
            if plan.launch > 0 {
                self.queue.insert(id.clone(), plan.launch);
                self.queued_since.entry(id.clone()).or_insert(now);
            } else {
                self.queued_since.remove(id);
            }
        }
        for (task_id, reason) in marks {
            if let Some(task) = self.tasks.get_mut(&task_id) {
                task.kill = Some(reason);
                batch.put(TASKS, &task.id, &*task);
            }
        }
        let mut effects = self.kills_to_send(now);
        self.finish_deployments(now, &mut batch);
        self.persist(batch);
        let launchable = self.launchable(now);
        if !launchable.is_subset(&self.launchable_before) {
            effects.push(Effect::Revive);
        }
        self.launchable_before = launchable;
        effects
    }

    /// Apps with tasks to launch and no delay holding them.
    pub fn launchable(&self, now: Timestamp) -> BTreeSet<PathId> {
        self.queue
            .iter()
            .filter(|(id, n)| {
                **n > 0
                    && self.apps.get(*id).is_some_and(|record| {
                        !self
                            .delays
                            .get(*id)
                            .is_some_and(|d| d.holds(&record.app, now))
                    })
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Forgets tasks the master never confirmed within [`UNCONFIRMED_TIMEOUT`] of their
    /// launch or of this process's subscription (they are killed in case they exist).
    fn drop_unconfirmed(&mut self, now: Timestamp, batch: &mut Batch) {
        let Some(subscribed_at) = self.subscribed_at else {
            return;
        };
        let lost: Vec<String> = self
            .tasks
            .values()
            .filter(|t| {
                !t.confirmed && now.since(subscribed_at.max(t.staged_at)) > UNCONFIRMED_TIMEOUT
            })
            .map(|t| t.id.clone())
            .collect();
        for id in lost {
            if let Some(mut task) = self.tasks.remove(&id) {
                tracing::warn!(task_id = %id, "no word of the task from the master; replacing it");
                batch.delete(TASKS, &id);
                task.kill = Some(KillReason::Unconfirmed);
                self.unconfirmed_kills.push(id);
            }
        }
    }

    /// Kills marked and not yet sent (or sent over [`KILL_RETRY`] ago).
    fn kills_to_send(&mut self, now: Timestamp) -> Vec<Effect> {
        let mut effects: Vec<Effect> = self
            .unconfirmed_kills
            .drain(..)
            .map(|task_id| Effect::Kill {
                task_id,
                grace: Some(Duration::ZERO),
            })
            .collect();
        for task in self.tasks.values_mut() {
            if task.kill.is_none() || task.kill_sent.is_some_and(|at| now.since(at) < KILL_RETRY) {
                continue;
            }
            task.kill_sent = Some(now);
            let grace = self
                .apps
                .get(&task.app_id)
                .and_then(|r| r.app.task_kill_grace_period_seconds)
                .and_then(|s| Duration::try_from_secs_f64(s.clamp(0.0, 3600.0)).ok());
            effects.push(Effect::Kill {
                task_id: task.id.clone(),
                grace,
            });
        }
        effects
    }

    fn finish_deployments(&mut self, now: Timestamp, batch: &mut Batch) {
        let mut done = Vec::new();
        for deployment in self.deployments.values_mut() {
            let tasks: Vec<&Task> = self
                .tasks
                .values()
                .filter(|t| t.app_id == deployment.app_id)
                .collect();
            let finished = match self.apps.get(&deployment.app_id) {
                _ if deployment.is_stop() => tasks.is_empty(),
                None => true,
                Some(record) => {
                    let app = &record.app;
                    let checked = app.has_health_checks();
                    if deployment.current_step < deployment.steps.len()
                        && (app.instances == 0 || !tasks.is_empty())
                    {
                        deployment.current_step += 1;
                        batch.put(DEPLOYMENTS, &deployment.id, &*deployment);
                    }
                    tasks.len() == usize::try_from(app.instances).unwrap_or(usize::MAX)
                        && tasks.iter().all(|t| {
                            t.is_wanted()
                                && t.config_version == app.version_info.last_config_change_at
                                && t.is_ready(checked)
                        })
                }
            };
            if finished {
                done.push(deployment.id.clone());
            }
        }
        for id in done {
            if let Some(deployment) = self.deployments.remove(&id) {
                batch.delete(DEPLOYMENTS, &id);
                let plan = deployment.plan_json();
                self.events.publish(
                    "deployment_step_success",
                    json!({"plan": plan, "currentStep": deployment.to_json()["currentActions"]}),
                    now,
                );
                self.events
                    .publish("deployment_success", json!({"id": id, "plan": plan}), now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AppUpdate;
    use crate::state::HealthRecord;

    fn app(json: serde_json::Value) -> App {
        let update: AppUpdate = serde_json::from_value(json).expect("update");
        update.apply(None, PathId::parse("/a").expect("id"), Timestamp(1))
    }

    fn task(n: u64, config: &str, running: bool, healthy: Option<bool>) -> Task {
        Task {
            id: format!("a.{n}"),
            app_id: PathId::parse("/a").expect("id"),
            version: config.into(),
            config_version: config.into(),
            agent_id: "agent".into(),
            host: "host".into(),
            ports: vec![],
            service_ports: vec![],
            staged_at: Timestamp(n),
            started_at: None,
            state: if running {
                "TASK_RUNNING"
            } else {
                "TASK_STAGING"
            }
            .into(),
            healthy,
            health: HealthRecord::default(),
            kill: None,
            kill_sent: None,
            confirmed: true,
        }
    }

    #[test]
    fn a_steady_app_keeps_its_instances_and_scales_down_youngest_first() {
        let app = app(serde_json::json!({"cmd": "x", "instances": 2}));
        let config = app.version_info.last_config_change_at.clone();
        let one = task(1, &config, true, None);
        assert_eq!(plan_app(&app, &[&one]).launch, 1);
        let (two, three) = (task(2, &config, true, None), task(3, &config, true, None));
        let plan = plan_app(&app, &[&one, &two, &three]);
        assert_eq!(plan.kill, vec![("a.3".to_string(), KillReason::ScaledDown)]);
        assert_eq!(plan.launch, 0);
    }

    #[test]
    fn an_upgrade_stays_within_health_and_capacity_bounds() {
        let app = app(serde_json::json!({
            "cmd": "x", "instances": 4,
            "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.25},
        }));
        let config = app.version_info.last_config_change_at.clone();
        let old: Vec<Task> = (1..=4).map(|n| task(n, "old", true, None)).collect();
        let refs: Vec<&Task> = old.iter().collect();
        let plan = plan_app(&app, &refs);
        // 4 healthy, at least 2 kept: 2 killed; at most 5 at once: 4 - 2 + 1 launches… as
        // the killed ones still hold their place until they end, only 1 launch now.
        assert_eq!(plan.kill.len(), 2);
        assert_eq!(plan.launch, 1);
        let mut tasks: Vec<Task> = old.clone();
        for task in tasks.iter_mut().take(2) {
            task.kill = Some(KillReason::Upgraded);
        }
        tasks.push(task(5, &config, false, None));
        let refs: Vec<&Task> = tasks.iter().collect();
        let plan = plan_app(&app, &refs);
        assert!(
            plan.kill.is_empty(),
            "no healthy capacity to spare: {plan:?}"
        );
        assert_eq!(plan.launch, 0, "5 tasks alive already");
        let mut tasks: Vec<Task> = old[2..].to_vec();
        tasks.push(task(5, &config, true, None));
        tasks.push(task(6, &config, true, None));
        let refs: Vec<&Task> = tasks.iter().collect();
        let plan = plan_app(&app, &refs);
        assert_eq!(
            plan.kill.len(),
            2,
            "4 healthy: both old ones may go: {plan:?}"
        );
        assert_eq!(plan.launch, 1);
    }

    #[test]
    fn health_checked_upgrades_wait_for_healthy_new_tasks() {
        let app = app(serde_json::json!({
            "cmd": "x", "instances": 1, "healthChecks": [{"protocol": "TCP"}],
        }));
        let config = app.version_info.last_config_change_at.clone();
        let old = task(1, "old", true, Some(true));
        let plan = plan_app(&app, &[&old]);
        assert!(plan.kill.is_empty());
        assert_eq!(plan.launch, 1);
        let new = task(2, &config, true, None);
        assert!(
            plan_app(&app, &[&old, &new]).kill.is_empty(),
            "new one not healthy yet"
        );
        let new = task(2, &config, true, Some(true));
        let plan = plan_app(&app, &[&old, &new]);
        assert_eq!(plan.kill, vec![("a.1".to_string(), KillReason::Upgraded)]);
    }
}
