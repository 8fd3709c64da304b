//! The scale simulator: thousands of fake agents and frameworks in virtual time, driving the
//! real [`Allocator`](crate::Allocator), no sockets and no threads. A [`Scenario`] goes in,
//! a [`Report`] comes out; `benches/sim.rs` prints the three standard scenarios as a table
//! and the CLI can wrap [`run`] the same way.
//!
//! Only the wall time of `Allocator::allocate` is measured with a clock; everything else
//! (task durations, offer holding, batching) happens in virtual time, so results are
//! deterministic for a seed except for the latency figures.

mod baseline;
mod engine;
mod frameworks;
mod preemption;
mod repeat;
mod report;
mod scenarios;
mod table;

use std::time::Duration;

use crate::{AllocatorConfig, Resources};

pub use baseline::naive_round;
pub use preemption::{Mode as PreemptionMode, PreemptionReport, run_preemption};
pub use repeat::run_repeated;
pub use report::{Latency, Report};
pub use scenarios::{hoarding_mix, mesos_benchmark, mesos_benchmark_ports, nsdi_cluster};
pub use table::format_table;

/// `count` identical agents.
#[derive(Clone, Debug)]
pub struct AgentGroup {
    /// How many.
    pub count: usize,
    /// Each agent's total, static reservations included.
    pub resources: Resources,
}

/// How a framework answers offers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Behavior {
    /// Launches as many tasks as fit and its demand allows, declines the rest.
    Greedy,
    /// Sits on every offer for this long, then declines it (unless rescinded first).
    Hoard(Duration),
    /// Declines every offer.
    Decline,
}

/// How many tasks a framework wants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Demand {
    /// Always more: the frameworks that fairness is measured over.
    Unbounded,
    /// This many tasks at the start, and no more.
    Tasks(u64),
    /// This many more tasks every period (a batch workload).
    Waves {
        /// Tasks per wave.
        tasks: u64,
        /// Time between waves.
        every: Duration,
    },
}

/// `count` frameworks with the same shape.
#[derive(Clone, Debug)]
pub struct FrameworkGroup {
    /// How many.
    pub count: usize,
    /// The role of framework `i` is `roles[i % roles.len()]`.
    pub roles: Vec<String>,
    /// What one task uses (scalars).
    pub task: Resources,
    /// Ports each task takes: the lowest free ones of its offer's unreserved `ports`.
    pub ports: u64,
    /// Task run time: uniform in `mean ± spread`.
    pub task_mean: Duration,
    /// See `task_mean`.
    pub task_spread: Duration,
    /// How it answers offers.
    pub behavior: Behavior,
    /// How much it wants.
    pub demand: Demand,
    /// SUPPRESS when it wants nothing, REVIVE when it wants again.
    pub suppress_when_idle: bool,
    /// `refuse_seconds` on declines.
    pub refuse: Duration,
    /// Subscribe with `min_allocatable_resources` = one task, as Mesos frameworks do, so
    /// the allocator does not offer pieces too small to use.
    pub declare_task_size: bool,
}

/// A whole simulated cluster.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Shown in the report.
    pub name: String,
    /// Agents, added at time zero.
    pub agents: Vec<AgentGroup>,
    /// Frameworks, added at time zero.
    pub frameworks: Vec<FrameworkGroup>,
    /// The allocator's configuration (weights, quotas, sorter...).
    pub config: AllocatorConfig,
    /// Virtual time to simulate.
    pub duration: Duration,
    /// Rounds run at most this often, when something changed (the master's batching).
    pub batch_interval: Duration,
    /// The master rescinds offers older than this.
    pub offer_timeout: Option<Duration>,
    /// Utilization and fairness are measured from here on, after the ramp-up.
    pub warmup: Duration,
    /// Seed for task durations.
    pub seed: u64,
}

pub use engine::run;
