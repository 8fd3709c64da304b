//! Writes the hand-made seeds of every fuzz corpus (`fuzz/corpus/<target>/seed-*`): inputs
//! that reach deep on their own, from which the fuzzer mutates.
//!
//! `cargo run -p wasmesos-fuzz-targets --example seeds`

use std::fs;
use std::path::{Path, PathBuf};

use prost::Message;
use serde_json::json;
use wasmesos_proto::mesos::v1 as mesos;
use wasmesos_proto::v1::{
    self as proto, AcceptRequest, AcknowledgeRequest, Acknowledgement, AgentInfo, DeclineRequest,
    ExecutorInfo, Filters, FrameworkInfo, FrameworkMessageRequest, KillRequest, Operation,
    ReconcileRequest, RegisterRequest, ReserveResourcesRequest, Resource, Resources, RoleWeight,
    SetQuotaRequest, StatusUpdates, SubscribeRequest, SuppressRequest, TaskInfo, TaskReport,
    TaskState, TaskStatus, TeardownRequest, UpdateWeightsRequest, ValueRange, ValueType, operation,
};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    master_core(&root.join("master_core"));
    resources(&root.join("resources"));
    component_validation(&root.join("component_validation"));
    http_decoders(&root.join("http_decoders"));
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::create_dir_all(dir).expect("create the corpus dir");
    let path: PathBuf = dir.join(format!("seed-{name}"));
    fs::write(&path, bytes).expect("write a seed");
}

/// One `master_core` record: op, clock advance, length, protobuf body.
fn record(out: &mut Vec<u8>, op: u8, advance: u8, body: &impl Message) {
    let body = body.encode_to_vec();
    out.extend([op, advance]);
    out.extend(
        u16::try_from(body.len())
            .expect("a small body")
            .to_le_bytes(),
    );
    out.extend(body);
}

fn scalar(name: &str, value: f64) -> Resource {
    Resource {
        name: name.into(),
        value,
        r#type: ValueType::Scalar as i32,
        ..Resource::default()
    }
}

fn agent_resources() -> Resources {
    Resources {
        resources: vec![
            scalar("cpus", 4.0),
            scalar("mem", 1024.0 * 1024.0 * 1024.0),
            Resource {
                name: "ports".into(),
                r#type: ValueType::Ranges as i32,
                ranges: vec![ValueRange {
                    begin: 31000,
                    end: 32000,
                }],
                ..Resource::default()
            },
        ],
    }
}

