//! One task of an app as Marathon tracks it, stored until it ends.

use serde::{Deserialize, Serialize};
use wasmesos_proto::TaskState;

use crate::model::PathId;
use crate::time::Timestamp;

/// Why Marathon asked for a task to be killed; a task that ends after this is not a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KillReason {
    /// A client asked (`DELETE …/tasks/…`, `POST /v2/tasks/delete`).
    Requested,
    /// The app scaled down.
    ScaledDown,
    /// An upgrade or restart replaced it.
    Upgraded,
    /// Its app was deleted, or it belongs to no app.
    Orphaned,
    /// It never reported after a launch or a restart of Marathon.
    Unconfirmed,
}

/// A task Marathon launched (or adopted), with what its API answers about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    pub app_id: PathId,
    /// The app's version when the task was launched.
    pub version: String,
    /// The app's `lastConfigChangeAt` then: tasks of an older config get replaced.
    pub config_version: String,
    pub agent_id: String,
    pub host: String,
    pub ports: Vec<u64>,
    pub service_ports: Vec<u32>,
    pub staged_at: Timestamp,
    pub started_at: Option<Timestamp>,
    /// `TASK_STAGING`, `TASK_RUNNING`, … as Mesos spells it.
    pub state: String,
    pub healthy: Option<bool>,
    pub health: HealthRecord,
    pub kill: Option<KillReason>,
    /// When the last kill was sent (not stored: a restarted Marathon sends it again).
    #[serde(skip)]
    pub kill_sent: Option<Timestamp>,
    /// Whether the master reported on it since this process started.
    #[serde(skip)]
    pub confirmed: bool,
}

/// Marathon's `healthCheckResults` item for the app's one check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthRecord {
    pub consecutive_failures: u32,
    pub first_success: Option<Timestamp>,
    pub last_success: Option<Timestamp>,
    pub last_failure: Option<Timestamp>,
    pub last_failure_cause: Option<String>,
}

impl Task {
    pub fn is_running(&self) -> bool {
        self.state == mesos_name(TaskState::TaskRunning)
    }

    /// Counts toward a deployment's healthy capacity: running, and healthy when the app
    /// has a health check.
    pub fn is_ready(&self, health_checked: bool) -> bool {
        self.is_running() && (!health_checked || self.healthy == Some(true))
    }

    pub fn is_staged(&self) -> bool {
        !self.is_running()
    }

    /// Not being killed by Marathon.
    pub fn is_wanted(&self) -> bool {
        self.kill.is_none()
    }
}

/// `TASK_RUNNING` for [`TaskState::TaskRunning`]: Mesos's spelling, which Marathon answers.
pub fn mesos_name(state: TaskState) -> String {
    format!("TASK_{}", state.name())
}
