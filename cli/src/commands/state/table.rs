//! The cluster state as aligned text tables.

use std::fmt::Write;

use wasmesos_proto::resource_names::{CPUS, DISK, MEM, PORTS};
use wasmesos_proto::{
    AgentSummary, ClusterState, FrameworkSummary, Resources, TaskSummary, ValueType,
};

use super::{View, reason_text};

/// Renders the chosen part of the state.
pub fn view(state: &ClusterState, view: View) -> String {
    match view {
        View::Agents => agents(&state.agents),
        View::Frameworks => frameworks(&state.frameworks),
        View::Tasks => tasks(&state.tasks),
        View::All => everything(state),
    }
}

fn everything(state: &ClusterState) -> String {
    let mut out = String::new();
    if let Some(master) = &state.master {
        let _ = writeln!(
            out,
            "master {} at {} (version {})",
            master.id, master.address, master.version
        );
    }
    if !state.roles.is_empty() {
        let rows = state
            .roles
            .iter()
            .map(|role| {
                vec![
                    role.name.clone(),
                    format!("{}", role.weight),
                    format!("{:.3}", role.dominant_share),
                    resources(role.allocated.as_ref()),
                ]
            })
            .collect();
        section(
            &mut out,
            "roles",
            render(&["ROLE", "WEIGHT", "SHARE", "ALLOCATED"], rows),
        );
    }
    section(&mut out, "agents", agents(&state.agents));
    section(&mut out, "frameworks", frameworks(&state.frameworks));
    section(&mut out, "tasks", tasks(&state.tasks));
    out
}

fn section(out: &mut String, title: &str, body: String) {
    let _ = write!(out, "\n{title}:\n{body}");
}

pub fn agents(agents: &[AgentSummary]) -> String {
    let rows = agents
        .iter()
        .map(|summary| {
            let info = summary.agent.clone().unwrap_or_default();
            let total = summary.total.as_ref();
            let used = summary.used.as_ref();
            vec![
                info.id,
                info.hostname,
                info.address,
                agent_state(summary).to_string(),
                used_of(used, total, CPUS, cores),
                used_of(used, total, MEM, bytes),
                used_of(used, total, DISK, bytes),
                ports_used_of(used, total),
                resources(summary.offered.as_ref()),
                summary.unavailability.as_ref().map_or_else(
                    || "-".to_string(),
                    |window| {
                        format!(
                            "DRAINING {}",
                            super::super::maintenance::window_text(window)
                        )
                    },
                ),
            ]
        })
        .collect();
    let header = [
        "ID",
        "HOSTNAME",
        "ADDRESS",
        "STATE",
        "CPUS",
        "MEM",
        "DISK",
        "PORTS",
        "OFFERED",
        "MAINTENANCE",
    ];
    render(&header, rows)
}

/// An agent's service state: `active`, `disconnected`, or taken out of service by an
/// operator (`deactivated`, `draining`, `drained`).
fn agent_state(summary: &AgentSummary) -> &'static str {
    use wasmesos_proto::DrainState;
    match summary.drain_info.as_ref().map(|drain| drain.state()) {
        Some(DrainState::Drained) => "drained",
        Some(_) => "draining",
        None if summary.deactivated => "deactivated",
        None if summary.active => "active",
        None => "disconnected",
    }
}

pub fn frameworks(frameworks: &[FrameworkSummary]) -> String {
    let rows = frameworks
        .iter()
        .map(|summary| {
            let info = summary.framework.clone().unwrap_or_default();
            let roles = if info.roles.is_empty() {
                "*".to_string()
            } else {
                info.roles.join(",")
            };
            vec![
                info.id,
                info.name,
                roles,
                if summary.connected { "yes" } else { "no" }.to_string(),
                summary.active_tasks.to_string(),
                format!("{:.3}", summary.dominant_share),
                resources(summary.used.as_ref()),
            ]
        })
        .collect();
    let header = ["ID", "NAME", "ROLES", "CONNECTED", "TASKS", "SHARE", "USED"];
    render(&header, rows)
}