fn subscribe(roles: &[&str]) -> SubscribeRequest {
    SubscribeRequest {
        framework: Some(FrameworkInfo {
            name: "fuzz".into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            failover_timeout_seconds: 10.0,
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    }
}

fn register() -> RegisterRequest {
    RegisterRequest {
        agent: Some(AgentInfo {
            hostname: "host".into(),
            address: "http://127.0.0.1:5051".into(),
            resources: Some(agent_resources()),
            ..AgentInfo::default()
        }),
        ..RegisterRequest::default()
    }
}

fn task(id: &str) -> TaskInfo {
    TaskInfo {
        task_id: id.into(),
        name: id.into(),
        agent_id: "@0".into(),
        executor: Some(ExecutorInfo {
            digest: "@".into(),
            ..ExecutorInfo::default()
        }),
        resources: Some(Resources {
            resources: vec![scalar("cpus", 1.0), scalar("mem", 64.0 * 1024.0 * 1024.0)],
        }),
        ..TaskInfo::default()
    }
}

fn launch(tasks: Vec<TaskInfo>) -> AcceptRequest {
    AcceptRequest {
        framework_id: "@0".into(),
        offer_ids: vec!["@0".into()],
        operations: vec![Operation {
            operation: Some(operation::Operation::Launch(operation::Launch { tasks })),
        }],
        filters: Some(Filters {
            refuse_seconds: Some(1.0),
        }),
    }
}

fn status(task_id: &str, state: TaskState, uuid: u8) -> StatusUpdates {
    StatusUpdates {
        agent_id: "@0".into(),
        statuses: vec![TaskStatus {
            task_id: task_id.into(),
            framework_id: "@0".into(),
            agent_id: "@0".into(),
            state: state as i32,
            uuid: vec![uuid; 16],
            ..TaskStatus::default()
        }],
    }
}

fn ack(task_id: &str, uuid: u8) -> AcknowledgeRequest {
    AcknowledgeRequest {
        framework_id: "@0".into(),
        acks: vec![Acknowledgement {
            agent_id: "@0".into(),
            task_id: task_id.into(),
            uuid: vec![uuid; 16],
        }],
    }
}

fn master_core(dir: &Path) {
    // A task's whole life: offer, launch, RUNNING, a message, FINISHED, acknowledgements.
    let mut life = Vec::new();
    record(&mut life, 0, 0, &subscribe(&["*"]));
    record(&mut life, 1, 0, &register());
    record(&mut life, 4, 1, &launch(vec![task("t1")]));
    record(&mut life, 11, 1, &status("t1", TaskState::TaskRunning, 1));
    record(&mut life, 7, 0, &ack("t1", 1));
    let message = FrameworkMessageRequest {
        framework_id: "@0".into(),
        agent_id: "@0".into(),
        task_id: "t1".into(),
        data: b"hi".to_vec(),
    };
    record(&mut life, 9, 0, &message);
    record(&mut life, 11, 1, &status("t1", TaskState::TaskFinished, 2));
    record(&mut life, 7, 0, &ack("t1", 2));
    let reconcile = ReconcileRequest {
        framework_id: "@0".into(),
        tasks: Vec::new(),
    };
    record(&mut life, 8, 0, &reconcile);
    write(dir, "task-life", &life);

    // Kills, a decline with a filter, suppress and revive, then silence: agents removed.
    let mut kills = Vec::new();
    record(&mut kills, 0, 0, &subscribe(&["eng", "ops"]));
    record(&mut kills, 1, 0, &register());
    record(&mut kills, 4, 1, &launch(vec![task("a"), task("b")]));
    let kill = KillRequest {
        framework_id: "@0".into(),
        task_id: "a".into(),
        kill_policy: None,
    };
    record(&mut kills, 6, 0, &kill);
    record(
        &mut kills,
        20,
        0,
        &KillRequest {
            task_id: "b".into(),
            ..kill.clone()
        },
    );
    let decline = DeclineRequest {
        framework_id: "@0".into(),
        offer_ids: vec!["@1".into()],
        filters: Some(Filters {
            refuse_seconds: Some(3.0),
        }),
    };
    record(&mut kills, 5, 1, &decline);
    let suppress = SuppressRequest {
        framework_id: "@0".into(),
        roles: vec!["eng".into()],
    };
    record(&mut kills, 13, 0, &suppress);
    let revive = proto::ReviveRequest {
        framework_id: "@0".into(),
        roles: Vec::new(),
    };
    record(&mut kills, 14, 40, &revive);
    record(&mut kills, 3, 0x80 | 14, &RegisterRequest::default());
    let teardown = TeardownRequest {
        framework_id: "@0".into(),
    };
    record(&mut kills, 10, 0, &teardown);
    write(dir, "kills-and-silence", &kills);

    // The operator: weights, quota, a reservation the framework then sees.
    let mut operator = Vec::new();
    record(&mut operator, 1, 0, &register());
    let weights = UpdateWeightsRequest {
        weights: vec![RoleWeight {
            role: "eng".into(),
            weight: 2.0,
        }],
    };
    record(&mut operator, 16, 0, &weights);
    let quota = SetQuotaRequest {
        role: "eng".into(),
        quota: Some(proto::Quota {
            guarantee: Some(Resources {
                resources: vec![scalar("cpus", 1.0)],
            }),
            limit: None,
        }),
    };
    record(&mut operator, 17, 0, &quota);
    let reserve = ReserveResourcesRequest {
        agent_id: "@0".into(),
        resources: Some(Resources {
            resources: vec![scalar("cpus", 2.0)],
        }),
        role: "eng".into(),
    };
    record(&mut operator, 18, 0, &reserve);
    record(&mut operator, 0, 1, &subscribe(&["eng"]));
    record(&mut operator, 4, 1, &launch(vec![task("r1")]));
    record(&mut operator, 19, 1, &reserve);
    write(dir, "operator", &operator);

    // An agent re-registering with a task the master never heard of.
    let mut rereg = Vec::new();
    record(&mut rereg, 0, 0, &subscribe(&["*"]));
    record(&mut rereg, 1, 0, &register());
    let mut again = register();
    if let Some(agent) = again.agent.as_mut() {
        agent.id = "@0".into();
    }
    again.tasks = vec![TaskReport {
        task: Some(task("ghost")),
        framework_id: "@0".into(),
        latest: Some(
            status("ghost", TaskState::TaskRunning, 9)
                .statuses
                .remove(0),
        ),
    }];
    record(&mut rereg, 1, 2, &again);
    write(dir, "reregister", &rereg);
}

fn resources(dir: &Path) {
    let texts: &[(&str, &str)] = &[
        ("agent", "cpus:4;mem:8GiB;disk:20GiB;ports:[31000-32000]"),
        (
            "reserved",
            "cpus(ads):2;mem(*):512;gpus:1\ncpus:1;mem:1.5GB",
        ),
        (
            "sets",
            "zones:{a,b,c};ports:[1-10,20-30,25-40]\nzones:{c,d}",
        ),
    ];
    for (name, text) in texts {
        write(
            dir,
            &format!("text-{name}"),
            &[&[0u8][..], text.as_bytes()].concat(),
        );
    }
    for (name, size) in [("bare", "512"), ("binary", "1.5GiB"), ("decimal", "20GB")] {
        write(
            dir,
            &format!("size-{name}"),
            &[&[1u8][..], size.as_bytes()].concat(),
        );
    }
    let wire = agent_resources().encode_to_vec();
    write(dir, "wire", &[&[2u8][..], &wire].concat());
    let mesos = json!([
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.5}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 128}, "role": "ads",
         "reservations": [{"type": "STATIC", "role": "ads"}]},
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31010}]}},
        {"name": "zones", "type": "SET", "set": {"item": ["a", "b"]}}
    ]);
    write(
        dir,
        "mesos-json",
        &[&[3u8][..], mesos.to_string().as_bytes()].concat(),
    );
}

