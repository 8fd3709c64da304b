//! kill -9 of an agent process in the middle of a run, then a restart on the same work dir
//! and port: no status update is lost and every task the agent had ends exactly once.
//!
//! A real master and agent run as `wasmesos` processes (build the binary first:
//! `cargo build -p wasmesos`, or point `WASMESOS_BIN` at one). The framework acknowledges
//! by hand and leaves the terminal updates of every third short task unacknowledged, so the
//! agent still holds them when it dies; the long sleepers are still running then.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use wasmesos_harness::{
    ProcessCluster, SchedulerEvent, TestFramework, agent_state, eventually, wasmesos_binary,
};
use wasmesos_proto::{Offer, Reason, TaskInfo, TaskState, TaskStatus};
use wasmesos_sdk_scheduler::{Capacity, DriverConfig, TaskBuilder, refuse_for};

const RESOURCES: &str = "cpus:8;mem:16GiB;disk:4GiB";
const SHORT: usize = 300;
const SLEEPERS: usize = 20;
const PATIENCE: Duration = Duration::from_secs(120);

fn short_id(n: usize) -> String {
    format!("short-{n:03}")
}

fn sleeper_id(n: usize) -> String {
    format!("sleeper-{n:02}")
}

/// The short tasks whose terminal update the framework leaves unacknowledged.
fn ack_dropped(task_id: &str) -> bool {
    task_id
        .strip_prefix("short-")
        .and_then(|n| n.parse::<usize>().ok())
        .is_some_and(|n| n % 3 == 0)
}

fn tasks_for(offer: &Offer, hello: &str, sleepy: &str) -> Vec<TaskInfo> {
    let short = (0..SHORT).map(|n| TaskBuilder::new(short_id(n), hello));
    let sleepers = (0..SLEEPERS).map(|n| TaskBuilder::new(sleeper_id(n), sleepy).arg("600000"));
    let mut capacity = Capacity::of(offer);
    let mut tasks = Vec::new();
    for builder in short.chain(sleepers) {
        let builder = builder.cpus(0.01).mem(16 << 20);
        assert!(
            capacity.take(builder.resources()),
            "the agent fits every task"
        );
        tasks.push(builder.build_for(offer));
    }
    tasks
}

/// What the framework heard, per task.
#[derive(Default)]
struct Heard {
    /// Distinct terminal states per task.
    terminal: HashMap<String, HashSet<i32>>,
    /// Terminal updates per task, by uuid.
    terminal_uuids: HashMap<String, HashSet<Vec<u8>>>,
    running: HashSet<String>,
    /// Updates left unacknowledged before the kill.
    dropped: HashSet<Vec<u8>>,
    /// Uuids that arrived after the restart.
    after_restart: HashSet<Vec<u8>>,
    failed_by_restart: HashSet<String>,
}

impl Heard {
    fn note(&mut self, status: &TaskStatus, restarted: bool) {
        let task = status.task_id.clone();
        if status.state() == TaskState::TaskRunning {
            self.running.insert(task.clone());
        }
        if status.state().is_terminal() {
            self.terminal
                .entry(task.clone())
                .or_default()
                .insert(status.state);
            self.terminal_uuids
                .entry(task.clone())
                .or_default()
                .insert(status.uuid.clone());
            if status.reason() == Reason::AgentRestarted {
                self.failed_by_restart.insert(task);
            }
        }
        if restarted {
            self.after_restart.insert(status.uuid.clone());
        }
    }

    fn short_done(&self) -> bool {
        (0..SHORT).all(|n| self.terminal.contains_key(&short_id(n)))
    }

