//! Hostile peers against a master and agents that run as their own processes, over the
//! network: a framework that stops reading its stream, a forged agent that claims another
//! agent's task ended, five results of a MiB at once, a guest that floods `set_status`, a guest that tries the agent's and
//! the master's ports, and a work dir another user could plant code in. Each is refused or
//! contained, and the cluster goes on.

use std::path::Path;
use std::time::Duration;

use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use wasmesos_detector::{CallHeaders, DEFAULT_CONNECT_TIMEOUT, MasterChannel, MasterService};
use wasmesos_guest_artifacts as guests;
use wasmesos_harness::{ProcessCluster, TestFramework, cluster_state, eventually_some, scaled};
use wasmesos_proto::agent_channel_client::AgentChannelClient;
use wasmesos_proto::scheduler_client::SchedulerClient;
use wasmesos_proto::{
    AcceptRequest, AgentCommand, AgentInfo, Event, ExecutorMessageRequest, FrameworkInfo,
    HeartbeatRequest, Offer, Operation, Reason, RegisterRequest, Resources, StatusUpdates,
    SubscribeRequest, TaskState, TaskStatus, UpdateOversubscribedRequest, agent_command, event,
    operation,
};
use wasmesos_sdk_scheduler::TaskBuilder;

const BINARY: &str = env!("CARGO_BIN_EXE_wasmesos");
const DEADLINE: Duration = Duration::from_secs(60);

/// A stranger's agent: registered over the network in its own right, as anyone who reaches
/// the master's port can, and heartbeating as the master asks. Its client and its id;
/// `_commands` keeps its stream open.
struct FakeAgent {
    client: AgentChannelClient<MasterService>,
    id: String,
    _commands: tonic::Streaming<AgentCommand>,
}

async fn fake_agent(master: &str, hostname: &str) -> FakeAgent {
    let headers = CallHeaders::new(None);
    let channel = MasterChannel::connect(master, DEFAULT_CONNECT_TIMEOUT)
        .await
        .expect("connect");
    let mut client = AgentChannelClient::new(channel.service(&headers));
    let registration = client
        .register(RegisterRequest {
            agent: Some(AgentInfo {
                hostname: hostname.into(),
                resources: Some(Resources::from_scalars([("cpus", 1.0), ("mem", 1e9)])),
                ..AgentInfo::default()
            }),
            ..RegisterRequest::default()
        })
        .await
        .expect("the fake agent registers");
    headers.take_stream_id(&registration);
    let mut commands = registration.into_inner();
    let registered = match commands.message().await {
        Ok(Some(AgentCommand {
            command: Some(agent_command::Command::Registered(registered)),
        })) => registered,
        other => panic!("expected REGISTERED, got {other:?}"),
    };
    let id = registered.agent_id;
    let interval = Duration::try_from_secs_f64(registered.heartbeat_interval_seconds)
        .unwrap_or(Duration::from_secs(1))
        .clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut heartbeats = client.clone();
    let agent_id = id.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        loop {
            ticks.tick().await;
            let beat = HeartbeatRequest {
                agent_id: agent_id.clone(),
            };
            if heartbeats.heartbeat(beat).await.is_err() {
                return;
            }
        }
    });
    FakeAgent {
        client,
        id,
        _commands: commands,
    }
}

/// `wasmesos upload PATH`: the component's digest.
async fn upload(master: &str, path: &str) -> String {
    let output = tokio::process::Command::new(BINARY)
        .args(["upload", path])
        .env("WASMESOS_MASTER", master)
        .env_remove("WASMESOS_CREDENTIAL")
        .kill_on_drop(true)
        .output()
        .await
        .expect("the binary runs");
    assert!(output.status.success(), "{output:?}");
    let digest = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert_eq!(digest.len(), 64, "{output:?}");
    digest
}

