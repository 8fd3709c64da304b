//! `wasmesos roles`: list the allocator's roles, and change weights and quota at run time
//! through the master's operator API (`GetRoles`, `UpdateWeights`, `SetQuota`).

use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use wasmesos_allocator::Resources as Amounts;
use wasmesos_proto::{
    GetRolesRequest, Quota, Resources, RoleSummary, RoleWeight, SetQuotaRequest,
    UpdateWeightsRequest,
};

use super::state::{MasterArg, status_error};

const EXAMPLES: &str = "\
Examples:
  wasmesos roles                                   # weights, shares, quota, reservations
  wasmesos roles --json | jq '.[] | select(.name == \"eng\")'
  wasmesos roles set-weight eng 2                  # eng gets twice a weight-1 sibling's share
  wasmesos roles set-weight eng/backend 3          # ...and backend three times its siblings'
  wasmesos roles set-quota prod --guarantee \"cpus:8;mem:32GiB\"
  wasmesos roles set-quota dev --limit \"cpus:4;mem:16GiB\"
  wasmesos roles set-quota dev --clear

Weights and quota apply at the master's next allocation round. They are not persisted yet:
a restarted master starts from its flags (`wasmesos master --role-weight`).";

/// List roles, or change a role's weight or quota.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub struct RolesArgs {
    #[command(subcommand)]
    action: Option<Action>,
    #[command(flatten)]
    master: MasterArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    SetWeight(SetWeightArgs),
    SetQuota(SetQuotaArgs),
}

const WEIGHT_EXAMPLES: &str = "\
Examples:
  wasmesos roles set-weight prod 2
  wasmesos roles set-weight eng/backend 0.5
  WASMESOS_MASTER=http://10.0.0.5:5050 wasmesos roles set-weight batch 0.25";

/// Set a role's weight: its share is divided by it, among its siblings.
#[derive(Debug, clap::Args)]
#[command(after_help = WEIGHT_EXAMPLES)]
struct SetWeightArgs {
    #[command(flatten)]
    master: MasterArg,
    /// The role path, e.g. `eng` or `eng/backend`.
    role: String,
    /// A positive number; roles never set weigh 1.
    weight: f64,
}

const QUOTA_EXAMPLES: &str = "\
Examples:
  # Hold 8 cpus and 32 GiB for prod's frameworks before fair sharing
  wasmesos roles set-quota prod --guarantee \"cpus:8;mem:32GiB\"

  # Never let dev (and its child roles) hold more than 4 cpus and 16 GiB
  wasmesos roles set-quota dev --limit \"cpus:4;mem:16GiB\"

  # Both at once, then remove the quota again
  wasmesos roles set-quota ml --guarantee \"gpus:2\" --limit \"gpus:4;cpus:16\"
  wasmesos roles set-quota ml --clear

Amounts use the agent syntax without roles: `cpus` in cores, `mem` and `disk` with B, KiB,
MiB, GiB, TiB (a bare number is MiB). Names a limit leaves out are unlimited. A new quota
replaces the role's previous one whole.";

/// Set a role's quota: a guarantee served before fair sharing and/or a limit.
#[derive(Debug, clap::Args)]
#[command(after_help = QUOTA_EXAMPLES)]
struct SetQuotaArgs {
    #[command(flatten)]
    master: MasterArg,
    /// The role path.
    role: String,
    /// Resources set aside for the role, e.g. "cpus:2;mem:1GiB".
    #[arg(long, value_name = "RESOURCES", value_parser = parse_quantities)]
    guarantee: Option<Amounts>,
    /// The most the role's subtree may hold, e.g. "cpus:4;mem:8GiB".
    #[arg(long, value_name = "RESOURCES", value_parser = parse_quantities)]
    limit: Option<Amounts>,
    /// Remove the role's quota.
    #[arg(long, conflicts_with_all = ["guarantee", "limit"])]
    clear: bool,
}

pub fn main(args: RolesArgs) -> ExitCode {
    match run(args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("wasmesos roles: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: RolesArgs) -> anyhow::Result<String> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        match args.action {
            None => list(&args.master, args.json).await,
            Some(Action::SetWeight(set)) => set_weight(set).await,
            Some(Action::SetQuota(set)) => set_quota(set).await,
        }
    })
}

async fn list(master: &MasterArg, as_json: bool) -> anyhow::Result<String> {
    let roles = master
        .operator()
        .await?
        .get_roles(GetRolesRequest {})
        .await
        .map_err(|status| status_error("GetRoles", &status))?
        .into_inner()
        .roles;
    if as_json {
        let value = Value::Array(roles.iter().map(role_json).collect());
        return Ok(format!("{}\n", serde_json::to_string_pretty(&value)?));
    }
    Ok(table(&roles))
}

async fn set_weight(args: SetWeightArgs) -> anyhow::Result<String> {
    if !(args.weight.is_finite() && args.weight > 0.0) {
        bail!("the weight must be a positive number, not {}", args.weight);
    }
    let request = UpdateWeightsRequest {
        weights: vec![RoleWeight {
            role: args.role.clone(),
            weight: args.weight,
        }],
    };
    args.master
        .operator()
        .await?
        .update_weights(request)
        .await
        .map_err(|status| status_error("UpdateWeights", &status))?;
    Ok(format!("role {} now weighs {}\n", args.role, args.weight))
}

