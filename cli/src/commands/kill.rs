//! `wasmesos kill TASK_ID`: asks the master to kill a task, whichever framework owns it.

use std::process::ExitCode;

use anyhow::Context;
use wasmesos_proto::KillTaskRequest;

use super::state::{MasterArg, status_error};

const EXAMPLES: &str = "\
Examples:
  wasmesos kill run-17f3a2c4
  wasmesos tasks                         # find the id first
  WASMESOS_MASTER=http://10.0.0.5:5050 wasmesos kill chunk-00003-try-1
  wasmesos kill web-1 --framework 5f0c...   # when two frameworks run a task `web-1`

The task's framework receives TASK_KILLED; `wasmesos tasks` shows it once the agent confirms.";

/// Kill a task.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct KillArgs {
    #[command(flatten)]
    master: MasterArg,
    /// The task's id.
    task_id: String,
    /// The framework whose task it is; needed only when two frameworks run a task of that
    /// id.
    #[arg(long, value_name = "ID")]
    framework: Option<String>,
}

pub fn main(args: KillArgs) -> ExitCode {
    match run(&args) {
        Ok(()) => {
            println!("kill of {} requested", args.task_id);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("wasmesos kill: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &KillArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let mut operator = args.master.operator().await?;
        let request = KillTaskRequest {
            task_id: args.task_id.clone(),
            framework_id: args.framework.clone().unwrap_or_default(),
        };
        operator
            .kill_task(request)
            .await
            .map_err(|status| status_error("KillTask", &status))?;
        Ok(())
    })
}
