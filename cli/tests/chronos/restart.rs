//! `kill -9` of Chronos in the middle of a repeating job: the restarted process on the same
//! work dir resubscribes as the same framework, adopts what runs, catches up on what fell
//! due while it was down (within the epsilon), and runs no occurrence twice.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::{Env, schedule};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_restart_repeats_and_misses_no_run() {
    let mut env = Env::start().await;
    env.add(&env.job("beat", "", &schedule(6, Duration::from_secs(1), "PT1S")))
        .await;
    env.job_when("a first run", "beat", |j| {
        j["successCount"].as_u64() >= Some(1)
    })
    .await;
    env.restart_chronos().await;
    let beat = env
        .job_when("all six runs", "beat", |j| {
            j["successCount"] == 6 && j["disabled"] == true
        })
        .await;
    assert_eq!(beat["errorCount"], 0, "{beat}");
    let tasks = env.tasks_at_master_when("beat", 6).await;
    let dues: BTreeSet<&str> = tasks.iter().filter_map(|t| t.split('_').nth(1)).collect();
    assert_eq!(
        (tasks.len(), dues.len()),
        (6, 6),
        "one task per occurrence: {tasks:?}"
    );
    // A Chronos killed after it stored a run as launched but before the launch left loses
    // that launch: once back, it finds the run unknown to the master and retries it (an
    // attempt 1), as `ha.rs` does for a killed leader. Still six tasks, one per occurrence.
    let retries = tasks
        .iter()
        .filter(|t| t.split('_').nth(2) != Some("0"))
        .count();
    assert!(
        retries <= 1,
        "at most the run in flight is retried: {tasks:?}"
    );
}
