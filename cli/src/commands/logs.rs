//! `wasmesos logs TASK_ID [--stderr] [--follow]`: a task's stdout (or stderr), read from
//! its agent through the master; `--follow` keeps printing while the task runs, like the
//! master's `/files/read?follow=true`, and stops once the task has ended and the file is
//! drained.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use wasmesos_detector::MasterService as Channel;
use wasmesos_proto::operator_client::OperatorClient;
use wasmesos_proto::{ReadFileRequest, ReadFileResponse, SandboxFile};

use super::state::{MasterArg, status_error};

const EXAMPLES: &str = "\
Examples:
  wasmesos logs run-17f3a2c4            # the task's stdout
  wasmesos logs run-17f3a2c4 --stderr   # its stderr
  wasmesos logs run-17f3a2c4 --follow   # keep printing until the task ends
  wasmesos logs chunk-00003-try-1 --master http://10.0.0.5:5050";

/// Print a task's stdout (or stderr) from its sandbox.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct LogsArgs {
    #[command(flatten)]
    master: MasterArg,
    /// Print stderr instead of stdout.
    #[arg(long)]
    stderr: bool,
    /// Keep printing as the file grows; exit once the task has ended and all is printed.
    #[arg(long, short = 'f')]
    follow: bool,
    /// The task's id.
    task_id: String,
}

pub fn main(args: LogsArgs) -> ExitCode {
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("wasmesos logs: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &LogsArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut operator = args.master.operator().await?;
        let file = if args.stderr {
            SandboxFile::Stderr
        } else {
            SandboxFile::Stdout
        };
        let mut out = std::io::stdout().lock();
        if args.follow {
            follow_task_file(&mut operator, &args.task_id, file, &mut out).await
        } else {
            copy_task_file(&mut operator, &args.task_id, file, &mut out).await
        }
    })
}

/// One read of a sandbox file from `offset`, as much as the agent's cap allows.
async fn read_chunk(
    operator: &mut OperatorClient<Channel>,
    task_id: &str,
    file: SandboxFile,
    offset: u64,
) -> anyhow::Result<ReadFileResponse> {
    let request = ReadFileRequest {
        task_id: task_id.to_string(),
        file: file as i32,
        offset: i64::try_from(offset).context("the file is too large")?,
        length: 0,
    };
    Ok(operator
        .read_task_file(request)
        .await
        .map_err(|status| status_error("ReadTaskFile", &status))?
        .into_inner())
}

/// Copies a whole sandbox file (as it is now) to `out`, in as many reads as the agent's cap
/// requires.
pub async fn copy_task_file(
    operator: &mut OperatorClient<Channel>,
    task_id: &str,
    file: SandboxFile,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut offset: u64 = 0;
    loop {
        let response = read_chunk(operator, task_id, file, offset).await?;
        out.write_all(&response.data)?;
        offset = response.offset + response.data.len() as u64;
        if response.data.is_empty() || offset >= response.size {
            break;
        }
    }
    out.flush()?;
    Ok(())
}

/// How long `--follow` waits before reading again when a running task wrote nothing new.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

/// Copies a sandbox file to `out` as it grows, until a read of the ended task's file comes
/// back empty (the agent's `growing` turns false once the task is terminal).
pub async fn follow_task_file(
    operator: &mut OperatorClient<Channel>,
    task_id: &str,
    file: SandboxFile,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let mut offset: u64 = 0;
    loop {
        let response = read_chunk(operator, task_id, file, offset).await?;
        out.write_all(&response.data)?;
        out.flush()?;
        // From where the agent read: a capped file keeps its tail and may have shrunk.
        offset = response.offset + response.data.len() as u64;
        if response.data.is_empty() {
            if !response.growing {
                return Ok(());
            }
            tokio::time::sleep(FOLLOW_POLL).await;
        }
    }
}