pub fn tasks(tasks: &[TaskSummary]) -> String {
    let rows = tasks
        .iter()
        .map(|task| {
            vec![
                task.task_id.clone(),
                task.name.clone(),
                if task.suspended {
                    format!("{} (suspended)", task.state().name())
                } else {
                    task.state().name().to_string()
                },
                reason_text(task.reason()),
                task.exit_code
                    .map(|code| code.to_string())
                    .unwrap_or_default(),
                task.framework_id.clone(),
                task.agent_id.clone(),
                task_ports(task.resources.as_ref()),
                resources(task.resources.as_ref()),
            ]
        })
        .collect();
    let header = [
        "ID",
        "NAME",
        "STATE",
        "REASON",
        "EXIT",
        "FRAMEWORK",
        "AGENT",
        "PORTS",
        "RESOURCES",
    ];
    render(&header, rows)
}

/// Columns padded to their widest cell; a `(none)` line when there are no rows.
pub fn render(header: &[&str], rows: Vec<Vec<String>>) -> String {
    if rows.is_empty() {
        return "(none)\n".to_string();
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

fn used_of(
    used: Option<&Resources>,
    total: Option<&Resources>,
    name: &str,
    format: fn(f64) -> String,
) -> String {
    let used = used.map_or(0.0, |r| r.scalar(name));
    let total = total.map_or(0.0, |r| r.scalar(name));
    format!("{}/{}", format(used), format(total))
}

/// How many ports are in use, of which: `2 of [31000-32000]`; `-` for an agent without.
fn ports_used_of(used: Option<&Resources>, total: Option<&Resources>) -> String {
    let total = total.map(|r| r.ranges(PORTS)).unwrap_or_default();
    if total.is_empty() {
        return "-".into();
    }
    let used = used.map_or(0, |r| r.ranges(PORTS).count());
    format!("{used} of {total}")
}

/// A task's ports as Marathon lists them, `31000,31001`; `-` for none. At most 8, then `…`.
fn task_ports(resources: Option<&Resources>) -> String {
    const SHOWN: usize = 8;
    let ports = resources.map(|r| r.ranges(PORTS)).unwrap_or_default();
    if ports.is_empty() {
        return "-".into();
    }
    let mut shown: Vec<String> = ports.values().take(SHOWN).map(|p| p.to_string()).collect();
    if ports.count() > SHOWN as u64 {
        shown.push("…".into());
    }
    shown.join(",")
}

/// `cpus:0.5 mem:64 MiB ports:[31000-31001]`, in the order the master sent them.
fn resources(resources: Option<&Resources>) -> String {
    let Some(resources) = resources else {
        return String::new();
    };
    let parts: Vec<String> = resources
        .resources
        .iter()
        .map(|r| match (ValueType::try_from(r.r#type), r.name.as_str()) {
            (Ok(ValueType::Ranges), _) => format!("{}:{}", r.name, r.ranges_value()),
            (Ok(ValueType::Set), _) => format!("{}:{{{}}}", r.name, r.set_items.join(",")),
            (_, MEM | DISK) => format!("{}:{}", r.name, bytes(r.value)),
            _ => format!("{}:{}", r.name, cores(r.value)),
        })
        .collect();
    parts.join(" ")
}

pub fn cores(value: f64) -> String {
    // Sums of freed resources can be -0.0; show 0.
    let value = if value == 0.0 { 0.0 } else { value };
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Bytes in the largest binary unit that keeps the number at least 1.
pub fn bytes(value: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = if value == 0.0 { 0.0 } else { value };
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0}B")
    } else {
        format!("{}{}", cores(value), UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use wasmesos_proto::{AgentInfo, TaskState};

    use super::*;

    #[test]
    fn columns_line_up() {
        let text = render(
            &["ID", "NAME"],
            vec![
                vec!["a-long-id".into(), "x".into()],
                vec!["b".into(), "yy".into()],
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, ["ID         NAME", "a-long-id  x", "b          yy"]);
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(bytes(512.0), "512B");
        assert_eq!(bytes(64.0 * 1024.0 * 1024.0), "64MiB");
        assert_eq!(bytes(1.5 * 1024.0 * 1024.0 * 1024.0), "1.5GiB");
        assert_eq!(cores(0.25), "0.25");
        assert_eq!(cores(2.0), "2");
        assert_eq!(
            (cores(-0.0), bytes(-0.0)),
            ("0".to_string(), "0B".to_string())
        );
    }

    #[test]
    fn agent_rows_show_used_over_total() {
        let summary = AgentSummary {
            agent: Some(AgentInfo {
                id: "agent-1".into(),
                ..AgentInfo::default()
            }),
            total: Some(Resources::from_scalars([
                ("cpus", 4.0),
                ("mem", 1073741824.0),
            ])),
            used: Some(Resources::from_scalars([("cpus", 1.5)])),
            active: true,
            ..AgentSummary::default()
        };
        let text = agents(std::slice::from_ref(&summary));
        assert!(text.contains("1.5/4"), "{text}");
        assert!(text.contains("0B/1GiB"), "{text}");
        let ports = |text: &str| {
            let model: wasmesos_allocator::Resources = text.parse().expect("valid");
            Some(wasmesos_proto::resources_to_proto(&model))
        };
        let with_ports = AgentSummary {
            total: ports("cpus:4;ports:[31000-32000]"),
            used: ports("cpus:1;ports:[31000-31001]"),
            ..summary
        };
        let text = agents(std::slice::from_ref(&with_ports));
        assert!(text.contains("2 of [31000-32000]"), "{text}");
        assert!(text.contains("active"), "{text}");
        let draining = AgentSummary {
            deactivated: true,
            drain_info: Some(wasmesos_proto::DrainInfo {
                state: wasmesos_proto::DrainState::Draining as i32,
                ..Default::default()
            }),
            ..with_ports
        };
        assert!(agents(std::slice::from_ref(&draining)).contains("draining"));
        assert!(
            agents(std::slice::from_ref(&draining)).ends_with("-\n"),
            "no window"
        );
        // 2030-01-31T22:00:00Z is 1,896,127,200 s.
        let scheduled = AgentSummary {
            unavailability: Some(wasmesos_proto::Unavailability {
                start_nanos: 1_896_127_200_000_000_000,
                duration_nanos: Some(7_200_000_000_000),
            }),
            ..draining
        };
        let text = agents(&[scheduled]);
        assert!(
            text.contains("DRAINING 2030-01-31T22:00:00.000Z for 2h"),
            "{text}"
        );
    }

    #[test]
    fn task_rows_list_their_ports() {
        let model: wasmesos_allocator::Resources = "cpus:1;ports:[31000-31001,31005-31005]"
            .parse()
            .expect("valid");
        let task = TaskSummary {
            task_id: "t1".into(),
            resources: Some(wasmesos_proto::resources_to_proto(&model)),
            ..TaskSummary::default()
        };
        let text = tasks(&[task]);
        assert!(text.contains("31000,31001,31005"), "{text}");
        assert!(text.contains("ports:[31000-31001, 31005-31005]"), "{text}");
    }

    #[test]
    fn task_rows_name_state_and_reason() {
        let task = TaskSummary {
            task_id: "t1".into(),
            state: TaskState::TaskFailed as i32,
            reason: wasmesos_proto::Reason::MemoryLimit as i32,
            exit_code: None,
            ..TaskSummary::default()
        };
        let text = tasks(&[task]);
        assert!(
            text.contains("FAILED") && text.contains("memory limit"),
            "{text}"
        );
        assert_eq!(tasks(&[]), "(none)\n");
    }
}
