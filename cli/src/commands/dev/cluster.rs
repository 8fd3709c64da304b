//! The master and agents of `wasmesos dev`, run in this process through the master and agent
//! crates, with their work dirs in one temp dir that is removed on exit.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use tempfile::TempDir;
use wasmesos_agent::{AgentConfig, AgentHandle, ExecutorConfig, parse_resources};
use wasmesos_master::{MasterConfig, MasterHandle};

/// How long an agent may take to register before `wasmesos dev` gives up.
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(60);

/// Each agent's sandbox pool: agents sharing one process share its address space and
/// memory-map budget, which several full-size pools would exhaust.
const TASKS_PER_AGENT: u32 = 1024;

/// A running local cluster; [`LocalCluster::shutdown`] stops it, dropping it stops it too.
pub struct LocalCluster {
    master: MasterHandle,
    agents: Vec<(String, AgentHandle)>,
    dir: TempDir,
}

impl LocalCluster {
    /// Starts a master on `listen` and `agents` agents on free loopback ports, each offering
    /// `resources`, and waits until every agent is registered.
    /// `oversubscription` turns on every agent's estimator and QoS controller.
    pub async fn start(
        listen: SocketAddr,
        agents: usize,
        resources: &str,
        oversubscription: Option<wasmesos_agent::OversubscriptionConfig>,
    ) -> anyhow::Result<Self> {
        let resources = parse_resources(resources).context("invalid --resources")?;
        let dir = tempfile::Builder::new()
            .prefix("wasmesos-dev-")
            .tempdir()
            .context("cannot create the cluster's temp dir")?;
        let master = wasmesos_master::spawn(MasterConfig {
            listen,
            work_dir: Some(dir.path().join("master")),
            ..MasterConfig::default()
        })
        .await
        .with_context(|| format!("cannot start the master on {listen}"))?;
        let mut cluster = LocalCluster {
            master,
            agents: Vec::new(),
            dir,
        };
        for index in 0..agents {
            let config = AgentConfig {
                master_url: cluster.master_url(),
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                work_dir: cluster.dir.path().join(format!("agent-{index}")),
                resources: Some(resources.clone()),
                executor: ExecutorConfig {
                    max_concurrent_tasks: TASKS_PER_AGENT,
                    ..ExecutorConfig::default()
                },
                oversubscription: oversubscription.clone(),
                ..AgentConfig::default()
            };
            let mut agent = wasmesos_agent::spawn(config)
                .await
                .with_context(|| format!("cannot start agent {index}"))?;
            let id = agent
                .registered(REGISTRATION_TIMEOUT)
                .await
                .with_context(|| {
                    format!("agent {index} did not register within {REGISTRATION_TIMEOUT:?}")
                })?;
            cluster.agents.push((id, agent));
        }
        Ok(cluster)
    }

    /// `http://127.0.0.1:PORT` of the master.
    pub fn master_url(&self) -> String {
        self.master.url()
    }

    /// Each agent's id and URL, in start order.
    pub fn agents(&self) -> impl Iterator<Item = (&str, String)> {
        self.agents
            .iter()
            .map(|(id, handle)| (id.as_str(), handle.url()))
    }

    /// The cluster's temp dir (work dirs of the master and agents live under it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the agents (killing their tasks), then the master.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        for (id, agent) in self.agents {
            agent
                .shutdown()
                .await
                .with_context(|| format!("stopping agent {id}"))?;
        }
        self.master
            .shutdown()
            .await
            .context("stopping the master")?;
        Ok(())
    }
}
