//! A standing-by master answers gRPC with UNAVAILABLE naming the leader, and HTTP with a 307
//! to the leader; clients with a zk:// URL reach the leader, and follow it when it changes.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmesos_harness::{TestFramework, ZooKeeper, eventually, eventually_some, scaled};
use wasmesos_master::{HaConfig, MasterConfig, MasterHandle};
use wasmesos_proto::scheduler_client::SchedulerClient;
use wasmesos_proto::{FrameworkInfo, LEADER_METADATA_KEY, SubscribeRequest};

use crate::common::{PATIENCE, SESSION_TIMEOUT, tracing};

async fn start_master(zookeeper: &ZooKeeper, path: &str, dir: &std::path::Path) -> MasterHandle {
    let mut config = MasterConfig::for_tests(dir);
    config.ha = Some(HaConfig {
        zk: zookeeper.url(path),
        session_timeout: SESSION_TIMEOUT,
    });
    wasmesos_master::spawn(config)
        .await
        .expect("spawn a master")
}

/// The UNAVAILABLE status a standby answers Subscribe with, once it knows the leader.
async fn subscribe_status(url: &str) -> Option<tonic::Status> {
    let mut client = SchedulerClient::connect(url.to_string()).await.ok()?;
    let request = SubscribeRequest {
        framework: Some(FrameworkInfo {
            name: "probe".into(),
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    client.subscribe(request).await.err()
}

/// The status line and headers of `GET path` over plain HTTP/1.1.
async fn http_get_head(url: &str, path: &str) -> String {
    let authority = url.trim_start_matches("http://");
    let Ok(mut stream) = tokio::net::TcpStream::connect(authority).await else {
        return String::new();
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).to_string();
    text.split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_lowercase()
}

#[tokio::test]
async fn a_standby_redirects_grpc_and_http_to_the_leader() {
    tracing();
    let zookeeper = ZooKeeper::start().await.expect("start ZooKeeper");
    let dirs = tempfile::tempdir().expect("tempdir");
    let path = "/redirect";
    let first = start_master(&zookeeper, path, &dirs.path().join("m1")).await;
    let leader = eventually_some("the first master to lead", PATIENCE, async || {
        zookeeper.leader(path).await.ok().flatten()
    })
    .await
    .expect("a leader");
    assert_eq!(leader.url(), first.url());
    // The znode is Mesos's MasterInfo JSON: `ip` as a network-order uint32 and a `pid`.
    assert_eq!(leader.address.ip, "127.0.0.1");
    assert_eq!(leader.ip, u32::from_le_bytes([127, 0, 0, 1]));
    assert_eq!(leader.pid, format!("master@127.0.0.1:{}", leader.port));
    assert_eq!(leader.address.port, leader.port);
    let second = start_master(&zookeeper, path, &dirs.path().join("m2")).await;
    eventually("two contenders", PATIENCE, async || {
        zookeeper.contenders(path).await.is_ok_and(|c| c.len() == 2)
    })
    .await
    .expect("two contenders");

    let status = eventually_some("a redirect naming the leader", PATIENCE, async || {
        subscribe_status(&second.url())
            .await
            .filter(|status| status.metadata().get(LEADER_METADATA_KEY).is_some())
    })
    .await
    .expect("a redirect");
    assert_eq!(status.code(), tonic::Code::Unavailable);
    let named = status
        .metadata()
        .get(LEADER_METADATA_KEY)
        .and_then(|value| value.to_str().ok());
    assert_eq!(named, Some(first.url().as_str()));

    let head = http_get_head(&second.url(), "/state?x=1").await;
    assert!(head.starts_with("http/1.1 307"), "{head}");
    let location = format!("location: {}/state?x=1", first.url());
    assert!(head.contains(&location), "{head}");
    // The leader answers for itself.
    let head = http_get_head(&first.url(), "/health").await;
    assert!(!head.contains(" 307 "), "{head}");

    // A framework given the zk:// URL subscribes at the leader.
    let framework = TestFramework::start(&zookeeper.url(path), "ha-redirect", None)
        .await
        .expect("subscribe through ZooKeeper");
    assert_eq!(framework.driver.master_url(), first.url());
    // One given the standby's own http:// URL follows its redirect to the leader.
    let redirected = TestFramework::start(&second.url(), "ha-redirect-static", None)
        .await
        .expect("subscribe through the standby's redirect");
    assert_eq!(redirected.driver.master_url(), first.url());
    let _ = tokio::time::timeout(Duration::from_secs(10), redirected.stop()).await;

    // The leader steps down (withdraws its znode): the standby takes over, and the framework
    // follows it by itself.
    first.shutdown().await.expect("stop the leader");
    eventually(
        "the framework to follow the new leader",
        PATIENCE,
        async || framework.driver.master_url() == second.url(),
    )
    .await
    .expect("the framework follows");
    let head = eventually_some("the new leader to serve", PATIENCE, async || {
        let head = http_get_head(&second.url(), "/health").await;
        (!head.is_empty() && !head.contains(" 307 ") && !head.contains(" 503 ")).then_some(head)
    })
    .await
    .expect("the new leader serves");
    assert!(head.starts_with("http/1.1 2"), "{head}");
    let _ = tokio::time::timeout(scaled(Duration::from_secs(10)), framework.stop()).await;
    let _ = second.shutdown().await;
}
