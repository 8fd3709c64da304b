//! Offers to launches: each app waiting for tasks (and not held by its launch delay) gets
//! tasks on offers that fit its resources, ports and constraints. Each task is stored
//! before it is launched, so a restarted Marathon knows it and never launches it twice.

use std::collections::BTreeMap;

use wasmesos_proto::resource_names::PORTS;
use wasmesos_proto::{Offer, TaskInfo, TaskState};
use wasmesos_sdk_scheduler::{Capacity, Launch, TaskBuilder};

use super::{HealthRecord, State, TASKS, Task, mesos_name};
use crate::durable::Batch;
use crate::model::App;
use crate::model::command::executor_of;
use crate::model::constraint::Placement;
use crate::time::Timestamp;

const MIB: f64 = 1024.0 * 1024.0;

impl State {
    /// Matches `offers` against the apps waiting for tasks; returns the launches and the
    /// offers left unused (to decline).
    pub fn on_offers(&mut self, offers: &[Offer], now: Timestamp) -> (Vec<Launch>, Vec<String>) {
        let mut launches = Vec::new();
        let mut unused = Vec::new();
        let mut batch = Batch::default();
        for offer in offers {
            let tasks = self.fill(offer, now, &mut batch);
            if tasks.is_empty() {
                unused.push(offer.id.clone());
            } else {
                launches.push(Launch {
                    offer_id: offer.id.clone(),
                    tasks,
                });
            }
        }
        // Stored before anything is sent: a crash after this launches nothing twice, and a
        // task that could not be stored (a leader that lost ZooKeeper) is not launched.
        if let Err(err) = self.store.write(batch) {
            tracing::error!(%err, "cannot store the tasks to launch; launching none");
            for launch in launches {
                for info in &launch.tasks {
                    self.tasks.remove(&info.task_id);
                }
                unused.push(launch.offer_id);
            }
            return (Vec::new(), unused);
        }
        (launches, unused)
    }

    fn fill(&mut self, offer: &Offer, now: Timestamp, batch: &mut Batch) -> Vec<TaskInfo> {
        let mut capacity = Capacity::of(offer);
        let candidate = Placement {
            hostname: offer.hostname.clone(),
            attributes: self
                .attributes
                .get(&offer.agent_id)
                .cloned()
                .unwrap_or_default(),
        };
        let mut infos = Vec::new();
        for app_id in self.launchable(now) {
            let Some(app) = self.apps.get(&app_id).map(|r| r.app.clone()) else {
                continue;
            };
            while self.queue.get(&app_id).copied().unwrap_or(0) > 0 {
                let placed: Vec<Placement> = self
                    .tasks
                    .values()
                    .filter(|t| t.app_id == app_id && t.is_wanted())
                    .map(|t| self.placement_of(t))
                    .collect();
                if !app
                    .constraints
                    .iter()
                    .all(|c| c.allows(&candidate, &placed))
                {
                    break;
                }
                let Some((info, task)) = launch_on(&app, offer, &mut capacity, now) else {
                    break;
                };
                batch.put(TASKS, &task.id, &task);
                self.tasks.insert(task.id.clone(), task);
                if let Some(waiting) = self.queue.get_mut(&app_id) {
                    *waiting -= 1;
                }
                infos.push(info);
            }
        }
        infos
    }

    fn placement_of(&self, task: &Task) -> Placement {
        Placement {
            hostname: task.host.clone(),
            attributes: self
                .attributes
                .get(&task.agent_id)
                .cloned()
                .unwrap_or_default(),
        }
    }
}

/// One task of `app` placed in what is left of `offer`, or `None` when it does not fit.
fn launch_on(
    app: &App,
    offer: &Offer,
    capacity: &mut Capacity,
    now: Timestamp,
) -> Option<(TaskInfo, Task)> {
    let executor = executor_of(app).ok()?;
    let task_id = app.id.new_task_id();
    let mut builder = TaskBuilder::new(task_id.clone(), executor.digest.clone())
        .name(app.id.to_string())
        .cpus(app.cpus)
        .mem(megabytes(app.mem));
    if app.disk > 0.0 {
        builder = builder.disk(megabytes(app.disk));
    }
    let host_ports = app.host_ports();
    if app.require_ports {
        for port in host_ports {
            builder = builder.port(port);
        }
    } else {
        builder = builder.random_ports(u64::try_from(host_ports.len()).unwrap_or(0));
    }
    for (key, value) in environment(app, &task_id) {
        builder = builder.env(key, value);
    }
    if let Some(grace) = app.task_kill_grace_period_seconds {
        builder = builder
            .kill_grace(std::time::Duration::try_from_secs_f64(grace.clamp(0.0, 3600.0)).ok()?);
    }
    let mut placed = capacity.place(builder)?;
    let ports: Vec<u64> = placed.resources().ranges(PORTS).values().collect();
    if let Some(check) = app.health_checks.first().and_then(|c| c.to_agent(&ports)) {
        placed = placed.health_check(check);
    }
    let mut info = placed.build_for(offer);
    let slot = info.executor.get_or_insert_default();
    slot.program = executor.program;
    slot.uris = executor.uris;
    slot.args = executor.args;
    let task = Task {
        id: task_id,
        app_id: app.id.clone(),
        version: app.version.clone(),
        config_version: app.version_info.last_config_change_at.clone(),
        agent_id: offer.agent_id.clone(),
        host: offer.hostname.clone(),
        ports,
        service_ports: app.port_definitions.iter().map(|d| d.port).collect(),
        staged_at: now,
        started_at: None,
        state: mesos_name(TaskState::TaskStaging),
        healthy: None,
        health: HealthRecord::default(),
        kill: None,
        kill_sent: None,
        confirmed: false,
    };
    Some((info, task))
}

fn megabytes(value: f64) -> u64 {
    // Validation keeps it finite and non-negative; the cast saturates.
    (value * MIB).ceil() as u64
}

/// The app's `env` and what Marathon adds: `MARATHON_APP_ID`, `MARATHON_APP_VERSION`,
/// `MESOS_TASK_ID`, the resources and labels (`PORT0…`, `PORTS`, `HOST` come from the agent).
fn environment(app: &App, task_id: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    env.insert("MARATHON_APP_ID".into(), app.id.to_string());
    env.insert("MARATHON_APP_VERSION".into(), app.version.clone());
    env.insert("MESOS_TASK_ID".into(), task_id.to_owned());
    env.insert("MARATHON_APP_RESOURCE_CPUS".into(), app.cpus.to_string());
    env.insert("MARATHON_APP_RESOURCE_MEM".into(), app.mem.to_string());
    env.insert("MARATHON_APP_RESOURCE_DISK".into(), app.disk.to_string());
    env.insert("MARATHON_APP_RESOURCE_GPUS".into(), app.gpus.to_string());
    let labels: Vec<&str> = app.labels.keys().map(String::as_str).collect();
    env.insert("MARATHON_APP_LABELS".into(), labels.join(" "));
    for (key, value) in &app.labels {
        let name: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        env.insert(format!("MARATHON_APP_LABEL_{name}"), value.clone());
    }
    env.extend(app.env.clone());
    env
}
