//! The scheduler and agent protocols end to end against a real master: a fake agent and a
//! fake scheduler, both written with the generated tonic clients.

mod common;

use std::time::Duration;

use common::*;
use tonic::Code;
use wasmesos_proto::v1::{
    AcknowledgeRequest, Acknowledgement, AgentInfo, DeclineRequest, ExecutorMessageRequest,
    Filters, FrameworkMessageRequest, GetStateRequest, HeartbeatRequest, KillRequest, Offer,
    Reason, RegisterRequest, StatusUpdates, TaskState, TaskStatus, TeardownRequest, agent_command,
    event,
};

fn offers(e: &event::Event) -> Option<Vec<Offer>> {
    match e {
        event::Event::Offers(o) => Some(o.offers.clone()),
        _ => None,
    }
}

fn statuses(e: &event::Event) -> Option<Vec<TaskStatus>> {
    match e {
        event::Event::Update(u) => Some(u.statuses.clone()),
        _ => None,
    }
}

fn status(task_id: &str, framework_id: &str, state: TaskState, uuid: u8) -> TaskStatus {
    TaskStatus {
        task_id: task_id.into(),
        framework_id: framework_id.into(),
        state: state as i32,
        uuid: vec![uuid; 16],
        ..TaskStatus::default()
    }
}