/// The next event of `events` that `pick` takes, within the deadline.
async fn next_event<T>(
    events: &mut tonic::Streaming<Event>,
    mut pick: impl FnMut(event::Event) -> Option<T>,
) -> T {
    let read = async {
        loop {
            match events.message().await {
                Ok(Some(Event { event: Some(event) })) => {
                    if let Some(found) = pick(event) {
                        return found;
                    }
                }
                Ok(Some(_)) => {}
                other => panic!("the stream ended early: {other:?}"),
            }
        }
    };
    tokio::time::timeout(scaled(DEADLINE), read)
        .await
        .expect("the event within the deadline")
}

async fn hello_finishes(framework: &mut TestFramework, task_id: &str) {
    let hello = framework
        .driver
        .upload_executor(Path::new(guests::HELLO), None)
        .await
        .expect("upload")
        .digest;
    let task = TaskBuilder::new(task_id, &hello).cpus(0.1).mem(32 << 20);
    framework.launch_one(task).await.expect("launch");
    let end = framework.wait_for_terminal(task_id).await.expect("ends");
    assert_eq!(end.state(), TaskState::TaskFinished, "{end:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_framework_that_stops_reading_is_disconnected_and_the_cluster_goes_on() {
    let cluster =
        ProcessCluster::start(Path::new(BINARY), 1, "cpus:2;mem:2GiB;disk:2GiB", &[], &[])
            .await
            .expect("a master and an agent");
    let master = cluster.master_url();
    let hello = upload(&master, guests::HELLO).await;
    // The stalled framework's task runs on an agent of the test's own, which can send its
    // framework messages as fast as the master takes them.
    let mut chatty = fake_agent(&master, "chatty").await;

    // The stalled framework subscribes and launches a task there, then reads nothing more.
    // Its connection takes little before the master must queue (small flow-control
    // windows).
    let headers = CallHeaders::new(None);
    let small_windows = tonic::transport::Endpoint::from_shared(master.clone())
        .expect("url")
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect()
        .await
        .expect("connect");
    let mut stalled = SchedulerClient::new(InterceptedService::new(small_windows, headers.clone()));
    let subscribed = stalled
        .subscribe(SubscribeRequest {
            framework: Some(FrameworkInfo {
                name: "stalled".into(),
                ..FrameworkInfo::default()
            }),
            heartbeat_interval_seconds: 0.0,
        })
        .await
        .expect("subscribe");
    headers.take_stream_id(&subscribed);
    let mut events = subscribed.into_inner();
    let framework_id = next_event(&mut events, |event| match event {
        event::Event::Subscribed(subscribed) => Some(subscribed.framework_id),
        _ => None,
    })
    .await;
    let offer: Offer = next_event(&mut events, |event| match event {
        event::Event::Offers(offers) => offers.offers.into_iter().find(|o| o.agent_id == chatty.id),
        _ => None,
    })
    .await;
    let task = TaskBuilder::new("chatty", &hello)
        .cpus(0.5)
        .mem(64 << 20)
        .build_for(&offer);
    stalled
        .accept(AcceptRequest {
            framework_id: framework_id.clone(),
            offer_ids: vec![offer.id.clone()],
            operations: vec![Operation {
                operation: Some(operation::Operation::Launch(operation::Launch {
                    tasks: vec![task],
                })),
            }],
            filters: None,
        })
        .await
        .expect("accept");

    // Messages of a MiB pile up for a reader that takes none, far past what its queue may
    // hold: the master ends its stream and counts it disconnected.
    let connected = async || {
        let state = cluster_state(&master).await.ok()?;
        let summary = state
            .frameworks
            .iter()
            .find(|f| f.framework.as_ref().is_some_and(|i| i.name == "stalled"))?;
        Some(summary.connected)
    };
    let deadline = tokio::time::Instant::now() + scaled(DEADLINE);
    let mut sent = 0_usize;
    while connected().await != Some(false) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled framework is still connected after {sent} messages of 1 MiB"
        );
        for _ in 0..8 {
            let message = ExecutorMessageRequest {
                agent_id: chatty.id.clone(),
                framework_id: framework_id.clone(),
                task_id: "chatty".into(),
                data: vec![b'x'; 1024 * 1024],
            };
            if chatty.client.executor_message(message).await.is_ok() {
                sent += 1;
            }
        }
    }
    assert!(
        sent <= 256,
        "{sent} messages of 1 MiB were queued for a reader that stopped"
    );
    // Its stream ends rather than holding the rest: what the connection had buffered
    // arrives, then the end.
    let drained = tokio::time::timeout(scaled(DEADLINE), async {
        let mut messages = 0_usize;
        while let Ok(Some(event)) = events.message().await {
            if matches!(event.event, Some(event::Event::Message(_))) {
                messages += 1;
            }
        }
        messages
    })
    .await
    .expect("the stalled stream ends");
    assert!(drained < sent, "{drained} of {sent} messages were kept");

    // The master and the real agent go on serving everyone else.
    let mut honest = TestFramework::start(&master, "honest", None)
        .await
        .expect("subscribe");
    hello_finishes(&mut honest, "after-the-stall").await;
    honest.teardown().await.expect("teardown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_status_flood_reaches_the_framework_as_a_few_updates() {
    let cluster =
        ProcessCluster::start(Path::new(BINARY), 1, "cpus:2;mem:2GiB;disk:2GiB", &[], &[])
            .await
            .expect("a master and an agent");
    let mut framework = TestFramework::start(&cluster.master_url(), "flooded", None)
        .await
        .expect("subscribe");
    let flood = framework
        .driver
        .upload_executor(Path::new(guests::STATUS_FLOOD), None)
        .await
        .expect("upload")
        .digest;
    let task = TaskBuilder::new("flood", &flood)
        .args(["10000", "1000"])
        .cpus(0.5)
        .mem(64 << 20);
    framework.launch_one(task).await.expect("launch");
    let end = framework.wait_for_terminal("flood").await.expect("ends");
    assert_eq!(end.state(), TaskState::TaskFinished, "{end:?}");
    assert_eq!(end.data, b"10000");
    let updates = framework.states_of("flood");
    // One RUNNING update in flight at a time: a round trip through the framework per
    // update, not one per call.
    assert!(
        updates.len() <= 200,
        "10,000 set_status calls became {} updates",
        updates.len()
    );
    hello_finishes(&mut framework, "after-the-flood").await;
    framework.teardown().await.expect("teardown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_granted_loopback_still_cannot_reach_the_agents_or_the_masters_port() {
    let cluster = ProcessCluster::start(
        Path::new(BINARY),
        1,
        "cpus:4;mem:4GiB;disk:4GiB",
        &[],
        &["--network-allow", "127.0.0.0/8"],
    )
    .await
    .expect("a master and an agent");
    let master = cluster.master_url();
    let authority = |url: &str| {
        url.trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned()
    };
    // A service of the test's own on loopback: granted, so reachable.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let target = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    let mut framework = TestFramework::start(&master, "prober", None)
        .await
        .expect("subscribe");
    let probe = framework
        .driver
        .upload_executor(Path::new(guests::SOCKET_ATTEMPT), None)
        .await
        .expect("upload")
        .digest;
    for (task_id, to, reachable) in [
        ("to-a-service", target.clone(), true),
        ("to-the-agent", authority(&cluster.agents[0].url), false),
        ("to-the-master", authority(&master), false),
    ] {
        let task = TaskBuilder::new(task_id, &probe)
            .arg(to.clone())
            .network_allow("127.0.0.1")
            .cpus(0.1)
            .mem(32 << 20);
        framework.launch_one(task).await.expect("launch");
        let end = framework.wait_for_terminal(task_id).await.expect("ends");
        if reachable {
            assert_eq!(end.state(), TaskState::TaskFinished, "{to}: {end:?}");
        } else {
            assert_eq!(
                (end.state(), end.exit_code),
                (TaskState::TaskFailed, Some(3)),
                "{to}: {end:?}"
            );
        }
    }
    framework.teardown().await.expect("teardown");
}

/// A work dir another local user could write to is refused before the agent reads or
/// compiles anything in it: a planted `.cwasm` there would run as native code.
#[cfg(unix)]
#[tokio::test]
async fn an_agent_refuses_a_work_dir_others_could_plant_code_in() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().expect("temp dir");
    let work_dir = root.path().join("work");
    std::fs::create_dir_all(work_dir.join("compile-cache")).expect("mkdir");
    std::fs::write(
        work_dir.join("compile-cache").join("planted.cwasm"),
        b"\x7fELF",
    )
    .expect("plant");
    std::fs::set_permissions(&work_dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let run = tokio::process::Command::new(BINARY)
        .args(["agent", "--master", "http://127.0.0.1:9", "--work-dir"])
        .arg(&work_dir)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(scaled(DEADLINE), run)
        .await
        .expect("the agent exits at once")
        .expect("the binary runs");
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("others may write to it"), "{stderr}");
    assert!(
        !work_dir.join(wasmesos_agent::CHECKPOINT_FILE).exists(),
        "nothing is written into a refused work dir"
    );
}

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
    let FakeAgent {
        client: mut forger,
        id: forger_id,
        _commands,
    } = fake_agent(&master, "forger").await;
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

    // The task still runs where it was launched (the published state trails events by up
    // to its publish interval)...
    let placed = async || {
        let state = cluster_state(&master).await.ok()?;
        let task = state.tasks.iter().find(|t| t.task_id == "long")?;
        assert_ne!(task.state(), TaskState::TaskFinished, "{task:?}");
        (task.state() == TaskState::TaskRunning).then(|| task.agent_id.clone())
    };
    let agent = eventually_some("the task RUNNING in the state", DEADLINE, placed)
        .await
        .expect("RUNNING");
    assert_eq!(agent, honest_id);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_results_of_a_mib_reach_a_framework_in_events_its_client_decodes() {
    // No agent of the cluster's own: the framework's tasks go to one of the test's, which
    // finishes them all with a MiB of result each, as fast as the master takes them.
    let cluster = ProcessCluster::start(Path::new(BINARY), 0, "cpus:1", &[], &[])
        .await
        .expect("a master");
    let master = cluster.master_url();
    let hello = upload(&master, guests::HELLO).await;
    let mut agent = fake_agent(&master, "results").await;

    // A framework on a plain gRPC client, with tonic's default 4 MiB decode limit.
    let headers = CallHeaders::new(None);
    let channel = MasterChannel::connect(&master, DEFAULT_CONNECT_TIMEOUT)
        .await
        .expect("connect");
    let mut scheduler = SchedulerClient::new(channel.service(&headers));
    let subscribed = scheduler
        .subscribe(SubscribeRequest {
            framework: Some(FrameworkInfo {
                name: "results".into(),
                ..FrameworkInfo::default()
            }),
            heartbeat_interval_seconds: 0.0,
        })
        .await
        .expect("subscribe");
    headers.take_stream_id(&subscribed);
    let mut events = subscribed.into_inner();
    let framework_id = next_event(&mut events, |event| match event {
        event::Event::Subscribed(subscribed) => Some(subscribed.framework_id),
        _ => None,
    })
    .await;
    let offer: Offer = next_event(&mut events, |event| match event {
        event::Event::Offers(offers) => offers.offers.into_iter().next(),
        _ => None,
    })
    .await;
    let ids = ["r1", "r2", "r3", "r4", "r5"];
    let tasks = ids
        .iter()
        .map(|id| {
            TaskBuilder::new(*id, &hello)
                .cpus(0.1)
                .mem(16 << 20)
                .build_for(&offer)
        })
        .collect();
    scheduler
        .accept(AcceptRequest {
            framework_id: framework_id.clone(),
            offer_ids: vec![offer.id.clone()],
            operations: vec![Operation {
                operation: Some(operation::Operation::Launch(operation::Launch { tasks })),
            }],
            filters: None,
        })
        .await
        .expect("accept");
    for (i, id) in ids.iter().enumerate() {
        let finished = TaskStatus {
            task_id: (*id).into(),
            framework_id: framework_id.clone(),
            state: TaskState::TaskFinished as i32,
            uuid: vec![u8::try_from(i).expect("small") + 1; 16],
            data: vec![b'x'; 1024 * 1024],
            exit_code: Some(0),
            ..TaskStatus::default()
        };
        agent
            .client
            .update_status(StatusUpdates {
                agent_id: agent.id.clone(),
                statuses: vec![finished],
            })
            .await
            .expect("the agent's update");
    }
    let finished = |reason: Reason| {
        move |event: event::Event| match event {
            event::Event::Update(update) => Some(
                update
                    .statuses
                    .into_iter()
                    .filter(|s| s.state() == TaskState::TaskFinished && s.reason() == reason)
                    .map(|s| (s.task_id, s.data.len()))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        }
    };
    let mut relayed = Vec::new();
    while relayed.len() < ids.len() {
        relayed.extend(next_event(&mut events, finished(Reason::Unspecified)).await);
    }
    // One reconciliation answers all five in one batch: merged into one event of over
    // 5 MiB it would be past what the client decodes, and its stream would fail (the
    // helper panics on a stream error).
    let reconcile = ids
        .iter()
        .map(|id| wasmesos_proto::reconcile_request::ReconcileTask {
            task_id: (*id).into(),
            agent_id: agent.id.clone(),
        })
        .collect();
    scheduler
        .reconcile(wasmesos_proto::ReconcileRequest {
            framework_id: framework_id.clone(),
            tasks: reconcile,
        })
        .await
        .expect("reconcile");
    let mut answers = Vec::new();
    while answers.len() < ids.len() {
        answers.extend(next_event(&mut events, finished(Reason::Reconciliation)).await);
    }
    for (task_id, size) in relayed.iter().chain(&answers) {
        assert_eq!(*size, 1024 * 1024, "{task_id}: a result is never cut");
    }
}

/// Revocable cpus (`AgentChannel.UpdateOversubscribed`) as a stranger would send them: a
/// registered forger cannot set another agent's pool, and garbage or oversized estimates of
/// its own are refused; the honest agent's resources are untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_or_garbage_revocable_estimate_is_refused() {
    let cluster =
        ProcessCluster::start(Path::new(BINARY), 1, "cpus:2;mem:2GiB;disk:2GiB", &[], &[])
            .await
            .expect("a master and an agent");
    let master = cluster.master_url();
    let honest_id = cluster.agents[0].agent_id.clone().expect("the agent's id");
    let FakeAgent {
        client: mut forger,
        id: forger_id,
        _commands,
    } = fake_agent(&master, "forger").await;
    let revocable = |cpus: f64, entries: usize| {
        let mut resources = Resources::from_scalars([("cpus", cpus)]);
        let one = resources.resources[0].clone();
        resources.resources = vec![one; entries];
        for item in &mut resources.resources {
            item.revocable = true;
        }
        resources
    };
    let estimate = |agent_id: &str, resources: Resources| UpdateOversubscribedRequest {
        agent_id: agent_id.into(),
        resources: Some(resources),
    };
    // In the honest agent's name, from the forger's session: refused.
    let forged = forger
        .update_oversubscribed(estimate(&honest_id, revocable(64.0, 1)))
        .await
        .expect_err("an estimate for another agent");
    assert_eq!(forged.code(), Code::FailedPrecondition, "{forged:?}");
    // Garbage of its own: regular cpus, negative, too many entries.
    let regular = Resources::from_scalars([("cpus", 8.0)]);
    for (what, resources) in [
        ("regular cpus", regular),
        ("negative cpus", revocable(-1.0, 1)),
        ("10,000 entries", revocable(1.0, 10_000)),
    ] {
        let refused = forger
            .update_oversubscribed(estimate(&forger_id, resources))
            .await
            .expect_err(what);
        assert_eq!(refused.code(), Code::InvalidArgument, "{what}: {refused:?}");
        assert!(refused.message().len() < 1000, "{what}: {refused:?}");
    }
    // The honest agent holds no revocable cpus: the forged 64 never landed.
    let state = cluster_state(&master).await.expect("state");
    let honest = state
        .agents
        .iter()
        .find(|agent| {
            agent
                .agent
                .as_ref()
                .is_some_and(|info| info.id == honest_id)
        })
        .expect("the honest agent");
    let total = honest.total.clone().unwrap_or_default();
    assert!(
        total.resources.iter().all(|item| !item.revocable),
        "{total:?}"
    );
}
