//! Ports end to end: the agent's default range is offered, two tasks packed into one offer
//! through the SDK get distinct ports, and each sees its own as `PORT0` in its environment.

use std::time::Duration;

use wasmesos_guest_artifacts as guests;
use wasmesos_harness::{Cluster, ClusterConfig, SchedulerEvent, TestFramework, read_task_file};
use wasmesos_proto::resource_names::PORTS;
use wasmesos_proto::{SandboxFile, TaskState, TaskStatus};
use wasmesos_sdk_scheduler::{Capacity, refuse_for};

use crate::common::{small_task, tracing, upload};

/// The `KEY=` line of an env-probe report.
fn env_line<'a>(report: &'a str, key: &str) -> Option<&'a str> {
    report
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tasks_in_one_offer_get_distinct_ports_in_their_env() {
    tracing();
    let cluster = Cluster::start(ClusterConfig::new(1))
        .await
        .expect("cluster");
    let url = cluster.master_url();
    let mut framework = TestFramework::start(&url, "ports", None)
        .await
        .expect("subscribe");
    let probe = upload(&framework, guests::ENV_PROBE).await;
    let offer = framework.next_offers().await.expect("offers").remove(0);
    let offered = offer.resources.clone().unwrap_or_default().ranges(PORTS);
    assert_eq!(
        offered.to_string(),
        "[31000-32000]",
        "the agent's default ports"
    );

    let mut left = Capacity::of(&offer);
    let a = left
        .place(small_task("ports-a", &probe).ports(1))
        .expect("a fits");
    let b = left
        .place(small_task("ports-b", &probe).ports(2))
        .expect("b fits");
    let tasks = vec![a.build_for(&offer), b.build_for(&offer)];
    framework
        .driver
        .launch_with_filters([offer.id.clone()], tasks, refuse_for(Duration::ZERO))
        .await
        .expect("launch");

    // Both ends in one wait: the two may finish in either order.
    let mut ended: Vec<TaskStatus> = Vec::new();
    framework
        .wait_for("both tasks' terminal updates", |event| {
            if let SchedulerEvent::Update(status) = event
                && status.state().is_terminal()
            {
                ended.push(status.clone());
            }
            (ended.len() == 2).then_some(())
        })
        .await
        .expect("terminal updates");
    let mut seen = Vec::new();
    for task_id in ["ports-a", "ports-b"] {
        let status = ended
            .iter()
            .find(|s| s.task_id == task_id)
            .expect("its terminal update");
        assert_eq!(status.state(), TaskState::TaskFinished, "{status:?}");
        let stdout = read_task_file(&url, task_id, SandboxFile::Stdout)
            .await
            .expect("stdout");
        let report = String::from_utf8_lossy(&stdout).into_owned();
        let ports = env_line(&report, "PORTS")
            .expect("PORTS is set")
            .to_string();
        let first = env_line(&report, "PORT0").expect("PORT0 is set");
        assert!(ports.starts_with(first), "{report}");
        assert!(
            env_line(&report, "HOST").is_some_and(|h| !h.is_empty()),
            "{report}"
        );
        for port in ports.split(',') {
            let port: u64 = port.parse().expect("a port number");
            assert!(offered.contains_value(port), "{port} was offered");
            seen.push(port);
        }
    }
    let count = seen.len();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!((count, seen.len()), (3, 3), "no port given twice: {seen:?}");
}
