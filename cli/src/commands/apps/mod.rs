//! `wasmesos apps`: Marathon's apps over its REST API (`wasmesos marathon`, or `wasmesos
//! dev --services`): list, show, scale, delete, restart. Tables as `wasmesos tasks` prints
//! them; `--json` prints Marathon's own answer.

mod table;

use std::process::ExitCode;

use anyhow::Context;
use reqwest::Method;
use serde_json::{Value, json};

use super::api_client::{ApiClient, Framework};

/// Marathon's usual address, which `wasmesos dev --services` and `wasmesos marathon` use.
pub const DEFAULT_MARATHON_URL: &str = "http://127.0.0.1:8080";

const EXAMPLES: &str = "\
Examples:
  wasmesos apps                          # every app: instances, running, healthy, deployments
  wasmesos apps show /web                # one app and its tasks
  wasmesos apps scale /web 5             # PUT {\"instances\": 5}: a deployment starts
  wasmesos apps restart /web             # a rolling restart within its upgradeStrategy
  wasmesos apps delete /web              # kill its tasks and forget it
  wasmesos apps --json | jq '.apps[].id'
  wasmesos apps --marathon http://10.0.0.5:8080

An app changing under a deployment refuses a second change (409, naming the deployment);
--force replaces that deployment. Apps are created with Marathon's API:
  curl -X POST -H 'Content-Type: application/json' localhost:8080/v2/apps -d @app.json";

/// List and change Marathon's apps.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, after_help = EXAMPLES)]
pub struct AppsArgs {
    #[command(subcommand)]
    action: Option<AppAction>,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Clone, clap::Args)]
struct Common {
    /// Marathon's URL.
    #[arg(long, value_name = "URL", env = "WASMESOS_MARATHON", default_value = DEFAULT_MARATHON_URL)]
    marathon: String,
    /// Print Marathon's JSON answer instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum AppAction {
    /// List the apps (the default).
    List {
        #[command(flatten)]
        common: Common,
    },
    /// One app: its definition, counts, deployments and tasks.
    Show {
        #[command(flatten)]
        common: Common,
        /// The app's id, e.g. `/web` or `prod/web`.
        id: String,
    },
    /// Run N instances of the app.
    Scale {
        #[command(flatten)]
        common: Common,
        /// The app's id.
        id: String,
        /// The new number of instances (0 stops every task but keeps the app).
        instances: u32,
        /// Replace a deployment the app is under.
        #[arg(long)]
        force: bool,
    },
    /// Delete the app: its tasks are killed.
    Delete {
        #[command(flatten)]
        common: Common,
        /// The app's id.
        id: String,
        /// Delete it even while a deployment changes it (that deployment is cancelled).
        #[arg(long)]
        force: bool,
    },
    /// Replace every task of the app, within its upgradeStrategy.
    Restart {
        #[command(flatten)]
        common: Common,
        /// The app's id.
        id: String,
        /// Replace a deployment the app is under.
        #[arg(long)]
        force: bool,
    },
}

pub fn main(args: AppsArgs) -> ExitCode {
    let action = args.action.unwrap_or(AppAction::List {
        common: args.common,
    });
    match run(&action) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("wasmesos apps: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(action: &AppAction) -> anyhow::Result<String> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(act(action))
}

async fn act(action: &AppAction) -> anyhow::Result<String> {
    let (common, answer, render): (&Common, Value, fn(&Value) -> String) = match action {
        AppAction::List { common } => {
            let path = "/v2/apps?embed=apps.counts&embed=apps.deployments";
            let answer = client(common)?.call(Method::GET, path, None).await?;
            (common, answer, table::apps)
        }
        AppAction::Show { common, id } => {
            let path = app_path(id);
            let answer = client(common)?
                .call(Method::GET, &format!("/v2/apps{path}"), None)
                .await?;
            (common, answer, table::app)
        }
        AppAction::Scale {
            common,
            id,
            instances,
            force,
        } => {
            let path = format!("/v2/apps{}{}", app_path(id), force_query(*force));
            let body = json!({ "instances": instances });
            let answer = client(common)?
                .call(Method::PUT, &path, Some(&body))
                .await?;
            (common, answer, table::deployment)
        }
        AppAction::Delete { common, id, force } => {
            let path = format!("/v2/apps{}{}", app_path(id), force_query(*force));
            let answer = client(common)?.call(Method::DELETE, &path, None).await?;
            (common, answer, table::deployment)
        }
        AppAction::Restart { common, id, force } => {
            let path = format!("/v2/apps{}/restart{}", app_path(id), force_query(*force));
            let answer = client(common)?.call(Method::POST, &path, None).await?;
            (common, answer, table::deployment)
        }
    };
    if common.json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&answer)?));
    }
    Ok(render(&answer))
}

static MARATHON: Framework = Framework {
    name: "Marathon",
    flag: "--marathon",
    env: "WASMESOS_MARATHON",
    command: "wasmesos marathon",
    conflict_hint: " (--force overrides a deployment in progress)",
};

fn client(common: &Common) -> anyhow::Result<ApiClient> {
    ApiClient::new(&MARATHON, &common.marathon)
}

/// An app id as a path: `/web` for `web` or `/web`, `/prod/web` for `prod/web`.
fn app_path(id: &str) -> String {
    format!("/{}", id.trim_start_matches('/'))
}

fn force_query(force: bool) -> &'static str {
    if force { "?force=true" } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_absolute_paths() {
        assert_eq!(app_path("web"), "/web");
        assert_eq!(app_path("/prod/web"), "/prod/web");
        assert_eq!(app_path("//web"), "/web");
    }
}
