//! The HTTP API on the master's port: JSON shapes (hand-written expected JSON with volatile
//! fields redacted), filters and pagination, 400s, and Prometheus counters after a known
//! workload.

mod common;
mod http_support;

use common::*;
use http_support::{get, json_until};
use serde_json::{Value, json};
use wasmesos_proto::v1::{
    AcceptRequest, DeclineRequest, ExecutorInfo, Filters, Offer, Operation, Reason,
    ReserveResourcesRequest, StatusUpdates, TaskInfo, TaskState, TaskStatus, agent_command,
    operation,
};

const HOUR: Option<Filters> = Some(Filters {
    refuse_seconds: Some(3600.0),
});

/// Replaces every value under these keys (at any depth) with `"<redacted>"`.
fn redact(value: &mut Value, keys: &[&str]) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if keys.contains(&key.as_str()) {
                    *inner = json!("<redacted>");
                } else {
                    redact(inner, keys);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| redact(item, keys)),
        _ => {}
    }
}

/// Rounds every number to 9 decimals, so shares computed in another order compare equal.
fn round_floats(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| !n.is_i64() && !n.is_u64()) {
                *value = json!((f * 1e9).round() / 1e9);
            }
        }
        Value::Object(map) => map.values_mut().for_each(round_floats),
        Value::Array(items) => items.iter_mut().for_each(round_floats),
        _ => {}
    }
}

const VOLATILE: &[&str] = &[
    "id",
    "framework_id",
    "agent_id",
    "framework_ids",
    "registered_time",
    "started_time",
    "updated_time",
    "generated_at",
    "generation",
    "start_time",
    "address",
    "port",
    "executor_digest",
];

fn status(task_id: &str, state: TaskState, reason: Reason, uuid: &[u8]) -> TaskStatus {
    TaskStatus {
        task_id: task_id.into(),
        state: state as i32,
        reason: reason as i32,
        uuid: uuid.to_vec(),
        exit_code: (state == TaskState::TaskFailed).then_some(3),
        ..TaskStatus::default()
    }
}

fn launch(framework_id: &str, offer: &Offer, digest: &str, task_ids: &[&str]) -> AcceptRequest {
    let tasks = task_ids
        .iter()
        .enumerate()
        .map(|(at, id)| TaskInfo {
            task_id: id.to_string(),
            name: format!("{id}-name"),
            executor: Some(ExecutorInfo {
                digest: digest.to_string(),
                ..ExecutorInfo::default()
            }),
            resources: Some(res(&format!(
                "cpus:0.5;mem:1000000B;ports:[{port}-{port}]",
                port = 31000 + at
            ))),
            ..TaskInfo::default()
        })
        .collect();
    AcceptRequest {
        framework_id: framework_id.to_string(),
        offer_ids: vec![offer.id.clone()],
        operations: vec![Operation {
            operation: Some(operation::Operation::Launch(operation::Launch { tasks })),
        }],
        filters: HOUR,
    }
}

/// The known workload: 1 upload; agent A offered and two tasks launched on it; agent B
/// offered and declined; agent C offered and rescinded by an operator reservation of all of
/// it; then t1 RUNNING (its update sent twice: one retry) and t2 FAILED with an exit code,
/// whose freed resources are offered again and declined. 4 offers: 2 declined, 1 rescinded.
struct Workload {
    master: Master,
    _agents: Vec<FakeAgent>,
    /// Kept open: a framework whose stream closes is disconnected.
    _events: tonic::Streaming<wasmesos_proto::v1::Event>,
}

