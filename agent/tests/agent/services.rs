//! What the agent does for tasks that run until told to stop: health checks, kills with a
//! grace period, and TASK_KILLING for frameworks that ask for it.

use wasmesos_guest_artifacts::SLEEPY;
use wasmesos_proto::agent_command::{Command, Kill};
use wasmesos_proto::health_check::{HttpCheck, Type};
use wasmesos_proto::{
    FrameworkCapability, FrameworkInfo, HealthCheck, KillPolicy, Reason, TaskState, TaskStatus,
};

use crate::fake_master::AckPolicy;
use crate::support::{Cluster, task, with_args};

fn kill(task_id: &str, grace_seconds: Option<f64>) -> Command {
    Command::Kill(Kill {
        framework_id: "fw-1".into(),
        task_id: task_id.into(),
        kill_policy: grace_seconds.map(|seconds| KillPolicy {
            grace_period_seconds: Some(seconds),
        }),
    })
}

fn states(updates: &[TaskStatus]) -> Vec<TaskState> {
    updates.iter().map(TaskStatus::state).collect()
}

#[tokio::test]
async fn an_alive_check_reports_the_task_healthy_once() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let sleepy = master.upload_file(SLEEPY);
    let mut sleeper = with_args(task("alive", &sleepy), &["600000"]);
    sleeper.health_check = Some(HealthCheck {
        r#type: Type::Alive as i32,
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.02),
        ..HealthCheck::default()
    });
    master.launch("fw-1", vec![sleeper]).await;
    let healthy = master
        .until("a health update", |m| {
            m.updates_of("alive")
                .into_iter()
                .find(|status| status.healthy.is_some())
        })
        .await;
    assert_eq!(
        (healthy.state(), healthy.reason(), healthy.healthy),
        (
            TaskState::TaskRunning,
            Reason::TaskHealthCheckStatusUpdated,
            Some(true)
        ),
        "{healthy:?}"
    );
    master.send(kill("alive", Some(0.0))).await;
    let killed = master.terminal("alive").await;
    assert_eq!(killed.state(), TaskState::TaskKilled, "{killed:?}");
    assert_eq!(
        killed.healthy,
        Some(true),
        "the terminal update carries the last health"
    );
    let health_updates = master
        .updates_of("alive")
        .iter()
        .filter(|status| status.reason() == Reason::TaskHealthCheckStatusUpdated)
        .count();
    assert_eq!(
        health_updates, 1,
        "a success that changes nothing is not reported again"
    );
}

#[tokio::test]
async fn a_framework_with_the_killing_capability_sees_task_killing_first() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let sleepy = master.upload_file(SLEEPY);
    let capable = FrameworkInfo {
        id: "fw-1".into(),
        name: "capable".into(),
        capabilities: vec![FrameworkCapability::TaskKillingState as i32],
        ..FrameworkInfo::default()
    };
    let sleeper = with_args(task("graceful", &sleepy), &["600000"]);
    master.launch_for(capable, vec![sleeper]).await;
    master.state("graceful", TaskState::TaskRunning).await;
    master.send(kill("graceful", Some(0.25))).await;
    let killed = master.terminal("graceful").await;
    assert_eq!(
        (killed.state(), killed.reason()),
        (TaskState::TaskKilled, Reason::Killed)
    );
    let seen = states(&master.updates_of("graceful"));
    assert_eq!(
        &seen[seen.len() - 2..],
        [TaskState::TaskKilling, TaskState::TaskKilled],
        "{seen:?}"
    );

    // Without the capability, RUNNING goes straight to KILLED.
    let plain = with_args(task("plain", &sleepy), &["600000"]);
    master.launch("fw-1", vec![plain]).await;
    master.state("plain", TaskState::TaskRunning).await;
    master.send(kill("plain", None)).await;
    master.terminal("plain").await;
    assert!(!states(&master.updates_of("plain")).contains(&TaskState::TaskKilling));
}

#[tokio::test]
async fn a_health_check_on_a_port_the_task_lacks_is_refused_before_it_runs() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let sleepy = master.upload_file(SLEEPY);
    let mut checked = task("portless", &sleepy);
    checked.health_check = Some(HealthCheck {
        r#type: Type::Http as i32,
        http: Some(HttpCheck {
            port: 31000,
            path: "/health".into(),
            statuses: vec![],
        }),
        ..HealthCheck::default()
    });
    master.launch("fw-1", vec![checked]).await;
    let refused = master.terminal("portless").await;
    assert_eq!(
        (refused.state(), refused.reason()),
        (TaskState::TaskError, Reason::InvalidTask),
        "{refused:?}"
    );
    assert!(
        refused
            .message
            .contains("port 31000, which is not one of the task's ports"),
        "{}",
        refused.message
    );
    assert!(!states(&master.updates_of("portless")).contains(&TaskState::TaskRunning));
}
