//! `wordcount-framework --master URL FILE [--lines N]`: counts a file's words on a wasmesos
//! cluster and prints a per-task table and the total.
// No `expect` outside tests: a panic on what a peer or a user sends is a bug (tests may).
#![cfg_attr(not(test), warn(clippy::expect_used))]
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use wordcount_framework::{WordCountConfig, count_file};

/// Counts the words of FILE on a wasmesos cluster, one `wordcount` task per chunk of lines.
///
/// Examples:
///   wordcount-framework examples/wordcount-framework/data/genesis-exodus-kjv.txt
///   wordcount-framework --master http://10.0.0.5:5050 --lines 500 big.txt
#[derive(Debug, Parser)]
#[command(version, verbatim_doc_comment)]
struct Args {
    /// The master's URL.
    #[arg(long, env = "WASMESOS_MASTER", default_value = wasmesos_sdk_scheduler::DEFAULT_MASTER_URL)]
    master: String,
    /// Lines per chunk (one task each).
    #[arg(long, default_value_t = 100)]
    lines: usize,
    /// The wordcount executor component (default: the one built with this binary).
    #[arg(long)]
    executor: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    deadline_secs: u64,
    /// The text file to count.
    file: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let defaults = WordCountConfig::default();
    let config = WordCountConfig {
        master_url: args.master,
        executor: args.executor.unwrap_or(defaults.executor.clone()),
        lines_per_chunk: args.lines,
        deadline: Duration::from_secs(args.deadline_secs),
        ..defaults
    };
    match count_file(&config, &args.file).await {
        Ok(report) => {
            print!("{}", report.table());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
