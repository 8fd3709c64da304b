//! Revocable resources through the Mesos API: a framework with REVOCABLE_RESOURCES sees the
//! CPU an oversubscribing agent's tasks leave unused as `"revocable":{}` resources.

use std::time::Duration;

use serde_json::{Value, json};
use wasmesos_agent::OversubscriptionConfig;
use wasmesos_guest_artifacts::SLEEPY;
use wasmesos_harness::{Cluster, ClusterConfig, TestFramework};
use wasmesos_sdk_scheduler::{Capacity, TaskBuilder, refuse_for};

use crate::client::{Framework, authority, get_json, subscribe_call};

fn revocable_cpus(offer: &Value) -> f64 {
    offer["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["name"] == "cpus" && r.get("revocable").is_some())
        .filter_map(|r| r["scalar"]["value"].as_f64())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocable_framework_sees_revocable_cpus_in_mesos_json() {
    crate::common::tracing();
    let mut config = ClusterConfig::new(1);
    config.agent_resources = "cpus:2;mem:2GiB;disk:2GiB".into();
    config.agent.oversubscription = Some(OversubscriptionConfig {
        estimate_interval: Duration::from_millis(100),
        qos_interval: Duration::from_millis(100),
        ..OversubscriptionConfig::default()
    });
    let cluster = Cluster::start(config).await.expect("cluster");
    let authority = authority(&cluster.master_url());

    // A regular framework holds both cpus with a task that sleeps.
    let mut service = TestFramework::start(&cluster.master_url(), "service", None)
        .await
        .expect("subscribe");
    let digest = service
        .driver
        .upload_executor(std::path::Path::new(SLEEPY), None)
        .await
        .expect("upload")
        .digest;
    let offer = service.next_offers().await.expect("an offer")[0].clone();
    let idle = Capacity::of(&offer)
        .place(TaskBuilder::new("idle", &digest).cpus(2.0).mem(64 << 20))
        .expect("fits")
        .build_for(&offer);
    service
        .driver
        .launch_with_filters(
            [offer.id.clone()],
            vec![idle],
            refuse_for(Duration::from_secs(3600)),
        )
        .await
        .expect("launch");

    let capable = json!({"capabilities": [{"type": "REVOCABLE_RESOURCES"}]});
    let mut framework =
        Framework::subscribe(&authority, &subscribe_call("best-effort", capable)).await;
    let offer = framework
        .events
        .wait_for("OFFERS", |event| {
            event["offers"]["offers"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|offer| revocable_cpus(offer) > 0.0)
                .cloned()
        })
        .await;
    // Two idle cpus less the agent's 10% margin.
    assert!((revocable_cpus(&offer) - 1.8).abs() < 0.011, "{offer}");
    let revocable = offer["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r.get("revocable").is_some())
        .expect("a revocable resource");
    assert_eq!(revocable["revocable"], json!({}), "{revocable}");
    assert_eq!(revocable["role"], "*", "{revocable}");
    // `/master/state` lists the capability.
    let state = get_json(&authority, "/master/state").await;
    let listed = state["frameworks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["name"] == "best-effort")
        .expect("the framework");
    assert!(
        listed["capabilities"]
            .as_array()
            .is_some_and(|c| c.contains(&json!("REVOCABLE_RESOURCES"))),
        "{listed}"
    );
    cluster.shutdown().await.expect("shutdown");
}
