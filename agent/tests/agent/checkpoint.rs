//! The checkpoint across agent restarts (in-process, same work dir, same fake master): updates
//! left unacknowledged are resent in order, what ran is failed with REASON_AGENT_RESTARTED,
//! the agent re-registers under its id, and a damaged checkpoint stops it from starting.

use std::path::Path;
use std::time::Duration;

use wasmesos_agent::{AgentConfig, AgentHandle, CHECKPOINT_FILE, Error};
use wasmesos_guest_artifacts::{HELLO, SLEEPY};
use wasmesos_proto::agent_client::AgentClient;
use wasmesos_proto::agent_command::{Command, Shutdown};
use wasmesos_proto::{GetAgentStateRequest, Reason, TaskState, TaskStatus};
use wasmesos_test_support::{assert_eventually, scaled};

use crate::fake_master::{AckPolicy, FakeMaster};
use crate::support::{task, test_config, with_args};

fn config(master: &FakeMaster, work_dir: &Path) -> AgentConfig {
    AgentConfig {
        // Only a registration resends an update in these tests.
        status_update_retry: Duration::from_secs(3600),
        status_update_retry_max: Duration::from_secs(3600),
        ..test_config(&master.url, work_dir.to_path_buf())
    }
}

async fn start(master: &FakeMaster, work_dir: &Path) -> (AgentHandle, String) {
    let mut agent = wasmesos_agent::spawn(config(master, work_dir))
        .await
        .expect("agent starts");
    let id = agent
        .registered(scaled(Duration::from_secs(30)))
        .await
        .expect("agent registers");
    (agent, id)
}

async fn unacknowledged(agent: &AgentHandle) -> u64 {
    let mut client = AgentClient::connect(agent.url()).await.expect("agent API");
    client
        .get_agent_state(GetAgentStateRequest {})
        .await
        .expect("agent state")
        .into_inner()
        .unacknowledged_updates
}

fn uuids(updates: &[TaskStatus]) -> Vec<Vec<u8>> {
    updates.iter().map(|s| s.uuid.clone()).collect()
}

#[tokio::test]
async fn a_restarted_agent_resends_what_was_unacknowledged_and_fails_what_ran() {
    let master = FakeMaster::start(AckPolicy::Manual).await;
    let work_dir = tempfile::tempdir().expect("temp dir");
    let (agent, first_id) = start(&master, work_dir.path()).await;
    let hello = master.upload_file(HELLO);
    let sleepy = master.upload_file(SLEEPY);
    master
        .launch(
            "fw-1",
            vec![
                task("done", &hello),
                with_args(task("asleep", &sleepy), &["600000"]),
            ],
        )
        .await;
    master.terminal("done").await;
    master.state("asleep", TaskState::TaskRunning).await;
    // The sleeper's updates are acknowledged; the finished task's are not.
    for update in master.updates_of("asleep") {
        master.ack(&update).await;
    }
    let done_before = master.updates_of("done");
    let pending = done_before.len() as u64;
    assert_eventually!(
        "the acks to land",
        Duration::from_secs(30),
        unacknowledged(&agent).await == pending
    );
    agent.shutdown().await.expect("agent stops");

    let received_before = master.recorded().updates.len();
    let (agent, second_id) = start(&master, work_dir.path()).await;
    assert_eq!(second_id, first_id, "re-registered under the same id");
    let registrations = master.registrations(2).await;
    let second = registrations.last().expect("second registration");
    assert_eq!(
        second.agent.as_ref().map(|a| a.id.as_str()),
        Some(first_id.as_str())
    );
    let mut reported: Vec<(String, TaskState)> = second
        .tasks
        .iter()
        .map(|r| {
            let id = r
                .task
                .as_ref()
                .map(|t| t.task_id.clone())
                .unwrap_or_default();
            (
                id,
                r.latest
                    .as_ref()
                    .map_or(TaskState::TaskStaging, |s| s.state()),
            )
        })
        .collect();
    reported.sort();
    assert_eq!(
        reported,
        [
            ("asleep".to_string(), TaskState::TaskFailed),
            ("done".to_string(), TaskState::TaskFinished),
        ]
    );

    let failed = master
        .until("the sleeper's failure", |m| {
            m.updates_of("asleep")
                .into_iter()
                .find(|s| s.state() == TaskState::TaskFailed)
        })
        .await;
    assert_eq!(failed.reason(), Reason::AgentRestarted);
    assert!(
        failed.message.contains("while the task was RUNNING"),
        "{}",
        failed.message
    );
    let resent = master
        .until("the finished task's updates again", |m| {
            let again: Vec<TaskStatus> = m.recorded().updates[received_before..]
                .iter()
                .filter(|s| s.task_id == "done")
                .cloned()
                .collect();
            (again.len() >= done_before.len()).then_some(again)
        })
        .await;
    assert_eq!(
        uuids(&resent),
        uuids(&done_before),
        "same updates, same order"
    );

    for update in master.updates_of("done").iter().chain([&failed]) {
        master.ack(update).await;
    }
    assert_eventually!(
        "the acks to land",
        Duration::from_secs(30),
        unacknowledged(&agent).await == 0
    );
    agent.shutdown().await.expect("agent stops");

    // Everything acknowledged: a third run has nothing to report or resend.
    let before = master.recorded().updates.len();
    let (agent, third_id) = start(&master, work_dir.path()).await;
    assert_eq!(third_id, first_id);
    let registrations = master.registrations(3).await;
    assert!(
        registrations[2].tasks.is_empty(),
        "{:?}",
        registrations[2].tasks
    );
    let beats = master.heartbeats();
    master
        .until("three heartbeats", |m| {
            (m.heartbeats() >= beats + 3).then_some(())
        })
        .await;
    assert_eq!(master.recorded().updates.len(), before, "nothing resent");
    agent.shutdown().await.expect("agent stops");
}

