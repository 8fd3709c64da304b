//! The test harness: starts a real wasmesos cluster — a master and N agents — either inside
//! this process ([`Cluster`], via `wasmesos_master::spawn` / `wasmesos_agent::spawn` on
//! loopback port 0, each with its own temp dir) or as separate OS processes of the `wasmesos`
//! binary ([`ProcessCluster`]), plus a framework whose events a test reads in order
//! ([`TestFramework`]). Every wait has a deadline scaled by `WASMESOS_TEST_PATIENCE`; [`eventually`]
//! and [`scaled`] are re-exported from `wasmesos-test-support` for the tests.
//!
//! It never sleeps a fixed time and never fakes a component: everything it starts is the
//! code users run. [`HaCluster`] adds a real ZooKeeper ([`ZooKeeper`]) and masters that
//! elect a leader through it. The end-to-end tests live in `tests/`, the cluster benchmarks in
//! `benches/cluster.rs`, and `wasmesos dev` runs its local cluster through [`Cluster`].
#![forbid(unsafe_code)]

mod bench;
mod cluster;
mod error;
mod framework;
mod ha;
mod netns;
mod pki;
mod process;
mod zookeeper;

pub use bench::env_number;
pub use cluster::{
    ClientAccess, Cluster, ClusterConfig, agent_state, cluster_state, cluster_state_as,
    read_task_file,
};
pub use error::Error;
pub use framework::{SchedulerEvent, TestFramework};
pub use ha::{HA_PATH, HaCluster};
pub use netns::NetNs;
pub use pki::TestPki;
pub use process::{ChildProcess, ProcessCluster, spawn_and_read_url, wasmesos_binary};
pub use wasmesos_test_support::{assert_eventually, eventually, eventually_some, patience, scaled};
pub use zookeeper::ZooKeeper;