async fn run_workload() -> Workload {
    let master = start(|_| {}).await;
    let digest = master
        .upload(&read_guest(wasmesos_guest_artifacts::HELLO), 0, "")
        .await
        .expect("upload")
        .digest;
    let (fw, mut events) = master.subscribe("shapes", &[]).await;
    let mut a = master
        .register(res("cpus:4;mem:4000000000B;ports:[31000-32000]"), "")
        .await;
    let offer = next_offers(&mut events).await.remove(0);
    master
        .scheduler()
        .accept(launch(&fw, &offer, &digest, &["t1", "t2"]))
        .await
        .expect("accept");
    assert!(matches!(
        a.next().await,
        Some(agent_command::Command::Launch(_))
    ));

    let b = master.register(cpus_mem(2.0, 2e9), "").await;
    let offer = next_offers(&mut events).await.remove(0);
    assert_eq!(offer.agent_id, b.id);
    let decline = DeclineRequest {
        framework_id: fw.clone(),
        offer_ids: vec![offer.id],
        filters: HOUR,
    };
    master.scheduler().decline(decline).await.expect("decline");

    let c = master.register(cpus_mem(1.0, 1e9), "").await;
    let offer = next_offers(&mut events).await.remove(0);
    assert_eq!(offer.agent_id, c.id);
    let reserve = ReserveResourcesRequest {
        agent_id: c.id.clone(),
        resources: Some(cpus_mem(1.0, 1e9)),
        role: "ops".into(),
    };
    master
        .operator()
        .reserve_resources(reserve)
        .await
        .expect("reserve");

    let updates = StatusUpdates {
        agent_id: a.id.clone(),
        statuses: vec![
            status("t1", TaskState::TaskRunning, Reason::Unspecified, b"u1"),
            status("t1", TaskState::TaskRunning, Reason::Unspecified, b"u1"),
            status("t2", TaskState::TaskFailed, Reason::ExitCode, b"u2"),
        ],
    };
    master
        .agent(&a.id)
        .update_status(updates)
        .await
        .expect("updates");
    // t2's resources come back and are offered again; declined for an hour.
    let offer = next_offers(&mut events).await.remove(0);
    assert_eq!(offer.agent_id, a.id);
    let decline = DeclineRequest {
        framework_id: fw,
        offer_ids: vec![offer.id],
        filters: HOUR,
    };
    master.scheduler().decline(decline).await.expect("decline");
    Workload {
        master,
        _agents: vec![a, b, c],
        _events: events,
    }
}

/// Waits until the published snapshot shows the whole workload.
async fn settled_state(workload: &Workload) -> Value {
    json_until(workload.master.handle.addr, "/state", |state| {
        let failed = state["tasks"]
            .as_array()
            .is_some_and(|tasks| tasks.iter().any(|t| t["state"] == "FAILED"));
        let reserved = state["roles"]
            .as_array()
            .is_some_and(|roles| roles.iter().any(|r| r["name"] == "ops"));
        // The view lags the core: the last decline shows only once nothing is on offer.
        let nothing_offered = state["resources"]["offered"]
            .as_object()
            .is_some_and(|offered| offered.is_empty());
        failed && reserved && nothing_offered && state["agents"].as_array().map(Vec::len) == Some(3)
    })
    .await
}

