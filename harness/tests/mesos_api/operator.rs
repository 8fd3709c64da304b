//! The v1 operator API, `POST /api/v1`, as Mesos operator tools call it: Mesos's JSON and
//! protobuf, the Responses' shapes, writes seen by the reads after them, Mesos's refusals,
//! and SUBSCRIBE's event stream following a task's life.

use hyper::StatusCode;
use prost::Message;
use serde_json::{Value, json};
use wasmesos_guest_artifacts::HELLO;
use wasmesos_harness::eventually_some;
use wasmesos_proto::mesos::v1::master::{Call, Event, Response, call, event, response};

use crate::client::{
    Answer, Framework, JSON, PATIENCE, PROTOBUF, get, post, stream, subscribe_call,
};
use crate::common::{cluster, upload};

/// Bytes in Mesos's megabyte.
const MB: f64 = 1024.0 * 1024.0;

/// An operator call in JSON.
async fn operator(authority: &str, body: &Value) -> Answer {
    post(
        authority,
        "/api/v1",
        &[("Content-Type", JSON), ("Accept", JSON)],
        body.to_string().into_bytes(),
    )
    .await
}

/// A GET_* call's Response as JSON, checked to be a 200 in JSON of the same type.
async fn read(authority: &str, kind: &str) -> Value {
    let answer = operator(authority, &json!({"type": kind})).await;
    assert_eq!(answer.status, StatusCode::OK, "{kind}: {}", answer.text());
    assert_eq!(answer.headers["content-type"], JSON);
    let value: Value = serde_json::from_slice(&answer.body).expect("a JSON Response");
    assert_eq!(value["type"], kind, "{value}");
    value
}

