//! `wasmesos marathon`: the Marathon framework and its REST API (`wasmesos-marathon`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use wasmesos_marathon::MarathonConfig;

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
running tasks.")]
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
}

pub fn main(args: MarathonArgs) -> ExitCode {
    let process = Process {
        kind: "marathon",
        master: &args.master,
        listen: args.listen,
        work_dir: args.work_dir.as_deref(),
    };
    framework::main(process, |listener, work_dir| {
        let mut config = MarathonConfig::new(args.master.clone(), &work_dir);
        config.driver.framework.name = args.name.clone();
        if let Some(role) = &args.role {
            config.driver = config.driver.role(role);
        }
        wasmesos_marathon::serve(listener, config, shutdown_signal())
    })
}
