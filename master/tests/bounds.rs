//! What peers send or fail to read cannot exhaust the master: a stalled agent loses its
//! command stream, and large updates reach a framework in events its client can decode.

mod common;

use common::*;
use tokio_stream::StreamExt;
use wasmesos_proto::v1::{
    Event, FrameworkMessageRequest, Reason, ReconcileRequest, RegisterRequest, StatusUpdates,
    TaskState, TaskStatus, agent_command, event, reconcile_request,
};

const MIB: usize = 1024 * 1024;

/// A master with one fake agent and one framework whose tasks `ids` run on it.
async fn launched(ids: &[&str]) -> (Master, FakeAgent, String, tonic::Streaming<Event>) {
    let master = start(|_| {}).await;
    let digest = upload_hello(&master).await;
    let agent = master
        .register(cpus_mem(8.0, 1024.0 * MIB as f64), "")
        .await;
    let (fw, mut events) = master.subscribe("fw", &[]).await;
    let offer = next_offers(&mut events).await.remove(0);
    let tasks = ids
        .iter()
        .map(|id| task_with(id, &digest, cpus_mem(1.0, 16.0 * MIB as f64)))
        .collect();
    master
        .scheduler()
        .accept(launch(&fw, &offer, tasks))
        .await
        .expect("accept");
    (master, agent, fw, events)
}

#[tokio::test]
async fn an_agent_that_stops_reading_its_commands_loses_its_stream_and_registers_again() {
    let (master, mut agent, fw, _events) = launched(&["t1"]).await;
    // The agent reads nothing more while its framework sends it messages: more than its
    // command queue and the connection's flow-control windows hold together.
    let senders = (0..8).map(|sender| {
        let mut scheduler = master.scheduler_for(&fw);
        let fw = fw.clone();
        async move {
            for _ in 0..1_500 {
                let message = FrameworkMessageRequest {
                    framework_id: fw.clone(),
                    agent_id: String::new(),
                    task_id: "t1".into(),
                    data: vec![sender; 1024],
                };
                // Once the stream is ended the task's agent is gone; refusals are expected.
                let _ = scheduler.message(message).await;
            }
        }
    });
    within(futures::future::join_all(senders)).await;

    // What was already in flight is still delivered; then the stream ends instead of
    // buffering the rest for a reader that stopped reading.
    let mut delivered = 0usize;
    while let Some(Ok(_)) = within(agent.commands.next()).await {
        delivered += 1;
    }
    assert!(delivered < 12_000, "the stream was ended, not drained");

    // The master handles it as a lost stream: the agent re-registers under its id.
    let again = RegisterRequest {
        agent: Some(wasmesos_proto::v1::AgentInfo {
            id: agent.id.clone(),
            hostname: "fake".into(),
            resources: Some(cpus_mem(8.0, 1024.0 * MIB as f64)),
            ..Default::default()
        }),
        ..RegisterRequest::default()
    };
    let mut commands = master
        .agents()
        .register(again)
        .await
        .expect("re-register")
        .into_inner();
    match within(commands.next()).await {
        Some(Ok(command)) => match command.command {
            Some(agent_command::Command::Registered(r)) => assert_eq!(r.agent_id, agent.id),
            other => panic!("expected REGISTERED, got {other:?}"),
        },
        other => panic!("expected REGISTERED, got {other:?}"),
    }
}

