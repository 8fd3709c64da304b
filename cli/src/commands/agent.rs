//! `wasmesos agent`: run an agent until Ctrl-C (or SIGTERM on Unix).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use wasmesos_agent::{AgentConfig, DEFAULT_LISTEN, ExecutorConfig};
use wasmesos_detector::DEFAULT_MASTER_URL;
use wasmesos_proto::Resources;

use crate::signals::shutdown_signal;
use crate::units::parse_size;

const EXAMPLES: &str = "\
Examples:
  # Join the master on this machine, offering everything detected on the host
  wasmesos agent --master http://127.0.0.1:5050

  # Offer a fixed share of the machine (Mesos syntax; mem and disk take units)
  wasmesos agent --master http://10.0.0.5:5050 --resources \"cpus:4;mem:8GiB;disk:20GiB\"

  # A second agent on the same host, with its own port and work dir
  wasmesos agent --listen 127.0.0.1:5052 --work-dir /var/lib/wasmesos/agent-2

  # Serve on every interface but tell the master a specific address
  wasmesos agent --listen 0.0.0.0:5051 --advertise http://node7.example:5051

Resources: `name:value` items separated by `;`, optionally reserved for a role as
`name(role):value`. `cpus` is in cores; `mem` and `disk` take B, KiB, MiB, GiB, TiB (powers of
1024) or KB, MB, GB, TB (powers of 1000), and a bare number means MiB as in Mesos. Other names
(e.g. `gpus:2`) are plain numbers. Any of cpus, mem and disk left out is detected: all cores,
memory minus 1 GiB for the host, and the free space of the work dir's filesystem minus 5 GiB.";

/// Run an agent: offer this machine's resources to a master and run its tasks, each in its
/// own WebAssembly sandbox.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct AgentArgs {
    /// The master to register with.
    #[arg(long, value_name = "URL", env = "WASMESOS_MASTER", default_value = DEFAULT_MASTER_URL)]
    master: String,

    /// Address to serve the agent's own API (task sandbox files, state) on.
    #[arg(long, value_name = "ADDR", default_value_t = DEFAULT_LISTEN)]
    listen: SocketAddr,

    /// URL the master and CLI use to reach this agent (default: derived from --listen).
    #[arg(long, value_name = "URL")]
    advertise: Option<String>,

    /// Resources to offer, e.g. "cpus:4;mem:8GiB;disk:20GiB" (default: detected).
    #[arg(long, value_name = "RESOURCES", value_parser = parse_resources)]
    resources: Option<Resources>,

    /// Directory for fetched executors, compiled code and task sandboxes (default:
    /// `wasmesos-agent-PORT` under the OS temp dir).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,

    /// Hostname reported to the master (default: the OS hostname).
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,

    /// Bytes kept (the tail) of each task's stdout and of its stderr.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "8MiB")]
    output_cap: u64,

    /// Tasks that may run at once (sizes the sandbox pool).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_tasks: u32,

    /// The largest `mem` one task may be granted; larger grants fail as invalid tasks.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "1GiB")]
    max_task_mem: u64,
}

impl AgentArgs {
    fn config(&self) -> AgentConfig {
        let work_dir = self.work_dir.clone().unwrap_or_else(|| {
            let name = match self.listen.port() {
                0 => format!("wasmesos-agent-pid{}", std::process::id()),
                port => format!("wasmesos-agent-{port}"),
            };
            std::env::temp_dir().join(name)
        });
        AgentConfig {
            master_url: self.master.clone(),
            listen: self.listen,
            advertise_url: self.advertise.clone(),
            hostname: self.hostname.clone(),
            resources: self.resources.clone(),
            work_dir,
            output_cap_bytes: self.output_cap,
            executor: ExecutorConfig {
                max_concurrent_tasks: self.max_tasks,
                max_task_memory_bytes: self.max_task_mem,
                ..ExecutorConfig::default()
            },
            ..AgentConfig::default()
        }
    }
}

/// Runs the agent; errors are one line on stderr.
pub fn main(args: AgentArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wasmesos agent: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: AgentArgs) -> anyhow::Result<()> {
    let config = args.config();
    let master = config.master_url.clone();
    let work_dir = config.work_dir.clone();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut agent = wasmesos_agent::spawn(config).await?;
        println!(
            "wasmesos agent listening on {} (master {master}, work dir {})",
            agent.url(),
            work_dir.display()
        );
        tokio::select! {
            id = agent.registered(Duration::MAX) => {
                if let Some(id) = id {
                    println!("wasmesos agent registered as {id}");
                }
                shutdown_signal().await;
            }
            () = shutdown_signal() => {}
        }
        eprintln!("wasmesos agent: shutting down");
        agent.shutdown().await?;
        Ok(())
    })
}

fn parse_resources(text: &str) -> Result<Resources, String> {
    wasmesos_agent::parse_resources(text).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use wasmesos_proto::resource_names::{CPUS, MEM};

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: AgentArgs,
    }

    fn parse(argv: &[&str]) -> Result<AgentConfig, clap::Error> {
        let argv = std::iter::once("agent").chain(argv.iter().copied());
        Wrapper::try_parse_from(argv).map(|w| w.args.config())
    }

    #[test]
    fn defaults_match_the_library() {
        let config = parse(&[]).expect("no flags");
        let library = AgentConfig::default();
        assert_eq!(config.listen, library.listen);
        assert!(
            config.resources.is_none(),
            "resources are detected at start"
        );
        assert!(config.work_dir.ends_with("wasmesos-agent-5051"));
    }

    #[test]
    fn flags_reach_the_config() {
        let config = parse(&[
            "--master",
            "http://10.0.0.5:5050",
            "--listen",
            "0.0.0.0:6061",
            "--resources",
            "cpus:4;mem:8GiB;disk:20GiB",
            "--work-dir",
            "/tmp/a",
            "--output-cap",
            "1MiB",
            "--max-tasks",
            "500",
            "--max-task-mem",
            "256MiB",
        ])
        .expect("valid flags");
        assert_eq!(config.master_url, "http://10.0.0.5:5050");
        assert_eq!(config.listen.port(), 6061);
        let resources = config.resources.expect("resources");
        assert_eq!(resources.scalar(CPUS), 4.0);
        assert_eq!(resources.scalar(MEM), 8.0 * (1u64 << 30) as f64);
        assert_eq!(config.work_dir, PathBuf::from("/tmp/a"));
        assert_eq!(config.output_cap_bytes, 1 << 20);
        assert_eq!(config.executor.max_concurrent_tasks, 500);
        assert_eq!(config.executor.max_task_memory_bytes, 256 << 20);
    }

    #[test]
    fn bad_values_name_the_flag_and_the_item() {
        for (argv, item) in [
            (&["--resources", "cpus:four"][..], "cpus:four"),
            (&["--resources", "mem:8XB"], "mem:8XB"),
            (&["--listen", "nowhere"], "nowhere"),
            (&["--output-cap", "lots"], "lots"),
        ] {
            let err = parse(argv).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(
                err.contains(argv[0]) && err.contains(item),
                "{argv:?}: {err}"
            );
        }
    }
}
