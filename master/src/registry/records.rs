//! The records the registry stores, as protobuf messages (prost derives), so that every
//! backend stores the same bytes and a field can be added without breaking old files.

use wasmesos_proto::v1::{
    AgentInfo, FrameworkInfo, MachineInfo, MaintenanceSchedule, TaskInfo, TaskStatus,
};

use super::task_key;

/// An agent the master admitted, or removed (it is told to shut down if it comes back).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AgentRecord {
    /// As registered, with its id and resources.
    #[prost(message, optional, tag = "1")]
    pub info: Option<AgentInfo>,
    /// Removed for good: its tasks were reported LOST.
    #[prost(bool, tag = "2")]
    pub removed: bool,
    /// Unix seconds of its first registration.
    #[prost(double, tag = "3")]
    pub registered_at: f64,
    /// Unix seconds of its removal (0 in records written before removals were dated).
    #[prost(double, tag = "4")]
    pub removed_at: f64,
    /// Unix seconds since which it is unreachable (missed its pings); 0 while it is admitted
    /// and reachable. An unreachable agent that re-registers gets its tasks back.
    #[prost(double, tag = "5")]
    pub unreachable_at: f64,
    /// Removed because an operator marked it gone: its tasks were reported
    /// TASK_GONE_BY_OPERATOR, and it is refused if it returns.
    #[prost(bool, tag = "6")]
    pub gone: bool,
    /// An operator deactivated or drained it: offered to no one until reactivated.
    #[prost(bool, tag = "7")]
    pub deactivated: bool,
    /// Its drain, DRAINING or DRAINED, when it was drained.
    #[prost(message, optional, tag = "8")]
    pub drain: Option<wasmesos_proto::v1::DrainInfo>,
}

impl AgentRecord {
    /// The agent's id.
    pub fn id(&self) -> &str {
        self.info.as_ref().map_or("", |info| info.id.as_str())
    }
}

/// A framework the master knows, or removed (torn down, or its failover timeout passed).
#[derive(Clone, PartialEq, prost::Message)]
pub struct FrameworkRecord {
    /// As subscribed: id, name, roles, failover timeout.
    #[prost(message, optional, tag = "1")]
    pub info: Option<FrameworkInfo>,
    /// Removed for good: resubscribing with its id is refused.
    #[prost(bool, tag = "2")]
    pub removed: bool,
    /// Unix seconds of its removal (0 in records written before removals were dated).
    #[prost(double, tag = "3")]
    pub removed_at: f64,
}

impl FrameworkRecord {
    /// The framework's id.
    pub fn id(&self) -> &str {
        self.info.as_ref().map_or("", |info| info.id.as_str())
    }
}

/// What reconciliation needs about one task: where it runs, what it was launched with, and
/// its latest durable state (STAGING at launch, then its terminal state; the states in
/// between come back from the agent when it re-registers).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskRecord {
    /// The task's framework.
    #[prost(string, tag = "1")]
    pub framework_id: String,
    /// The agent it was launched on.
    #[prost(string, tag = "2")]
    pub agent_id: String,
    /// The role whose offer paid for it.
    #[prost(string, tag = "3")]
    pub role: String,
    /// As launched, without its input data.
    #[prost(message, optional, tag = "4")]
    pub info: Option<TaskInfo>,
    /// The latest status the master recorded.
    #[prost(message, optional, tag = "5")]
    pub status: Option<TaskStatus>,
    /// Unix seconds of the launch.
    #[prost(double, tag = "6")]
    pub started_at: f64,
}

impl TaskRecord {
    /// The task's id.
    pub fn task_id(&self) -> &str {
        self.info.as_ref().map_or("", |info| info.task_id.as_str())
    }

    /// Its key in [`super::Table::Tasks`].
    pub fn key(&self) -> String {
        task_key(&self.framework_id, self.task_id())
    }
}

/// The maintenance schedule as posted and the mode of every scheduled machine (DRAINING or
/// DOWN; machines not listed are UP), as Mesos's registry keeps `schedules` and `machines`.
/// One record, under [`MaintenanceRecord::KEY`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct MaintenanceRecord {
    /// The windows, in the order posted.
    #[prost(message, optional, tag = "1")]
    pub schedule: Option<MaintenanceSchedule>,
    /// Each scheduled machine: its id as scheduled, its mode and its unavailability.
    #[prost(message, repeated, tag = "2")]
    pub machines: Vec<MachineInfo>,
}

impl MaintenanceRecord {
    /// Its key in [`super::Table::Maintenance`].
    pub const KEY: &'static str = "schedule";
}