async fn set_quota(args: SetQuotaArgs) -> anyhow::Result<String> {
    if !args.clear && args.guarantee.is_none() && args.limit.is_none() {
        bail!("give --guarantee and/or --limit, or --clear to remove the quota");
    }
    let quota = (!args.clear).then(|| Quota {
        guarantee: args.guarantee.as_ref().map(to_wire),
        limit: args.limit.as_ref().map(to_wire),
    });
    let request = SetQuotaRequest {
        role: args.role.clone(),
        quota,
    };
    args.master
        .operator()
        .await?
        .set_quota(request)
        .await
        .map_err(|status| status_error("SetQuota", &status))?;
    Ok(if args.clear {
        format!("role {} has no quota now\n", args.role)
    } else {
        format!(
            "role {}: guarantee {}, limit {}\n",
            args.role,
            args.guarantee.map_or("none".into(), |g| g.to_string()),
            args.limit.map_or("none".into(), |l| l.to_string()),
        )
    })
}

/// Quota amounts: the agent syntax without roles.
fn parse_quantities(text: &str) -> Result<Amounts, String> {
    let amounts: Amounts = text.parse().map_err(|err| format!("{err}"))?;
    if !amounts.reserved().is_empty() {
        return Err("quota counts quantities: write `cpus:2`, not `cpus(role):2`".into());
    }
    Ok(amounts)
}

fn to_wire(amounts: &Amounts) -> Resources {
    wasmesos_proto::resources_to_proto(amounts)
}

/// Wire resources in the agent syntax (`cpus:2;mem:1GiB`), reservations as `cpus(ads):1`.
fn resources_text(resources: Option<&Resources>) -> String {
    // A value the master sent that does not fit the syntax is shown as missing rather than
    // failing the whole listing.
    let out = resources_model(resources);
    match out.to_string() {
        text if text.is_empty() => "-".into(),
        text => text,
    }
}

/// Wire resources in the model, leaving out entries that do not read.
pub(crate) fn resources_model(resources: Option<&Resources>) -> Amounts {
    let mut out = Amounts::new();
    for item in resources
        .map(|r| r.resources.as_slice())
        .unwrap_or_default()
    {
        let one = Resources {
            resources: vec![item.clone()],
        };
        let amounts = wasmesos_proto::Amounts::NonNegative;
        if let Ok(entry) = wasmesos_proto::resources_from_proto(Some(&one), amounts) {
            out.add(&entry);
        }
    }
    out
}

fn role_json(role: &RoleSummary) -> Value {
    let text = |r: Option<&Resources>| match resources_text(r).as_str() {
        "-" => Value::Null,
        other => Value::String(other.to_string()),
    };
    json!({
        "name": role.name,
        "weight": role.weight,
        "dominant_share": role.dominant_share,
        "weighted_share": role.weighted_share,
        "allocated": text(role.allocated.as_ref()),
        "consumption": text(role.consumption.as_ref()),
        "reserved": text(role.reserved.as_ref()),
        "quota": role.quota.as_ref().map(|q| json!({
            "guarantee": text(q.guarantee.as_ref()),
            "limit": text(q.limit.as_ref()),
        })),
        "framework_ids": role.framework_ids,
    })
}

fn table(roles: &[RoleSummary]) -> String {
    let header = [
        "ROLE",
        "WEIGHT",
        "SHARE",
        "WEIGHTED",
        "ALLOCATED",
        "RESERVED",
        "GUARANTEE",
        "LIMIT",
        "FRAMEWORKS",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for role in roles {
        let quota = role.quota.as_ref();
        rows.push(vec![
            role.name.clone(),
            format!("{}", role.weight),
            format!("{:.3}", role.dominant_share),
            format!("{:.3}", role.weighted_share),
            resources_text(role.allocated.as_ref()),
            resources_text(role.reserved.as_ref()),
            resources_text(quota.and_then(|q| q.guarantee.as_ref())),
            quota
                .and_then(|q| q.limit.as_ref())
                .map_or("-".into(), |l| resources_text(Some(l))),
            role.framework_ids.len().to_string(),
        ]);
    }
    align(&rows)
}

/// Left-aligned columns two spaces apart.
fn align(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_refuse_roles_and_bad_syntax() {
        assert_eq!(
            parse_quantities("cpus:2;mem:1GiB").map(|a| a.to_string()),
            Ok("cpus:2;mem:1GiB".into())
        );
        assert!(parse_quantities("cpus(ads):2").is_err());
        assert!(parse_quantities("cpus:lots").is_err());
    }

    #[test]
    fn the_table_shows_quota_and_reservations() {
        let wire = |text: &str| Some(to_wire(&text.parse().expect("resources")));
        let role = RoleSummary {
            name: "eng/backend".into(),
            weight: 3.0,
            dominant_share: 0.5,
            weighted_share: 0.25,
            allocated: wire("cpus:4;mem:8GiB"),
            reserved: wire("cpus:2"),
            quota: Some(Quota {
                guarantee: wire("cpus:1"),
                limit: None,
            }),
            framework_ids: vec!["f1".into()],
            ..RoleSummary::default()
        };
        let text = table(std::slice::from_ref(&role));
        let line = text.lines().nth(1).expect("one row");
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            cells,
            [
                "eng/backend",
                "3",
                "0.500",
                "0.250",
                "cpus:4;mem:8GiB",
                "cpus:2",
                "cpus:1",
                "-",
                "1"
            ]
        );
        let value = role_json(&role);
        assert_eq!(value["quota"]["limit"], Value::Null);
        assert_eq!(value["reserved"], "cpus:2");
    }
}
