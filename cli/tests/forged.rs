//! A forged agent over the network, against a master and an agent that run as their own
//! processes: it registers in its own right, then claims that a task running on the honest
//! agent finished, and tries to speak for the honest agent. The framework never sees the
//! forgery, and the task goes on until its framework kills it.

use std::path::Path;

use tonic::Code;
use wasmesos_detector::{CallHeaders, DEFAULT_CONNECT_TIMEOUT, MasterChannel};
use wasmesos_guest_artifacts as guests;
use wasmesos_harness::{ProcessCluster, TestFramework, cluster_state};
use wasmesos_proto::agent_channel_client::AgentChannelClient;
use wasmesos_proto::{
    AgentInfo, RegisterRequest, Resources, StatusUpdates, TaskState, TaskStatus, agent_command,
};
use wasmesos_sdk_scheduler::TaskBuilder;

const BINARY: &str = env!("CARGO_BIN_EXE_wasmesos");

fn claim(task_id: &str, state: TaskState, uuid: u8) -> TaskStatus {
    TaskStatus {
        task_id: task_id.into(),
        state: state as i32,
        uuid: vec![uuid; 16],
        message: "forged".into(),
        data: b"forged result".to_vec(),
        ..TaskStatus::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_agent_cannot_end_another_agents_task() {
    let cluster =
        ProcessCluster::start(Path::new(BINARY), 1, "cpus:2;mem:2GiB;disk:2GiB", &[], &[])
            .await
            .expect("a master and an agent");
    let master = cluster.master_url();
    let honest_id = cluster.agents[0].agent_id.clone().expect("the agent's id");

    let mut framework = TestFramework::start(&master, "victim", None)
        .await
        .expect("subscribe");
    let digest = framework
        .driver
        .upload_executor(Path::new(guests::SLEEPY), None)
        .await
        .expect("upload")
        .digest;
    let task = TaskBuilder::new("long", &digest).cpus(0.5).mem(64 << 20);
    framework.launch_one(task).await.expect("launch");
    framework
        .wait_for_status("long", |state| state == TaskState::TaskRunning)
        .await
        .expect("RUNNING on the honest agent");

    // The forger registers as an agent of its own, as anyone who reaches the port can.
    let channel = MasterChannel::connect(&master, DEFAULT_CONNECT_TIMEOUT)
        .await
        .expect("connect");
    let headers = CallHeaders::new(None);
    let mut forger = AgentChannelClient::new(channel.service(&headers));
    let registration = forger
        .register(RegisterRequest {
            agent: Some(AgentInfo {
                hostname: "forger".into(),
                resources: Some(Resources::from_scalars([("cpus", 1.0), ("mem", 1e9)])),
                ..AgentInfo::default()
            }),
            ..RegisterRequest::default()
        })
        .await
        .expect("the forger registers");
    headers.take_stream_id(&registration);
    let mut commands = registration.into_inner();
    let forger_id = match commands.message().await {
        Ok(Some(command)) => match command.command {
            Some(agent_command::Command::Registered(registered)) => registered.agent_id,
            other => panic!("expected REGISTERED, got {other:?}"),
        },
        other => panic!("expected REGISTERED, got {other:?}"),
    };
    assert_ne!(forger_id, honest_id);

    // Its claim that the honest agent's task finished is acknowledged (a stale retry must
    // stop) but never relayed.
    forger
        .update_status(StatusUpdates {
            agent_id: forger_id.clone(),
            statuses: vec![claim("long", TaskState::TaskFinished, 1)],
        })
        .await
        .expect("the forger's own call is answered");
    // Nor can it speak for the honest agent: it does not hold that agent's session.
    let refused = forger
        .update_status(StatusUpdates {
            agent_id: honest_id.clone(),
            statuses: vec![claim("long", TaskState::TaskFinished, 2)],
        })
        .await
        .expect_err("another agent's session is needed");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");

    // The task still runs where it was launched...
    let state = cluster_state(&master).await.expect("state");
    let task = state.tasks.iter().find(|t| t.task_id == "long");
    assert!(
        task.is_some_and(|t| t.state() == TaskState::TaskRunning && t.agent_id == honest_id),
        "{state:?}"
    );
    // ...until its framework kills it, and then it ends KILLED: the first terminal update
    // the framework sees is the honest agent's.
    framework.driver.kill("long").await.expect("kill");
    let end = framework.wait_for_terminal("long").await.expect("ends");
    assert_eq!(end.state(), TaskState::TaskKilled, "{end:?}");
    assert!(
        !framework
            .states_of("long")
            .contains(&TaskState::TaskFinished),
        "the forged FINISHED reached the framework: {:?}",
        framework.states_of("long")
    );
    framework.teardown().await.expect("teardown");
}
