//! `wasmesos marathon`: the Marathon framework and its REST API (`wasmesos-marathon`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use wasmesos_marathon::MarathonConfig;

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
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wasmesos marathon: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: MarathonArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let local = listener.local_addr()?;
        let work_dir = args
            .work_dir
            .clone()
            .unwrap_or_else(|| default_work_dir("marathon", local.port()));
        let mut config = MarathonConfig::new(args.master.clone(), &work_dir);
        config.driver.framework.name = args.name.clone();
        if let Some(role) = &args.role {
            config.driver = config.driver.role(role);
        }
        println!(
            "wasmesos marathon listening on http://{local} (master {}, work dir {})",
            args.master,
            work_dir.display()
        );
        wasmesos_marathon::serve(listener, config, shutdown_signal()).await?;
        eprintln!("wasmesos marathon: shutting down");
        Ok(())
    })
}

/// `wasmesos-FRAMEWORK-PORT` under the temp dir (`wasmesos-marathon-8080`), as the
/// master's; a fresh one on port 0. Chronos's default comes from here too.
pub fn default_work_dir(framework: &str, port: u16) -> PathBuf {
    let name = match port {
        0 => format!("wasmesos-{framework}-{}", std::process::id()),
        port => format!("wasmesos-{framework}-{port}"),
    };
    std::env::temp_dir().join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_work_dir_follows_the_port() {
        assert_eq!(
            default_work_dir("marathon", 8080),
            std::env::temp_dir().join("wasmesos-marathon-8080")
        );
    }
}
