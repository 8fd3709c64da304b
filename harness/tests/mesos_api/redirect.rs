//! A standby master answers Mesos calls (scheduler and operator) with a 307 to the leader, `Location` in Mesos's
//! protocol-relative form.

use hyper::StatusCode;
use serde_json::json;
use wasmesos_harness::{ZooKeeper, eventually, eventually_some};
use wasmesos_master::{HaConfig, MasterConfig, MasterHandle};

use crate::client::{JSON, PATIENCE, authority, post, subscribe_call};
use crate::common::tracing;

async fn start_master(zookeeper: &ZooKeeper, path: &str, dir: &std::path::Path) -> MasterHandle {
    let mut config = MasterConfig::for_tests(dir);
    config.ha = Some(HaConfig {
        zk: zookeeper.url(path),
        session_timeout: std::time::Duration::from_millis(1500),
    });
    wasmesos_master::spawn(config)
        .await
        .expect("spawn a master")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_redirects_scheduler_calls_to_the_leader() {
    tracing();
    let zookeeper = ZooKeeper::start().await.expect("start ZooKeeper");
    let dirs = tempfile::tempdir().expect("tempdir");
    let path = "/mesos-redirect";
    let first = start_master(&zookeeper, path, &dirs.path().join("m1")).await;
    eventually_some("a leader", PATIENCE, async || {
        zookeeper.leader(path).await.ok().flatten()
    })
    .await
    .expect("a leader");
    let second = start_master(&zookeeper, path, &dirs.path().join("m2")).await;
    eventually("two contenders", PATIENCE, async || {
        zookeeper.contenders(path).await.is_ok_and(|c| c.len() == 2)
    })
    .await
    .expect("two contenders");

    let body = subscribe_call("ha", json!({})).to_string();
    let redirect = eventually_some("a 307 from the standby", PATIENCE, async || {
        let answer = post(
            &authority(&second.url()),
            "/api/v1/scheduler",
            &[("Content-Type", JSON)],
            body.clone().into_bytes(),
        )
        .await;
        (answer.status == StatusCode::TEMPORARY_REDIRECT).then_some(answer)
    })
    .await
    .expect("a redirect");
    assert_eq!(
        redirect.headers["location"],
        format!("//{}/api/v1/scheduler", authority(&first.url()))
    );
    // The operator API too.
    let operator = post(
        &authority(&second.url()),
        "/api/v1",
        &[("Content-Type", JSON)],
        br#"{"type":"GET_HEALTH"}"#.to_vec(),
    )
    .await;
    assert_eq!(operator.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        operator.headers["location"],
        format!("//{}/api/v1", authority(&first.url()))
    );
    let _ = second.shutdown().await;
    let _ = first.shutdown().await;
}
