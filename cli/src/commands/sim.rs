//! `wasmesos sim`: the allocator's scale simulator (`wasmesos_allocator::sim`), the same
//! code the master allocates with, driven in virtual time; prints its table.
//!
//! Several scenarios run each in a child process of this binary (`--report-json`), as the
//! allocator's bench does, so one scenario's heap (50,000 agents' worth) does not slow the
//! next one's rounds.

use std::process::{Command, ExitCode};

use anyhow::{Context, bail};
use wasmesos_allocator::sim::{self, Report, Scenario};

const EXAMPLES: &str = "\
Examples:
  wasmesos sim --quick                 # all three scenarios, shrunk: seconds
  wasmesos sim                         # full size: 10,000 and 50,000 agents (build with --release)
  wasmesos sim --scenario 1            # Mesos's benchmark shape: one full round
  wasmesos sim --scenario 2 --quick    # NSDI'11 cluster, 5,000 agents, 60 s virtual
  wasmesos sim --preemption            # a guaranteed role on a full cluster: wait, kill, suspend

Scenarios: 1 = 10,000 agents x 1,000 frameworks, one full round (quick: 1,000 x 100);
2 = 50,000 agents x 200 frameworks, tasks 30 s +- 10 s (quick: 5,000 agents);
3 = quota, reservations and hoarding frameworks. Round latencies are wall time; offers,
utilization, Jain's fairness index and the worst wait are in virtual time.
--preemption: 1,000 agents (quick: 100) full of 10-minute preemptible batch tasks; a role
with a guarantee of 20% of the cpus appears at 60 s. Without preemption it waits for batch
tasks to end; with it, victims are killed (their work lost) or suspended (their work
delayed).";

/// Run the allocator simulator and print a table of round latency, offers, utilization,
/// fairness and starvation.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct SimArgs {
    /// Which scenario to run.
    #[arg(long, value_enum, default_value_t = Which::All)]
    scenario: Which,
    /// Shrunk scenarios, for a quick look or CI.
    #[arg(long)]
    quick: bool,
    /// How often a one-round scenario is repeated (its latency figures are over the
    /// repeats); default 3 with --quick, else 10.
    #[arg(long, value_name = "N")]
    repeats: Option<usize>,
    /// Run the preemption scenario instead, three ways: no preemption, kills, suspensions.
    #[arg(long, conflicts_with = "scenario")]
    preemption: bool,
    /// Print one scenario's report as JSON (how the parent reads its children).
    #[arg(long, hide = true)]
    report_json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Which {
    #[value(name = "1")]
    One,
    #[value(name = "2")]
    Two,
    #[value(name = "3")]
    Three,
    All,
}

impl Which {
    fn scenarios(self) -> Vec<Which> {
        match self {
            Which::All => vec![Which::One, Which::Two, Which::Three],
            one => vec![one],
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Which::One => "1",
            Which::Two => "2",
            Which::Three => "3",
            Which::All => "all",
        }
    }

    fn build(self, quick: bool) -> anyhow::Result<Scenario> {
        let scenario = match self {
            Which::One => sim::mesos_benchmark(quick),
            Which::Two => sim::nsdi_cluster(quick),
            Which::Three => sim::hoarding_mix(quick),
            Which::All => bail!("one scenario at a time"),
        };
        Ok(scenario?)
    }
}

pub fn main(args: SimArgs) -> ExitCode {
    match run(&args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("wasmesos sim: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &SimArgs) -> anyhow::Result<String> {
    let repeats = args
        .repeats
        .unwrap_or(if args.quick { 3 } else { 10 })
        .max(1);
    if args.preemption {
        return preemption_table(args.quick);
    }
    if args.report_json {
        let report = run_one(args.scenario, args.quick, repeats)?;
        return Ok(format!("{}\n", serde_json::to_string(&report)?));
    }
    let reports = match args.scenario {
        Which::All => {
            let mut reports = Vec::new();
            for which in Which::All.scenarios() {
                eprintln!("wasmesos sim: running scenario {}", which.flag());
                reports.push(run_child(which, args.quick, repeats)?);
            }
            reports
        }
        one => vec![run_one(one, args.quick, repeats)?],
    };
    let mode = if args.quick { "quick" } else { "full" };
    Ok(format!(
        "wasmesos allocator simulator ({mode} mode)\n{}",
        sim::format_table(&reports)
    ))
}

/// The preemption scenario's three runs as a table.
fn preemption_table(quick: bool) -> anyhow::Result<String> {
    use sim::PreemptionMode as Mode;
    let mut out = String::from(
        "wasmesos allocator simulator: preemption for a quota guarantee\n\n\
         | mode | agents | guarantee | time to quota | killed | killed task-s (lost) \
         | suspended | suspended task-s (delayed) |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for mode in [Mode::None, Mode::Kill, Mode::Suspend] {
        eprintln!("wasmesos sim: preemption by {mode:?}");
        let report = sim::run_preemption(mode, quick)?;
        let wait = report.time_to_quota.map_or_else(
            || "not within the run".to_owned(),
            |wait| format!("{} ms", wait.as_millis()),
        );
        out.push_str(&format!(
            "| {:?} | {} | {} cpus | {wait} | {} | {:.0} | {} | {:.0} |\n",
            report.mode,
            report.agents,
            report.guarantee_cpus,
            report.tasks_killed,
            report.killed_task_seconds,
            report.tasks_suspended,
            report.suspended_task_seconds,
        ));
    }
    Ok(out)
}

fn run_one(which: Which, quick: bool, repeats: usize) -> anyhow::Result<Report> {
    let scenario = which.build(quick)?;
    sim::run_repeated(&scenario, repeats)
        .with_context(|| format!("scenario {} failed", which.flag()))
}

/// Runs one scenario in a fresh copy of this binary and reads its JSON report.
fn run_child(which: Which, quick: bool, repeats: usize) -> anyhow::Result<Report> {
    let exe = std::env::current_exe().context("cannot find this binary to re-run it")?;
    let mut command = Command::new(exe);
    command.args(["sim", "--report-json", "--scenario", which.flag()]);
    command.args(["--repeats", &repeats.to_string()]);
    if quick {
        command.arg("--quick");
    }
    let output = command
        .output()
        .with_context(|| format!("cannot run scenario {}", which.flag()))?;
    if !output.status.success() {
        bail!(
            "scenario {} failed: {}",
            which.flag(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("scenario {} printed no report", which.flag()))
}
