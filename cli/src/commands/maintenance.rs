//! `wasmesos maintenance`: Mesos's maintenance primitives from the command line. `schedule`
//! shows, replaces (`--file`, Mesos's schedule JSON), extends (`add`) or clears the
//! schedule; `status` shows the DRAINING machines with their frameworks' answers to inverse
//! offers and the DOWN ones; `down` and `up` start and stop maintenance on machines.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use wasmesos_detector::MasterService;
use wasmesos_proto::operator_client::OperatorClient;
use wasmesos_proto::{
    GetMaintenanceScheduleRequest, GetMaintenanceStatusRequest, MachineId, MachinesRequest,
    MaintenanceSchedule, MaintenanceStatus, MaintenanceWindow, Unavailability,
    UpdateMaintenanceScheduleRequest, inverse_offer_status,
};
use wasmesos_sdk_scheduler::time::Timestamp;

use super::state::table::render;
use super::state::{MasterArg, status_error};

const EXAMPLES: &str = "\
Examples:
  wasmesos maintenance schedule add db1 db2/10.0.0.2 --start +1h --duration 2h
                                         # db1 and db2 will be down for 2 hours in an hour
  wasmesos maintenance schedule          # the windows
  wasmesos maintenance status            # DRAINING machines and the frameworks' answers
  wasmesos maintenance down db1          # take db1 down now: its agents are removed
  wasmesos maintenance up db1            # maintenance done: db1's agents may register
  wasmesos maintenance schedule --json > s.json; wasmesos maintenance schedule --file s.json

A machine is HOSTNAME, IP or HOSTNAME/IP, as the agents on it announce themselves (their
hostname, and the IP of their address). Once scheduled, a machine is DRAINING: offers of its
agents carry the window, and frameworks holding resources there get inverse offers, which
they accept or decline (`status` shows their answers). `down` removes its agents (their
tasks end TASK_LOST, or TASK_GONE_BY_OPERATOR for partition-aware frameworks) and refuses
them until `up`.";

/// The maintenance schedule, the machines' status, and taking machines down and up.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct MaintenanceArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Show the maintenance schedule, or replace it with --file.
    #[command(args_conflicts_with_subcommands = true)]
    Schedule {
        #[command(subcommand)]
        action: Option<ScheduleAction>,
        #[command(flatten)]
        master: MasterArg,
        /// Replace the schedule with this file (`-`: standard input), in Mesos's JSON:
        /// {"windows": [{"machine_ids": [{"hostname": "db1", "ip": "10.0.0.1"}],
        /// "unavailability": {"start": {"nanoseconds": N}, "duration": {"nanoseconds": N}}}]}.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Print the schedule in that JSON (what --file reads back).
        #[arg(long, conflicts_with = "file")]
        json: bool,
    },
    /// Show the DRAINING machines, with each framework's latest answer to the inverse
    /// offers for their agents, and the DOWN machines.
    Status {
        #[command(flatten)]
        master: MasterArg,
        /// Print Mesos's ClusterStatus JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Start maintenance: the machines (each DRAINING in the schedule) go DOWN, their
    /// agents are removed and refused until `up`.
    Down {
        #[command(flatten)]
        master: MasterArg,
        /// HOSTNAME, IP or HOSTNAME/IP; a hostname or IP alone names the scheduled machine
        /// that has it.
        #[arg(required = true, value_name = "MACHINE")]
        machines: Vec<String>,
    },
    /// Stop maintenance: the machines (each DOWN) go UP and leave the schedule.
    Up {
        #[command(flatten)]
        master: MasterArg,
        /// HOSTNAME, IP or HOSTNAME/IP.
        #[arg(required = true, value_name = "MACHINE")]
        machines: Vec<String>,
    },
}

