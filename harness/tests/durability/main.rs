//! Durability of the master's registry, with real processes of the `wasmesos` binary
//! (build it first: `cargo build -p wasmesos`) killed with SIGKILL: a restarted master keeps
//! its agents, frameworks and task records, and a corrupt registry stops it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use wasmesos_harness::{
    ProcessCluster, SchedulerEvent, TestFramework, cluster_state, eventually, scaled,
    wasmesos_binary,
};
use wasmesos_proto::v1::{Reason, TaskState};
use wasmesos_sdk_scheduler::TaskBuilder;

mod failover;
mod kills;

const PATIENCE: Duration = Duration::from_secs(60);

fn binary() -> PathBuf {
    wasmesos_binary().expect("the wasmesos binary: run `cargo build -p wasmesos` first")
}

/// Runs `wasmesos master` on `work_dir` and returns its exit status and stderr, which must
/// come within the deadline (a master that starts serving fails the test).
async fn refused_start(work_dir: &Path) -> (bool, String) {
    let child = tokio::process::Command::new(binary())
        .args(["master", "--listen", "127.0.0.1:0", "--work-dir"])
        .arg(work_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the master");
    let output = tokio::time::timeout(scaled(PATIENCE), child.wait_with_output())
        .await
        .expect("a master over a corrupt registry must exit, not serve")
        .expect("wait for the master");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_garbage_registry_stops_the_master_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let registry = dir.path().join("registry.journal");
    std::fs::write(&registry, b"not a registry ".repeat(500)).expect("write garbage");
    let (success, stderr) = refused_start(dir.path()).await;
    assert!(!success, "the master must refuse to start");
    assert!(stderr.contains(&registry.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("move"),
        "the message says how to recover: {stderr}"
    );
}

#[tokio::test]
async fn a_killed_master_comes_back_with_its_agents_frameworks_and_tasks() {
    let mut cluster = ProcessCluster::start(&binary(), 1, "cpus:2;mem:1GiB", &[], &[])
        .await
        .expect("cluster");
    let agent_id = cluster.agents[0].agent_id.clone().expect("agent id");
    let mut framework = TestFramework::start(&cluster.master_url(), "durable", None)
        .await
        .expect("framework");
    let digest = framework
        .driver
        .upload_executor(Path::new(wasmesos_guest_artifacts::HELLO), None)
        .await
        .expect("upload")
        .digest;
    let hello = |id: &str| TaskBuilder::new(id, &digest).cpus(0.1).mem(32 << 20);
    framework.launch_one(hello("before")).await.expect("launch");
    let ended = framework
        .wait_for_terminal("before")
        .await
        .expect("terminal");
    assert_eq!(ended.state(), TaskState::TaskFinished);
    let framework_id = cluster_state(&cluster.master_url())
        .await
        .expect("state")
        .frameworks
        .first()
        .and_then(|f| f.framework.as_ref().map(|i| i.id.clone()))
        .expect("framework id");

    cluster
        .restart_master(&[])
        .await
        .expect("restart the master");
    let url = cluster.master_url();
    eventually("the agent back under its old id", PATIENCE, async || {
        cluster_state(&url).await.is_ok_and(|state| {
            state
                .agents
                .iter()
                .any(|a| a.active && a.agent.as_ref().is_some_and(|info| info.id == agent_id))
        })
    })
    .await
    .expect("the agent re-registers with its id");
    let state = cluster_state(&url).await.expect("state");
    assert!(
        state
            .tasks
            .iter()
            .any(|t| t.task_id == "before" && t.state == TaskState::TaskFinished as i32),
        "the finished task's record survived: {:?}",
        state.tasks
    );
    assert!(
        state
            .frameworks
            .iter()
            .any(|f| f.framework.as_ref().is_some_and(|i| i.id == framework_id)),
        "the framework survived"
    );

    // Offers resume once the framework has resubscribed; offers from the old master are
    // void, so they are dropped first.
    eventually("the framework resubscribed", PATIENCE, async || {
        cluster_state(&url).await.is_ok_and(|state| {
            state
                .frameworks
                .iter()
                .any(|f| f.connected && f.framework.as_ref().is_some_and(|i| i.id == framework_id))
        })
    })
    .await
    .expect("the framework resubscribes with its id");
    // Offers the old master made before it died may still be queued in the driver: an
    // ACCEPT of one is refused (TASK_ERROR, INVALID_OFFERS), as Mesos does after a failover.
    // A fresh task id per try; some try must finish on the new master's offers.
    let mut finished = false;
    for attempt in 0..10 {
        let id = format!("after-{attempt}");
        framework
            .launch_one(hello(&id))
            .await
            .expect("launch after the restart");
        let ended = framework.wait_for_terminal(&id).await.expect("terminal");
        if ended.state() == TaskState::TaskFinished {
            finished = true;
            break;
        }
        assert_eq!(
            ended.reason(),
            Reason::InvalidOffers,
            "only stale offers may fail: {ended:?}"
        );
    }
    assert!(finished, "offers resume after the restart");

    // A truncated registry stops the next start.
    cluster.master.kill().await.expect("kill the master");
    let registry = cluster.dir().join("master").join("registry.journal");
    let bytes = std::fs::read(&registry).expect("registry file");
    // Cut inside the last record: its last byte that is not zero goes.
    let cut = bytes.iter().rposition(|byte| *byte != 0).expect("records");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&registry)
        .expect("open");
    file.set_len(cut as u64).expect("truncate");
    drop(file);
    let (success, stderr) = refused_start(&cluster.dir().join("master")).await;
    assert!(!success, "a truncated registry must stop the master");
    assert!(stderr.contains(&registry.display().to_string()), "{stderr}");
}

/// Launches a hello task, retrying with a fresh id while ACCEPTs land on offers a dead master
/// made; returns the id that was launched.
async fn launch_hello(framework: &mut TestFramework, digest: &str, name: &str) -> String {
    for attempt in 0..10 {
        let id = format!("{name}-{attempt}");
        let task = TaskBuilder::new(&id, digest).cpus(0.1).mem(32 << 20);
        framework.launch_one(task).await.expect("launch");
        let first = framework
            .wait_for_status(&id, |_| true)
            .await
            .expect("a first update");
        if first.reason() != Reason::InvalidOffers {
            return id;
        }
    }
    panic!("no offer from the live master in 10 tries");
}

/// Every update the framework saw for `task_id`: state, reason, source and message.
fn updates_of(framework: &TestFramework, task_id: &str) -> Vec<String> {
    framework
        .history()
        .iter()
        .filter_map(|event| match event {
            SchedulerEvent::Update(status) if status.task_id == task_id => Some(format!(
                "{:?} {:?} {:?} {:?}",
                status.state(),
                status.reason(),
                status.source(),
                status.message
            )),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn tasks_launched_right_before_a_kill_end_exactly_once() {
    let mut cluster = ProcessCluster::start(&binary(), 2, "cpus:2;mem:1GiB", &[], &[])
        .await
        .expect("cluster");
    let mut framework = TestFramework::start(&cluster.master_url(), "kills", None)
        .await
        .expect("framework");
    let digest = framework
        .driver
        .upload_executor(Path::new(wasmesos_guest_artifacts::HELLO), None)
        .await
        .expect("upload")
        .digest;
    let mut launched = Vec::new();
    for round in 0..10 {
        let id = launch_hello(&mut framework, &digest, &format!("round{round}")).await;
        // The ACCEPT was answered, so its task record is durable: kill at once.
        cluster
            .restart_master(&[])
            .await
            .expect("restart the master");
        launched.push(id);
        let url = cluster.master_url();
        eventually("the framework resubscribed", PATIENCE, async || {
            cluster_state(&url).await.is_ok_and(|state| {
                !state.frameworks.is_empty() && state.frameworks.iter().all(|f| f.connected)
            })
        })
        .await
        .expect("the framework resubscribes");
    }
    for id in &launched {
        let seen = framework.states_of(id).into_iter().any(|s| s.is_terminal());
        if !seen {
            framework
                .wait_for_terminal(id)
                .await
                .expect("a terminal state");
        }
        let terminal: Vec<TaskState> = framework
            .states_of(id)
            .into_iter()
            .filter(|state| state.is_terminal())
            .collect();
        assert!(
            matches!(
                terminal.first(),
                Some(TaskState::TaskFinished | TaskState::TaskLost)
            ),
            "{id}: {terminal:?}; its updates: {:?}",
            updates_of(&framework, id)
        );
        assert!(
            terminal.iter().all(|state| *state == terminal[0]),
            "{id}: conflicting terminal states {terminal:?}; its updates: {:?}",
            updates_of(&framework, id)
        );
    }
}
