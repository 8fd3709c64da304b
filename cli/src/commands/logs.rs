//! `wasmesos logs TASK_ID [--stderr]`: a task's stdout (or stderr), read from its agent
//! through the master.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use tonic::transport::Channel;
use wasmesos_proto::operator_client::OperatorClient;
use wasmesos_proto::{ReadFileRequest, SandboxFile};

use super::state::{MasterArg, status_error};

const EXAMPLES: &str = "\
Examples:
  wasmesos logs run-17f3a2c4            # the task's stdout
  wasmesos logs run-17f3a2c4 --stderr   # its stderr
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
        copy_task_file(&mut operator, &args.task_id, file, &mut out).await
    })
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
        let request = ReadFileRequest {
            task_id: task_id.to_string(),
            file: file as i32,
            offset: i64::try_from(offset).context("the file is too large")?,
            length: 0,
        };
        let response = operator
            .read_task_file(request)
            .await
            .map_err(|status| status_error("ReadTaskFile", &status))?
            .into_inner();
        out.write_all(&response.data)?;
        offset = response.offset + response.data.len() as u64;
        if response.data.is_empty() || offset >= response.size {
            break;
        }
    }
    out.flush()?;
    Ok(())
}
