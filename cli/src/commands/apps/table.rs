//! Marathon's answers as text: apps and tasks as aligned tables (the same layout as
//! `wasmesos tasks`), a change as its deployment.

use std::fmt::Write;

use serde_json::Value;

use crate::commands::state::table::{cores, render};

/// `GET /v2/apps`'s `apps`.
pub fn apps(answer: &Value) -> String {
    let rows = list(answer, "apps").iter().map(app_row).collect();
    let header = [
        "ID",
        "INSTANCES",
        "RUNNING",
        "HEALTHY",
        "STAGED",
        "CPUS",
        "MEM",
        "DEPLOYING",
        "CMD",
    ];
    render(&header, rows)
}

fn app_row(app: &Value) -> Vec<String> {
    let checked = app["healthChecks"]
        .as_array()
        .is_some_and(|c| !c.is_empty());
    vec![
        text(&app["id"]),
        text(&app["instances"]),
        text(&app["tasksRunning"]),
        if checked {
            text(&app["tasksHealthy"])
        } else {
            "-".to_string()
        },
        text(&app["tasksStaged"]),
        app["cpus"].as_f64().map(cores).unwrap_or_default(),
        app["mem"]
            .as_f64()
            .map(|mb| format!("{}MiB", cores(mb)))
            .unwrap_or_default(),
        if list(app, "deployments").is_empty() {
            "no".to_string()
        } else {
            "yes".to_string()
        },
        command(app),
    ]
}

/// `GET /v2/apps/{id}`'s `app`: the summary line, its deployments, its last failure, and its
/// tasks.
pub fn app(answer: &Value) -> String {
    let app = &answer["app"];
    let mut out = apps(&serde_json::json!({ "apps": [app] }));
    let _ = writeln!(out, "version: {}", text(&app["version"]));
    for deployment in list(app, "deployments") {
        let _ = writeln!(out, "deployment in progress: {}", text(&deployment["id"]));
    }
    if let Some(failure) = app.get("lastTaskFailure") {
        let _ = writeln!(
            out,
            "last task failure: {} {} at {}: {}",
            text(&failure["taskId"]),
            text(&failure["state"]),
            text(&failure["timestamp"]),
            text(&failure["message"])
        );
    }
    let _ = write!(out, "\ntasks:\n{}", tasks(list(app, "tasks")));
    out
}

fn tasks(tasks: &[Value]) -> String {
    let rows = tasks
        .iter()
        .map(|task| {
            let ports: Vec<String> = list(task, "ports").iter().map(text).collect();
            vec![
                text(&task["id"]),
                text(&task["state"]),
                health(task),
                text(&task["host"]),
                ports.join(","),
                text(&task["slaveId"]),
                text(&task["startedAt"]),
            ]
        })
        .collect();
    let header = ["ID", "STATE", "HEALTH", "HOST", "PORTS", "AGENT", "STARTED"];
    render(&header, rows)
}

fn health(task: &Value) -> String {
    match list(task, "healthCheckResults").first() {
        None => "-".to_string(),
        Some(result) if result["alive"].as_bool() == Some(true) => "healthy".to_string(),
        Some(_) => "unhealthy".to_string(),
    }
}

/// A change's answer (`{version, deploymentId}`).
pub fn deployment(answer: &Value) -> String {
    match answer["deploymentId"].as_str() {
        Some(id) => format!(
            "deployment {id} started (app version {})\n",
            text(&answer["version"])
        ),
        None => format!("done (version {})\n", text(&answer["version"])),
    }
}

/// `cmd`, or `args` joined, as the app runs it.
fn command(app: &Value) -> String {
    match app["cmd"].as_str() {
        Some(cmd) => cmd.to_string(),
        None => list(app, "args")
            .iter()
            .map(text)
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value[key].as_array().map_or(&[], Vec::as_slice)
}

/// A JSON value as a cell: strings bare, null empty.
fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn apps_are_one_row_each_with_health_only_when_checked() {
        let answer = json!({"apps": [
            {"id": "/web", "instances": 3, "tasksRunning": 2, "tasksHealthy": 1, "tasksStaged": 1,
             "cpus": 0.1, "mem": 64.0, "cmd": "http-hello.wasm",
             "healthChecks": [{"protocol": "HTTP"}], "deployments": [{"id": "d1"}]},
            {"id": "/batch", "instances": 1, "tasksRunning": 1, "tasksHealthy": 0, "tasksStaged": 0,
             "cpus": 1, "mem": 128, "cmd": null, "args": ["hello.wasm", "a"],
             "healthChecks": [], "deployments": []},
        ]});
        let out = apps(&answer);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(lines[0].starts_with("ID"), "{out}");
        let web: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            web,
            [
                "/web",
                "3",
                "2",
                "1",
                "1",
                "0.1",
                "64MiB",
                "yes",
                "http-hello.wasm"
            ]
        );
        let batch: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            batch,
            [
                "/batch",
                "1",
                "1",
                "-",
                "0",
                "1",
                "128MiB",
                "no",
                "hello.wasm",
                "a"
            ]
        );
    }

    #[test]
    fn no_apps_is_one_none_line() {
        assert_eq!(apps(&json!({"apps": []})), "(none)\n");
    }

    #[test]
    fn a_change_names_its_deployment() {
        let out = deployment(&json!({"version": "v", "deploymentId": "d-1"}));
        assert_eq!(out, "deployment d-1 started (app version v)\n");
    }
}
