//! A real master and N real agents in this process, on loopback port 0, each in its own
//! temp dir.

use std::path::Path;
use std::time::Duration;

use tempfile::TempDir;
use tonic::transport::Channel;
use wasmesos_agent::{AgentConfig, AgentHandle, ExecutorConfig, parse_resources};
use wasmesos_detector::{
    CallHeaders, ClientTls, Credential, DEFAULT_CONNECT_TIMEOUT, MasterChannel,
};
use wasmesos_master::{MasterConfig, MasterHandle};
use wasmesos_proto::agent_client::AgentClient;
use wasmesos_proto::operator_client::OperatorClient;
use wasmesos_proto::{
    AgentState, ClusterState, GetAgentStateRequest, GetStateRequest, ReadFileRequest, SandboxFile,
};

use crate::Error;
use wasmesos_test_support::{eventually, scaled};

/// What to start; [`ClusterConfig::new`] has intervals shrunk for tests.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub agents: usize,
    /// Each agent's resources, in the agent's `--resources` syntax.
    pub agent_resources: String,
    /// Template for the master (`listen` is used as given; `work_dir` is replaced).
    pub master: MasterConfig,
    /// Template for every agent; `master_url`, `listen`, `work_dir` and `resources` are
    /// replaced.
    pub agent: AgentConfig,
    /// How long to wait for every agent to register, before scaling by
    /// `WASMESOS_TEST_PATIENCE`.
    pub startup_timeout: Duration,
    /// Where the cluster's temp dir (master and agent work dirs, so every task sandbox) is
    /// made; `None` is the OS temp dir.
    pub base_dir: Option<std::path::PathBuf>,
    /// How the harness itself reaches a master with TLS or authentication.
    pub access: ClientAccess,
}

/// The TLS trust and the credential a client of a secured master needs.
#[derive(Debug, Clone, Default)]
pub struct ClientAccess {
    pub tls: ClientTls,
    pub credential: Option<Credential>,
}

impl ClusterConfig {
    /// `agents` agents of 4 cpus, 4 GiB mem and 4 GiB disk, with fast heartbeats, agent
    /// timeouts and retries so that tests notice changes within a second.
    pub fn new(agents: usize) -> Self {
        let master = MasterConfig {
            listen: loopback_port_zero(),
            agent_heartbeat_interval: Duration::from_millis(100),
            agent_ping_timeout: Duration::from_millis(1000),
            framework_heartbeat_interval: Duration::from_secs(1),
            ..MasterConfig::default()
        };
        let agent = AgentConfig {
            registration_backoff: Duration::from_millis(10),
            registration_backoff_max: Duration::from_millis(200),
            status_update_retry: Duration::from_millis(500),
            status_update_retry_max: Duration::from_secs(2),
            default_heartbeat_interval: Duration::from_millis(100),
            executor: ExecutorConfig {
                max_concurrent_tasks: 256,
                ..ExecutorConfig::default()
            },
            ..AgentConfig::default()
        };
        ClusterConfig {
            agents,
            agent_resources: "cpus:4;mem:4GiB;disk:4GiB".into(),
            master,
            agent,
            startup_timeout: Duration::from_secs(30),
            base_dir: None,
            access: ClientAccess::default(),
        }
    }

    /// `agents` agents with the master's and agents' production defaults (heartbeats,
    /// timeouts, retries), the master on `listen`: what `wasmesos dev` runs. Each agent's
    /// sandbox pool holds 1024 tasks: agents sharing one process share its address space and
    /// memory-map budget, which full-size pools of several agents would exhaust.
    pub fn local(agents: usize, listen: std::net::SocketAddr) -> Self {
        ClusterConfig {
            master: MasterConfig {
                listen,
                ..MasterConfig::default()
            },
            agent: AgentConfig {
                executor: ExecutorConfig {
                    max_concurrent_tasks: 1024,
                    ..ExecutorConfig::default()
                },
                ..AgentConfig::default()
            },
            ..ClusterConfig::new(agents)
        }
    }