#[tokio::test]
async fn an_agent_the_master_removed_forgets_its_checkpoint() {
    let master = FakeMaster::start(AckPolicy::Manual).await;
    let work_dir = tempfile::tempdir().expect("temp dir");
    let (agent, first_id) = start(&master, work_dir.path()).await;
    let hello = master.upload_file(HELLO);
    master.launch("fw-1", vec![task("done", &hello)]).await;
    master.terminal("done").await;
    master
        .send(Command::Shutdown(Shutdown {
            message: "removed by the test".into(),
        }))
        .await;
    let registrations = master.registrations(2).await;
    assert!(
        registrations[1]
            .agent
            .as_ref()
            .is_some_and(|a| a.id.is_empty())
    );
    let mut agent = agent;
    let new_id = agent
        .registered(scaled(Duration::from_secs(30)))
        .await
        .expect("registered anew");
    assert_ne!(new_id, first_id);
    agent.shutdown().await.expect("agent stops");

    let before = master.recorded().updates.len();
    let (agent, restarted_id) = start(&master, work_dir.path()).await;
    assert_eq!(restarted_id, new_id, "the new id is the one remembered");
    let registrations = master.registrations(3).await;
    assert!(
        registrations[2].tasks.is_empty(),
        "the removed tasks are forgotten"
    );
    let beats = master.heartbeats();
    master
        .until("three heartbeats", |m| {
            (m.heartbeats() >= beats + 3).then_some(())
        })
        .await;
    assert_eq!(master.recorded().updates.len(), before, "nothing resent");
    agent.shutdown().await.expect("agent stops");
}

#[tokio::test]
async fn a_damaged_checkpoint_stops_the_agent_with_the_file_and_the_way_out() {
    let master = FakeMaster::start(AckPolicy::OnReceipt(1)).await;
    let work_dir = tempfile::tempdir().expect("temp dir");
    let path = work_dir.path().join(CHECKPOINT_FILE);
    std::fs::write(&path, b"not a checkpoint at all".repeat(100)).expect("write");
    let err = wasmesos_agent::spawn(config(&master, work_dir.path()))
        .await
        .expect_err("the agent refuses to start");
    assert!(matches!(err, Error::Checkpoint { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("move it aside"), "{message}");
    assert!(
        master.recorded().registrations.is_empty(),
        "it never registered"
    );

    // Moved aside, as the message says: the agent starts afresh and registers as new.
    std::fs::rename(&path, work_dir.path().join("checkpoint.journal.broken")).expect("rename");
    let (agent, _) = start(&master, work_dir.path()).await;
    let registrations = master.registrations(1).await;
    assert!(
        registrations[0]
            .agent
            .as_ref()
            .is_some_and(|a| a.id.is_empty())
    );
    agent.shutdown().await.expect("agent stops");
}