#[tokio::test]
async fn five_results_of_a_mib_in_one_batch_reach_the_framework_in_decodable_events() {
    let ids = ["r1", "r2", "r3", "r4", "r5"];
    let (master, agent, fw, mut events) = launched(&ids).await;
    for (i, id) in ids.iter().enumerate() {
        let finished = TaskStatus {
            task_id: (*id).into(),
            framework_id: fw.clone(),
            state: TaskState::TaskFinished as i32,
            uuid: vec![u8::try_from(i).expect("small") + 1; 16],
            data: vec![b'x'; MIB],
            exit_code: Some(0),
            reason: Reason::Finished as i32,
            ..TaskStatus::default()
        };
        let updates = StatusUpdates {
            agent_id: agent.id.clone(),
            statuses: vec![finished],
        };
        master
            .agent(&agent.id)
            .update_status(updates)
            .await
            .expect("update");
    }
    let mut relayed = 0;
    while relayed < ids.len() {
        relayed += wait_for(&mut events, |e| match e {
            event::Event::Update(u) => Some(u.statuses.len()),
            _ => None,
        })
        .await;
    }

    // One reconciliation answers all five in one batch: merged, they would be one event of
    // over 5 MiB, past what a client decodes by default, and its stream would fail.
    let reconcile = ReconcileRequest {
        framework_id: fw.clone(),
        tasks: ids
            .iter()
            .map(|id| reconcile_request::ReconcileTask {
                task_id: (*id).into(),
                agent_id: agent.id.clone(),
            })
            .collect(),
    };
    master
        .scheduler_for(&fw)
        .reconcile(reconcile)
        .await
        .expect("reconcile");
    let mut answers = Vec::new();
    while answers.len() < ids.len() {
        let statuses = wait_for(&mut events, |e| match e {
            event::Event::Update(u) => Some(u.statuses.clone()),
            _ => None,
        })
        .await;
        for status in statuses {
            assert_eq!(status.reason, Reason::Reconciliation as i32);
            assert_eq!(status.data.len(), MIB, "a result is never split");
            answers.push(status.task_id);
        }
    }
    answers.sort();
    assert_eq!(answers, ids);
}

/// A registry whose commits wait until the test opens its gate: a disk that hangs.
struct StalledRegistry {
    inner: wasmesos_master::registry::MemoryRegistry,
    gate: tokio::sync::watch::Receiver<bool>,
}

impl wasmesos_master::registry::RegistryStore for StalledRegistry {
    fn load(
        &self,
    ) -> futures::future::BoxFuture<
        '_,
        Result<wasmesos_master::registry::Snapshot, wasmesos_master::Error>,
    > {
        self.inner.load()
    }

    fn commit(
        &self,
        ops: Vec<wasmesos_master::registry::Op>,
    ) -> futures::future::BoxFuture<'_, Result<(), wasmesos_master::Error>> {
        let mut gate = self.gate.clone();
        Box::pin(async move {
            let _ = gate.wait_for(|open| *open).await;
            self.inner.commit(ops).await
        })
    }
}

#[tokio::test]
async fn a_call_whose_registry_commit_hangs_is_answered_in_time_and_takes_effect_later() {
    let (open, gate) = tokio::sync::watch::channel(false);
    let registry = std::sync::Arc::new(StalledRegistry {
        inner: wasmesos_master::registry::MemoryRegistry::new(),
        gate,
    });
    let master = start(|config| {
        config.registry = wasmesos_master::registry::RegistryBackend::Store(registry);
        config.call_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let request = wasmesos_proto::v1::SubscribeRequest {
        framework: Some(wasmesos_proto::v1::FrameworkInfo {
            name: "patient".into(),
            ..Default::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    // The subscription is applied but cannot be recorded: the caller is told so in time
    // instead of waiting for the disk.
    let refused = within(
        wasmesos_proto::v1::scheduler_client::SchedulerClient::new(master.channel.clone())
            .subscribe(request),
    )
    .await
    .expect_err("the registry hangs");
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(
        refused.message().contains("may still take effect"),
        "{refused:?}"
    );
    // Reads do not wait for the registry.
    within(master.state()).await;
    // The disk comes back: what was applied becomes durable and visible.
    open.send(true).expect("gate");
    master
        .state_where(|state| {
            state
                .frameworks
                .iter()
                .any(|f| f.framework.as_ref().is_some_and(|i| i.name == "patient"))
        })
        .await;
}
