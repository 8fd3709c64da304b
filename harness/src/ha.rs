//! An HA cluster of OS processes: a real ZooKeeper, N `wasmesos master --zk` processes and
//! agents that find the leader through `--master zk://…`. Masters can be killed and restarted
//! by index; the leader is read straight from ZooKeeper's znodes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;
use wasmesos_detector::MasterInfo;

use crate::Error;
use crate::process::{ChildProcess, spawn_and_read_url};
use crate::zookeeper::ZooKeeper;
use wasmesos_test_support::eventually_some;

/// The znode path the masters contend under.
pub const HA_PATH: &str = "/wasmesos";

/// ZooKeeper, masters and agents as processes; dropping it kills them all.
#[derive(Debug)]
pub struct HaCluster {
    pub zookeeper: ZooKeeper,
    /// One slot per master; `None` while that master is down.
    pub masters: Vec<Option<ChildProcess>>,
    pub agents: Vec<ChildProcess>,
    binary: PathBuf,
    dir: TempDir,
    session_timeout: Duration,
    timeout: Duration,
}

impl HaCluster {
    /// Starts ZooKeeper, `masters` masters (waiting for a leader) and `agents` agents with
    /// `resources` (waiting for each to register).
    pub async fn start(
        binary: &Path,
        masters: usize,
        agents: usize,
        resources: &str,
        session_timeout: Duration,
    ) -> Result<Self, Error> {
        let zookeeper = ZooKeeper::start().await?;
        let dir = tempfile::Builder::new()
            .prefix("wasmesos-ha-")
            .tempdir()
            .map_err(|err| Error::io("creating the HA cluster dir", err))?;
        let mut cluster = Self {
            zookeeper,
            masters: (0..masters).map(|_| None).collect(),
            agents: Vec::new(),
            binary: binary.to_path_buf(),
            dir,
            session_timeout,
            timeout: Duration::from_secs(60),
        };
        for index in 0..masters {
            cluster.start_master(index).await?;
        }
        cluster.wait_for_leader().await?;
        for _ in 0..agents {
            cluster.add_agent(resources).await?;
        }
        Ok(cluster)
    }

    /// `zk://127.0.0.1:PORT/wasmesos`: the master URL for every client.
    pub fn zk_url(&self) -> String {
        self.zookeeper.url(HA_PATH)
    }

    /// (Re)starts master `index` with its own work dir.
    pub async fn start_master(&mut self, index: usize) -> Result<(), Error> {
        let work_dir = self.dir.path().join(format!("master-{index}"));
        let work_dir = work_dir.to_string_lossy().into_owned();
        let zk = self.zk_url();
        let timeout = format!("{}ms", self.session_timeout.as_millis());
        let args = [
            "master",
            "--listen",
            "127.0.0.1:0",
            "--work-dir",
            &work_dir,
            "--zk",
            &zk,
            "--zk-session-timeout",
            &timeout,
            "--agent-heartbeat-interval",
            "250ms",
        ];
        let name = format!("master-{index}");
        let master = spawn_and_read_url(&self.binary, &name, &args, self.timeout, false).await?;
        self.masters[index] = Some(master);
        Ok(())
    }

    /// Starts one more agent following the leader through ZooKeeper; returns its index.
    pub async fn add_agent(&mut self, resources: &str) -> Result<usize, Error> {
        let index = self.agents.len();
        let work_dir = self.dir.path().join(format!("agent-{index}"));
        let work_dir = work_dir.to_string_lossy().into_owned();
        let zk = self.zk_url();
        let args = [
            "agent",
            "--master",
            &zk,
            "--listen",
            "127.0.0.1:0",
            "--work-dir",
            &work_dir,
            "--resources",
            resources,
        ];
        let name = format!("agent-{index}");
        let agent = spawn_and_read_url(&self.binary, &name, &args, self.timeout, true).await?;
        self.agents.push(agent);
        Ok(index)
    }

    /// The leader as its znode says, waiting for one.
    pub async fn wait_for_leader(&self) -> Result<MasterInfo, Error> {
        eventually_some("a leading master", self.timeout, async || {
            self.zookeeper.leader(HA_PATH).await.ok().flatten()
        })
        .await
        .map_err(Error::from)
    }

    /// Waits for a leader other than `old` (by URL).
    pub async fn wait_for_new_leader(&self, old: &str) -> Result<MasterInfo, Error> {
        eventually_some("a new leading master", self.timeout, async || {
            let leader = self.zookeeper.leader(HA_PATH).await.ok().flatten()?;
            (leader.url() != old).then_some(leader)
        })
        .await
        .map_err(Error::from)
    }

    /// The index of the running master serving `url`.
    pub fn master_index(&self, url: &str) -> Option<usize> {
        self.masters
            .iter()
            .position(|master| master.as_ref().is_some_and(|m| m.url == url))
    }

    /// URLs of the running masters.
    pub fn master_urls(&self) -> Vec<String> {
        self.masters
            .iter()
            .flatten()
            .map(|m| m.url.clone())
            .collect()
    }

    /// SIGKILLs master `index` and reaps it.
    pub async fn kill_master(&mut self, index: usize) -> Result<(), Error> {
        if let Some(mut master) = self.masters.get_mut(index).and_then(Option::take) {
            master.kill().await?;
        }
        Ok(())
    }

    /// The master process at `index`, if running.
    pub fn master(&mut self, index: usize) -> Option<&mut ChildProcess> {
        self.masters.get_mut(index).and_then(Option::as_mut)
    }
}