/// The scalar `name` in a list of Mesos resources, summed, with its reservations' roles.
fn scalar(resources: &Value, name: &str, role: Option<&str>) -> f64 {
    resources
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["name"] == name)
        .filter(|r| {
            let reserved_for = r["reservations"]
                .as_array()
                .and_then(|list| list.last())
                .and_then(|last| last["role"].as_str());
            reserved_for == role
        })
        .filter_map(|r| r["scalar"]["value"].as_f64())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_answer_in_mesos_json_with_mesos_units() {
    let (cluster, authority) = cluster().await;

    let health = operator(&authority, &json!({"type": "GET_HEALTH"})).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.headers["content-type"], JSON);
    assert_eq!(
        health.text(),
        r#"{"type":"GET_HEALTH","get_health":{"healthy":true}}"#
    );

    let version = read(&authority, "GET_VERSION").await;
    assert_eq!(version["get_version"]["version_info"]["version"], "1.11.0");

    let master = read(&authority, "GET_MASTER").await;
    let info = &master["get_master"]["master_info"];
    assert!(
        info["id"].is_string() && info["port"].as_u64().is_some(),
        "{master}"
    );
    assert!(master["get_master"]["start_time"].as_f64().is_some());

    let flags = read(&authority, "GET_FLAGS").await;
    let flags = flags["get_flags"]["flags"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        flags
            .iter()
            .any(|f| f["name"] == "work_dir" && f["value"].is_string()),
        "{flags:?}"
    );

    let metrics = operator(
        &authority,
        &json!({"type": "GET_METRICS", "get_metrics": {}}),
    )
    .await;
    assert_eq!(metrics.status, StatusCode::OK, "{}", metrics.text());
    let metrics: Value = serde_json::from_slice(&metrics.body).expect("JSON");
    assert!(
        metrics["get_metrics"]["metrics"]
            .as_array()
            .is_some_and(|m| m
                .iter()
                .any(|m| m["name"] == "master/elected" && m["value"] == 1.0)),
        "{metrics}"
    );

    let maintenance = read(&authority, "GET_MAINTENANCE_STATUS").await;
    assert!(maintenance["get_maintenance_status"]["status"].is_object());

    // GET_STATE nests the four lists; the agent is there with mem in MB.
    let state = eventually_some("the agent in GET_STATE", PATIENCE, async || {
        let state = read(&authority, "GET_STATE").await;
        let agents = &state["get_state"]["get_agents"]["agents"];
        (agents.as_array()?.len() == 1).then_some(state)
    })
    .await
    .expect("GET_STATE lists the agent");
    let get_state = &state["get_state"];
    for list in ["get_tasks", "get_executors", "get_frameworks", "get_agents"] {
        assert!(get_state[list].is_object(), "{list} in {state}");
    }
    let agent = &get_state["get_agents"]["agents"][0];
    assert_eq!(agent["active"], true);
    assert_eq!(agent["version"], "1.11.0");
    assert!(agent["agent_info"]["id"]["value"].is_string(), "{agent}");
    let mem_mb = scalar(&agent["total_resources"], "mem", None);
    let native: Value =
        serde_json::from_str(&get(&authority, "/state").await.text()).expect("wasmesos's /state");
    let mem_bytes = native["agents"][0]["total"]["mem_bytes"]
        .as_f64()
        .expect("mem_bytes");
    assert!(
        mem_mb > 0.0 && (mem_mb - mem_bytes / MB).abs() < 1e-6,
        "{mem_mb} MB"
    );

    // What wasmesos does not do is 501, naming the call.
    let logging = operator(&authority, &json!({"type": "GET_LOGGING_LEVEL"})).await;
    assert_eq!(logging.status, StatusCode::NOT_IMPLEMENTED);
    assert!(
        logging.text().contains("GET_LOGGING_LEVEL"),
        "{}",
        logging.text()
    );
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_calls_are_refused_with_mesos_messages() {
    let (cluster, authority) = cluster().await;
    let raw = |content_type: &'static str, accept: &'static str, body: &'static [u8]| {
        let authority = authority.clone();
        async move {
            post(
                &authority,
                "/api/v1",
                &[("Content-Type", content_type), ("Accept", accept)],
                body.to_vec(),
            )
            .await
        }
    };
    let garbage = raw(JSON, JSON, b"{").await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert!(
        garbage.text().starts_with("Failed to parse body into JSON"),
        "{}",
        garbage.text()
    );

    let untyped = raw(JSON, JSON, b"{}").await;
    assert_eq!(untyped.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        untyped.text(),
        "Failed to validate master::Call: Expecting 'type' to be present"
    );

    let unknown = raw(JSON, JSON, br#"{"type":"GET_EVERYTHING"}"#).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown
            .text()
            .starts_with("Failed to convert JSON into Call protobuf"),
        "{}",
        unknown.text()
    );

    let missing = raw(JSON, JSON, br#"{"type":"UPDATE_WEIGHTS"}"#).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        missing.text(),
        "Failed to validate master::Call: Expecting 'update_weights' to be present"
    );

    let bad_protobuf = raw(PROTOBUF, JSON, b"\xff\xff\xff").await;
    assert_eq!(bad_protobuf.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_protobuf.text(),
        "Failed to parse body into Call protobuf"
    );

    let text = raw("text/plain", JSON, br#"{"type":"GET_HEALTH"}"#).await;
    assert_eq!(text.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let html = raw(JSON, "text/html", br#"{"type":"GET_HEALTH"}"#).await;
    assert_eq!(html.status, StatusCode::NOT_ACCEPTABLE);

    let weight = operator(
        &authority,
        &json!({"type": "UPDATE_WEIGHTS",
                "update_weights": {"weight_infos": [{"role": "ops", "weight": -1.0}]}}),
    )
    .await;
    assert_eq!(weight.status, StatusCode::BAD_REQUEST);
    assert!(
        weight.text().contains("Weights must be positive"),
        "{}",
        weight.text()
    );

    let nowhere = operator(
        &authority,
        &json!({"type": "RESERVE_RESOURCES", "reserve_resources": {
            "agent_id": {"value": "no-such-agent"},
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1},
                           "reservations": [{"type": "DYNAMIC", "role": "ops"}]}]}}),
    )
    .await;
    assert_eq!(
        nowhere.status,
        StatusCode::BAD_REQUEST,
        "{}",
        nowhere.text()
    );
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_calls_get_protobuf_responses() {
    let (cluster, authority) = cluster().await;
    let call = Call {
        r#type: Some(call::Type::GetAgents as i32),
        ..Default::default()
    };
    let agents = eventually_some("the agent in GET_AGENTS", PATIENCE, async || {
        let answer = post(
            &authority,
            "/api/v1",
            &[("Content-Type", PROTOBUF), ("Accept", PROTOBUF)],
            call.encode_to_vec(),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.headers["content-type"], PROTOBUF);
        let response = Response::decode(answer.body).expect("a protobuf Response");
        assert_eq!(response.r#type, Some(response::Type::GetAgents as i32));
        let agents = response.get_agents?.agents;
        (!agents.is_empty()).then_some(agents)
    })
    .await
    .expect("GET_AGENTS in protobuf");
    assert_eq!(agents.len(), 1);
    assert!(agents[0].active);
    assert!(agents[0].agent_info.id.is_some());

    // A JSON call may ask for a protobuf answer.
    let health = post(
        &authority,
        "/api/v1",
        &[("Content-Type", JSON), ("Accept", PROTOBUF)],
        br#"{"type":"GET_HEALTH"}"#.to_vec(),
    )
    .await;
    let health = Response::decode(health.body).expect("protobuf");
    assert_eq!(health.get_health.map(|h| h.healthy), Some(true));

    // SUBSCRIBE in protobuf: RecordIO records of protobuf Events.
    let subscribe = Call {
        r#type: Some(call::Type::Subscribe as i32),
        ..Default::default()
    };
    let mut events = stream(
        &authority,
        "/api/v1",
        &[("Content-Type", PROTOBUF), ("Accept", PROTOBUF)],
        subscribe.encode_to_vec(),
    )
    .await;
    assert_eq!(events.status, StatusCode::OK);
    assert_eq!(events.headers["content-type"], PROTOBUF);
    let record = events.next_record().await.expect("SUBSCRIBED");
    let subscribed = Event::decode(record).expect("a protobuf Event");
    assert_eq!(subscribed.r#type, Some(event::Type::Subscribed as i32));
    let state = subscribed
        .subscribed
        .and_then(|s| s.get_state)
        .and_then(|s| s.get_agents)
        .expect("the agents in SUBSCRIBED");
    assert_eq!(state.agents.len(), 1);
    let record = events.next_record().await.expect("HEARTBEAT");
    let heartbeat = Event::decode(record).expect("a protobuf Event");
    assert_eq!(heartbeat.r#type, Some(event::Type::Heartbeat as i32));
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_and_quota_written_are_read_back() {
    let (cluster, authority) = cluster().await;
    let updated = operator(
        &authority,
        &json!({"type": "UPDATE_WEIGHTS",
                "update_weights": {"weight_infos": [{"role": "ops", "weight": 2.5}]}}),
    )
    .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    assert!(updated.body.is_empty());
    // GET_ROLES goes through the actor: the weight just written is there at once.
    let roles = read(&authority, "GET_ROLES").await;
    let ops = roles["get_roles"]["roles"]
        .as_array()
        .and_then(|roles| roles.iter().find(|r| r["name"] == "ops").cloned())
        .unwrap_or_else(|| panic!("role ops in {roles}"));
    assert_eq!(ops["weight"], 2.5);
    let weights = read(&authority, "GET_WEIGHTS").await;
    assert_eq!(
        weights["get_weights"]["weight_infos"],
        json!([{"weight": 2.5, "role": "ops"}])
    );

    let quota = operator(
        &authority,
        &json!({"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [{
            "role": "ops",
            "guarantees": {"mem": {"value": 64}},
            "limits": {"cpus": {"value": 1}, "mem": {"value": 128}}
        }]}}),
    )
    .await;
    assert_eq!(quota.status, StatusCode::OK, "{}", quota.text());
    let read_quota = read(&authority, "GET_QUOTA").await;
    let config = &read_quota["get_quota"]["status"]["configs"][0];
    assert_eq!(config["role"], "ops", "{read_quota}");
    assert_eq!(config["guarantees"]["mem"]["value"], 64.0, "{read_quota}");
    assert_eq!(config["limits"]["mem"]["value"], 128.0, "{read_quota}");

    let removed = operator(
        &authority,
        &json!({"type": "REMOVE_QUOTA", "remove_quota": {"role": "ops"}}),
    )
    .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text());
    let again = operator(
        &authority,
        &json!({"type": "REMOVE_QUOTA", "remove_quota": {"role": "ops"}}),
    )
    .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text());
    assert_eq!(
        again.text(),
        "Failed to remove quota: Role 'ops' has no quota set"
    );

    // The deprecated SET_QUOTA: its guarantee is the limit too, and only on a role without one.
    let set = json!({"type": "SET_QUOTA", "set_quota": {"quota_request": {
        "role": "ops",
        "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}}]}}});
    let first = operator(&authority, &set).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let read_quota = read(&authority, "GET_QUOTA").await;
    let config = &read_quota["get_quota"]["status"]["configs"][0];
    assert_eq!(config["guarantees"]["cpus"]["value"], 0.5, "{read_quota}");
    assert_eq!(config["limits"]["cpus"]["value"], 0.5, "{read_quota}");
    let second = operator(&authority, &set).await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST, "{}", second.text());
    assert!(
        second.text().contains("already has quota"),
        "{}",
        second.text()
    );
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_resources_show_in_get_agents() {
    let (cluster, authority) = cluster().await;
    let agent_id = eventually_some("an agent", PATIENCE, async || {
        let agents = read(&authority, "GET_AGENTS").await;
        agents["get_agents"]["agents"][0]["agent_info"]["id"]["value"]
            .as_str()
            .map(String::from)
    })
    .await
    .expect("an agent");
    let resources = json!([
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5},
         "reservations": [{"type": "DYNAMIC", "role": "ads"}]},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 32},
         "reservations": [{"type": "DYNAMIC", "role": "ads"}]}
    ]);
    let reserved = operator(
        &authority,
        &json!({"type": "RESERVE_RESOURCES", "reserve_resources": {
            "agent_id": {"value": agent_id}, "resources": resources}}),
    )
    .await;
    assert_eq!(reserved.status, StatusCode::ACCEPTED, "{}", reserved.text());
    assert!(reserved.body.is_empty());
    let reserved_mem = eventually_some("the reservation in GET_AGENTS", PATIENCE, async || {
        let agents = read(&authority, "GET_AGENTS").await;
        let total = &agents["get_agents"]["agents"][0]["total_resources"];
        (scalar(total, "cpus", Some("ads")) == 0.5).then(|| scalar(total, "mem", Some("ads")))
    })
    .await
    .expect("reserved cpus for ads");
    assert_eq!(reserved_mem, 32.0, "mem in MB");

    let unreserved = operator(
        &authority,
        &json!({"type": "UNRESERVE_RESOURCES", "unreserve_resources": {
            "agent_id": {"value": agent_id}, "resources": resources}}),
    )
    .await;
    assert_eq!(
        unreserved.status,
        StatusCode::ACCEPTED,
        "{}",
        unreserved.text()
    );
    eventually_some(
        "the reservation gone from GET_AGENTS",
        PATIENCE,
        async || {
            let agents = read(&authority, "GET_AGENTS").await;
            let total = &agents["get_agents"]["agents"][0]["total_resources"];
            (scalar(total, "cpus", Some("ads")) == 0.0).then_some(())
        },
    )
    .await
    .expect("unreserved");
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_streams_a_task_life_and_get_tasks_keeps_it() {
    let (cluster, authority) = cluster().await;
    let digest = upload(&cluster, HELLO).await;
    let mut events = stream(
        &authority,
        "/api/v1",
        &[("Content-Type", JSON), ("Accept", JSON)],
        br#"{"type":"SUBSCRIBE"}"#.to_vec(),
    )
    .await;
    assert_eq!(events.status, StatusCode::OK);
    assert_eq!(events.headers["content-type"], JSON);
    let subscribed = events.next().await.expect("SUBSCRIBED");
    assert_eq!(subscribed["type"], "SUBSCRIBED", "{subscribed}");
    assert_eq!(subscribed["subscribed"]["heartbeat_interval_seconds"], 15.0);
    assert!(
        subscribed["subscribed"]["get_state"]["get_agents"].is_object(),
        "{subscribed}"
    );
    let heartbeat = events.next().await.expect("HEARTBEAT");
    assert_eq!(heartbeat, json!({"type": "HEARTBEAT"}));

    let mut framework =
        Framework::subscribe(&authority, &subscribe_call("watched", json!({}))).await;
    let framework_id = framework.framework_id.clone();
    let added = events
        .wait_for("FRAMEWORK_ADDED", |e| {
            let framework = &e["framework_added"]["framework"];
            (framework["framework_info"]["id"]["value"] == framework_id.as_str())
                .then(|| framework.clone())
        })
        .await;
    assert_eq!(added["framework_info"]["name"], "watched");

    let offers = framework.events.offers().await;
    framework
        .launch(
            &offers[0],
            "hello-op",
            json!({
                "uris": [{"value": format!("wasmesos://sha256:{digest}"), "output_file": "hello.wasm"}],
                "value": "hello.wasm"
            }),
        )
        .await;
    let task = events
        .wait_for("TASK_ADDED", |e| {
            let task = &e["task_added"]["task"];
            (task["task_id"]["value"] == "hello-op").then(|| task.clone())
        })
        .await;
    assert_eq!(task["state"], "TASK_STAGING");
    assert_eq!(task["framework_id"]["value"], framework_id.as_str());
    assert_eq!(task["agent_id"], offers[0]["agent_id"]);
    assert_eq!(scalar(&task["resources"], "mem", None), 64.0, "{task}");
    framework.wait_for_state("hello-op", "TASK_FINISHED").await;
    let finished = events
        .wait_for("TASK_UPDATED", |e| {
            let update = &e["task_updated"];
            (update["status"]["task_id"]["value"] == "hello-op"
                && update["state"] == "TASK_FINISHED")
                .then(|| update.clone())
        })
        .await;
    assert_eq!(finished["framework_id"]["value"], framework_id.as_str());

    let tasks = eventually_some("hello-op completed in GET_TASKS", PATIENCE, async || {
        let tasks = read(&authority, "GET_TASKS").await;
        tasks["get_tasks"]["completed_tasks"]
            .as_array()?
            .iter()
            .find(|t| t["task_id"]["value"] == "hello-op")
            .cloned()
    })
    .await
    .expect("the finished task");
    assert_eq!(tasks["state"], "TASK_FINISHED");
    assert_eq!(tasks["statuses"][0]["state"], "TASK_FINISHED");

    framework.accepted(json!({"type": "TEARDOWN"})).await;
    let removed = events
        .wait_for("FRAMEWORK_REMOVED", |e| {
            let info = &e["framework_removed"]["framework_info"];
            (info["id"]["value"] == framework_id.as_str()).then(|| info.clone())
        })
        .await;
    assert_eq!(removed["name"], "watched");
    let frameworks = read(&authority, "GET_FRAMEWORKS").await;
    assert!(
        frameworks["get_frameworks"]["completed_frameworks"]
            .as_array()
            .is_some_and(|f| f
                .iter()
                .any(|f| f["framework_info"]["id"]["value"] == framework_id.as_str())),
        "{frameworks}"
    );
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_streams_agents_joining_and_leaving() {
    let (mut cluster, authority) = cluster().await;
    let mut events = stream(
        &authority,
        "/api/v1",
        &[("Content-Type", JSON), ("Accept", JSON)],
        br#"{"type":"SUBSCRIBE"}"#.to_vec(),
    )
    .await;
    let subscribed = events.next().await.expect("SUBSCRIBED");
    assert_eq!(subscribed["type"], "SUBSCRIBED", "{subscribed}");

    let index = cluster
        .add_agent("cpus:1;mem:256MiB")
        .await
        .expect("a second agent");
    let agent_id = cluster.agent_id(index).expect("its id").to_string();
    let added = events
        .wait_for("AGENT_ADDED", |e| {
            let agent = &e["agent_added"]["agent"];
            (agent["agent_info"]["id"]["value"] == agent_id.as_str()).then(|| agent.clone())
        })
        .await;
    assert_eq!(added["active"], true);
    assert_eq!(
        scalar(&added["total_resources"], "mem", None),
        256.0,
        "{added}"
    );

    cluster.stop_agent(index).await.expect("stop the agent");
    events
        .wait_for("AGENT_REMOVED", |e| {
            (e["agent_removed"]["agent_id"]["value"] == agent_id.as_str()).then_some(())
        })
        .await;
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_removes_a_framework_and_an_unknown_id_is_a_400() {
    let (_cluster, authority) = cluster().await;
    let framework = Framework::subscribe(&authority, &subscribe_call("doomed", json!({}))).await;
    let framework_id = framework.framework_id.clone();
    let teardown =
        |id: &str| json!({"type": "TEARDOWN", "teardown": {"framework_id": {"value": id}}});
    let unknown = operator(&authority, &teardown("no-such-framework")).await;
    assert_eq!(
        unknown.status,
        StatusCode::BAD_REQUEST,
        "{}",
        unknown.text()
    );
    assert_eq!(unknown.text(), "No framework found with specified ID");
    // The framework shows in the state once the master has published it.
    eventually_some("the framework in GET_FRAMEWORKS", PATIENCE, async || {
        let frameworks = read(&authority, "GET_FRAMEWORKS").await;
        let listed = frameworks["get_frameworks"]["frameworks"]
            .as_array()
            .is_some_and(|all| {
                all.iter()
                    .any(|f| f["framework_info"]["id"]["value"] == framework_id.as_str())
            });
        listed.then_some(())
    })
    .await
    .expect("listed");
    let answer = operator(&authority, &teardown(&framework_id)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    eventually_some("the framework completed", PATIENCE, async || {
        let frameworks = read(&authority, "GET_FRAMEWORKS").await;
        let completed = frameworks["get_frameworks"]["completed_frameworks"]
            .as_array()
            .is_some_and(|all| {
                all.iter()
                    .any(|f| f["framework_info"]["id"]["value"] == framework_id.as_str())
            });
        completed.then_some(())
    })
    .await
    .expect("the torn-down framework is completed");
    drop(framework);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_agent_gone_removes_the_agent_for_good() {
    let (cluster, authority) = cluster().await;
    let agents = read(&authority, "GET_AGENTS").await;
    let agent_id = agents["get_agents"]["agents"][0]["agent_info"]["id"]["value"]
        .as_str()
        .expect("an agent id")
        .to_string();
    let gone = |id: &str| json!({"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": id}}});
    let unknown = operator(&authority, &gone("no-such-agent")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text());
    let missing = operator(&authority, &json!({"type": "MARK_AGENT_GONE"})).await;
    assert_eq!(
        missing.status,
        StatusCode::BAD_REQUEST,
        "{}",
        missing.text()
    );

    let marked = operator(&authority, &gone(&agent_id)).await;
    assert_eq!(marked.status, StatusCode::OK, "{}", marked.text());
    // Refused under its id, the agent registers anew under another one; the state readers
    // see the change once the next snapshot is published.
    wasmesos_harness::eventually("the gone agent out of GET_AGENTS", PATIENCE, async || {
        let agents = read(&authority, "GET_AGENTS").await;
        agents["get_agents"]["agents"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|agent| agent["agent_info"]["id"]["value"].as_str() != Some(agent_id.as_str()))
    })
    .await
    .expect("the agent is gone");
    let again = operator(&authority, &gone(&agent_id)).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "marking gone twice: {}",
        again.text()
    );
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_drain_and_reactivate_answer_as_mesos() {
    let (cluster, authority) = cluster().await;
    let agents = read(&authority, "GET_AGENTS").await;
    let agent_id = agents["get_agents"]["agents"][0]["agent_info"]["id"]["value"]
        .as_str()
        .expect("an agent id")
        .to_string();
    let call = |kind: &str, id: &str| {
        let key = kind.to_lowercase();
        json!({"type": kind, key: {"agent_id": {"value": id}}})
    };
    let unknown = operator(&authority, &call("DEACTIVATE_AGENT", "no-such-agent")).await;
    assert_eq!(
        unknown.status,
        StatusCode::BAD_REQUEST,
        "{}",
        unknown.text()
    );
    assert!(
        unknown.text().contains("Unknown agent"),
        "{}",
        unknown.text()
    );
    let active = operator(&authority, &call("REACTIVATE_AGENT", &agent_id)).await;
    assert_eq!(active.status, StatusCode::BAD_REQUEST, "{}", active.text());
    assert!(active.text().contains("Agent is not deactivated"));

    let deactivated = operator(&authority, &call("DEACTIVATE_AGENT", &agent_id)).await;
    assert_eq!(deactivated.status, StatusCode::OK, "{}", deactivated.text());
    let seen = |wanted: fn(&Value) -> bool| {
        let authority = authority.clone();
        async move {
            wasmesos_harness::eventually("the agent's state in GET_AGENTS", PATIENCE, async || {
                let agents = read(&authority, "GET_AGENTS").await;
                wanted(&agents["get_agents"]["agents"][0])
            })
            .await
            .expect("the agent's state is published");
        }
    };
    seen(|agent| agent["deactivated"] == true && agent["active"] == false).await;

    // No task runs there: the drain is over at once, DRAINED (the JSON of Mesos's DrainInfo).
    let drain = json!({"type": "DRAIN_AGENT", "drain_agent": {"agent_id": {"value": agent_id}}});
    let drained = operator(&authority, &drain).await;
    assert_eq!(drained.status, StatusCode::OK, "{}", drained.text());
    seen(|agent| agent["drain_info"]["state"] == "DRAINED").await;

    let back = operator(&authority, &call("REACTIVATE_AGENT", &agent_id)).await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.text());
    seen(|agent| {
        agent["deactivated"] == false
            && agent["active"] == true
            && agent.get("drain_info").is_none()
    })
    .await;
    cluster.shutdown().await.expect("shutdown");
}