#[tokio::test]
async fn state_json_has_the_documented_shape() {
    let workload = run_workload().await;
    let mut state = settled_state(&workload).await;
    let master = &workload.master;
    assert_eq!(state["master"]["address"], master.handle.url());
    redact(&mut state, VOLATILE);
    round_floats(&mut state);
    let mut expected = json!({
        "generated_at": "<redacted>",
        "generation": "<redacted>",
        "maintenance": [],
        "master": {
            "id": "<redacted>",
            "address": "<redacted>",
            "hostname": "127.0.0.1",
            "port": "<redacted>",
            "version": env!("CARGO_PKG_VERSION"),
            "start_time": "<redacted>"
        },
        "resources": {
            "total": {"cpus": 7.0, "mem_bytes": 7e9},
            "used": {"cpus": 0.5, "mem_bytes": 1e6},
            "offered": {}
        },
        "agents": [
            {
                "id": "<redacted>", "hostname": "fake", "address": "<redacted>",
                "active": true, "registered_time": "<redacted>",
                "total": {"cpus": 4.0, "mem_bytes": 4e9, "ports": "[31000-32000]"},
                "used": {"cpus": 0.5, "mem_bytes": 1e6, "ports": "[31000-31000]"},
                "offered": {},
                "active_tasks": 1, "deactivated": false
            },
            {
                "id": "<redacted>", "hostname": "fake", "address": "<redacted>",
                "active": true, "registered_time": "<redacted>",
                "total": {"cpus": 2.0, "mem_bytes": 2e9},
                "used": {}, "offered": {}, "active_tasks": 0, "deactivated": false
            },
            {
                "id": "<redacted>", "hostname": "fake", "address": "<redacted>",
                "active": true, "registered_time": "<redacted>",
                "total": {"cpus": 1.0, "mem_bytes": 1e9},
                "used": {}, "offered": {}, "active_tasks": 0, "deactivated": false
            }
        ],
        "frameworks": [
            {
                "id": "<redacted>", "name": "shapes", "roles": ["*"], "connected": true,
                "weight": 1.0,
                "dominant_share": 0.5 / 7.0,
                "weighted_dominant_share": 0.5 / 7.0,
                "used": {"cpus": 0.5, "mem_bytes": 1e6, "ports": "[31000-31000]"},
                "offered": {},
                "active_tasks": 1
            }
        ],
        "tasks": [
            {
                "task_id": "t1", "name": "t1-name", "framework_id": "<redacted>",
                "agent_id": "<redacted>", "state": "RUNNING", "reason": "", "message": "",
                "resources": {"cpus": 0.5, "mem_bytes": 1e6, "ports": "[31000-31000]"},
                "executor_digest": "<redacted>", "started_time": "<redacted>",
                "updated_time": "<redacted>", "exit_code": null, "healthy": null, "terminal": false,
                "suspended": false
            },
            {
                "task_id": "t2", "name": "t2-name", "framework_id": "<redacted>",
                "agent_id": "<redacted>", "state": "FAILED", "reason": "exit_code",
                "message": "",
                "resources": {"cpus": 0.5, "mem_bytes": 1e6, "ports": "[31001-31001]"},
                "executor_digest": "<redacted>", "started_time": "<redacted>",
                "updated_time": "<redacted>", "exit_code": 3, "healthy": null, "terminal": true,
                "suspended": false
            }
        ],
        "roles": [
            {
                "name": "*", "weight": 1.0, "dominant_share": 0.5 / 7.0,
                "weighted_share": 0.5 / 7.0,
                "allocated": {"cpus": 0.5, "mem_bytes": 1e6},
                "framework_ids": "<redacted>"
            },
            {
                "name": "ops", "weight": 1.0, "dominant_share": 0.0, "weighted_share": 0.0,
                "allocated": {}, "framework_ids": "<redacted>"
            }
        ],
        "completed_frameworks": [],
        "artifacts": 1
    });
    round_floats(&mut expected);
    assert_eq!(state, expected, "{state:#}");
}

#[tokio::test]
async fn list_endpoints_filter_and_paginate() {
    let workload = run_workload().await;
    let state = settled_state(&workload).await;
    let addr = workload.master.handle.addr;
    let agents = get(addr, "/agents").await.json();
    assert_eq!(agents, state["agents"]);
    let frameworks = get(addr, "/frameworks").await.json();
    assert_eq!(frameworks, state["frameworks"]);
    assert_eq!(get(addr, "/roles").await.json(), state["roles"]);

    let running = get(addr, "/tasks?state=running").await.json();
    assert_eq!(running["total"], 1);
    assert_eq!(running["tasks"][0]["task_id"], "t1");
    let failed = get(addr, "/tasks?state=TASK_FAILED").await.json();
    assert_eq!(failed["tasks"][0]["task_id"], "t2");

    let page = get(addr, "/tasks?offset=1&limit=1").await.json();
    assert_eq!(page["total"], 2);
    assert_eq!(page["offset"], 1);
    assert_eq!(page["limit"], 1);
    assert_eq!(page["tasks"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["tasks"][0]["task_id"], "t2");

    let framework_id = state["frameworks"][0]["id"].as_str().expect("framework id");
    let agent_id = state["agents"][0]["id"].as_str().expect("agent id");
    let mine = get(
        addr,
        &format!("/tasks?framework={framework_id}&agent={agent_id}"),
    )
    .await
    .json();
    assert_eq!(mine["total"], 2);
    let other_agent = state["agents"][1]["id"].as_str().expect("agent id");
    let none = get(addr, &format!("/tasks?agent={other_agent}"))
        .await
        .json();
    assert_eq!(none["total"], 0);
    assert_eq!(none["tasks"], json!([]));
}

#[tokio::test]
async fn bad_queries_are_400_with_a_json_error() {
    let master = start(|_| {}).await;
    let addr = master.handle.addr;
    for path in [
        "/tasks?state=sleeping",
        "/tasks?limit=0",
        "/tasks?limit=1001",
        "/tasks?offset=-1",
        "/tasks?colour=red",
        "/files/read?task_id=t1&file=passwd",
        "/files/read?file=stdout",
        "/files/read?task_id=t1&length=lots",
    ] {
        let answer = get(addr, path).await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.text());
        assert!(
            answer.content_type.starts_with("application/json"),
            "{path}"
        );
        let error = answer.json()["error"].as_str().map(str::to_string);
        assert!(
            error.is_some_and(|e| !e.is_empty()),
            "{path}: {}",
            answer.text()
        );
    }
    let unknown = get(addr, "/files/read?task_id=nope").await;
    assert_eq!(unknown.status, 404, "{}", unknown.text());
}