    fn sleepers_running(&self) -> bool {
        (0..SLEEPERS).all(|n| self.running.contains(&sleeper_id(n)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agent_restarts_on_its_checkpoint_and_accounts_for_every_task() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let binary = wasmesos_binary()
        .expect("the wasmesos binary: run `cargo build -p wasmesos` or set WASMESOS_BIN");
    // The master keeps the agent through its restart: a ping timeout far longer than it.
    let master_args = [
        "--agent-heartbeat-interval",
        "100ms",
        "--agent-ping-timeout",
        "120s",
    ];
    let mut cluster =
        ProcessCluster::start(&binary, 1, RESOURCES, &master_args, &["--max-tasks", "512"])
            .await
            .expect("master and agent processes");
    let agent_id = cluster.agents[0].agent_id.clone().expect("agent id");
    let config = DriverConfig {
        auto_acknowledge: false,
        ..DriverConfig::new(cluster.master_url(), "restart-survivor")
    };
    let mut framework = TestFramework::with_config(config).await.expect("subscribe");
    framework.timeout = PATIENCE;
    let driver = framework.driver.clone();
    let upload = |path: &'static str| {
        let driver = driver.clone();
        async move {
            driver
                .upload_executor(std::path::Path::new(path), None)
                .await
                .expect("upload")
                .digest
        }
    };
    let hello = upload(wasmesos_guest_artifacts::HELLO).await;
    let sleepy = upload(wasmesos_guest_artifacts::SLEEPY).await;
    let offer = framework
        .next_offers()
        .await
        .expect("offers")
        .into_iter()
        .next()
        .expect("one offer");
    let tasks = tasks_for(&offer, &hello, &sleepy);
    driver
        .launch_with_filters(
            [offer.id.clone()],
            tasks,
            refuse_for(Duration::from_secs(3600)),
        )
        .await
        .expect("launch");

    let mut heard = Heard::default();
    framework
        .wait_for(
            "every short task ended and every sleeper running",
            |event| {
                if let SchedulerEvent::Update(status) = event {
                    heard.note(status, false);
                    if status.state().is_terminal() && ack_dropped(&status.task_id) {
                        heard.dropped.insert(status.uuid.clone());
                    } else {
                        driver.acknowledge(status);
                    }
                }
                (heard.short_done() && heard.sleepers_running()).then_some(())
            },
        )
        .await
        .expect("the run before the kill");
    driver.flush_acknowledgements().await;
    let agent_url = cluster.agents[0].url.clone();
    let dropped = heard.dropped.len() as u64;
    assert_eq!(dropped, SHORT.div_ceil(3) as u64);
    eventually(
        "the agent holding only the dropped acks",
        PATIENCE,
        async || {
            agent_state(&agent_url)
                .await
                .is_ok_and(|state| state.unacknowledged_updates == dropped)
        },
    )
    .await
    .expect("acks reached the agent");

    cluster.agents[0].kill().await.expect("kill -9 the agent");
    cluster
        .restart_agent(0, RESOURCES)
        .await
        .expect("the agent restarts");
    assert_eq!(
        cluster.agents[0].agent_id.as_deref(),
        Some(agent_id.as_str()),
        "it re-registers under its id"
    );

    framework
        .wait_for(
            "the dropped updates again and the sleepers failed",
            |event| {
                if let SchedulerEvent::Update(status) = event {
                    heard.note(status, true);
                    driver.acknowledge(status);
                }
                let resent = heard.dropped.is_subset(&heard.after_restart);
                let failed =
                    (0..SLEEPERS).all(|n| heard.failed_by_restart.contains(&sleeper_id(n)));
                (resent && failed).then_some(())
            },
        )
        .await
        .expect("the run after the restart");
    driver.flush_acknowledgements().await;
    eventually("every update acknowledged", PATIENCE, async || {
        agent_state(&agent_url)
            .await
            .is_ok_and(|state| state.unacknowledged_updates == 0)
    })
    .await
    .expect("the agent holds nothing unacknowledged");

    for n in 0..SHORT {
        let task = short_id(n);
        let finished = HashSet::from([TaskState::TaskFinished as i32]);
        assert_eq!(heard.terminal.get(&task), Some(&finished), "{task}");
        assert_eq!(
            heard.terminal_uuids.get(&task).map(HashSet::len),
            Some(1),
            "{task}: one terminal update, however often delivered"
        );
    }
    for n in 0..SLEEPERS {
        let task = sleeper_id(n);
        let failed = HashSet::from([TaskState::TaskFailed as i32]);
        assert_eq!(heard.terminal.get(&task), Some(&failed), "{task}");
    }
    assert!(
        heard
            .failed_by_restart
            .iter()
            .all(|t| t.starts_with("sleeper-")),
        "only the running tasks were failed by the restart: {:?}",
        heard.failed_by_restart
    );
    framework.teardown().await.expect("teardown");
}
