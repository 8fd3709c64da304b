//! `wasmesos agents [--json]` lists the agents; `wasmesos agents drain|deactivate|reactivate
//! ID` takes an agent out of service and back (Mesos's DRAIN_AGENT, DEACTIVATE_AGENT,
//! REACTIVATE_AGENT); `wasmesos agents mark-gone ID` tells the master an agent is down for
//! good (MARK_AGENT_GONE).

use std::process::ExitCode;

use anyhow::Context;
use std::time::Duration;

use wasmesos_proto::{
    DeactivateAgentRequest, DrainAgentRequest, MarkAgentGoneRequest, ReactivateAgentRequest,
};

use super::state::{MasterArg, StateArgs, View, status_error};

const EXAMPLES: &str = "\
Examples:
  wasmesos agents                        # list them, with their used and total resources
  wasmesos agents drain 7c1e...-A3 --max-grace 60s
                                         # no new tasks; kill its tasks within a minute
  wasmesos agents reactivate 7c1e...-A3  # back in service once DRAINED
  wasmesos agents mark-gone 7c1e...-A3   # the machine is gone for good

A draining agent is offered to no one; its tasks end TASK_KILLED (REASON_AGENT_DRAINING),
and once none is left `wasmesos agents` shows it DRAINED (or, with --mark-gone, it is gone).
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
    /// Take an agent out of service: it is offered to no one, and its tasks are killed
    /// (each with at most --max-grace to finish) and reported TASK_KILLED with
    /// REASON_AGENT_DRAINING. It is DRAINED once none is left.
    Drain {
        #[command(flatten)]
        master: MasterArg,
        /// The agent's id (`wasmesos agents` lists them).
        agent_id: String,
        /// The longest a task may take to stop (`90s`, `2m`); a task with a shorter kill
        /// grace keeps its own. Without it, each task gets its own grace.
        #[arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration)]
        max_grace: Option<Duration>,
        /// Mark the agent gone once it is drained (it may never come back).
        #[arg(long)]
        mark_gone: bool,
    },
    /// Stop offering an agent's resources; its tasks keep running.
    Deactivate {
        #[command(flatten)]
        master: MasterArg,
        /// The agent's id.
        agent_id: String,
    },
    /// Offer a deactivated or DRAINED agent's resources again.
    Reactivate {
        #[command(flatten)]
        master: MasterArg,
        /// The agent's id.
        agent_id: String,
    },
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
            AgentAction::Drain {
                master,
                agent_id,
                max_grace,
                mark_gone,
            } => {
                let mut operator = master.operator().await?;
                let request = DrainAgentRequest {
                    agent_id: agent_id.clone(),
                    max_grace_period_seconds: max_grace.map(|grace| grace.as_secs_f64()),
                    mark_gone: *mark_gone,
                };
                operator
                    .drain_agent(request)
                    .await
                    .map_err(|status| status_error("DrainAgent", &status))?;
                let then = if *mark_gone {
                    "marked gone once its tasks are killed"
                } else {
                    "DRAINED once its tasks are killed (wasmesos agents shows it)"
                };
                Ok(format!("agent {agent_id} is draining: {then}"))
            }
            AgentAction::Deactivate { master, agent_id } => {
                let mut operator = master.operator().await?;
                let request = DeactivateAgentRequest {
                    agent_id: agent_id.clone(),
                };
                operator
                    .deactivate_agent(request)
                    .await
                    .map_err(|status| status_error("DeactivateAgent", &status))?;
                Ok(format!(
                    "agent {agent_id} deactivated: its tasks keep running"
                ))
            }
            AgentAction::Reactivate { master, agent_id } => {
                let mut operator = master.operator().await?;
                let request = ReactivateAgentRequest {
                    agent_id: agent_id.clone(),
                };
                operator
                    .reactivate_agent(request)
                    .await
                    .map_err(|status| status_error("ReactivateAgent", &status))?;
                Ok(format!("agent {agent_id} reactivated"))
            }
        }
    })
}
