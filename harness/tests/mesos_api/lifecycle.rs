//! Tasks through the Mesos API: launch → RUNNING → FINISHED with acknowledgements, kill,
//! reconcile, decline with filters, shell syntax refused, teardown.

use std::time::Duration;

use hyper::StatusCode;
use serde_json::json;
use wasmesos_guest_artifacts::{HELLO, SLEEPY};

use crate::client::{Framework, subscribe_call};
use crate::common::{cluster, upload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_launched_task_runs_and_finishes_with_acknowledged_updates() {
    let (cluster, authority) = cluster().await;
    let digest = upload(&cluster, HELLO).await;
    let mut framework = Framework::subscribe(&authority, &subscribe_call("hello", json!({}))).await;
    let offers = framework.events.offers().await;
    framework
        .launch(
            &offers[0],
            "hello-1",
            json!({
                "uris": [{"value": format!("wasmesos://sha256:{digest}"), "output_file": "hello.wasm"}],
                "value": "hello.wasm --greeting 'hi there'",
                "environment": {"variables": [{"name": "COLOR", "value": "blue"}]}
            }),
        )
        .await;
    let running = framework.wait_for_state("hello-1", "TASK_RUNNING").await;
    assert_eq!(running["agent_id"], offers[0]["agent_id"]);
    assert!(
        running["uuid"].is_string(),
        "an update to acknowledge: {running}"
    );
    let finished = framework.wait_for_state("hello-1", "TASK_FINISHED").await;
    assert_eq!(finished["agent_id"], offers[0]["agent_id"]);

    // Reconciling the finished task answers its latest state, without a uuid.
    framework
        .accepted(json!({"type": "RECONCILE", "reconcile": {"tasks": [{"task_id": {"value": "hello-1"}}]}}))
        .await;
    let reconciled = framework
        .events
        .wait_for("UPDATE", |e| {
            let status = &e["update"]["status"];
            (status["reason"] == "REASON_RECONCILIATION").then(|| status.clone())
        })
        .await;
    assert_eq!(reconciled["task_id"]["value"], "hello-1");
    assert!(reconciled.get("uuid").is_none(), "{reconciled}");
    framework.accepted(json!({"type": "TEARDOWN"})).await;
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_a_running_task_killed() {
    let (cluster, authority) = cluster().await;
    let digest = upload(&cluster, SLEEPY).await;
    let mut framework = Framework::subscribe(&authority, &subscribe_call("kill", json!({}))).await;
    let offers = framework.events.offers().await;
    framework
        .launch(
            &offers[0],
            "nap",
            json!({"shell": false, "value": format!("wasmesos://sha256:{digest}"),
                   "arguments": ["sleepy", "600000"]}),
        )
        .await;
    framework.wait_for_state("nap", "TASK_RUNNING").await;
    framework
        .accepted(json!({"type": "KILL", "kill": {"task_id": {"value": "nap"}}}))
        .await;
    framework.wait_for_state("nap", "TASK_KILLED").await;
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_syntax_is_a_task_error_saying_there_is_no_shell() {
    let (cluster, authority) = cluster().await;
    let digest = upload(&cluster, HELLO).await;
    let mut framework = Framework::subscribe(&authority, &subscribe_call("shell", json!({}))).await;
    let offers = framework.events.offers().await;
    framework
        .launch(
            &offers[0],
            "piped",
            json!({"value": format!("wasmesos://sha256:{digest} | grep hello")}),
        )
        .await;
    let error = framework.wait_for_state("piped", "TASK_ERROR").await;
    assert_eq!(error["reason"], "REASON_TASK_INVALID");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("no shell"), "{message}");
    // The offer's resources return: the framework is offered them again.
    framework.events.offers().await;
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decline_with_filters_holds_offers_back_until_revive() {
    let (cluster, authority) = cluster().await;
    let mut framework =
        Framework::subscribe(&authority, &subscribe_call("decline", json!({}))).await;
    let offers = framework.events.offers().await;
    framework
        .accepted(json!({
            "type": "DECLINE",
            "decline": {"offer_ids": [offers[0]["id"]], "filters": {"refuse_seconds": 3600}}
        }))
        .await;
    // Nothing is offered while the filter holds (the master re-offers within a second
    // otherwise).
    let quiet = tokio::time::timeout(Duration::from_secs(3), framework.events.offers()).await;
    assert!(
        quiet.is_err(),
        "offered again despite the filter: {quiet:?}"
    );
    framework.accepted(json!({"type": "REVIVE"})).await;
    let again = framework.events.offers().await;
    assert_eq!(again[0]["agent_id"], offers[0]["agent_id"]);
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teardown_ends_the_framework_and_its_calls() {
    let (cluster, authority) = cluster().await;
    let mut framework = Framework::subscribe(&authority, &subscribe_call("bye", json!({}))).await;
    framework.events.offers().await;
    framework.accepted(json!({"type": "TEARDOWN"})).await;
    let after = framework.call(json!({"type": "REVIVE"})).await;
    assert!(
        after.status == StatusCode::BAD_REQUEST || after.status == StatusCode::FORBIDDEN,
        "{:?} {}",
        after.status,
        after.text()
    );
    cluster.shutdown().await.expect("shutdown");
}