fn component_validation(dir: &Path) {
    let components: &[(&str, &str)] = &[
        ("empty", "(component)"),
        (
            "wasi-import",
            r#"(component
                (import "wasi:cli/environment@0.2.0" (instance))
                (core module $m (func (export "f")))
                (core instance (instantiate $m)))"#,
        ),
        (
            "host-import",
            r#"(component
                (import "wasmesos:executor/host@0.1.0" (instance))
                (type $t (record (field "a" u32)))
                (import "task-info" (type (eq $t))))"#,
        ),
        (
            "unsupported-import",
            r#"(component (import "acme:evil/thing@1.0.0" (instance)))"#,
        ),
        ("core-module", "(module (func (export \"run\")))"),
    ];
    for (name, text) in components {
        write(dir, name, &wat::parse_str(text).expect("valid wat"));
    }
    let wordcount = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/assets/wordcount.wasm");
    write(
        dir,
        "wordcount",
        &fs::read(wordcount).expect("the demo component"),
    );
}

fn http_decoders(dir: &Path) {
    let bodies = [
        (
            "subscribe",
            json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": {
                "user": "fuzz", "name": "fuzz", "roles": ["eng"],
                "capabilities": [{"type": "MULTI_ROLE"}, {"type": "RESERVATION_REFINEMENT"}]}}}),
        ),
        (
            "accept",
            json!({"type": "ACCEPT", "framework_id": {"value": "F1"}, "accept": {
                "offer_ids": [{"value": "O1"}],
                "operations": [
                    {"type": "LAUNCH", "launch": {"task_infos": [{
                        "name": "t", "task_id": {"value": "t"}, "agent_id": {"value": "A1"},
                        "resources": [
                            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},
                            {"name": "mem", "type": "SCALAR", "scalar": {"value": 64}}],
                        "command": {"shell": false,
                            "value": "wasmesos://sha256:ab00000000000000000000000000000000000000000000000000000000000000",
                            "arguments": ["hello", "world"],
                            "environment": {"variables": [{"name": "A", "value": "1"}]}},
                        "labels": {"labels": [{"key": "wasmesos.fuel", "value": "1000"}]}}]}},
                    {"type": "RESERVE", "reserve": {"resources": [
                        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1},
                         "reservations": [{"type": "DYNAMIC", "role": "eng"}]}]}}],
                "filters": {"refuse_seconds": 0.0}}}),
        ),
        (
            "update-framework",
            json!({"type": "UPDATE_FRAMEWORK", "framework_id": {"value": "F1"},
                "update_framework": {"framework_info": {"id": {"value": "F1"},
                    "user": "u", "name": "n", "role": "*"}, "suppressed_roles": ["*"]}}),
        ),
        (
            "acknowledge",
            json!({"type": "ACKNOWLEDGE", "framework_id": {"value": "F1"}, "acknowledge": {
                "agent_id": {"value": "A1"}, "task_id": {"value": "t"},
                "uuid": "AAAAAAAAAAAAAAAAAAAAAA=="}}),
        ),
        (
            "operator-weights",
            json!({"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [
                {"role": "eng", "weight": 2.5}]}}),
        ),
        (
            "operator-quota",
            json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
                {"role": "eng", "guarantees": {"cpus": {"value": 1}},
                 "limits": {"mem": {"value": 2048}}}]}}),
        ),
        ("operator-get-state", json!({"type": "GET_STATE"})),
    ];
    for (name, body) in bodies {
        write(
            dir,
            &format!("json-{name}"),
            &[&[0u8][..], body.to_string().as_bytes()].concat(),
        );
    }
    let teardown = mesos::scheduler::Call {
        r#type: Some(mesos::scheduler::call::Type::Teardown as i32),
        framework_id: Some(mesos::FrameworkId { value: "F1".into() }),
        ..mesos::scheduler::Call::default()
    };
    write(
        dir,
        "protobuf-teardown",
        &[&[1u8][..], &teardown.encode_to_vec()].concat(),
    );
    let kill = mesos::scheduler::Call {
        r#type: Some(mesos::scheduler::call::Type::Kill as i32),
        framework_id: Some(mesos::FrameworkId { value: "F1".into() }),
        kill: Some(mesos::scheduler::call::Kill {
            task_id: mesos::TaskId { value: "t".into() },
            ..mesos::scheduler::call::Kill::default()
        }),
        ..mesos::scheduler::Call::default()
    };
    write(
        dir,
        "protobuf-kill",
        &[&[1u8][..], &kill.encode_to_vec()].concat(),
    );
    let heartbeat = mesos::scheduler::Event {
        r#type: Some(mesos::scheduler::event::Type::Heartbeat as i32),
        ..mesos::scheduler::Event::default()
    }
    .encode_to_vec();
    let mut stream = format!("{}\n", heartbeat.len()).into_bytes();
    stream.extend(&heartbeat);
    stream.extend(b"5\nhello3\nab");
    write(dir, "recordio", &[&[2u8, 3, 2, 7, 1][..], &stream].concat());
    let queries = [
        (
            "tasks",
            "framework=F1&agent=A1&state=running&offset=10&limit=100",
        ),
        (
            "read",
            "task_id=t&file=stderr&offset=-100&length=4096&follow=true",
        ),
        (
            "mesos-read",
            "path=/slaves/A1/frameworks/F1/executors/t/runs/latest/stdout&offset=0&length=50&jsonp=cb",
        ),
        (
            "accept",
            "application/json;q=0.9, application/x-protobuf, */*",
        ),
    ];
    for (name, query) in queries {
        write(
            dir,
            &format!("query-{name}"),
            &[&[3u8][..], query.as_bytes()].concat(),
        );
    }
    let typed = b"Application/JSON; charset=utf-8\n{\"type\":\"GET_HEALTH\"}";
    write(dir, "content-type", &[&[4u8][..], &typed[..]].concat());
}
