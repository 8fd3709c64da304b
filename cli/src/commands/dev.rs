//! `wasmesos dev`: a master and N agents in this one process on loopback, for developers;
//! with `--demo`, the word-count framework runs on the bundled text first; with
//! `--services`, the frameworks of `services.rs` (Marathon and Chronos) run next to the cluster.
//!
//! The cluster runs in-process through the master and agent crates: one process to start,
//! stop with Ctrl-C and clean up on every OS, and nothing from the source tree is needed.

mod cluster;
pub mod demo;
mod services;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::signals::shutdown_signal;
use cluster::LocalCluster;
use demo::DemoInputs;
use services::ListenOverride;

const EXAMPLES: &str = "\
Examples:
  # A master on 127.0.0.1:5050 and two agents; Ctrl-C stops them
  wasmesos dev

  # Start the cluster, count the words of the bundled text, stay up
  wasmesos dev --agents 2 --demo

  # Count a text of your own, then stop (exit code 1 if the total is wrong)
  wasmesos dev --listen 127.0.0.1:0 --demo --demo-text book.txt --exit-after-demo

  # Four small agents, master on another port
  wasmesos dev --agents 4 --resources \"cpus:1;mem:512MiB;disk:1GiB\" --listen 127.0.0.1:6050

  # The cluster, Marathon (http://127.0.0.1:8080) and Chronos (http://127.0.0.1:4400),
  # then, from another terminal:
  wasmesos dev --services
  wasmesos apps
  wasmesos jobs

Agents listen on free loopback ports; all work dirs live in a temp dir removed on exit.";

/// Run a local cluster (a master and N agents) in one process.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct DevArgs {
    /// How many agents to start.
    #[arg(long, value_name = "N", default_value_t = 2)]
    agents: usize,
    /// Where the master listens.
    #[arg(long, value_name = "ADDR", default_value = wasmesos_master::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Each agent's resources.
    #[arg(
        long,
        value_name = "RESOURCES",
        default_value = "cpus:2;mem:2GiB;disk:4GiB"
    )]
    resources: String,
    /// Count the words of the bundled text with the word-count framework once the cluster is up.
    #[arg(long)]
    demo: bool,
    /// Lines per word-count task in the demo.
    #[arg(long, value_name = "N", default_value_t = 200)]
    lines: usize,
    /// The demo's `wordcount` component instead of the one built into this binary.
    #[arg(long, value_name = "PATH", requires = "demo")]
    demo_component: Option<PathBuf>,
    /// The demo's text instead of the bundled one.
    #[arg(long, value_name = "PATH", requires = "demo")]
    demo_text: Option<PathBuf>,
    /// Stop once the demo has run: exit 0 if its total matches, 1 if not.
    #[arg(long, requires = "demo")]
    exit_after_demo: bool,
    /// Also run the services next to the cluster, in this process: Marathon on
    /// 127.0.0.1:8080 and Chronos on 127.0.0.1:4400. Their state lives in the cluster's temp
    /// dir; the web UI links to them.
    #[arg(long)]
    services: bool,
    /// Where one service listens instead of its usual address: NAME=ADDR, e.g.
    /// `marathon=127.0.0.1:0` for any free port. Repeat for each service.
    #[arg(long, value_name = "NAME=ADDR", requires = "services")]
    service_listen: Vec<ListenOverride>,
    /// Agents offer the CPU their tasks leave unused as revocable cpus, under a QoS
    /// controller (`wasmesos agent --oversubscribe` with its defaults).
    #[arg(long)]
    oversubscribe: bool,
}

pub fn main(args: DevArgs) -> ExitCode {
    match run(&args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("wasmesos dev: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &DevArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let oversubscription = args
            .oversubscribe
            .then(wasmesos_agent::OversubscriptionConfig::default);
        let cluster =
            LocalCluster::start(args.listen, args.agents, &args.resources, oversubscription)
                .await?;
        let url = cluster.master_url();
        println!("wasmesos dev: master listening on {url}");
        for (id, address) in cluster.agents() {
            println!("wasmesos dev: agent {id} at {address} ({})", args.resources);
        }
        let services = if args.services {
            services::start_all(&url, cluster.dir(), &args.service_listen).await?
        } else {
            Vec::new()
        };
        for service in &services {
            println!(
                "wasmesos dev: {} at {} (state in {})",
                service.name,
                service.url,
                service.work_dir.display()
            );
        }
        let mut code = ExitCode::SUCCESS;
        if args.demo {
            let inputs = DemoInputs {
                component: args.demo_component.clone(),
                text: args.demo_text.clone(),
                lines_per_chunk: args.lines,
            };
            let matches = demo::run(&url, cluster.dir(), &inputs).await?;
            if !matches {
                code = ExitCode::FAILURE;
            }
        }
        if !args.exit_after_demo {
            print_hints(&url, &services);
            shutdown_signal().await;
        }
        println!("wasmesos dev: shutting down");
        for service in services {
            service.shutdown().await?;
        }
        cluster.shutdown().await?;
        Ok(code)
    })
}

fn print_hints(url: &str, services: &[services::RunningService]) {
    let export = if url == wasmesos_detector::DEFAULT_MASTER_URL {
        String::new()
    } else {
        format!("  export WASMESOS_MASTER={url}\n")
    };
    let services: String = services
        .iter()
        .map(|service| format!("\n  {} --{} {}", service.hint, service.name, service.url))
        .collect();
    println!(
        "\nThe cluster stays up until Ctrl-C. From another terminal, try:\n\
         {export}  wasmesos run COMPONENT.wasm -- ARGS\n  \
         wasmesos tasks\n  \
         wasmesos logs TASK_ID{services}"
    );
}
