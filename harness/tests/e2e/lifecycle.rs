//! A task's life through the whole cluster: launch → FINISHED with data, kill, messages both
//! ways, and a status update retried until the framework acknowledges it.

use std::time::Duration;

use wasmesos_guest_artifacts::{HELLO, MESSENGER, SLEEPY, WORDCOUNT};
use wasmesos_harness::{
    Cluster, ClusterConfig, SchedulerEvent, TestFramework, agent_state, eventually,
};
use wasmesos_proto::{Reason, TaskState};
use wasmesos_sdk_scheduler::DriverConfig;

use crate::common::{PATIENCE, small_task, tracing, upload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_becomes_a_finished_task_with_its_result_data() {
    tracing();
    let cluster = Cluster::start(ClusterConfig::new(1))
        .await
        .expect("cluster");
    let mut framework = TestFramework::start(&cluster.master_url(), "finish", None)
        .await
        .expect("subscribe");
    let digest = upload(&framework, WORDCOUNT).await;

    let task = small_task("count-1", &digest).data(b"three little words".to_vec());
    let offer = framework.launch_one(task).await.expect("launch");
    let finished = framework
        .wait_for_terminal("count-1")
        .await
        .expect("terminal update");

    assert_eq!(finished.state(), TaskState::TaskFinished, "{finished:?}");
    assert_eq!(finished.reason(), Reason::Finished);
    assert_eq!(finished.data, b"3");
    assert_eq!(finished.agent_id, offer.agent_id);
    assert_eq!(finished.framework_id, framework.framework_id);
    let states = framework.states_of("count-1");
    assert!(states.contains(&TaskState::TaskRunning), "{states:?}");
    // The state is the master's published snapshot, which may lag the update by a publish
    // interval.
    eventually(
        "count-1 FINISHED in the master's state",
        PATIENCE,
        async || {
            cluster.state().await.is_ok_and(|state| {
                state
                    .tasks
                    .iter()
                    .any(|t| t.task_id == "count-1" && t.state() == TaskState::TaskFinished)
            })
        },
    )
    .await
    .expect("the state shows the task finished");
    framework.teardown().await.expect("teardown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_task_ends_killed() {
    tracing();
    let cluster = Cluster::start(ClusterConfig::new(1))
        .await
        .expect("cluster");
    let mut framework = TestFramework::start(&cluster.master_url(), "kill", None)
        .await
        .expect("subscribe");
    let digest = upload(&framework, SLEEPY).await;

    framework
        .launch_one(small_task("nap", &digest))
        .await
        .expect("launch");
    framework
        .wait_for_status("nap", |state| state == TaskState::TaskRunning)
        .await
        .expect("running");
    framework.driver.kill("nap").await.expect("kill");
    let killed = framework
        .wait_for_terminal("nap")
        .await
        .expect("terminal update");

    assert_eq!(killed.state(), TaskState::TaskKilled, "{killed:?}");
    assert_eq!(killed.reason(), Reason::Killed);
    framework.teardown().await.expect("teardown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_travel_from_scheduler_to_executor_and_back() {
    tracing();
    let cluster = Cluster::start(ClusterConfig::new(1))
        .await
        .expect("cluster");
    let mut framework = TestFramework::start(&cluster.master_url(), "messages", None)
        .await
        .expect("subscribe");
    let digest = upload(&framework, MESSENGER).await;

    let offer = framework
        .launch_one(small_task("echo", &digest).arg("20000"))
        .await
        .expect("launch");
    framework
        .wait_for_status("echo", |state| state == TaskState::TaskRunning)
        .await
        .expect("running");
    for word in ["hello", "again"] {
        let driver = framework.driver.clone();
        driver
            .message(&offer.agent_id, "echo", word.as_bytes().to_vec())
            .await
            .expect("send a message");
        let echoed = framework
            .wait_for("the echo", |event| match event {
                SchedulerEvent::Message(message) => Some(message.clone()),
                _ => None,
            })
            .await
            .expect("echo");
        assert_eq!(echoed.data, format!("echo:{word}").as_bytes());
        assert_eq!(
            (echoed.task_id.as_str(), echoed.agent_id.as_str()),
            ("echo", offer.agent_id.as_str())
        );
    }
    framework
        .driver
        .message(&offer.agent_id, "echo", b"stop".to_vec())
        .await
        .expect("send stop");
    let finished = framework.wait_for_terminal("echo").await.expect("terminal");
    assert_eq!(finished.state(), TaskState::TaskFinished, "{finished:?}");
    assert_eq!(finished.data, b"2", "two messages echoed before stop");
    framework.teardown().await.expect("teardown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_is_resent_until_it_is_acknowledged() {
    tracing();
    let mut config = ClusterConfig::new(1);
    config.agent.status_update_retry = Duration::from_millis(100);
    config.agent.status_update_retry_max = Duration::from_millis(200);
    let cluster = Cluster::start(config).await.expect("cluster");
    let agent_url = cluster.agent_url(0).expect("agent url");
    let driver_config = DriverConfig {
        auto_acknowledge: false,
        ..DriverConfig::new(cluster.master_url(), "manual-acks")
    };
    let mut framework = TestFramework::with_config(driver_config)
        .await
        .expect("subscribe");
    let digest = upload(&framework, HELLO).await;

    framework
        .launch_one(small_task("once", &digest))
        .await
        .expect("launch");
    let first = framework.wait_for_terminal("once").await.expect("FINISHED");
    assert!(!first.uuid.is_empty(), "agent updates carry a uuid");
    // Drop the first two acknowledgements: the same update (same uuid) must come again.
    for attempt in 1..=2 {
        let again = framework
            .wait_for_status("once", |state| state == TaskState::TaskFinished)
            .await
            .unwrap_or_else(|err| panic!("resend {attempt}: {err}"));
        assert_eq!(again.uuid, first.uuid, "a resend, not a new update");
    }
    let pending = agent_state(&agent_url)
        .await
        .expect("agent state")
        .unacknowledged_updates;
    assert!(
        pending > 0,
        "the agent still holds the unacknowledged updates"
    );

    for event in framework.history().to_vec() {
        if let SchedulerEvent::Update(status) = event {
            framework.driver.acknowledge(&status);
        }
    }
    framework.driver.flush_acknowledgements().await;
    eventually(
        "the agent to drop acknowledged updates",
        PATIENCE,
        async || {
            agent_state(&agent_url)
                .await
                .is_ok_and(|state| state.unacknowledged_updates == 0)
        },
    )
    .await
    .expect("acknowledged");
    framework.teardown().await.expect("teardown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_reports_the_latest_state_of_known_tasks() {
    tracing();
    let cluster = Cluster::start(ClusterConfig::new(1))
        .await
        .expect("cluster");
    let mut framework = TestFramework::start(&cluster.master_url(), "reconcile", None)
        .await
        .expect("subscribe");
    let digest = upload(&framework, SLEEPY).await;
    framework
        .launch_one(small_task("long", &digest))
        .await
        .expect("launch");
    framework
        .wait_for_status("long", |state| state == TaskState::TaskRunning)
        .await
        .expect("running");

    framework
        .driver
        .reconcile(Vec::new())
        .await
        .expect("implicit reconcile");
    let answer = framework
        .wait_for("a reconciliation answer", |event| match event {
            // Answers carry no uuid: nothing to acknowledge.
            SchedulerEvent::Update(status) if status.uuid.is_empty() => Some(status.clone()),
            _ => None,
        })
        .await
        .expect("answer");
    assert_eq!(
        (answer.task_id.as_str(), answer.state()),
        ("long", TaskState::TaskRunning)
    );
    framework.teardown().await.expect("teardown");
}
