//! The JSON endpoints Mesos tools read: `/version`, `/master/state.json` (what mesos-dns
//! needs), `/master/slaves`, `/master/frameworks`, `/master/tasks`, `/master/roles`,
//! `/master/health`, `/master/redirect`, `/metrics/snapshot`.

use hyper::StatusCode;
use serde_json::json;
use wasmesos_guest_artifacts::SLEEPY;

use crate::client::{Framework, get, get_json, subscribe_call};
use crate::common::{cluster, upload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesos_tools_read_the_cluster_in_mesos_shapes() {
    let (cluster, authority) = cluster().await;
    let version = get_json(&authority, "/version").await;
    let dotted = version["version"].as_str().expect("a version");
    assert!(
        dotted.split('.').all(|n| n.parse::<u32>().is_ok()),
        "{dotted}"
    );
    assert!(version["wasmesos_version"].is_string());

    let digest = upload(&cluster, SLEEPY).await;
    let mut framework = Framework::subscribe(&authority, &subscribe_call("tools", json!({}))).await;
    let offers = framework.events.offers().await;
    framework
        .launch(
            &offers[0],
            "dns-me",
            json!({"value": format!("wasmesos://sha256:{digest} 600000")}),
        )
        .await;
    framework.wait_for_state("dns-me", "TASK_RUNNING").await;

    let pid = format!("master@{authority}");
    let state = wasmesos_harness::eventually_some(
        "the task in /master/state.json",
        crate::client::PATIENCE,
        async || {
            let state = get_json(&authority, "/master/state.json").await;
            let listed = state["frameworks"][0]["tasks"]
                .as_array()
                .is_some_and(|tasks| {
                    tasks
                        .iter()
                        .any(|t| t["id"] == "dns-me" && t["state"] == "TASK_RUNNING")
                });
            listed.then_some(state)
        },
    )
    .await
    .expect("the running task listed");
    assert_eq!(state["leader"], pid);
    assert_eq!(state["pid"], pid);
    let slave = &state["slaves"][0];
    assert!(
        slave["pid"]
            .as_str()
            .is_some_and(|p| p.starts_with("slave(1)@127.0.0.1:")),
        "{slave}"
    );
    let task = &state["frameworks"][0]["tasks"][0];
    assert_eq!(task["slave_id"], slave["id"]);
    assert_eq!(task["resources"]["mem"], 64.0, "MB: {task}");
    assert_eq!(get_json(&authority, "/state.json").await["leader"], pid);

    assert_eq!(
        get_json(&authority, "/master/slaves").await["slaves"][0]["id"],
        slave["id"]
    );
    assert_eq!(
        get_json(&authority, "/master/frameworks").await["frameworks"][0]["id"],
        json!(framework.framework_id)
    );
    assert_eq!(
        get_json(&authority, "/master/tasks").await["tasks"][0]["id"],
        "dns-me"
    );
    assert!(get_json(&authority, "/master/roles").await["roles"].is_array());

    let metrics = get_json(&authority, "/metrics/snapshot").await;
    assert_eq!(metrics["master/elected"], 1.0);
    assert_eq!(metrics["master/slaves_active"], 1.0);
    assert_eq!(metrics["master/frameworks_active"], 1.0);
    assert_eq!(metrics["master/tasks_running"], 1.0);
    assert!(
        metrics["master/mem_total"]
            .as_f64()
            .is_some_and(|mb| mb > 0.0 && mb < 1e7)
    );

    assert_eq!(
        get(&authority, "/master/health").await.status,
        StatusCode::OK
    );
    let redirect = get(&authority, "/master/redirect").await;
    assert_eq!(redirect.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(redirect.headers["location"], format!("//{authority}"));
    cluster.shutdown().await.expect("shutdown");
}
