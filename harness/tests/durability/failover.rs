//! Framework failover with real processes: a framework whose connection drops without a
//! teardown keeps its tasks when it resubscribes with its id inside its failover timeout, and
//! loses them (killed, framework removed, id refused) when it stays away past it.

use std::path::Path;

use wasmesos_harness::{
    ProcessCluster, TestFramework, agent_state, cluster_state, eventually, scaled,
};
use wasmesos_proto::reconcile_request::ReconcileTask;
use wasmesos_proto::scheduler_client::SchedulerClient;
use wasmesos_proto::{FrameworkInfo, SubscribeRequest, TaskState};
use wasmesos_sdk_scheduler::{DriverConfig, TaskBuilder};

use crate::{PATIENCE, binary};

/// Inside the timeout: generous, so a loaded machine's slow resubscription is still inside.
const LONG_FAILOVER: f64 = 30.0;
/// Past the timeout: short, so the test waits only a little past it.
const SHORT_FAILOVER: f64 = 3.0;

fn config(master_url: &str, name: &str, failover_seconds: f64, id: &str) -> DriverConfig {
    let mut config = DriverConfig::new(master_url, name);
    config.framework.failover_timeout_seconds = failover_seconds;
    config.framework.id = id.to_string();
    config
}

/// Subscribes a framework, launches an hour-long `sleepy` task, waits for it to run, then
/// drops the framework's connection without a teardown. Returns the framework id.
async fn leave_a_running_task(url: &str, name: &str, failover_seconds: f64, task: &str) -> String {
    let mut framework = TestFramework::with_config(config(url, name, failover_seconds, ""))
        .await
        .expect("subscribe");
    framework.timeout = PATIENCE;
    let digest = framework
        .driver
        .upload_executor(Path::new(wasmesos_guest_artifacts::SLEEPY), None)
        .await
        .expect("upload sleepy")
        .digest;
    let sleepy = TaskBuilder::new(task, &digest).cpus(0.5).mem(32 << 20);
    framework.launch_one(sleepy).await.expect("launch");
    framework
        .wait_for_status(task, |state| state == TaskState::TaskRunning)
        .await
        .expect("the task runs");
    let id = framework.framework_id.clone();
    framework.stop().await.expect("drop the connection");
    eventually(
        "the master sees the framework disconnected",
        PATIENCE,
        async || {
            cluster_state(url).await.is_ok_and(|state| {
                state
                    .frameworks
                    .iter()
                    .any(|f| !f.connected && f.framework.as_ref().is_some_and(|i| i.id == id))
            })
        },
    )
    .await
    .expect("the disconnect is noticed");
    id
}

#[tokio::test]
async fn a_framework_back_inside_its_failover_timeout_still_owns_its_task() {
    let cluster = ProcessCluster::start(&binary(), 1, "cpus:2;mem:1GiB", &[], &[])
        .await
        .expect("cluster");
    let url = cluster.master_url();
    let id = leave_a_running_task(&url, "returns", LONG_FAILOVER, "nap").await;

    let mut back = TestFramework::with_config(config(&url, "returns", LONG_FAILOVER, &id))
        .await
        .expect("resubscribe with the same id");
    back.timeout = PATIENCE;
    assert_eq!(back.framework_id, id, "the master kept the framework");
    back.driver
        .reconcile(vec![ReconcileTask {
            task_id: "nap".into(),
            agent_id: String::new(),
        }])
        .await
        .expect("reconcile");
    back.wait_for_status("nap", |state| state == TaskState::TaskRunning)
        .await
        .expect("reconciliation answers RUNNING");
    back.driver
        .kill("nap")
        .await
        .expect("the task is still ours to kill");
    back.wait_for_status("nap", |state| state == TaskState::TaskKilled)
        .await
        .expect("KILLED");
    let terminal: Vec<TaskState> = back
        .states_of("nap")
        .into_iter()
        .filter(|state| state.is_terminal())
        .collect();
    assert!(
        terminal.iter().all(|state| *state == TaskState::TaskKilled),
        "nap ended once, killed: {terminal:?}"
    );
}

#[tokio::test]
async fn a_framework_away_past_its_failover_timeout_loses_its_task_and_its_id() {
    let cluster = ProcessCluster::start(&binary(), 1, "cpus:2;mem:1GiB", &[], &[])
        .await
        .expect("cluster");
    let url = cluster.master_url();
    let agent_url = cluster.agents[0].url.clone();
    let id = leave_a_running_task(&url, "wanders", SHORT_FAILOVER, "stray").await;

    eventually("the master removes the framework", PATIENCE, async || {
        cluster_state(&url).await.is_ok_and(|state| {
            !state
                .frameworks
                .iter()
                .any(|f| f.framework.as_ref().is_some_and(|i| i.id == id))
        })
    })
    .await
    .expect("the framework is removed after its failover timeout");
    eventually("the agent reports the task KILLED", PATIENCE, async || {
        agent_state(&agent_url).await.is_ok_and(|state| {
            state.tasks.iter().all(|report| {
                let id = report.task.as_ref().map(|t| t.task_id.as_str());
                let state = report.latest.as_ref().map(|s| s.state());
                id != Some("stray") || state == Some(TaskState::TaskKilled)
            })
        })
    })
    .await
    .expect("the agent kills the task");
    let state = cluster_state(&url).await.expect("state");
    assert!(
        state
            .tasks
            .iter()
            .filter(|t| t.task_id == "stray")
            .all(|t| t.state == TaskState::TaskKilled as i32),
        "the master holds no live record of the task: {:?}",
        state.tasks
    );

    let refused = resubscribe_raw(&url, &id).await;
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    assert!(refused.message().contains("removed"), "{refused:?}");
}

/// Subscribes with `framework_id` over plain gRPC (the driver would keep retrying) and
/// returns the master's refusal, whether it comes as the call's answer or the stream's first
/// item.
async fn resubscribe_raw(url: &str, framework_id: &str) -> tonic::Status {
    let mut client = SchedulerClient::connect(url.to_string())
        .await
        .expect("connect");
    let request = SubscribeRequest {
        framework: Some(FrameworkInfo {
            id: framework_id.to_string(),
            name: "wanders".into(),
            failover_timeout_seconds: SHORT_FAILOVER,
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    let mut stream = match client.subscribe(request).await {
        Err(status) => return status,
        Ok(response) => response.into_inner(),
    };
    let first = tokio::time::timeout(scaled(PATIENCE), stream.message())
        .await
        .expect("an answer to the subscription");
    match first {
        Err(status) => status,
        Ok(event) => panic!("a removed framework was subscribed again: {event:?}"),
    }
}
