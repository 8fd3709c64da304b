//! `wasmesos`: the command line of wasmesos.
//!
//! Thin by design: it parses flags, installs tracing on stderr, and calls into the library
//! crates. Each subcommand lives in its own module under `commands/`; only `exec` exists so
//! far. Guest output and results go to stdout/stderr; diagnostics go through tracing
//! (`RUST_LOG`).

// No `expect` outside tests: a panic on what a peer or a user sends is a bug (tests may).
#![cfg_attr(not(test), warn(clippy::expect_used))]
mod commands;
mod settings;
mod signals;
mod tls;
mod units;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Apache Mesos, rebuilt in Rust with WebAssembly sandboxes instead of containers.
#[derive(Debug, Parser)]
#[command(name = "wasmesos", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Exec(commands::exec::ExecArgs),
    Agent(commands::agent::AgentArgs),
    Master(commands::master::MasterArgs),
    Dev(commands::dev::DevArgs),
    Run(commands::run::RunArgs),
    Upload(commands::upload::UploadArgs),
    /// Show the cluster: master, roles, agents, frameworks and tasks.
    State(commands::state::StateArgs),
    /// List the agents with their used and total resources; drain, deactivate, reactivate
    /// or mark one gone.
    Agents(commands::agents::AgentsArgs),
    /// Schedule maintenance on machines, see the frameworks' answers, take machines down
    /// and bring them up (Mesos's maintenance primitives).
    Maintenance(commands::maintenance::MaintenanceArgs),
    /// List the frameworks with their dominant shares.
    Frameworks(commands::state::StateArgs),
    /// List the tasks with their states and reasons.
    Tasks(commands::state::StateArgs),
    Logs(commands::logs::LogsArgs),
    Kill(commands::kill::KillArgs),
    Marathon(commands::marathon::MarathonArgs),
    Apps(commands::apps::AppsArgs),
    Chronos(commands::chronos::ChronosArgs),
    Jobs(commands::jobs::JobsArgs),
    Roles(commands::roles::RolesArgs),
    Sim(commands::sim::SimArgs),
}

/// mimalloc: glibc's malloc took a fifth of a busy node's CPU (arenas, consolidation, lock
/// handoffs between the runtime's threads); see ARCHITECTURE.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    install_tracing();
    match cli.command {
        Command::Exec(args) => commands::exec::main(args),
        Command::Agent(args) => commands::agent::main(args),
        Command::Master(args) => commands::master::main(args),
        Command::Dev(args) => commands::dev::main(args),
        Command::Run(args) => commands::run::main(args),
        Command::Upload(args) => commands::upload::main(args),
        Command::State(args) => commands::state::main(args, commands::state::View::All),
        Command::Agents(args) => commands::agents::main(args),
        Command::Maintenance(args) => commands::maintenance::main(args),
        Command::Frameworks(args) => commands::state::main(args, commands::state::View::Frameworks),
        Command::Tasks(args) => commands::state::main(args, commands::state::View::Tasks),
        Command::Logs(args) => commands::logs::main(args),
        Command::Kill(args) => commands::kill::main(args),
        Command::Marathon(args) => commands::marathon::main(args),
        Command::Apps(args) => commands::apps::main(args),
        Command::Chronos(args) => commands::chronos::main(args),
        Command::Jobs(args) => commands::jobs::main(args),
        Command::Roles(args) => commands::roles::main(args),
        Command::Sim(args) => commands::sim::main(args),
    }
}

fn install_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
