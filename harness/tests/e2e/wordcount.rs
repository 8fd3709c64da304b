//! The word-count framework on a real cluster: the total equals `wc -w`, chunks spread over
//! agents, and chunks whose tasks fail are relaunched elsewhere.

use std::path::Path;

use wasmesos_harness::{Cluster, ClusterConfig};
use wordcount_framework::{BUNDLED_TEXT, WordCountConfig, count_file, count_words};

use crate::common::tracing;

/// `wc -w FILE`, where a `wc` exists (not on Windows).
fn wc_words(path: &Path) -> Option<u64> {
    let output = std::process::Command::new("wc")
        .arg("-w")
        .arg(path)
        .env("LC_ALL", "C")
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_total_equals_wc_w_and_the_chunks_spread_over_agents() {
    tracing();
    let cluster = Cluster::start(ClusterConfig::new(2))
        .await
        .expect("cluster");
    let config = WordCountConfig {
        master_url: cluster.master_url(),
        lines_per_chunk: 100,
        ..WordCountConfig::default()
    };
    let text = Path::new(BUNDLED_TEXT);
    let report = count_file(&config, text).await.expect("word count");

    let bytes = std::fs::read(text).expect("read the text");
    assert_eq!(report.total, count_words(&bytes));
    if let Some(wc) = wc_words(text) {
        assert_eq!(report.total, wc, "wc -w disagrees");
    }
    assert_eq!(
        report.rows.len(),
        bytes.split(|b| *b == b'\n').count().div_ceil(100)
    );
    assert_eq!(report.agents().len(), 2, "tasks ran on both agents");
    assert!(report.table().ends_with(&format!(
        "total: {} words in {} chunks on 2 agents (0 relaunched)\n",
        report.total,
        report.rows.len()
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_that_fail_are_relaunched_on_another_agent() {
    tracing();
    let mut config = ClusterConfig::new(1).agent_resources("cpus:1;mem:2GiB;disk:1GiB");
    config.agents = 1;
    let mut cluster = Cluster::start(config).await.expect("cluster");
    // This agent fails every task: no result fits in 0 bytes.
    let bad = cluster
        .add_agent_with("cpus:4;mem:4GiB;disk:1GiB", |agent| {
            agent.max_result_bytes = 0
        })
        .await
        .expect("bad agent");
    let bad_id = cluster.agent_id(bad).expect("bad agent id").to_string();
    let good_id = cluster.agent_id(0).expect("good agent id").to_string();

    let config = WordCountConfig {
        master_url: cluster.master_url(),
        lines_per_chunk: 100,
        ..WordCountConfig::default()
    };
    let text = Path::new(BUNDLED_TEXT);
    let report = count_file(&config, text)
        .await
        .expect("word count despite the bad agent");

    let bytes = std::fs::read(text).expect("read the text");
    assert_eq!(report.total, count_words(&bytes));
    assert!(report.relaunches > 0, "the bad agent failed some chunks");
    assert!(
        report.rows.iter().all(|row| row.agent_id == good_id),
        "no count came from {bad_id}"
    );
    assert!(report.rows.iter().any(|row| row.attempts > 1));
}
