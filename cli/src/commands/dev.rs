//! `wasmesos dev`: a master and N agents in this one process on loopback, for developers;
//! with `--demo`, the word-count framework runs on the bundled text first.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use wasmesos_harness::{Cluster, ClusterConfig};
use wordcount_framework::{BUNDLED_TEXT, WordCountConfig, count_file, count_words};

use crate::signals::shutdown_signal;

const EXAMPLES: &str = "\
Examples:
  # A master on 127.0.0.1:5050 and two agents; Ctrl-C stops them
  wasmesos dev

  # Build everything, start the cluster, count the words of the bundled text, stay up
  cargo run --release -p wasmesos -- dev --agents 2 --demo

  # Four small agents, master on another port
  wasmesos dev --agents 4 --resources \"cpus:1;mem:512MiB;disk:1GiB\" --listen 127.0.0.1:6050

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
}

pub fn main(args: DevArgs) -> ExitCode {
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wasmesos dev: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &DevArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let config =
            ClusterConfig::local(args.agents, args.listen).agent_resources(&args.resources);
        let cluster = Cluster::start(config).await?;
        let url = cluster.master_url();
        println!("wasmesos dev: master listening on {url}");
        for (index, id) in cluster.agent_ids().iter().enumerate() {
            let address = cluster.agent_url(index).unwrap_or_default();
            println!("wasmesos dev: agent {id} at {address} ({})", args.resources);
        }
        if args.demo {
            demo(&url, args.lines).await?;
        }
        print_hints(&url);
        shutdown_signal().await;
        println!("wasmesos dev: shutting down");
        cluster.shutdown().await?;
        Ok(())
    })
}

async fn demo(master_url: &str, lines: usize) -> anyhow::Result<()> {
    let text = Path::new(BUNDLED_TEXT);
    println!(
        "\nword count of {} in chunks of {lines} lines:",
        text.display()
    );
    let config = WordCountConfig {
        master_url: master_url.to_string(),
        lines_per_chunk: lines,
        ..WordCountConfig::default()
    };
    let report = count_file(&config, text).await?;
    print!("{}", report.table());
    let bytes = std::fs::read(text).with_context(|| format!("cannot read {}", text.display()))?;
    let expected = count_words(&bytes);
    let verdict = if expected == report.total {
        "matches"
    } else {
        "DIFFERS from"
    };
    println!("the total {verdict} `wc -w` of the file ({expected})");
    Ok(())
}

fn print_hints(url: &str) {
    let hello = wasmesos_guest_artifacts::HELLO;
    let export = if url == wasmesos_detector::DEFAULT_MASTER_URL {
        String::new()
    } else {
        format!("  export WASMESOS_MASTER={url}\n")
    };
    println!(
        "\nThe cluster stays up until Ctrl-C. From another terminal, try:\n\
         {export}  cargo run --release -p wasmesos -- run {hello} -- --exit 0\n  \
         cargo run --release -p wasmesos -- tasks\n  \
         cargo run --release -p wasmesos -- logs TASK_ID"
    );
}
