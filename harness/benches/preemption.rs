//! Preemption on a real cluster (1 master, 2 agents of 2 cpus, in this process as
//! `wasmesos dev` runs them): a preemptible framework holds all four cpus with long-running
//! tasks (sleeping ones, so that the figure is the control plane's and not how a 2-core
//! machine shares itself among four spinning guests); a role is given a guarantee of one cpu and its framework subscribes. Timed: from
//! SUBSCRIBED to the first offers that hold the guaranteed cpu, with the master
//! preempting by kill and by suspension. Baseline: the same subscription on a cluster with a
//! free cpu (no preemption needed), in the same run.
//!
//! `WASMESOS_BENCH_ROUNDS` (default 5) rounds per mode; medians are printed.
//! Run: `cargo bench -p wasmesos-harness --bench preemption`.

use std::time::{Duration, Instant};

use wasmesos_harness::{Cluster, ClusterConfig, SchedulerEvent, TestFramework, env_number};
use wasmesos_master::PreemptionMode;
use wasmesos_proto::operator_client::OperatorClient;
use wasmesos_proto::{Quota, Resource, Resources, SetQuotaRequest, TaskState, ValueType};
use wasmesos_sdk_scheduler::{DriverConfig, TaskBuilder};

fn main() {
    let rounds = env_number("WASMESOS_BENCH_ROUNDS", 5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut rows = Vec::new();
    for (name, mode, busy) in [
        (
            "free cpu, no preemption (baseline)",
            PreemptionMode::Suspend,
            3,
        ),
        ("by kill", PreemptionMode::Kill, 4),
        ("by suspension", PreemptionMode::Suspend, 4),
    ] {
        let mut times: Vec<Duration> = (0..rounds)
            .map(|_| runtime.block_on(one_round(mode, busy)))
            .collect();
        times.sort();
        let median = times[times.len() / 2];
        eprintln!("{name}: {times:?}");
        rows.push((name, median));
    }
    let baseline = rows[0].1;
    println!("## time for a guaranteed role to receive its quota, {rounds} rounds each\n");
    println!("| preemption | median | ratio to baseline |");
    println!("|---|---|---|");
    for (name, median) in rows {
        println!(
            "| {name} | {:.1} ms | {:.2} |",
            median.as_secs_f64() * 1e3,
            median.as_secs_f64() / baseline.as_secs_f64()
        );
    }
}

/// One cluster with `busy` long-running 1-cpu tasks of a preemptible framework; the time from
/// `gold`'s subscription to its offer of a cpu.
async fn one_round(mode: PreemptionMode, busy: usize) -> Duration {
    let mut config = ClusterConfig::new(2).agent_resources("cpus:2;mem:2GiB;disk:1GiB");
    config.master.preemption = mode;
    let cluster = Cluster::start(config).await.expect("cluster");
    let url = cluster.master_url();
    let batch_config = DriverConfig::new(&url, "batch").role("batch").preemptible();
    let mut batch = TestFramework::with_config(batch_config)
        .await
        .expect("subscribe");
    let sleepy = batch
        .driver
        .upload_executor(std::path::Path::new(wasmesos_guest_artifacts::SLEEPY), None)
        .await
        .expect("upload")
        .digest;
    for i in 0..busy {
        let id = format!("sleepy-{i}");
        let task = TaskBuilder::new(&id, &sleepy)
            .cpus(1.0)
            .mem(256 << 20)
            .arg("3600000");
        batch.launch_one(task).await.expect("launch");
        batch
            .wait_for_status(&id, |state| state == TaskState::TaskRunning)
            .await
            .expect("running");
    }
    // Batch wants nothing more: nothing of the cluster stays on offer to it.
    batch.driver.suppress(Vec::new()).await.expect("suppress");
    loop {
        if let Ok(offers) =
            tokio::time::timeout(Duration::from_millis(50), batch.next_offers()).await
        {
            let ids = offers.expect("offers").into_iter().map(|offer| offer.id);
            batch.driver.decline(ids, None).await.expect("decline");
        }
        let state = cluster.state().await.expect("state");
        let nothing_offered = state.agents.iter().all(|agent| {
            agent
                .offered
                .as_ref()
                .is_none_or(|r| r.resources.is_empty())
        });
        if nothing_offered {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut operator = OperatorClient::connect(url.clone())
        .await
        .expect("operator");
    let cpu = Resources {
        resources: vec![Resource {
            name: "cpus".into(),
            value: 1.0,
            r#type: ValueType::Scalar as i32,
            ..Resource::default()
        }],
    };
    operator
        .set_quota(SetQuotaRequest {
            role: "gold".into(),
            quota: Some(Quota {
                guarantee: Some(cpu),
                limit: None,
            }),
        })
        .await
        .expect("set quota");
    let subscribing = Instant::now();
    let mut gold = TestFramework::start(&url, "gold", Some("gold"))
        .await
        .expect("subscribe");
    let appeared = Instant::now();
    eprintln!("subscribed in {:?}", appeared - subscribing);
    let mut offered = 0.0;
    while offered < 1.0 {
        offered += gold
            .wait_for("offers", |event| match event {
                SchedulerEvent::Offers(offers) => Some(
                    offers
                        .iter()
                        .map(|o| o.resources.as_ref().map_or(0.0, |r| r.scalar("cpus")))
                        .sum::<f64>(),
                ),
                _ => None,
            })
            .await
            .expect("gold's offers");
    }
    let took = appeared.elapsed();
    gold.teardown().await.expect("teardown");
    batch.teardown().await.expect("teardown");
    cluster.shutdown().await.expect("shutdown");
    took
}
