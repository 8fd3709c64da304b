//! A framework cannot stop an HA master by sending more than a ZooKeeper znode holds: its
//! oversized FrameworkInfo is refused before anything is written, and the master, a process
//! of its own under a real ZooKeeper, goes on leading and serving.

use tonic::Code;
use wasmesos_harness::{HaCluster, TestFramework, eventually_some};
use wasmesos_proto::scheduler_client::SchedulerClient;
use wasmesos_proto::{FrameworkInfo, Label, SubscribeRequest};

use crate::common::{PATIENCE, SESSION_TIMEOUT, binary, tracing};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_framework_is_refused_and_the_leader_keeps_leading() {
    tracing();
    let cluster = HaCluster::start(&binary(), 1, 0, "cpus:1;mem:256MiB", SESSION_TIMEOUT)
        .await
        .expect("ZooKeeper and a leading master");
    let leader = cluster.wait_for_leader().await.expect("a leader");

    // 2 MB of labels: more than a znode holds, under what gRPC decodes.
    let labels = (0..2048)
        .map(|i| Label {
            key: format!("k{i}"),
            value: "v".repeat(1024),
        })
        .collect();
    let request = SubscribeRequest {
        framework: Some(FrameworkInfo {
            name: "bloated".into(),
            labels,
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    let client = SchedulerClient::connect(leader.url())
        .await
        .expect("connect");
    // The znode comes first; the master answers as leader once it has booted.
    let refused = eventually_some("the leader's answer", PATIENCE, async || {
        match client.clone().subscribe(request.clone()).await {
            Err(status) if status.code() == Code::Unavailable => None,
            answer => Some(answer),
        }
    })
    .await
    .expect("an answer")
    .expect_err("an oversized framework is refused");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains("bytes encoded"), "{refused:?}");

    // The master still leads and a normal framework subscribes.
    let still = cluster.wait_for_leader().await.expect("a leader");
    assert_eq!(still.url(), leader.url());
    TestFramework::start(&cluster.zk_url(), "normal", None)
        .await
        .expect("a normal framework subscribes");
}
