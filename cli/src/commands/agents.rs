//! `wasmesos agents [--json]` lists the agents; `wasmesos agents mark-gone ID` tells the
//! master an agent is down for good (Mesos's MARK_AGENT_GONE).

use std::process::ExitCode;

use anyhow::Context;
use wasmesos_proto::MarkAgentGoneRequest;

use super::state::{MasterArg, StateArgs, View, status_error};

const EXAMPLES: &str = "\
Examples:
  wasmesos agents                        # list them, with their used and total resources
  wasmesos agents mark-gone 7c1e...-A3   # the machine is gone for good

After mark-gone, partition-aware frameworks see TASK_GONE_BY_OPERATOR for the agent's tasks
(others TASK_LOST), and the agent is refused and shuts its tasks down if it ever returns.";

/// List the agents, or act on one.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, after_help = EXAMPLES)]
pub struct AgentsArgs {
    #[command(subcommand)]
    action: Option<AgentAction>,
    #[command(flatten)]
    list: StateArgs,
}

#[derive(Debug, clap::Subcommand)]
enum AgentAction {
    /// Assert that an agent (registered or unreachable) is down for good: its tasks end
    /// (TASK_GONE_BY_OPERATOR, or TASK_LOST for frameworks that are not partition-aware) and
    /// it may never come back with them.
    MarkGone {
        #[command(flatten)]
        master: MasterArg,
        /// The agent's id (`wasmesos agents` lists them).
        agent_id: String,
    },
}

pub fn main(args: AgentsArgs) -> ExitCode {
    let Some(action) = args.action else {
        return super::state::main(args.list, View::Agents);
    };
    match run(&action) {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("wasmesos agents: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(action: &AgentAction) -> anyhow::Result<String> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        match action {
            AgentAction::MarkGone { master, agent_id } => {
                let mut operator = master.operator().await?;
                let request = MarkAgentGoneRequest {
                    agent_id: agent_id.clone(),
                };
                operator
                    .mark_agent_gone(request)
                    .await
                    .map_err(|status| status_error("MarkAgentGone", &status))?;
                Ok(format!("agent {agent_id} marked gone"))
            }
        }
    })
}