    pub fn agent_resources(mut self, resources: &str) -> Self {
        self.agent_resources = resources.to_string();
        self
    }

    pub fn role_weight(mut self, role: &str, weight: f64) -> Self {
        self.master.role_weights.insert(role.to_string(), weight);
        self
    }
}

struct RunningAgent {
    handle: AgentHandle,
    id: String,
}

/// A running cluster; dropping it stops everything and removes its directories.
pub struct Cluster {
    master: MasterHandle,
    agents: Vec<Option<RunningAgent>>,
    config: ClusterConfig,
    dir: TempDir,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("master", &self.master_url())
            .field("agents", &self.agent_ids())
            .finish()
    }
}

impl Cluster {
    /// Starts the master and `config.agents` agents and waits until the master lists every
    /// agent as active.
    pub async fn start(config: ClusterConfig) -> Result<Cluster, Error> {
        let base_dir = config.base_dir.clone().unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::Builder::new()
            .prefix("wasmesos-cluster-")
            .tempdir_in(base_dir)
            .map_err(|err| Error::io("creating the cluster dir", err))?;
        let mut master_config = config.master.clone();
        master_config.work_dir = Some(dir.path().join("master"));
        let master = wasmesos_master::spawn(master_config).await?;
        let mut cluster = Cluster {
            master,
            agents: Vec::new(),
            config,
            dir,
        };
        let resources = cluster.config.agent_resources.clone();
        for _ in 0..cluster.config.agents {
            cluster.add_agent(&resources).await?;
        }
        let expected = cluster.config.agents;
        cluster.wait_for_active_agents(expected).await?;
        Ok(cluster)
    }

    /// `http://127.0.0.1:PORT` of the master.
    pub fn master_url(&self) -> String {
        self.master.url()
    }

    /// The cluster's root temp dir (master and agent work dirs live under it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Ids of the agents still running, in start order.
    pub fn agent_ids(&self) -> Vec<String> {
        self.agents.iter().flatten().map(|a| a.id.clone()).collect()
    }

    /// The id of the agent started `index`-th, if it still runs.
    pub fn agent_id(&self, index: usize) -> Option<&str> {
        self.agents.get(index)?.as_ref().map(|a| a.id.as_str())
    }

    /// The URL of the agent started `index`-th (its own API), if it still runs.
    pub fn agent_url(&self, index: usize) -> Option<String> {
        self.agents.get(index)?.as_ref().map(|a| a.handle.url())
    }

    /// Starts one more agent with `resources` and waits for its registration; returns its index.
    pub async fn add_agent(&mut self, resources: &str) -> Result<usize, Error> {
        self.add_agent_with(resources, |_| {}).await
    }

    /// Like [`Cluster::add_agent`], with a change to this agent's config (e.g. a smaller
    /// `max_result_bytes` to make it fail tasks).
    pub async fn add_agent_with(
        &mut self,
        resources: &str,
        adjust: impl FnOnce(&mut AgentConfig),
    ) -> Result<usize, Error> {
        let index = self.agents.len();
        let mut config = self.config.agent.clone();
        adjust(&mut config);
        config.master_url = self.master_url();
        config.listen = loopback_port_zero();
        config.work_dir = self.dir.path().join(format!("agent-{index}"));
        config.resources = Some(parse_resources(resources)?);
        let mut handle = wasmesos_agent::spawn(config).await?;
        let timeout = scaled(self.config.startup_timeout);
        let id = handle
            .registered(timeout)
            .await
            .ok_or_else(|| Error::Timeout {
                what: format!("agent {index} to register"),
                after: timeout,
            })?;
        tracing::info!(agent_id = %id, index, "agent registered");
        self.agents.push(Some(RunningAgent { handle, id }));
        Ok(index)
    }

