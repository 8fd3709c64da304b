//! Dominant Resource Fairness through the real master: two frameworks with different dominant
//! resources converge to equal shares, and a role of weight 2 gets twice the share.
//!
//! Each framework launches one long-running task per offer and hands the rest back at once
//! (refuse 0 s), so every allocation round decides who gets the next task; it stops at the
//! first offer its task does not fit (the agent's free resources only shrink).

use std::time::Duration;

use wasmesos_guest_artifacts::SLEEPY;
use wasmesos_harness::{Cluster, ClusterConfig, TestFramework};
use wasmesos_sdk_scheduler::{Capacity, TaskBuilder, refuse_for};

use crate::common::{MIB, tracing, upload};

/// Launches one `cpus`/`mem` sleepy task per offer until an offer is too small; returns the
/// framework and how many tasks it launched.
async fn fill(
    mut framework: TestFramework,
    digest: String,
    cpus: f64,
    mem: u64,
) -> (TestFramework, usize) {
    let mut launched = 0;
    loop {
        let offers = framework.next_offers().await.expect("offers");
        let mut full = false;
        for offer in offers {
            let id = format!("{}-{launched}", framework.framework_id);
            let task = TaskBuilder::new(id, &digest).cpus(cpus).mem(mem);
            if !full && Capacity::of(&offer).fits(task.resources()) {
                let info = task.build_for(&offer);
                framework
                    .driver
                    .launch_with_filters([offer.id], vec![info], refuse_for(Duration::ZERO))
                    .await
                    .expect("launch");
                launched += 1;
            } else {
                full = true;
                let refuse = refuse_for(Duration::from_secs(3600));
                framework
                    .driver
                    .decline([offer.id], Some(refuse))
                    .await
                    .expect("decline");
            }
        }
        if full {
            return (framework, launched);
        }
    }
}

/// Subscribes every framework before any of them takes a task, then fills concurrently.
async fn race(cluster: &Cluster, shapes: &[(&str, Option<&str>, f64, u64)]) -> Vec<usize> {
    let mut frameworks = Vec::new();
    for (name, role, _, _) in shapes {
        let framework = TestFramework::start(&cluster.master_url(), name, *role)
            .await
            .expect("subscribe");
        frameworks.push(framework);
    }
    let digest = upload(&frameworks[0], SLEEPY).await;
    let mut fills = Vec::new();
    for (framework, (_, _, cpus, mem)) in frameworks.into_iter().zip(shapes) {
        fills.push(tokio::spawn(fill(framework, digest.clone(), *cpus, *mem)));
    }
    let mut finished = Vec::new();
    for fill in fills {
        finished.push(fill.await.expect("fill task"));
    }
    // Tear down only once every framework is full, so freed resources change no count.
    let mut counts = Vec::new();
    for (framework, count) in finished {
        counts.push(count);
        framework.teardown().await.expect("teardown");
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frameworks_with_different_dominant_resources_converge_to_equal_shares() {
    tracing();
    // The DRF paper's example: 9 cpus and 18 units of memory; A's tasks are memory-heavy
    // <1 cpu, 4 units>, B's cpu-heavy <3 cpus, 1 unit>. DRF ends at A = 3, B = 2 tasks (both
    // shares 2/3); first come, first served could end at A = 4, B = 1.
    let unit = 100 * MIB;
    let config = ClusterConfig::new(1).agent_resources("cpus:9;mem:1800MiB;disk:1GiB");
    let cluster = Cluster::start(config).await.expect("cluster");
    let counts = race(
        &cluster,
        &[("drf-a", None, 1.0, 4 * unit), ("drf-b", None, 3.0, unit)],
    )
    .await;

    let share_a = (counts[0] as f64 * 4.0 / 18.0).max(counts[0] as f64 / 9.0);
    let share_b = (counts[1] as f64 * 3.0 / 9.0).max(counts[1] as f64 / 18.0);
    let one_task = (4.0f64 / 18.0).max(3.0 / 9.0);
    assert!(
        (share_a - share_b).abs() <= one_task + 1e-9,
        "A ran {} tasks (share {share_a:.3}), B ran {} (share {share_b:.3})",
        counts[0],
        counts[1]
    );
    assert_eq!(counts, [3, 2], "the DRF allocation of the paper's example");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_of_weight_two_gets_twice_the_share() {
    tracing();
    let config = ClusterConfig::new(1)
        .agent_resources("cpus:9;mem:4GiB;disk:1GiB")
        .role_weight("gold", 2.0)
        .role_weight("silver", 1.0);
    let cluster = Cluster::start(config).await.expect("cluster");
    let counts = race(
        &cluster,
        &[
            ("gold-fw", Some("gold"), 1.0, 64 * MIB),
            ("silver-fw", Some("silver"), 1.0, 64 * MIB),
        ],
    )
    .await;

    let (gold, silver) = (counts[0] as f64, counts[1] as f64);
    assert!(
        (gold / 2.0 - silver).abs() <= 1.0,
        "weighted shares differ by more than one task: gold {gold}, silver {silver}"
    );
    assert_eq!(counts, [6, 3], "9 cpus split 2:1");
}
