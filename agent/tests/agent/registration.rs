//! Registration, heartbeats, retries while the master is away, re-registration, removal.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use wasmesos_guest_artifacts::SLEEPY;
use wasmesos_proto::agent_command::{Command, Shutdown};
use wasmesos_proto::{TaskState, resource_names};
use wasmesos_test_support::scaled;

use crate::fake_master::{AckPolicy, FakeMaster};
use crate::support::{Cluster, task, test_config, with_args};

#[tokio::test]
async fn registers_its_resources_and_address_then_heartbeats() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let registrations = cluster.master.registrations(1).await;
    let info = registrations[0].agent.clone().expect("agent info");
    assert!(info.id.is_empty(), "a first registration carries no id");
    assert_eq!(info.address, cluster.agent.url());
    assert_eq!(info.address, format!("http://{}", cluster.agent.addr()));
    assert!(!info.hostname.is_empty());
    let resources = info.resources.expect("resources");
    assert_eq!(resources.scalar(resource_names::CPUS), 2.0);
    assert_eq!(
        resources.scalar(resource_names::MEM),
        2.0 * 1024.0 * 1024.0 * 1024.0
    );
    assert_eq!(
        resources.scalar(resource_names::DISK),
        4.0 * 1024.0 * 1024.0 * 1024.0
    );
    assert_eq!(
        resources.ranges(resource_names::PORTS).to_string(),
        "[31000-32000]",
        "ports not given: Mesos's default range"
    );
    assert_eq!(cluster.agent_id, "agent-1");
    cluster
        .master
        .until("three heartbeats", |m| (m.heartbeats() >= 3).then_some(()))
        .await;
}

#[tokio::test]
async fn registration_is_retried_until_the_master_answers() {
    // A "master" that accepts connections and drops them at once, counting the attempts.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let attempts = Arc::new(AtomicUsize::new(0));
    let (give_back, listener_back) = tokio::sync::oneshot::channel();
    let counter = Arc::clone(&attempts);
    tokio::spawn(async move {
        while counter.load(Ordering::SeqCst) < 3 {
            if let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        }
        let _ = give_back.send(listener);
    });
    let work_dir = tempfile::tempdir().expect("temp dir");
    let mut agent = wasmesos_agent::spawn(test_config(&url, work_dir.path().into()))
        .await
        .expect("agent starts without a master");
    let listener = listener_back.await.expect("listener back");
    assert!(attempts.load(Ordering::SeqCst) >= 3);
    assert_eq!(agent.agent_id(), None);
    let master = FakeMaster::start_on(listener, AckPolicy::OnReceipt(1)).await;
    let id = agent.registered(scaled(Duration::from_secs(30))).await;
    assert_eq!(id.as_deref(), Some("agent-1"));
    assert_eq!(master.registrations(1).await.len(), 1);
    agent.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_registration_the_master_never_answers_is_retried() {
    let master = FakeMaster::start(AckPolicy::OnReceipt(1)).await;
    master.mute_registrations(2);
    let work_dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(&master.url, work_dir.path().into());
    config.registration_timeout = Duration::from_millis(200);
    let mut agent = wasmesos_agent::spawn(config).await.expect("agent starts");
    let id = agent.registered(scaled(Duration::from_secs(30))).await;
    assert_eq!(id.as_deref(), Some("agent-1"));
    assert_eq!(
        master.registrations(3).await.len(),
        3,
        "two silent registrations, then one answered"
    );
    agent.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn reregisters_with_its_id_and_tasks_after_the_stream_drops() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let sleepy = master.upload_file(SLEEPY);
    master
        .launch("fw-1", vec![with_args(task("long", &sleepy), &["600000"])])
        .await;
    master.state("long", TaskState::TaskRunning).await;

    master.drop_stream();
    let registrations = master.registrations(2).await;
    let again = &registrations[1];
    assert_eq!(
        again.agent.as_ref().map(|a| a.id.as_str()),
        Some(cluster.agent_id.as_str())
    );
    assert_eq!(again.tasks.len(), 1);
    let report = &again.tasks[0];
    assert_eq!(report.framework_id, "fw-1");
    assert_eq!(
        report.task.as_ref().map(|t| t.task_id.as_str()),
        Some("long")
    );
    assert_eq!(
        report.latest.as_ref().map(|s| s.state()),
        Some(TaskState::TaskRunning)
    );
    assert_eq!(again.frameworks.len(), 1);
    assert_eq!(again.frameworks[0].id, "fw-1");

    // The new stream works: a kill sent on it reaches the task.
    master
        .send(Command::Kill(wasmesos_proto::agent_command::Kill {
            framework_id: "fw-1".into(),
            task_id: "long".into(),
            kill_policy: None,
            reason: Default::default(),
        }))
        .await;
    assert_eq!(master.terminal("long").await.state(), TaskState::TaskKilled);
}

#[tokio::test]
async fn a_removed_agent_drops_its_tasks_and_registers_anew() {
    let mut cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let sleepy = master.upload_file(SLEEPY);
    master
        .launch(
            "fw-1",
            vec![with_args(task("doomed", &sleepy), &["600000"])],
        )
        .await;
    master.state("doomed", TaskState::TaskRunning).await;
    master
        .send(Command::Shutdown(Shutdown {
            message: "agent lost".into(),
        }))
        .await;
    let registrations = master.registrations(2).await;
    let fresh = &registrations[1];
    assert_eq!(fresh.agent.as_ref().map(|a| a.id.as_str()), Some(""));
    assert!(fresh.tasks.is_empty());
    assert!(fresh.frameworks.is_empty());
    let id = cluster
        .agent
        .registered(scaled(Duration::from_secs(30)))
        .await;
    assert_eq!(
        id.as_deref(),
        Some("agent-2"),
        "a new id for the new registration"
    );
    let mut client = cluster.client().await;
    let state = client
        .get_agent_state(wasmesos_proto::GetAgentStateRequest {})
        .await
        .expect("state")
        .into_inner();
    assert!(state.tasks.is_empty(), "the removed agent forgot its tasks");
    assert_eq!(state.unacknowledged_updates, 0);
}