    /// Stops the agent started `index`-th (its tasks are killed; the master notices the agent
    /// is gone once its ping timeout passes).
    pub async fn stop_agent(&mut self, index: usize) -> Result<(), Error> {
        let agent = self
            .agents
            .get_mut(index)
            .and_then(Option::take)
            .ok_or(Error::NoSuchAgent(index))?;
        agent.handle.shutdown().await?;
        Ok(())
    }

    /// The master's view (`Operator.GetState`).
    pub async fn state(&self) -> Result<ClusterState, Error> {
        cluster_state(&self.master_url()).await
    }

    /// Waits until the master lists exactly `count` active agents.
    pub async fn wait_for_active_agents(&self, count: usize) -> Result<(), Error> {
        let url = self.master_url();
        let what = format!("{count} active agents");
        eventually(&what, self.config.startup_timeout, async || {
            let state = cluster_state_as(&url, &self.config.access).await;
            state.is_ok_and(|state| state.agents.iter().filter(|a| a.active).count() == count)
        })
        .await?;
        Ok(())
    }

    /// Stops the agents, then the master.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        for agent in self.agents.iter_mut().filter_map(Option::take) {
            agent.handle.shutdown().await?;
        }
        self.master.shutdown().await?;
        Ok(())
    }
}

fn loopback_port_zero() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn channel(url: &str) -> Result<Channel, Error> {
    let master = MasterChannel::connect(url, scaled(DEFAULT_CONNECT_TIMEOUT)).await?;
    Ok(master.channel())
}

/// `Operator.GetState` of the master at `master_url`.
pub async fn cluster_state(master_url: &str) -> Result<ClusterState, Error> {
    cluster_state_as(master_url, &ClientAccess::default()).await
}

/// `Operator.GetState` of a master with TLS or authentication.
pub async fn cluster_state_as(
    master_url: &str,
    access: &ClientAccess,
) -> Result<ClusterState, Error> {
    let tls = access
        .tls
        .load()
        .map_err(|err| Error::io("loading the TLS files", std::io::Error::other(err)))?;
    let master =
        MasterChannel::connect_tls(master_url, scaled(DEFAULT_CONNECT_TIMEOUT), tls).await?;
    let headers = CallHeaders::new(access.credential.as_ref());
    let mut client = OperatorClient::new(master.service(&headers))
        .max_decoding_message_size(wasmesos_proto::limits::MAX_STATE_BYTES);
    let response = client
        .get_state(GetStateRequest {})
        .await
        .map_err(|status| Error::Rpc {
            call: "GetState",
            status,
        })?;
    Ok(response.into_inner())
}

/// `Agent.GetAgentState` of the agent at `agent_url`.
pub async fn agent_state(agent_url: &str) -> Result<AgentState, Error> {
    let mut client = AgentClient::new(channel(agent_url).await?)
        .max_decoding_message_size(wasmesos_proto::limits::MAX_STATE_BYTES);
    let response = client
        .get_agent_state(GetAgentStateRequest {})
        .await
        .map_err(|status| Error::Rpc {
            call: "GetAgentState",
            status,
        })?;
    Ok(response.into_inner())
}

/// The whole of a task's stdout or stderr as it is now, through `Operator.ReadTaskFile`.
pub async fn read_task_file(
    master_url: &str,
    task_id: &str,
    file: SandboxFile,
) -> Result<Vec<u8>, Error> {
    let mut client = OperatorClient::new(channel(master_url).await?)
        .max_decoding_message_size(wasmesos_proto::limits::MAX_STATE_BYTES);
    let mut contents = Vec::new();
    loop {
        let request = ReadFileRequest {
            task_id: task_id.to_string(),
            file: file as i32,
            offset: i64::try_from(contents.len()).unwrap_or(i64::MAX),
            length: 0,
        };
        let response = client
            .read_task_file(request)
            .await
            .map_err(|status| Error::Rpc {
                call: "ReadTaskFile",
                status,
            })?
            .into_inner();
        contents.extend_from_slice(&response.data);
        if response.data.is_empty() || contents.len() as u64 >= response.size {
            return Ok(contents);
        }
    }
}
