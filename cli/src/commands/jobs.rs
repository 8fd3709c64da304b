//! `wasmesos jobs`: Chronos's jobs over its REST API (`wasmesos chronos`, or `wasmesos dev
//! --services`): list, show, run now, kill, delete. A table as `wasmesos tasks` prints one;
//! `--json` prints Chronos's own answer.

use std::process::ExitCode;

use anyhow::Context;
use reqwest::Method;
use serde_json::Value;

use super::api_client::{ApiClient, Framework};
use crate::commands::state::table::render;

/// Chronos's usual address, which `wasmesos dev --services` and `wasmesos chronos` use.
pub const DEFAULT_CHRONOS_URL: &str = "http://127.0.0.1:4400";

const EXAMPLES: &str = "\
Examples:
  wasmesos jobs                          # every job: schedule or parents, counts, last runs
  wasmesos jobs show nightly-report      # one job as Chronos stores it
  wasmesos jobs run nightly-report       # run it now (its schedule is kept)
  wasmesos jobs kill nightly-report      # kill its running tasks
  wasmesos jobs delete nightly-report
  wasmesos jobs --json | jq '.[].name'

Jobs are created with Chronos's API:
  curl -X POST -H 'Content-Type: application/json' localhost:4400/v1/scheduler/iso8601 -d @job.json";

static CHRONOS: Framework = Framework {
    name: "Chronos",
    flag: "--chronos",
    env: "WASMESOS_CHRONOS",
    command: "wasmesos chronos",
    conflict_hint: "",
};

/// List and act on Chronos's jobs.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, after_help = EXAMPLES)]
pub struct JobsArgs {
    #[command(subcommand)]
    action: Option<JobAction>,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Clone, clap::Args)]
struct Common {
    /// Chronos's URL.
    #[arg(long, value_name = "URL", env = "WASMESOS_CHRONOS", default_value = DEFAULT_CHRONOS_URL)]
    chronos: String,
    /// Print Chronos's JSON answer instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum JobAction {
    /// List the jobs (the default).
    List {
        #[command(flatten)]
        common: Common,
    },
    /// One job, as Chronos answers it.
    Show {
        #[command(flatten)]
        common: Common,
        /// The job's name.
        name: String,
    },
    /// Run the job now, outside its schedule.
    Run {
        #[command(flatten)]
        common: Common,
        /// The job's name.
        name: String,
    },
    /// Kill the job's running tasks.
    Kill {
        #[command(flatten)]
        common: Common,
        /// The job's name.
        name: String,
    },
    /// Delete the job (its children are handed its parents or schedule, as Chronos does).
    Delete {
        #[command(flatten)]
        common: Common,
        /// The job's name.
        name: String,
    },
}

pub fn main(args: JobsArgs) -> ExitCode {
    let action = args.action.unwrap_or(JobAction::List {
        common: args.common,
    });
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("wasmesos jobs: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&action)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("wasmesos jobs: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(action: &JobAction) -> anyhow::Result<String> {
    let (common, method, path, name, done) = match action {
        JobAction::List { common } => {
            let answer = client(common)?
                .call(Method::GET, "/v1/scheduler/jobs", None)
                .await?;
            return output(common, &answer, jobs_table);
        }
        JobAction::Show { common, name } => {
            let path = format!("/v1/scheduler/job/{}", segment(name));
            let answer = client(common)?.call(Method::GET, &path, None).await?;
            return output(common, &answer, |job| {
                jobs_table(&Value::Array(vec![job.clone()]))
            });
        }
        JobAction::Run { common, name } => (common, Method::PUT, "job", name, "started"),
        JobAction::Kill { common, name } => (
            common,
            Method::DELETE,
            "task/kill",
            name,
            "its tasks killed",
        ),
        JobAction::Delete { common, name } => (common, Method::DELETE, "job", name, "deleted"),
    };
    let path = format!("/v1/scheduler/{path}/{}", segment(name));
    client(common)?.call(method, &path, None).await?;
    Ok(format!("job {name}: {done}\n"))
}

fn client(common: &Common) -> anyhow::Result<ApiClient> {
    ApiClient::new(&CHRONOS, &common.chronos)
}

fn output(
    common: &Common,
    answer: &Value,
    table: impl Fn(&Value) -> String,
) -> anyhow::Result<String> {
    if common.json {
        let text = serde_json::to_string_pretty(answer).context("printing Chronos's answer")?;
        return Ok(format!("{text}\n"));
    }
    Ok(table(answer))
}

/// A job name as one path segment (Chronos's names are `[\w.-]+`; anything else is escaped so
/// that it reaches Chronos, which refuses it, rather than another path).
fn segment(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Chronos's job list as a table.
fn jobs_table(jobs: &Value) -> String {
    let text = |job: &Value, key: &str| match &job[key] {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        _ => "-".to_string(),
    };
    let rows = jobs
        .as_array()
        .into_iter()
        .flatten()
        .map(|job| {
            let when = match job["parents"].as_array() {
                Some(parents) if !parents.is_empty() => {
                    let names: Vec<&str> = parents.iter().filter_map(Value::as_str).collect();
                    format!("after {}", names.join(","))
                }
                _ => text(job, "schedule"),
            };
            vec![
                text(job, "name"),
                when,
                text(job, "successCount"),
                text(job, "errorCount"),
                text(job, "lastSuccess"),
                text(job, "lastError"),
                text(job, "disabled"),
                text(job, "command"),
            ]
        })
        .collect();
    render(
        &[
            "NAME",
            "WHEN",
            "SUCCESSES",
            "ERRORS",
            "LAST SUCCESS",
            "LAST ERROR",
            "DISABLED",
            "COMMAND",
        ],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_show_their_schedule_or_their_parents() {
        let jobs = serde_json::json!([
            {"name": "a", "schedule": "R/2026-12-07T00:00:00.000Z/PT1M", "parents": [],
             "successCount": 3, "errorCount": 0, "lastSuccess": "2026-12-07T00:02:00.000Z",
             "lastError": "", "disabled": false, "command": "hello.wasm"},
            {"name": "b", "parents": ["a"], "successCount": 0, "errorCount": 1,
             "lastSuccess": "", "lastError": "", "disabled": false, "command": "hello.wasm"}
        ]);
        let table = jobs_table(&jobs);
        assert!(table.contains("R/2026-12-07T00:00:00.000Z/PT1M"), "{table}");
        assert!(table.contains("after a"), "{table}");
        assert!(table.lines().count() >= 3, "{table}");
    }

    #[test]
    fn odd_names_stay_one_segment() {
        assert_eq!(segment("nightly-report.v2"), "nightly-report.v2");
        assert_eq!(segment("../x"), "..%2Fx");
    }
}
