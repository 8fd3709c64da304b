//! The detector against a real ZooKeeper: leader by lowest sequence, changes, no leader,
//! unreachable servers.

use std::time::Duration;

use wasmesos_detector::zk;
use wasmesos_detector::{Detector, Error, MasterInfo, MasterUrl};
use wasmesos_harness::{ZooKeeper, scaled};

use crate::common::{PATIENCE, tracing};

fn info(port: u32) -> MasterInfo {
    MasterInfo::new(&format!("m{port}"), "127.0.0.1", "127.0.0.1", port, "test")
}

async fn contend(client: &zk::Client, path: &str, port: u32) -> String {
    let options = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
    let (_, seq) = client
        .create(
            &format!("{path}/json.info_"),
            &info(port).to_json(),
            &options,
        )
        .await
        .expect("create a contender znode");
    format!("{path}/json.info_{:010}", seq.into_i64())
}

#[tokio::test]
async fn follows_the_lowest_sequence_and_its_successors() {
    tracing();
    let zookeeper = ZooKeeper::start().await.expect("start ZooKeeper");
    let path = "/detect";
    let detector = Detector::parse(&zookeeper.url(path))
        .await
        .expect("detector");
    let none = detector.leader(Duration::from_millis(300)).await;
    assert!(
        matches!(none, Err(Error::NoLeader { .. })),
        "no leader yet: {none:?}"
    );

    let client = zookeeper.client().await.expect("client");
    let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    client.mkdir(path, &persistent).await.expect("mkdir");
    // Not a contender: ignored.
    client
        .create(&format!("{path}/registry"), b"", &persistent)
        .await
        .expect("create registry");
    let first = contend(&client, path, 1001).await;
    let _second = contend(&client, path, 1002).await;
    let leader = detector.leader(scaled(PATIENCE)).await.expect("a leader");
    assert_eq!(leader, "http://127.0.0.1:1001");

    client
        .delete(&first, None)
        .await
        .expect("delete the leader");
    let next = detector
        .next_leader(&leader, scaled(PATIENCE))
        .await
        .expect("the successor");
    assert_eq!(next, "http://127.0.0.1:1002");
}

#[tokio::test]
async fn bad_json_in_the_leading_znode_means_no_leader() {
    tracing();
    let zookeeper = ZooKeeper::start().await.expect("start ZooKeeper");
    let client = zookeeper.client().await.expect("client");
    let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    client.mkdir("/bad", &persistent).await.expect("mkdir");
    let ephemeral = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
    client
        .create("/bad/json.info_", b"{not json", &ephemeral)
        .await
        .expect("create");
    let detector = Detector::parse(&zookeeper.url("/bad"))
        .await
        .expect("detector");
    let result = detector.leader(Duration::from_millis(500)).await;
    assert!(matches!(result, Err(Error::NoLeader { .. })), "{result:?}");
}

#[tokio::test]
async fn an_unreachable_ensemble_is_a_clear_error() {
    tracing();
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let servers = format!("127.0.0.1:{port}");
    let result = wasmesos_detector::connect(&servers, Duration::from_millis(500)).await;
    let message = result.err().map(|err| err.to_string()).unwrap_or_default();
    assert!(message.contains("cannot reach ZooKeeper"), "{message}");
    assert!(message.contains(&servers), "{message}");
    let parsed: Result<MasterUrl, _> = "zk://h:2181".parse();
    assert!(matches!(parsed, Err(Error::BadUrl { .. })));
}