#[tokio::test]
async fn health_and_version_answer() {
    let master = start(|_| {}).await;
    let health = get(master.handle.addr, "/health").await;
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    let version = get(master.handle.addr, "/version").await.json();
    // Mesos's shape: the Mesos API release as plain dotted integers, then wasmesos's own.
    assert_eq!(version["version"], "1.11.0");
    assert_eq!(version["wasmesos_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        version["master_id"],
        master.state().await.master.expect("info").id
    );
}

/// The value of one sample line (`name{labels} value`) in Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_a_known_workload_exactly() {
    let workload = run_workload().await;
    settled_state(&workload).await;
    let answer = get(workload.master.handle.addr, "/metrics").await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.content_type.starts_with("text/plain"),
        "{}",
        answer.content_type
    );
    let text = answer.text();
    let exact = [
        ("wasmesos_offers_sent_total", 4.0),
        ("wasmesos_offers_declined_total", 2.0),
        ("wasmesos_offers_rescinded_total", 1.0),
        ("wasmesos_status_updates_total", 3.0),
        ("wasmesos_status_update_retries_total", 1.0),
        ("wasmesos_uploads_total", 1.0),
        ("wasmesos_uploads_rejected_total", 0.0),
        ("wasmesos_agents{state=\"active\"}", 3.0),
        ("wasmesos_agents{state=\"unreachable\"}", 0.0),
        ("wasmesos_tasks{state=\"RUNNING\",reason=\"\"}", 1.0),
        ("wasmesos_tasks{state=\"FAILED\",reason=\"exit_code\"}", 1.0),
        ("wasmesos_resources{resource=\"cpus\",kind=\"total\"}", 7.0),
        ("wasmesos_resources{resource=\"cpus\",kind=\"used\"}", 0.5),
        ("wasmesos_artifacts", 1.0),
    ];
    for (series, want) in exact {
        assert_eq!(sample(&text, series), Some(want), "{series} in\n{text}");
    }
    let upload_bytes = std::fs::metadata(wasmesos_guest_artifacts::HELLO)
        .expect("hello is built")
        .len() as f64;
    assert_eq!(
        sample(&text, "wasmesos_upload_bytes_total"),
        Some(upload_bytes)
    );
    let rounds = sample(&text, "wasmesos_allocation_round_seconds_count").expect("rounds");
    assert!(rounds >= 4.0, "four offers need four rounds: {rounds}");
    assert_eq!(
        sample(
            &text,
            "wasmesos_allocation_round_seconds_bucket{le=\"+Inf\"}"
        ),
        Some(rounds)
    );
    let share = sample(&text, "wasmesos_framework_dominant_share{framework_id=\"");
    assert!(share.is_none(), "labels are matched whole");
    let shares: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("wasmesos_framework_dominant_share{"))
        .collect();
    assert_eq!(shares.len(), 1, "{text}");
    assert!(shares[0].contains("name=\"shapes\""), "{}", shares[0]);
    let value: f64 = shares[0]
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .expect("a share");
    assert!((value - 0.5 / 7.0).abs() < 1e-12, "{value}");
}
