//! `wasmesos marathon`: the Marathon framework and its REST API (`wasmesos-marathon`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use wasmesos_marathon::MarathonConfig;
use wasmesos_sdk_scheduler::ha::ZkConfig;

use super::framework::{self, Process};
use crate::signals::shutdown_signal;

/// Run Marathon: keep long-running apps (Wasm services) running, behind Marathon's REST API.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  wasmesos marathon --master http://127.0.0.1:5050 --listen 127.0.0.1:8080
  curl -X POST -H 'Content-Type: application/json' localhost:8080/v2/apps -d \\
    '{\"id\": \"/hello\", \"cmd\": \"http-hello.wasm\", \"mem\": 64, \"cpus\": 0.1,
      \"fetch\": [{\"uri\": \"wasmesos://sha256:DIGEST\", \"outputFile\": \"http-hello.wasm\"}],
      \"healthChecks\": [{\"protocol\": \"HTTP\", \"path\": \"/\"}]}'

State (apps, versions, deployments, tasks, the framework id) is kept in WORK_DIR/marathon.redb;
restarted on the same work dir, Marathon resubscribes as the same framework and keeps its
running tasks. With --zk it is kept under PATH/state in ZooKeeper instead, and several
Marathons started with the same --zk elect a leader under PATH/leader:
  wasmesos marathon --listen 127.0.0.1:8080 --zk zk://127.0.0.1:2181/marathon
  wasmesos marathon --listen 127.0.0.1:8081 --zk zk://127.0.0.1:2181/marathon")]
pub struct MarathonArgs {
    /// The master: http://host:port, https://host:port or zk://host:2181/path.
    #[arg(long, env = "WASMESOS_MASTER", default_value = wasmesos_sdk_scheduler::DEFAULT_MASTER_URL)]
    master: String,
    /// Where the REST API listens (Marathon's default port is 8080).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where the state is kept (default: `wasmesos-marathon-PORT` under the OS temp dir,
    /// found again when it restarts on that port; on port 0 a new one each start).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// The framework's name at the master.
    #[arg(long, default_value = "marathon")]
    name: String,
    /// The role its tasks run in.
    #[arg(long)]
    role: Option<String>,
    /// Keep the state in ZooKeeper (zk://host:port[,host:port...]/path) instead of the work
    /// dir, and elect a leader among the processes given the same path: only the leader
    /// schedules, the others proxy the API to it. A leader that loses its ZooKeeper session
    /// exits with a non-zero code for its supervisor to restart.
    #[arg(long, value_name = "URL")]
    zk: Option<String>,
    /// ZooKeeper session timeout: a dead leader is replaced after about this long. ZooKeeper
    /// clamps it to 2-20 x its tickTime.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = crate::units::parse_duration)]
    zk_session_timeout: Duration,
}

pub fn main(args: MarathonArgs) -> ExitCode {
    let process = Process {
        kind: "marathon",
        master: &args.master,
        listen: args.listen,
        work_dir: args.work_dir.as_deref(),
        zk: args.zk.as_deref(),
    };
    framework::main(process, |listener, work_dir| {
        let mut config = MarathonConfig::new(args.master.clone(), &work_dir);
        config.zk = args.zk.clone().map(|url| ZkConfig {
            url,
            session_timeout: args.zk_session_timeout,
        });
        config.driver.framework.name = args.name.clone();
        if let Some(role) = &args.role {
            config.driver = config.driver.role(role);
        }
        wasmesos_marathon::serve(listener, config, shutdown_signal())
    })
}
