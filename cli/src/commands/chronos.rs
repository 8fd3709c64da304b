//! `wasmesos chronos`: the Chronos framework and its REST API (`wasmesos-chronos`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use wasmesos_chronos::ChronosConfig;
use wasmesos_sdk_scheduler::ha::ZkConfig;

use super::framework::{self, Process};
use crate::signals::shutdown_signal;

/// Run Chronos: scheduled and dependent jobs (Wasm programs), behind Chronos's REST API.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  wasmesos chronos --master http://127.0.0.1:5050 --listen 127.0.0.1:4400
  curl -X POST -H 'Content-Type: application/json' localhost:4400/v1/scheduler/iso8601 -d \\
    '{\"name\": \"hello\", \"command\": \"hello.wasm\", \"schedule\": \"R/2026-01-01T00:00:00Z/PT1M\",
      \"fetch\": [{\"uri\": \"wasmesos://sha256:DIGEST\", \"output_file\": \"hello.wasm\"}]}'

State (jobs, their counters and schedules, queued and running runs, the framework id) is
kept in WORK_DIR/chronos.redb; restarted on the same work dir, Chronos resubscribes as the
same framework, keeps its running tasks and neither repeats nor misses a run. With --zk it is
kept under PATH/state in ZooKeeper instead, and several Chronos processes started with the
same --zk elect a leader under PATH/leader; the others proxy the API to it.")]
pub struct ChronosArgs {
    /// The master: http://host:port, https://host:port or zk://host:2181/path.
    #[arg(long, env = "WASMESOS_MASTER", default_value = wasmesos_sdk_scheduler::DEFAULT_MASTER_URL)]
    master: String,
    /// Where the REST API listens (Chronos's own default is 8080, taken by Marathon here).
    #[arg(long, default_value = "127.0.0.1:4400")]
    listen: SocketAddr,
    /// Where the state is kept (default: `wasmesos-chronos-PORT` under the OS temp dir,
    /// found again when it restarts on that port; on port 0 a new one each start).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// The framework's name at the master.
    #[arg(long, default_value = "chronos")]
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
    /// How long a failed run waits before it is retried (Chronos's failureRetryDelay).
    #[arg(long, default_value = "60s", value_parser = crate::units::parse_duration)]
    retry_delay: Duration,
}

pub fn main(args: ChronosArgs) -> ExitCode {
    let process = Process {
        kind: "chronos",
        master: &args.master,
        listen: args.listen,
        work_dir: args.work_dir.as_deref(),
        zk: args.zk.as_deref(),
    };
    framework::main(process, |listener, work_dir| {
        let mut config = ChronosConfig::new(args.master.clone(), &work_dir);
        config.zk = args.zk.clone().map(|url| ZkConfig {
            url,
            session_timeout: args.zk_session_timeout,
        });
        config.driver.framework.name = args.name.clone();
        config.retry_delay = args.retry_delay;
        if let Some(role) = &args.role {
            config.driver = config.driver.role(role);
        }
        wasmesos_chronos::serve(listener, config, shutdown_signal())
    })
}
