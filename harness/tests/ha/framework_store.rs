//! The frameworks' durable store in a real ZooKeeper (Marathon and Chronos with `--zk`): a
//! batch is all or nothing, survives a reopen by another session, a batch past what one
//! transaction holds is refused whole with an error that says so, and a process whose
//! election znode is gone can write nothing.

use wasmesos_detector::zk;
use wasmesos_harness::ZooKeeper;
use wasmesos_sdk_scheduler::durable::{Batch, Durable, MAX_TRANSACTION, ZkSession};

use crate::common::{SESSION_TIMEOUT, tracing};

/// An ephemeral znode of `session`, standing in for its election znode.
async fn fence(session: &ZkSession, path: &str) -> String {
    let client = session.client();
    let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    client.mkdir(path, &persistent).await.expect("mkdir");
    let ephemeral = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
    let prefix = format!("{path}/json.info_");
    let (_, sequence) = client
        .create(&prefix, b"{}", &ephemeral)
        .await
        .expect("election znode");
    format!("{prefix}{:010}", sequence.into_i64())
}

fn records(store: &Durable, table: &'static str) -> Vec<(String, String)> {
    store.load(table).expect("load")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_all_or_nothing_bounded_and_fenced() {
    if let Some(why) = ZooKeeper::unavailable() {
        println!("skipped: {why}");
        return;
    }
    tracing();
    let zookeeper = ZooKeeper::start().await.expect("ZooKeeper");
    let session = ZkSession::connect(&zookeeper.servers(), SESSION_TIMEOUT)
        .await
        .expect("session");
    let fenced_by = fence(&session, "/fw/leader").await;
    let store = Durable::zookeeper(&session, "/fw/state", &fenced_by)
        .await
        .expect("open");
    assert_eq!(store.location(), format!("{}/fw/state", zookeeper.url("")));
    assert_eq!(store.framework_id().expect("id"), None);
    store.set_framework_id("fw-1").expect("write the id");
    let mut batch = Batch::default();
    batch.put(
        "apps",
        "/shop/web 2026-01-01T00:00:00.000Z",
        &"v1".to_owned(),
    );
    batch.put("apps", "/a", &"gone".to_owned());
    batch.delete("apps", "/a");
    batch.put("tasks", "shop_web.1", &"t1".to_owned());
    store.write(batch).expect("write");
    // Heavier than one transaction holds, though each record fits a znode: none written.
    let mut big = Batch::default();
    let half = "x".repeat(MAX_TRANSACTION / 2);
    big.put("apps", "/big1", &half);
    big.put("apps", "/big2", &half);
    big.delete("tasks", "shop_web.1");
    let refused = store.write(big).expect_err("too big");
    assert!(
        refused
            .to_string()
            .contains("one ZooKeeper transaction holds"),
        "{refused}"
    );
    let mut too_large = Batch::default();
    too_large.put("apps", "/huge", &"x".repeat(MAX_TRANSACTION + 1));
    let refused = store.write(too_large).expect_err("a record past a znode");
    assert!(
        refused.to_string().contains("a ZooKeeper znode holds"),
        "{refused}"
    );

    // Another session (a new leader) loads what was written, as written.
    let next = ZkSession::connect(&zookeeper.servers(), SESSION_TIMEOUT)
        .await
        .expect("another session");
    let next_fence = fence(&next, "/fw/leader").await;
    let reopened = Durable::zookeeper(&next, "/fw/state", &next_fence)
        .await
        .expect("reopen");
    assert_eq!(
        reopened.framework_id().expect("id").as_deref(),
        Some("fw-1")
    );
    assert_eq!(
        records(&reopened, "apps"),
        vec![(
            "/shop/web 2026-01-01T00:00:00.000Z".to_owned(),
            "v1".to_owned()
        )]
    );
    assert_eq!(
        records(&reopened, "tasks"),
        vec![("shop_web.1".to_owned(), "t1".to_owned())]
    );

    // The first process's election znode is gone: it can write nothing, its batch not half.
    session
        .client()
        .delete(&fenced_by, None)
        .await
        .expect("withdraw");
    let mut late = Batch::default();
    late.put("apps", "/late", &"no".to_owned());
    late.delete("tasks", "shop_web.1");
    let fenced = store.write(late).expect_err("fenced");
    assert!(fenced.to_string().contains("still lead"), "{fenced}");
    let after = Durable::zookeeper(&next, "/fw/state", &next_fence)
        .await
        .expect("reload");
    assert_eq!(records(&after, "apps").len(), 1);
    assert_eq!(records(&after, "tasks").len(), 1);
}