#[derive(Debug, clap::Subcommand)]
enum ScheduleAction {
    /// Show the schedule (the default).
    Show {
        #[command(flatten)]
        master: MasterArg,
        /// Print the schedule in Mesos's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a window for machines to the schedule.
    Add {
        #[command(flatten)]
        master: MasterArg,
        /// HOSTNAME, IP or HOSTNAME/IP.
        #[arg(required = true, value_name = "MACHINE")]
        machines: Vec<String>,
        /// When the machines may go down: `now`, `+DURATION` from now (`+90m`), or an
        /// ISO-8601 instant (`2030-01-31T22:00:00Z`).
        #[arg(long, value_name = "WHEN", default_value = "now")]
        start: String,
        /// For how long (`2h`); without it, with no end in sight.
        #[arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration)]
        duration: Option<Duration>,
    },
    /// Empty the schedule: every DRAINING machine goes UP (DOWN ones must be brought up
    /// first).
    Clear {
        #[command(flatten)]
        master: MasterArg,
    },
}

pub fn main(args: MaintenanceArgs) -> ExitCode {
    let answer = tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(run(args.action)));
    match answer {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("wasmesos maintenance: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(action: Action) -> anyhow::Result<String> {
    match action {
        Action::Schedule {
            action: Some(ScheduleAction::Show { master, json }),
            ..
        }
        | Action::Schedule {
            action: None,
            master,
            file: None,
            json,
        } => {
            let schedule = get_schedule(&mut master.operator().await?).await?;
            if json {
                return Ok(format!("{}\n", schedule_json(&schedule)?));
            }
            Ok(schedule_table(&schedule))
        }
        Action::Schedule {
            action: None,
            master,
            file: Some(file),
            ..
        } => {
            let schedule = read_schedule(&file)?;
            let windows = schedule.windows.len();
            put_schedule(&mut master.operator().await?, schedule).await?;
            Ok(format!(
                "maintenance schedule replaced: {windows} window(s)\n"
            ))
        }
        Action::Schedule {
            action:
                Some(ScheduleAction::Add {
                    master,
                    machines,
                    start,
                    duration,
                }),
            ..
        } => {
            let start_nanos = parse_start(&start, now_nanos())?;
            let duration_nanos = duration
                .map(|d| i64::try_from(d.as_nanos()).context("--duration is too long"))
                .transpose()?;
            let machine_ids = machines
                .iter()
                .map(|text| parse_machine(text))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut operator = master.operator().await?;
            let mut schedule = get_schedule(&mut operator).await?;
            schedule.windows.push(MaintenanceWindow {
                machine_ids,
                unavailability: Some(Unavailability {
                    start_nanos,
                    duration_nanos,
                }),
            });
            put_schedule(&mut operator, schedule).await?;
            Ok(format!(
                "scheduled {} from {}{}: DRAINING until `wasmesos maintenance down`\n",
                machines.join(", "),
                instant(start_nanos),
                duration.map_or_else(
                    || " with no end".to_string(),
                    |d| format!(" for {}", crate::units::format_duration(d))
                ),
            ))
        }
        Action::Schedule {
            action: Some(ScheduleAction::Clear { master }),
            ..
        } => {
            put_schedule(
                &mut master.operator().await?,
                MaintenanceSchedule::default(),
            )
            .await?;
            Ok("maintenance schedule cleared: every DRAINING machine is UP\n".into())
        }
        Action::Status { master, json } => {
            let status = master
                .operator()
                .await?
                .get_maintenance_status(GetMaintenanceStatusRequest {})
                .await
                .map_err(|status| status_error("GetMaintenanceStatus", &status))?
                .into_inner();
            if json {
                return Ok(format!("{}\n", status_json(&status)?));
            }
            Ok(status_table(&status))
        }
        Action::Down { master, machines } => machines_call(&master, &machines, true).await,
        Action::Up { master, machines } => machines_call(&master, &machines, false).await,
    }
}

async fn get_schedule(
    operator: &mut OperatorClient<MasterService>,
) -> anyhow::Result<MaintenanceSchedule> {
    Ok(operator
        .get_maintenance_schedule(GetMaintenanceScheduleRequest {})
        .await
        .map_err(|status| status_error("GetMaintenanceSchedule", &status))?
        .into_inner())
}

async fn put_schedule(
    operator: &mut OperatorClient<MasterService>,
    schedule: MaintenanceSchedule,
) -> anyhow::Result<()> {
    let request = UpdateMaintenanceScheduleRequest {
        schedule: Some(schedule),
    };
    operator
        .update_maintenance_schedule(request)
        .await
        .map_err(|status| status_error("UpdateMaintenanceSchedule", &status))?;
    Ok(())
}

/// `down` (`start`) or `up`: the machines, resolved against the schedule, in one call.
async fn machines_call(
    master: &MasterArg,
    machines: &[String],
    start: bool,
) -> anyhow::Result<String> {
    let mut operator = master.operator().await?;
    let schedule = get_schedule(&mut operator).await?;
    let ids = machines
        .iter()
        .map(|text| resolve(&schedule, parse_machine(text)?))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let names: Vec<String> = ids.iter().map(machine_name).collect();
    let request = MachinesRequest { machines: ids };
    if start {
        operator
            .start_maintenance(request)
            .await
            .map_err(|status| status_error("StartMaintenance", &status))?;
        Ok(format!(
            "DOWN: {}; their agents were removed and are refused until `wasmesos maintenance up`\n",
            names.join(", ")
        ))
    } else {
        operator
            .stop_maintenance(request)
            .await
            .map_err(|status| status_error("StopMaintenance", &status))?;
        Ok(format!(
            "UP: {}; out of the schedule, their agents may register again\n",
            names.join(", ")
        ))
    }
}

/// `HOSTNAME`, `IP` or `HOSTNAME/IP` (an IPv4 address alone is an IP).
fn parse_machine(text: &str) -> anyhow::Result<MachineId> {
    let text = text.trim();
    let (hostname, ip) = match text.split_once('/') {
        Some((hostname, ip)) => (hostname, ip),
        None if text.parse::<std::net::Ipv4Addr>().is_ok() => ("", text),
        None => (text, ""),
    };
    if hostname.is_empty() && ip.is_empty() {
        bail!("{text:?} names no machine: give HOSTNAME, IP or HOSTNAME/IP");
    }
    if !ip.is_empty() && ip.parse::<std::net::Ipv4Addr>().is_err() {
        bail!("{text:?}: {ip:?} is not an IPv4 address");
    }
    Ok(MachineId {
        hostname: hostname.to_string(),
        ip: ip.to_string(),
    })
}

/// A hostname or IP alone names the one scheduled machine that has it (hostnames without
/// case), so `down db1` finds `db1/10.0.0.1`; two such machines are ambiguous. A machine
/// not in the schedule is sent as given, for the master to refuse.
fn resolve(schedule: &MaintenanceSchedule, wanted: MachineId) -> anyhow::Result<MachineId> {
    if !wanted.hostname.is_empty() && !wanted.ip.is_empty() {
        return Ok(wanted);
    }
    let scheduled = schedule.windows.iter().flat_map(|w| &w.machine_ids);
    let matches: Vec<&MachineId> = scheduled
        .filter(|id| {
            if wanted.hostname.is_empty() {
                id.ip == wanted.ip
            } else {
                id.hostname.eq_ignore_ascii_case(&wanted.hostname)
            }
        })
        .collect();
    match matches.as_slice() {
        [] => Ok(wanted),
        [one] => Ok((*one).clone()),
        many => {
            let names: Vec<String> = many.iter().map(|id| machine_name(id)).collect();
            bail!(
                "{} names {} scheduled machines ({}): give HOSTNAME/IP",
                machine_name(&wanted),
                many.len(),
                names.join(", ")
            )
        }
    }
}

fn machine_name(id: &MachineId) -> String {
    match (id.hostname.is_empty(), id.ip.is_empty()) {
        (false, false) => format!("{}/{}", id.hostname, id.ip),
        (false, true) => id.hostname.clone(),
        _ => id.ip.clone(),
    }
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// `now`, `+DURATION` or an ISO-8601 instant, as Unix nanoseconds.
fn parse_start(text: &str, now: i64) -> anyhow::Result<i64> {
    if text == "now" {
        return Ok(now);
    }
    if let Some(after) = text.strip_prefix('+') {
        let after = crate::units::parse_duration(after)
            .map_err(|why| anyhow::anyhow!("--start {text}: {why}"))?;
        let after = i64::try_from(after.as_nanos()).context("--start is too far away")?;
        return now.checked_add(after).context("--start is too far away");
    }
    let instant = wasmesos_chronos::model::iso8601::Instant::parse(text, None).with_context(|| {
        format!("--start {text:?}: expected now, +DURATION (+90m) or an instant (2030-01-31T22:00:00Z)")
    })?;
    instant
        .millis
        .checked_mul(1_000_000)
        .context("--start is too far away")
}

/// Unix nanoseconds as `2030-01-31T22:00:00.000Z`.
fn instant(nanos: i64) -> String {
    Timestamp(u64::try_from(nanos / 1_000_000).unwrap_or(0)).iso()
}

/// A window as one line: `2030-01-31T22:00:00.000Z for 2h`, or `from …` with no end.
pub(super) fn window_text(unavailability: &Unavailability) -> String {
    let start = instant(unavailability.start_nanos);
    match unavailability.duration_nanos {
        Some(nanos) => format!(
            "{start} for {}",
            crate::units::format_duration(Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)))
        ),
        None => format!("from {start}"),
    }
}

fn schedule_table(schedule: &MaintenanceSchedule) -> String {
    let rows = schedule
        .windows
        .iter()
        .map(|window| {
            let unavailability = window.unavailability.unwrap_or_default();
            let duration = unavailability.duration_nanos.map_or_else(
                || "-".to_string(),
                |nanos| {
                    crate::units::format_duration(Duration::from_nanos(
                        u64::try_from(nanos).unwrap_or(0),
                    ))
                },
            );
            let machines: Vec<String> = window.machine_ids.iter().map(machine_name).collect();
            vec![
                instant(unavailability.start_nanos),
                duration,
                machines.join(", "),
            ]
        })
        .collect();
    render(&["START", "DURATION", "MACHINES"], rows)
}

fn status_table(status: &MaintenanceStatus) -> String {
    let mut rows = Vec::new();
    for machine in &status.draining_machines {
        let answers: Vec<String> = machine
            .statuses
            .iter()
            .map(|answer| {
                let said = match answer.status() {
                    inverse_offer_status::Status::Accept => "ACCEPT",
                    inverse_offer_status::Status::Decline => "DECLINE",
                    inverse_offer_status::Status::Unknown => "UNKNOWN",
                };
                format!("{} {said}", answer.framework_id)
            })
            .collect();
        let answers = if answers.is_empty() {
            "-".to_string()
        } else {
            answers.join(", ")
        };
        let id = machine.id.clone().unwrap_or_default();
        rows.push(vec![machine_name(&id), "DRAINING".into(), answers]);
    }
    for id in &status.down_machines {
        rows.push(vec![machine_name(id), "DOWN".into(), "-".into()]);
    }
    render(&["MACHINE", "MODE", "ANSWERS"], rows)
}

/// Mesos's schedule JSON, what `--file` reads and `--json` prints.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleJson {
    #[serde(default)]
    windows: Vec<WindowJson>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowJson {
    machine_ids: Vec<MachineJson>,
    unavailability: UnavailabilityJson,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MachineJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnavailabilityJson {
    start: Nanos,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duration: Option<Nanos>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Nanos {
    nanoseconds: i64,
}

impl From<&MachineId> for MachineJson {
    fn from(id: &MachineId) -> Self {
        let given = |text: &str| (!text.is_empty()).then(|| text.to_string());
        Self {
            hostname: given(&id.hostname),
            ip: given(&id.ip),
        }
    }
}

fn read_schedule(path: &Path) -> anyhow::Result<MaintenanceSchedule> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the schedule from standard input")?;
    } else {
        text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    let json: ScheduleJson = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a maintenance schedule", path.display()))?;
    Ok(MaintenanceSchedule {
        windows: json
            .windows
            .into_iter()
            .map(|window| MaintenanceWindow {
                machine_ids: window
                    .machine_ids
                    .into_iter()
                    .map(|m| MachineId {
                        hostname: m.hostname.unwrap_or_default(),
                        ip: m.ip.unwrap_or_default(),
                    })
                    .collect(),
                unavailability: Some(Unavailability {
                    start_nanos: window.unavailability.start.nanoseconds,
                    duration_nanos: window.unavailability.duration.map(|d| d.nanoseconds),
                }),
            })
            .collect(),
    })
}

fn schedule_json(schedule: &MaintenanceSchedule) -> anyhow::Result<String> {
    let json = ScheduleJson {
        windows: schedule
            .windows
            .iter()
            .map(|window| {
                let unavailability = window.unavailability.unwrap_or_default();
                WindowJson {
                    machine_ids: window.machine_ids.iter().map(MachineJson::from).collect(),
                    unavailability: UnavailabilityJson {
                        start: Nanos {
                            nanoseconds: unavailability.start_nanos,
                        },
                        duration: unavailability
                            .duration_nanos
                            .map(|nanoseconds| Nanos { nanoseconds }),
                    },
                }
            })
            .collect(),
    };
    Ok(serde_json::to_string_pretty(&json)?)
}

fn status_json(status: &MaintenanceStatus) -> anyhow::Result<String> {
    let draining: Vec<serde_json::Value> = status
        .draining_machines
        .iter()
        .map(|machine| {
            let statuses: Vec<serde_json::Value> = machine
                .statuses
                .iter()
                .map(|answer| {
                    #[allow(
                        clippy::cast_possible_truncation,
                        reason = "Unix seconds as nanoseconds fit an i64 until 2262"
                    )]
                    let nanoseconds = (answer.timestamp * 1e9) as i64;
                    serde_json::json!({
                        "status": answer.status().as_str_name(),
                        "framework_id": {"value": answer.framework_id},
                        "timestamp": {"nanoseconds": nanoseconds},
                    })
                })
                .collect();
            let id = MachineJson::from(&machine.id.clone().unwrap_or_default());
            serde_json::json!({"id": id, "statuses": statuses})
        })
        .collect();
    let down: Vec<MachineJson> = status.down_machines.iter().map(MachineJson::from).collect();
    Ok(serde_json::to_string_pretty(
        &serde_json::json!({"draining_machines": draining, "down_machines": down}),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_are_hostnames_ips_or_both() {
        let id = |h: &str, ip: &str| MachineId {
            hostname: h.into(),
            ip: ip.into(),
        };
        assert_eq!(parse_machine("db1").expect("hostname"), id("db1", ""));
        assert_eq!(parse_machine("10.0.0.1").expect("ip"), id("", "10.0.0.1"));
        assert_eq!(
            parse_machine("db1/10.0.0.1").expect("both"),
            id("db1", "10.0.0.1")
        );
        assert!(parse_machine("db1/x").is_err());
        assert!(parse_machine("/").is_err());
        let schedule = MaintenanceSchedule {
            windows: vec![MaintenanceWindow {
                machine_ids: vec![
                    id("DB1", "10.0.0.1"),
                    id("db2", "10.0.0.2"),
                    id("db2", "10.0.0.3"),
                ],
                unavailability: None,
            }],
        };
        assert_eq!(
            resolve(&schedule, id("db1", "")).expect("found"),
            id("DB1", "10.0.0.1")
        );
        assert_eq!(
            resolve(&schedule, id("", "10.0.0.3")).expect("found"),
            id("db2", "10.0.0.3")
        );
        let err = resolve(&schedule, id("db2", "")).expect_err("ambiguous");
        assert!(err.to_string().contains("give HOSTNAME/IP"), "{err}");
        assert_eq!(
            resolve(&schedule, id("db9", "")).expect("as given"),
            id("db9", "")
        );
    }

    #[test]
    fn starts_are_now_offsets_or_instants() {
        let now = 1_000_000_000_000_000_000;
        assert_eq!(parse_start("now", now).expect("now"), now);
        assert_eq!(
            parse_start("+90m", now).expect("offset"),
            now + 5_400_000_000_000
        );
        assert_eq!(
            parse_start("2030-01-31T22:00:00Z", now).expect("instant"),
            1_896_127_200_000_000_000
        );
        assert!(parse_start("tomorrow", now).is_err());
        assert_eq!(
            instant(1_896_127_200_000_000_000),
            "2030-01-31T22:00:00.000Z"
        );
    }

    #[test]
    fn schedule_files_round_trip() {
        let text = r#"{"windows":[{"machine_ids":[{"hostname":"db1","ip":"10.0.0.1"}],
            "unavailability":{"start":{"nanoseconds":5},"duration":{"nanoseconds":7}}}]}"#;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("s.json");
        std::fs::write(&path, text).expect("write");
        let schedule = read_schedule(&path).expect("schedule");
        let back: serde_json::Value =
            serde_json::from_str(&schedule_json(&schedule).expect("json")).expect("parse");
        let sent: serde_json::Value = serde_json::from_str(text).expect("parse");
        assert_eq!(back, sent);
        std::fs::write(&path, r#"{"windows":[{"machines":[]}]}"#).expect("write");
        let err = read_schedule(&path).expect_err("unknown field");
        assert!(
            format!("{err:#}").contains("unknown field `machines`"),
            "{err:#}"
        );
    }
}
