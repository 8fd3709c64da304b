//! Completed work is kept: after a Mesos framework's TEARDOWN its framework and finished
//! tasks are still listed by Mesos's endpoints, wasmesos's `/state` and `Operator.GetState`,
//! and the task's stdout is still readable (what `wasmesos tasks` and `wasmesos logs` use).

use std::time::Duration;

use serde_json::{Value, json};
use wasmesos_guest_artifacts::HELLO;
use wasmesos_harness::{cluster_state, eventually_some, read_task_file};
use wasmesos_proto::v1::SandboxFile;

use crate::client::{Framework, get_json, subscribe_call};
use crate::common::{cluster, upload};

const PATIENCE: Duration = Duration::from_secs(10);

/// The framework with this id in a Mesos JSON array.
fn find<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|f| f["id"] == id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_down_framework_and_its_tasks_stay_listed() {
    let (cluster, authority) = cluster().await;
    let digest = upload(&cluster, HELLO).await;
    let mut framework =
        Framework::subscribe(&authority, &subscribe_call("finished", json!({}))).await;
    let id = framework.framework_id.clone();
    let offers = framework.events.offers().await;
    framework
        .launch(
            &offers[0],
            "done-1",
            json!({
                "uris": [{"value": format!("wasmesos://sha256:{digest}"), "output_file": "hello.wasm"}],
                "value": "hello.wasm"
            }),
        )
        .await;
    framework.wait_for_state("done-1", "TASK_FINISHED").await;
    framework.accepted(json!({"type": "TEARDOWN"})).await;

    let completed = eventually_some(
        "a completed framework in /master/state",
        PATIENCE,
        async || {
            let state = get_json(&authority, "/master/state").await;
            find(&state["completed_frameworks"], &id).cloned()
        },
    )
    .await
    .expect("completed framework");
    assert_eq!(completed["active"], false);
    assert!(completed["unregistered_time"].is_number(), "{completed}");
    let tasks = completed["completed_tasks"]
        .as_array()
        .expect("completed_tasks");
    assert_eq!(tasks.len(), 1, "{completed}");
    assert_eq!(tasks[0]["id"], "done-1");
    assert_eq!(tasks[0]["state"], "TASK_FINISHED");
    let state = get_json(&authority, "/master/state").await;
    assert!(
        find(&state["frameworks"], &id).is_none(),
        "not active any more"
    );

    let frameworks = get_json(&authority, "/master/frameworks").await;
    assert!(find(&frameworks["completed_frameworks"], &id).is_some());
    let listed = get_json(&authority, "/master/tasks").await;
    assert!(find(&listed["tasks"], "done-1").is_some(), "{listed}");

    let native = get_json(&authority, "/state").await;
    assert!(find(&native["completed_frameworks"], &id).is_some());
    let grpc = cluster_state(&cluster.master_url())
        .await
        .expect("GetState");
    assert!(grpc.completed_frameworks.iter().any(|f| {
        f.framework.as_ref().is_some_and(|info| info.id == id) && f.unregistered_time.is_some()
    }));
    assert!(grpc.tasks.iter().any(|t| t.task_id == "done-1"));
    let stdout = read_task_file(&cluster.master_url(), "done-1", SandboxFile::Stdout)
        .await
        .expect("the finished task's stdout");
    assert!(!stdout.is_empty(), "hello printed something");
    cluster.shutdown().await.expect("shutdown");
}
