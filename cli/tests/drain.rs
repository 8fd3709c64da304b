//! Taking an agent out of service on a cluster of real processes: `wasmesos agents drain`
//! kills its task for draining and shows it DRAINED, offered to no one, until `wasmesos
//! agents reactivate` puts it back.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use wasmesos_guest_artifacts as guests;
use wasmesos_harness::{ProcessCluster, SchedulerEvent, TestFramework, cluster_state, eventually};
use wasmesos_proto::{DrainState, Reason, TaskState};
use wasmesos_sdk_scheduler::TaskBuilder;

const BINARY: &str = env!("CARGO_BIN_EXE_wasmesos");
/// How long a condition on the master's published state may take to hold.
const DEADLINE: Duration = Duration::from_secs(10);

fn wasmesos(master: &str, args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .env("WASMESOS_MASTER", master)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_agent_kills_its_task_for_draining_and_is_offered_again_once_reactivated() {
    let cluster = ProcessCluster::start(Path::new(BINARY), 1, "cpus:2;mem:1GiB", &[], &[])
        .await
        .expect("master and agent as processes");
    let master = cluster.master_url();
    let agent_id = cluster.agents[0].agent_id.clone().expect("agent id");
    let mut framework = TestFramework::start(&master, "drained", None)
        .await
        .expect("subscribe");
    let digest = framework
        .driver
        .upload_executor(Path::new(guests::SLEEPY), None)
        .await
        .expect("upload")
        .digest;
    // An hour's sleep that asks for ten minutes to stop: the drain allows it a second.
    let task = TaskBuilder::new("sleeper", &digest)
        .cpus(0.5)
        .mem(64 << 20)
        .kill_grace(Duration::from_secs(600));
    framework.launch_one(task).await.expect("launch");
    framework
        .wait_for_status("sleeper", |state| state == TaskState::TaskRunning)
        .await
        .expect("running");

    let out = wasmesos(
        &master,
        &["agents", "drain", &agent_id, "--max-grace", "1s"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("draining"),
        "{}",
        text(&out.stdout)
    );
    let killed = framework
        .wait_for_terminal("sleeper")
        .await
        .expect("the drain kills the task");
    assert_eq!(
        (killed.state(), killed.reason()),
        (TaskState::TaskKilled, Reason::AgentDraining),
        "{killed:?}"
    );

    // DRAINED, in the operator's state and in `wasmesos agents`; nothing of it on offer.
    eventually(
        "the agent DRAINED with nothing offered",
        DEADLINE,
        async || {
            let state = cluster_state(&master).await.expect("state");
            state.agents.first().is_some_and(|agent| {
                agent.deactivated
                    && agent.drain_info.as_ref().map(|d| d.state()) == Some(DrainState::Drained)
                    && agent
                        .offered
                        .as_ref()
                        .is_none_or(|r| r.resources.is_empty())
            })
        },
    )
    .await
    .expect("drained");
    let listed = wasmesos(&master, &["agents"]);
    assert!(
        text(&listed.stdout).contains("drained"),
        "{}",
        text(&listed.stdout)
    );
    // Refusals the operator can act on.
    let unknown = wasmesos(&master, &["agents", "deactivate", "no-such-agent"]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("Unknown agent"),
        "{}",
        text(&unknown.stderr)
    );

    framework.drain();
    let out = wasmesos(&master, &["agents", "reactivate", &agent_id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    framework
        .wait_for("an offer of the reactivated agent", |event| match event {
            SchedulerEvent::Offers(offers) => offers
                .iter()
                .any(|offer| offer.agent_id == agent_id)
                .then_some(()),
            _ => None,
        })
        .await
        .expect("offered again");
}