#[tokio::test]
async fn offer_launch_update_and_acknowledge_round_trip() {
    let master = start(|_| {}).await;
    let digest = upload_hello(&master).await;
    let mut agent = master.register(cpus_mem(4.0, 4e9), "").await;
    let (fw, mut events) = master.subscribe("fw", &[]).await;

    let offer = wait_for(&mut events, offers).await.remove(0);
    assert_eq!(offer.agent_id, agent.id);
    assert_eq!(
        offer.resources.as_ref().map(|r| r.scalar("cpus")),
        Some(4.0)
    );

    let tasks = vec![hello_task("t1", &digest), hello_task("t2", &digest)];
    master
        .scheduler()
        .accept(launch(&fw, &offer, tasks))
        .await
        .expect("accept");
    match agent.next().await {
        Some(agent_command::Command::Launch(l)) => {
            assert_eq!(l.tasks.len(), 2, "one launch carries both tasks");
            assert_eq!(l.framework.map(|f| f.id), Some(fw.clone()));
        }
        other => panic!("expected a launch, got {other:?}"),
    }

    let updates = StatusUpdates {
        agent_id: agent.id.clone(),
        statuses: vec![
            status("t1", &fw, TaskState::TaskRunning, 1),
            TaskStatus {
                data: b"42".to_vec(),
                exit_code: Some(0),
                reason: Reason::Finished as i32,
                ..status("t1", &fw, TaskState::TaskFinished, 2)
            },
        ],
    };
    master
        .agents()
        .update_status(updates)
        .await
        .expect("update");
    let relayed = wait_for(&mut events, statuses).await;
    assert_eq!(relayed.len(), 2);
    assert_eq!(relayed[1].data, b"42");
    assert_eq!(relayed[1].agent_id, agent.id);

    let acks = AcknowledgeRequest {
        framework_id: fw.clone(),
        acks: relayed
            .iter()
            .map(|s| Acknowledgement {
                agent_id: s.agent_id.clone(),
                task_id: s.task_id.clone(),
                uuid: s.uuid.clone(),
            })
            .collect(),
    };
    master.scheduler().acknowledge(acks).await.expect("ack");
    match agent.next().await {
        Some(agent_command::Command::Acknowledge(a)) => assert_eq!(a.acks.len(), 2),
        other => panic!("expected an acknowledge, got {other:?}"),
    }

    // Kill and messages travel the same way.
    let kill = KillRequest {
        framework_id: fw.clone(),
        task_id: "t2".into(),
        kill_policy: None,
    };
    master.scheduler().kill(kill).await.expect("kill");
    assert!(
        matches!(agent.next().await, Some(agent_command::Command::Kill(k)) if k.task_id == "t2")
    );
    let message = FrameworkMessageRequest {
        framework_id: fw.clone(),
        agent_id: String::new(),
        task_id: "t2".into(),
        data: b"hi".to_vec(),
    };
    master.scheduler().message(message).await.expect("message");
    assert!(
        matches!(agent.next().await, Some(agent_command::Command::Message(m)) if m.data == b"hi")
    );
    let reply = ExecutorMessageRequest {
        agent_id: agent.id.clone(),
        framework_id: fw.clone(),
        task_id: "t2".into(),
        data: b"echo:hi".to_vec(),
    };
    master
        .agents()
        .executor_message(reply)
        .await
        .expect("executor message");
    let got = wait_for(&mut events, |e| match e {
        event::Event::Message(m) => Some(m.data.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got, b"echo:hi");

    let state = master
        .state_where(|s| {
            s.tasks.len() == 2 && s.agents[0].used.as_ref().map(|r| r.scalar("cpus")) == Some(1.0)
        })
        .await;
    assert_eq!(state.tasks.len(), 2);
    assert_eq!(
        state.agents[0].used.as_ref().map(|r| r.scalar("cpus")),
        Some(1.0)
    );
    assert!(state.frameworks[0].dominant_share > 0.0);
}

#[tokio::test]
async fn an_invalid_accept_yields_task_error_and_the_offer_comes_back() {
    let master = start(|_| {}).await;
    master.register(cpus_mem(2.0, 2e9), "").await;
    let (fw, mut events) = master.subscribe("fw", &[]).await;
    let offer = wait_for(&mut events, offers).await.remove(0);
    let missing = "f".repeat(64);
    master
        .scheduler()
        .accept(launch(&fw, &offer, vec![hello_task("t1", &missing)]))
        .await
        .expect("accept call succeeds; the task fails");
    let errors = wait_for(&mut events, statuses).await;
    assert_eq!(errors[0].state, TaskState::TaskError as i32);
    assert_eq!(errors[0].reason, Reason::ExecutorNotFound as i32);
    let again = wait_for(&mut events, offers).await.remove(0);
    assert_eq!(
        again.resources.as_ref().map(|r| r.scalar("cpus")),
        Some(2.0)
    );
}

#[tokio::test]
async fn a_decline_with_zero_refuse_reoffers_within_milliseconds() {
    let master = start(|_| {}).await;
    master.register(cpus_mem(2.0, 2e9), "").await;
    let (fw, mut events) = master.subscribe("fw", &[]).await;
    let first = wait_for(&mut events, offers).await.remove(0);
    let decline = DeclineRequest {
        framework_id: fw.clone(),
        offer_ids: vec![first.id.clone()],
        filters: Some(Filters {
            refuse_seconds: Some(0.0),
        }),
    };
    master.scheduler().decline(decline).await.expect("decline");
    let again = wait_for(&mut events, offers).await.remove(0);
    assert_ne!(again.id, first.id);
}

#[tokio::test]
async fn a_silent_agent_is_unreachable_and_the_framework_told() {
    let master = start(|config| {
        config.agent_heartbeat_interval = Duration::from_millis(100);
        config.agent_ping_timeout = Duration::from_secs(1);
    })
    .await;
    let digest = upload_hello(&master).await;
    let mut agent = master.register(cpus_mem(4.0, 4e9), "").await;
    let (fw, mut events) = master.subscribe("fw", &[]).await;
    let offer = wait_for(&mut events, offers).await.remove(0);
    master
        .scheduler()
        .accept(launch(&fw, &offer, vec![hello_task("t1", &digest)]))
        .await
        .expect("accept");
    let rest = wait_for(&mut events, offers).await.remove(0);
    assert!(matches!(
        agent.next().await,
        Some(agent_command::Command::Launch(_))
    ));
    // No heartbeats from here on.
    let mut lost = false;
    let mut rescinded = false;
    let mut failure = false;
    while !(lost && rescinded && failure) {
        match wait_for(&mut events, |e| Some(e.clone())).await {
            event::Event::Update(u) => {
                assert_eq!(u.statuses[0].state, TaskState::TaskLost as i32);
                assert_eq!(u.statuses[0].reason, Reason::AgentLost as i32);
                lost = true;
            }
            event::Event::Rescind(r) => {
                assert_eq!(r.offer_id, rest.id);
                rescinded = true;
            }
            event::Event::Failure(f) => {
                assert_eq!(f.agent_id, agent.id);
                failure = true;
            }
            _ => {}
        }
    }
    // Unreachable, not removed: no `shutdown`, the stream just ends.
    assert!(agent.next().await.is_none(), "the command stream ends");
    let heartbeat = master
        .agents()
        .heartbeat(HeartbeatRequest {
            agent_id: agent.id.clone(),
        })
        .await;
    assert_eq!(
        heartbeat.err().map(|s| s.code()),
        Some(Code::FailedPrecondition)
    );

    // Coming back under the old id within the unreachable timeout: admitted again (the core's
    // tests follow what it is then told).
    let again = RegisterRequest {
        agent: Some(AgentInfo {
            id: agent.id.clone(),
            resources: Some(cpus_mem(4.0, 4e9)),
            ..AgentInfo::default()
        }),
        ..RegisterRequest::default()
    };
    let commands = master
        .agents()
        .register(again)
        .await
        .expect("register")
        .into_inner();
    let mut back = FakeAgent {
        id: agent.id.clone(),
        commands,
    };
    assert!(
        matches!(back.next().await, Some(agent_command::Command::Registered(r)) if r.agent_id == agent.id)
    );
}

#[tokio::test]
async fn heartbeats_keep_an_agent_registered() {
    let master = start(|config| {
        config.agent_heartbeat_interval = Duration::from_millis(100);
        config.agent_ping_timeout = Duration::from_secs(1);
    })
    .await;
    let agent = master.register(cpus_mem(1.0, 1e9), "").await;
    let mut agents = master.agents();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(2_500);
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    while tokio::time::Instant::now() < deadline {
        ticker.tick().await;
        agents
            .heartbeat(HeartbeatRequest {
                agent_id: agent.id.clone(),
            })
            .await
            .expect("still registered");
    }
}

#[tokio::test]
async fn a_dropped_subscription_disconnects_and_teardown_ends_the_framework() {
    let master = start(|_| {}).await;
    let (fw, events) = master.subscribe("fw", &[]).await;
    drop(events);
    let mut operator = master.operator();
    within(async {
        loop {
            let state = operator
                .get_state(GetStateRequest {})
                .await
                .expect("state")
                .into_inner();
            if state.frameworks.iter().any(|f| !f.connected) {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    let call = master
        .scheduler()
        .teardown(TeardownRequest {
            framework_id: fw.clone(),
        })
        .await;
    assert_eq!(call.err().map(|s| s.code()), Some(Code::FailedPrecondition));

    let (fw, mut events) = master.subscribe("second", &[]).await;
    master
        .scheduler()
        .teardown(TeardownRequest { framework_id: fw })
        .await
        .expect("teardown");
    within(async { while let Some(Ok(_)) = tokio_stream::StreamExt::next(&mut events).await {} })
        .await;
}

#[tokio::test]
async fn spawn_reports_a_bad_config_instead_of_serving_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = wasmesos_master::MasterConfig::for_tests(dir.path());
    config.role_weights.insert("not a role".into(), 2.0);
    let err = wasmesos_master::spawn(config)
        .await
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("role_weights")));

    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").expect("write");
    let config = wasmesos_master::MasterConfig::for_tests(blocker.join("below-a-file"));
    assert!(
        wasmesos_master::spawn(config).await.is_err(),
        "work dir under a file"
    );
}
