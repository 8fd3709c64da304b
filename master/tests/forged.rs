//! Forged status updates over the network: an agent that does not run a task cannot end it,
//! and nobody can send for an agent without that agent's session. The framework sees only
//! the honest agent's updates.

mod common;

use common::{cpus_mem, hello_task, launch, next_offers, start, upload_hello, wait_for};
use tonic::Code;
use wasmesos_proto::v1::{StatusUpdates, TaskState, TaskStatus, agent_command, event};

fn status(task_id: &str, state: TaskState, uuid: u8) -> TaskStatus {
    TaskStatus {
        task_id: task_id.into(),
        state: state as i32,
        uuid: vec![uuid; 16],
        data: b"forged?".to_vec(),
        ..TaskStatus::default()
    }
}

#[tokio::test]
async fn a_forged_update_is_never_relayed_and_the_honest_one_is() {
    let master = start(|_| {}).await;
    let digest = upload_hello(&master).await;
    let (framework, mut events) = master.subscribe("victim", &[]).await;
    let mut honest = master.register(cpus_mem(2.0, 2e9), "").await;
    let offer = next_offers(&mut events).await.remove(0);
    let launch = launch(&framework, &offer, vec![hello_task("t1", &digest)]);
    master
        .scheduler_for(&framework)
        .accept(launch)
        .await
        .expect("accept");
    assert!(matches!(
        honest.next().await,
        Some(agent_command::Command::Launch(_))
    ));

    // A second agent, registered in its own right, claims the task finished: acknowledged
    // (so an honest agent's stale retry stops) but never relayed.
    let forger = master.register(cpus_mem(1.0, 1e9), "").await;
    let forged = StatusUpdates {
        agent_id: forger.id.clone(),
        statuses: vec![status("t1", TaskState::TaskFinished, 1)],
    };
    master
        .agent(&forger.id)
        .update_status(forged)
        .await
        .expect("the forger's call is answered");
    // Nor can it speak for the honest agent: it does not hold that agent's session.
    let impersonated = StatusUpdates {
        agent_id: honest.id.clone(),
        statuses: vec![status("t1", TaskState::TaskFinished, 2)],
    };
    let refused = master
        .agent(&forger.id)
        .update_status(impersonated)
        .await
        .expect_err("another agent's session is needed");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");

    // The honest agent's RUNNING is the first update the framework sees.
    let running = StatusUpdates {
        agent_id: honest.id.clone(),
        statuses: vec![status("t1", TaskState::TaskRunning, 3)],
    };
    master
        .agent(&honest.id)
        .update_status(running)
        .await
        .expect("the honest update");
    let first = wait_for(&mut events, |e| match e {
        event::Event::Update(update) => update.statuses.first().cloned(),
        _ => None,
    })
    .await;
    assert_eq!(first.task_id, "t1");
    assert_eq!(first.state(), TaskState::TaskRunning, "{first:?}");
    let state = master
        .state_where(|s| {
            s.tasks
                .iter()
                .any(|t| t.task_id == "t1" && t.state() == TaskState::TaskRunning)
        })
        .await;
    let task = state.tasks.iter().find(|t| t.task_id == "t1");
    assert!(task.is_some_and(|t| t.agent_id == honest.id), "{state:?}");
}
