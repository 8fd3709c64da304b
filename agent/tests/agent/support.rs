//! One real agent (in-process, random port, temp work dir) connected to a [`FakeMaster`].

use std::path::PathBuf;
use std::time::Duration;

use tempfile::TempDir;
use tonic::transport::Channel;
use wasmesos_agent::{AgentConfig, AgentHandle, ExecutorConfig, parse_resources};
use wasmesos_proto::agent_client::AgentClient;
use wasmesos_proto::{ExecutorInfo, Resources, TaskInfo};
use wasmesos_test_support::scaled;

use crate::fake_master::{AckPolicy, FakeMaster};

pub const MIB: f64 = 1024.0 * 1024.0;

pub struct Cluster {
    pub master: FakeMaster,
    pub agent: AgentHandle,
    pub agent_id: String,
    pub work_dir: TempDir,
}

impl Cluster {
    pub async fn start(acks: AckPolicy) -> Cluster {
        Cluster::start_with(acks, |_| {}).await
    }

    pub async fn start_with(acks: AckPolicy, tune: impl FnOnce(&mut AgentConfig)) -> Cluster {
        init_tracing();
        let master = FakeMaster::start(acks).await;
        let work_dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(&master.url, work_dir.path().to_path_buf());
        tune(&mut config);
        let mut agent = wasmesos_agent::spawn(config).await.expect("agent starts");
        let agent_id = agent
            .registered(scaled(Duration::from_secs(30)))
            .await
            .expect("agent registers");
        Cluster {
            master,
            agent,
            agent_id,
            work_dir,
        }
    }

    pub async fn client(&self) -> AgentClient<Channel> {
        AgentClient::connect(self.agent.url())
            .await
            .expect("agent API reachable")
    }
}

pub fn test_config(master_url: &str, work_dir: PathBuf) -> AgentConfig {
    AgentConfig {
        master_url: master_url.to_string(),
        listen: "127.0.0.1:0".parse().expect("socket address"),
        resources: Some(parse_resources("cpus:2;mem:2GiB;disk:4GiB").expect("resources")),
        work_dir,
        registration_backoff: Duration::from_millis(20),
        registration_backoff_max: Duration::from_millis(200),
        executor: ExecutorConfig {
            // Shared by every test so each guest compiles once per test run.
            cache_dir: Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("agent-compiled")),
            ..ExecutorConfig::small()
        },
        ..AgentConfig::default()
    }
}

/// A task running `digest` with 64 MiB of memory and one CPU.
pub fn task(task_id: &str, digest: &str) -> TaskInfo {
    TaskInfo {
        task_id: task_id.into(),
        name: task_id.into(),
        executor: Some(ExecutorInfo {
            digest: digest.into(),
            ..Default::default()
        }),
        resources: Some(Resources::from_scalars([
            ("cpus", 1.0),
            ("mem", 64.0 * MIB),
        ])),
        ..Default::default()
    }
}

pub fn with_args(mut task: TaskInfo, args: &[&str]) -> TaskInfo {
    if let Some(executor) = task.executor.as_mut() {
        executor.args = args.iter().map(|a| a.to_string()).collect();
    }
    task
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}
