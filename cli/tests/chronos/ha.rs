//! Two Chronos processes on one ZooKeeper path: the first leads, the second proxies the API
//! to it; `kill -9` of the leader in the middle of a repeating job hands the job to the
//! second, which runs every remaining occurrence, and none twice.

use std::collections::BTreeSet;
use std::time::Duration;

use wasmesos_harness::{ZooKeeper, eventually_some};

use crate::common::{DEADLINE, Env, schedule, start_chronos};

/// `GET /leader` at `env.url`, once it names `leader` and the API answers (the leader has
/// loaded its state).
async fn leader_is(env: &Env, leader: &str) {
    eventually_some(
        &format!("{} to name {leader} leader", env.url),
        DEADLINE,
        async || {
            let (status, body) = env.call("GET", "/leader", None).await;
            let body: serde_json::Value = serde_json::from_str(&body).ok()?;
            let (serving, _) = env.call("GET", "/v1/scheduler/jobs", None).await;
            (status == 200 && body["leader"] == leader && serving == 200).then_some(())
        },
    )
    .await
    .unwrap_or_else(|err| panic!("{err}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeating_job_survives_a_killed_leader_without_a_duplicate_run() {
    if let Some(why) = ZooKeeper::unavailable() {
        println!("skipped: {why}");
        return;
    }
    let zookeeper = ZooKeeper::start().await.expect("ZooKeeper");
    let zk = zookeeper.url("/chronos");
    let mut env = Env::start_on(Some(&zk)).await;
    let first = env.url.trim_start_matches("http://").to_owned();
    leader_is(&env, &first).await;
    let mut follower = start_chronos(
        &env.cluster.master_url(),
        &env.cluster.dir().join("chronos-2"),
        "127.0.0.1:0",
        Some(&zk),
    )
    .await;
    let second = follower.url.trim_end_matches('/').to_owned();

    // Added through the follower (proxied to the leader, Chronos's 204), seen through both.
    let leader_url = std::mem::replace(&mut env.url, second.clone());
    leader_is(&env, &first).await;
    env.add(&env.job("beat", "", &schedule(8, Duration::from_secs(2), "PT1S")))
        .await;
    env.job_when("a first run, seen through the follower", "beat", |j| {
        j["successCount"].as_u64() >= Some(1)
    })
    .await;
    env.url = leader_url;
    env.job_when("the job at the leader", "beat", |j| j["name"] == "beat")
        .await;

    // The leader dies; the follower leads and runs what is left of the schedule.
    env.chronos.kill().await.expect("kill -9 the leader");
    env.url = second.clone();
    leader_is(&env, second.trim_start_matches("http://")).await;
    let beat = env
        .job_when("all eight runs", "beat", |j| {
            j["successCount"] == 8 && j["disabled"] == true
        })
        .await;
    assert_eq!(beat["errorCount"], 0, "{beat}");
    let tasks = env.tasks_at_master_when("beat", 8).await;
    let dues: BTreeSet<&str> = tasks.iter().filter_map(|t| t.split('_').nth(1)).collect();
    assert_eq!(
        (tasks.len(), dues.len()),
        (8, 8),
        "one task per scheduled time: {tasks:?}"
    );
    // A leader killed after it stored a run as launched but before the launch left loses
    // that launch: the new leader finds the run unknown to the master and retries it (an
    // attempt 1). That is no duplicate: eight tasks in all, one per occurrence.
    let retries = tasks
        .iter()
        .filter(|t| t.split('_').nth(2) != Some("0"))
        .count();
    assert!(
        retries <= 1,
        "at most the run in flight is retried: {tasks:?}"
    );
    follower.kill().await.expect("stop the second Chronos");
}
