//! How many tasks per second the master alone can carry, and what it adds to launch latency.
//!
//! Two measurements, each repeated and reported as the median:
//! * `core`: the master's state machine driven in-process (virtual time, no sockets) through
//!   offer → ACCEPT → RUNNING/FINISHED → ACKNOWLEDGE, against a baseline of the allocator
//!   alone doing the same offer/launch/recover cycle, so the ratio is the master's
//!   bookkeeping overhead.
//! * `grpc`: a real master on loopback with two fake agents (which report RUNNING and
//!   FINISHED the moment a launch arrives) and one fake scheduler (which launches whatever
//!   fits in each offer and acknowledges every update): tasks per second from submit to
//!   FINISHED acknowledged at the agent, and ACCEPT → RUNNING latency seen by the
//!   scheduler. No Wasm runs, so this is the master's ceiling, not the cluster's.
//!
//! `cargo bench -p wasmesos-master --bench throughput`; set `WASMESOS_BENCH_QUICK=1` for a
//! short run.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, Notify};
use tokio_stream::StreamExt;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use wasmesos_allocator::{Allocator, AllocatorConfig, FrameworkSpec, Resources};
use wasmesos_detector::CallHeaders;
use wasmesos_master::MasterConfig;
use wasmesos_master::core::{Core, Registration};
use wasmesos_master::registry::RegistryBackend;
use wasmesos_proto::v1::agent_channel_client::AgentChannelClient;
use wasmesos_proto::v1::artifacts_client::ArtifactsClient;
use wasmesos_proto::v1::scheduler_client::SchedulerClient;
use wasmesos_proto::v1::{
    AcceptRequest, AcknowledgeRequest, Acknowledgement, AgentInfo, ExecutorInfo, Filters,
    FrameworkInfo, MasterInfo, Offer, Operation, RegisterRequest, StatusUpdates, SubscribeRequest,
    TaskInfo, TaskState, TaskStatus, UploadChunk, UploadHeader, agent_command, event, operation,
};

const TASK_CPUS: f64 = 0.01;
const TASK_MEM: f64 = 1024.0 * 1024.0;

fn main() {
    let quick = std::env::var_os("WASMESOS_BENCH_QUICK").is_some();
    let (tasks, reps) = if quick { (2_000, 3) } else { (20_000, 5) };
    println!("master throughput, {tasks} trivial tasks per run, median of {reps} runs\n");
    println!(
        "{:<52} {:>10} {:>12} {:>12}",
        "scenario", "tasks", "median s", "tasks/s"
    );
    let baseline = median(reps, || allocator_only(tasks));
    row("allocator alone (baseline)", tasks, baseline);
    let core = median(reps, || core_cycle(tasks));
    row("master core, in-process", tasks, core);
    println!(
        "\nmaster core / allocator alone: {:.2}x the time per task",
        core / baseline
    );

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let memory = grpc_rows(
        &runtime,
        tasks,
        reps,
        core,
        RegistryBackend::Memory,
        "registry in memory",
    );
    let journal = grpc_rows(
        &runtime,
        tasks,
        reps,
        core,
        RegistryBackend::Journal,
        "registry in the journal (fsync)",
    );
    println!(
        "\njournal registry / in-memory registry, over gRPC: {:.2}x the time per task",
        journal / memory
    );
}

/// The gRPC throughput and latency rows for one registry backend; returns the median time.
fn grpc_rows(
    runtime: &tokio::runtime::Runtime,
    tasks: usize,
    reps: usize,
    core: f64,
    registry: RegistryBackend,
    label: &str,
) -> f64 {
    let mut runs: Vec<GrpcRun> = (0..reps)
        .map(|_| runtime.block_on(grpc_cycle(tasks, registry.clone())))
        .collect();
    runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let mid = &runs[runs.len() / 2];
    println!();
    row(&format!("gRPC, 2 fake agents, {label}"), tasks, mid.seconds);
    println!(
        "  ACCEPT -> RUNNING inside these bulk launches (thousands of tasks per ACCEPT): \
         p50 {} µs, p99 {} µs",
        mid.p50.as_micros(),
        mid.p99.as_micros()
    );
    println!(
        "  master over gRPC / in-process core: {:.2}x the time per task",
        mid.seconds / core
    );
    let quick = std::env::var_os("WASMESOS_BENCH_QUICK").is_some();
    let launches = if quick { 200 } else { 1_000 };
    let (p50, p99) = runtime.block_on(grpc_latency(launches, registry));
    println!(
        "  ACCEPT -> RUNNING seen by the scheduler, one task per ACCEPT, {launches} in sequence: \
         p50 {} µs, p99 {} µs",
        p50.as_micros(),
        p99.as_micros()
    );
    mid.seconds
}

fn row(name: &str, tasks: usize, seconds: f64) {
    let rate = tasks as f64 / seconds;
    println!("{name:<52} {tasks:>10} {seconds:>12.4} {rate:>12.0}");
}

fn median(reps: usize, mut run: impl FnMut() -> f64) -> f64 {
    let mut times: Vec<f64> = (0..reps).map(|_| run()).collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn task_resources() -> Resources {
    Resources::new()
        .with("cpus", TASK_CPUS)
        .and_then(|r| r.with("mem", TASK_MEM))
        .expect("task resources")
}

/// The allocator doing what the master asks of it per task, and nothing else.
fn allocator_only(tasks: usize) -> f64 {
    let mut allocator = Allocator::new(AllocatorConfig::default()).expect("allocator");
    let total: Resources = "cpus:64;mem:64GiB".parse().expect("total");
    allocator.add_agent("a1".into(), &total).expect("agent");
    allocator.add_agent("a2".into(), &total).expect("agent");
    allocator
        .add_framework("f".into(), FrameworkSpec::with_roles(["*"]))
        .expect("framework");
    let task = task_resources();
    let start = Instant::now();
    let mut done = 0;
    let mut now = Duration::ZERO;
    while done < tasks {
        now += Duration::from_millis(2);
        let mut running = Vec::new();
        for offer in allocator.allocate(now) {
            let mut rest = offer.resources.clone();
            while done + running.len() < tasks {
                let Some(left) = rest.checked_sub(&task) else {
                    break;
                };
                rest = left;
                running.push((offer.agent_id.clone(), offer.role.clone()));
            }
            let used = offer.resources.checked_sub(&rest).unwrap_or_default();
            allocator
                .launch(&offer.framework_id, &offer.agent_id, &offer.role, &used)
                .expect("launch");
            allocator
                .recover_offered(
                    &offer.framework_id,
                    &offer.agent_id,
                    &offer.role,
                    &rest,
                    None,
                    now,
                )
                .expect("recover");
        }
        for (agent, role) in running {
            allocator
                .recover_used(&"f".into(), &agent, &role, &task)
                .expect("recover used");
            done += 1;
        }
    }
    start.elapsed().as_secs_f64()
}

/// The master's core through the whole protocol, in virtual time.
fn core_cycle(tasks: usize) -> f64 {
    let config = MasterConfig {
        max_completed_tasks_per_framework: 1_000,
        ..MasterConfig::default()
    };
    let master = MasterInfo {
        id: "m".into(),
        ..MasterInfo::default()
    };
    let mut core = Core::new(config, master, 0.0).expect("core");
    let digest = "ab".repeat(32);
    core.artifact_stored(&digest);
    let mut now = Duration::ZERO;
    let agents: Vec<String> = (0..2)
        .map(|_| {
            match core
                .register_agent(register_request(""), now)
                .expect("register")
            {
                Registration::Accepted { agent_id } => agent_id,
                Registration::Refused { commands } => panic!("{commands:?}"),
            }
        })
        .collect();
    let fw = core
        .subscribe(subscribe_request(), now)
        .expect("subscribe")
        .framework_id;
    let start = Instant::now();
    let mut launched = 0;
    let mut acked = 0;
    while acked < tasks {
        now += Duration::from_millis(2);
        core.tick(now);
        let out = core.take_outbox();
        // The actor takes the registry ops with each outbox; the disk is measured over gRPC.
        drop(core.take_ops());
        for offer in out
            .events
            .get(&fw)
            .into_iter()
            .flatten()
            .filter_map(|e| match &e.event {
                Some(event::Event::Offers(o)) => Some(o.offers.clone()),
                _ => None,
            })
            .flatten()
        {
            let batch = fitting(&offer, tasks - launched, &digest, launched);
            launched += batch.len();
            core.accept(accept_request(&fw, &offer, batch), now)
                .expect("accept");
        }
        let out = core.take_outbox();
        for agent in &agents {
            let launches = out
                .commands
                .get(agent)
                .into_iter()
                .flatten()
                .filter_map(|c| match &c.command {
                    Some(agent_command::Command::Launch(l)) => Some(l.tasks.clone()),
                    _ => None,
                });
            for tasks in launches {
                core.status_updates(finish_all(agent, &fw, &tasks), now)
                    .expect("updates");
            }
        }
        let out = core.take_outbox();
        drop(core.take_ops());
        let statuses: Vec<TaskStatus> = out
            .events
            .get(&fw)
            .into_iter()
            .flatten()
            .filter_map(|e| match &e.event {
                Some(event::Event::Update(u)) => Some(u.statuses.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        acked += statuses
            .iter()
            .filter(|s| s.state == TaskState::TaskFinished as i32)
            .count();
        core.acknowledge(ack_request(&fw, &statuses), now)
            .expect("ack");
        core.take_outbox();
    }
    start.elapsed().as_secs_f64()
}

fn register_request(address: &str) -> RegisterRequest {
    RegisterRequest {
        agent: Some(AgentInfo {
            hostname: "bench".into(),
            address: address.into(),
            resources: Some(wasmesos_proto::v1::Resources::from_scalars([
                ("cpus", 64.0),
                ("mem", 64.0 * 1024.0 * 1024.0 * 1024.0),
            ])),
            ..AgentInfo::default()
        }),
        ..RegisterRequest::default()
    }
}

fn subscribe_request() -> SubscribeRequest {
    SubscribeRequest {
        framework: Some(FrameworkInfo {
            name: "bench".into(),
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    }
}

/// As many trivial tasks as fit in the offer, up to `wanted`.
fn fitting(offer: &Offer, wanted: usize, digest: &str, first_id: usize) -> Vec<TaskInfo> {
    let resources = offer.resources.clone().unwrap_or_default();
    let fit = (resources.scalar("cpus") / TASK_CPUS + 1e-6)
        .min(resources.scalar("mem") / TASK_MEM + 1e-6)
        .floor() as usize;
    (0..fit.min(wanted))
        .map(|i| TaskInfo {
            task_id: format!("t{}", first_id + i),
            agent_id: offer.agent_id.clone(),
            executor: Some(ExecutorInfo {
                digest: digest.into(),
                ..ExecutorInfo::default()
            }),
            resources: Some(wasmesos_proto::v1::Resources::from_scalars([
                ("cpus", TASK_CPUS),
                ("mem", TASK_MEM),
            ])),
            ..TaskInfo::default()
        })
        .collect()
}

fn accept_request(fw: &str, offer: &Offer, tasks: Vec<TaskInfo>) -> AcceptRequest {
    AcceptRequest {
        framework_id: fw.into(),
        offer_ids: vec![offer.id.clone()],
        operations: vec![Operation {
            operation: Some(operation::Operation::Launch(operation::Launch { tasks })),
        }],
        filters: Some(Filters {
            refuse_seconds: Some(0.0),
        }),
    }
}

/// What a perfect agent says right after a launch: RUNNING, then FINISHED, for every task.
fn finish_all(agent: &str, fw: &str, tasks: &[TaskInfo]) -> StatusUpdates {
    let mut statuses = Vec::with_capacity(tasks.len() * 2);
    for (n, task) in tasks.iter().enumerate() {
        for (k, state) in [TaskState::TaskRunning, TaskState::TaskFinished]
            .into_iter()
            .enumerate()
        {
            let mut uuid = vec![0u8; 16];
            uuid[..8].copy_from_slice(&(n as u64).to_le_bytes());
            uuid[8] = k as u8;
            statuses.push(TaskStatus {
                task_id: task.task_id.clone(),
                framework_id: fw.into(),
                state: state as i32,
                uuid,
                ..TaskStatus::default()
            });
        }
    }
    StatusUpdates {
        agent_id: agent.into(),
        statuses,
    }
}

fn ack_request(fw: &str, statuses: &[TaskStatus]) -> AcknowledgeRequest {
    AcknowledgeRequest {
        framework_id: fw.into(),
        acks: statuses
            .iter()
            .filter(|s| !s.uuid.is_empty())
            .map(|s| Acknowledgement {
                agent_id: s.agent_id.clone(),
                task_id: s.task_id.clone(),
                uuid: s.uuid.clone(),
            })
            .collect(),
    }
}

struct GrpcRun {
    seconds: f64,
    p50: Duration,
    p99: Duration,
}

async fn grpc_cycle(tasks: usize, registry: RegistryBackend) -> GrpcRun {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = MasterConfig {
        max_completed_tasks_per_framework: 1_000,
        registry,
        ..MasterConfig::for_tests(dir.path())
    };
    let master = wasmesos_master::spawn(config).await.expect("master");
    let channel = Channel::from_shared(master.url())
        .expect("url")
        .tcp_nodelay(true)
        .connect()
        .await
        .expect("connect");
    let digest = upload_hello(&channel).await;
    let finished_acks = Arc::new(AtomicUsize::new(0));
    let all_acked = Arc::new(Notify::new());
    for _ in 0..2 {
        spawn_fake_agent(
            channel.clone(),
            finished_acks.clone(),
            all_acked.clone(),
            tasks,
        )
        .await;
    }
    let session = CallHeaders::default();
    let mut scheduler =
        SchedulerClient::new(InterceptedService::new(channel.clone(), session.clone()));
    let subscribed = scheduler
        .subscribe(subscribe_request())
        .await
        .expect("subscribe");
    session.take_stream_id(&subscribed);
    let mut events = subscribed.into_inner();
    let accepted_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut latencies = Vec::with_capacity(tasks);
    let mut framework_id = String::new();
    let mut launched = 0;
    let start = Instant::now();
    let done = all_acked.notified();
    tokio::pin!(done);
    loop {
        let event = tokio::select! {
            () = &mut done => break,
            event = events.next() => event,
        };
        let Some(Ok(event)) = event else {
            panic!("event stream ended")
        };
        match event.event {
            Some(event::Event::Subscribed(s)) => framework_id = s.framework_id,
            Some(event::Event::Offers(offers)) => {
                for offer in offers.offers {
                    let batch = fitting(&offer, tasks - launched, &digest, launched);
                    launched += batch.len();
                    let now = Instant::now();
                    {
                        let mut accepted = accepted_at.lock().await;
                        for task in &batch {
                            accepted.insert(task.task_id.clone(), now);
                        }
                    }
                    let mut client = scheduler.clone();
                    let req = accept_request(&framework_id, &offer, batch);
                    tokio::spawn(async move { client.accept(req).await });
                }
            }
            Some(event::Event::Update(update)) => {
                let now = Instant::now();
                {
                    let accepted = accepted_at.lock().await;
                    for status in &update.statuses {
                        if status.state == TaskState::TaskRunning as i32
                            && let Some(at) = accepted.get(&status.task_id)
                        {
                            latencies.push(now - *at);
                        }
                    }
                }
                let mut client = scheduler.clone();
                let req = ack_request(&framework_id, &update.statuses);
                tokio::spawn(async move { client.acknowledge(req).await });
            }
            _ => {}
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let _ = master.shutdown().await;
    latencies.sort();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    GrpcRun {
        seconds,
        p50: pick(0.5),
        p99: pick(0.99),
    }
}

/// Launches one task at a time and times ACCEPT until the scheduler sees RUNNING.
async fn grpc_latency(launches: usize, registry: RegistryBackend) -> (Duration, Duration) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = MasterConfig {
        registry,
        ..MasterConfig::for_tests(dir.path())
    };
    let master = wasmesos_master::spawn(config).await.expect("master");
    let channel = Channel::from_shared(master.url())
        .expect("url")
        .tcp_nodelay(true)
        .connect()
        .await
        .expect("connect");
    let digest = upload_hello(&channel).await;
    spawn_fake_agent(channel.clone(), Arc::default(), Arc::default(), usize::MAX).await;
    let session = CallHeaders::default();
    let mut scheduler =
        SchedulerClient::new(InterceptedService::new(channel.clone(), session.clone()));
    let subscribed = scheduler
        .subscribe(subscribe_request())
        .await
        .expect("subscribe");
    session.take_stream_id(&subscribed);
    let mut events = subscribed.into_inner();
    let mut framework_id = String::new();
    let mut latencies = Vec::with_capacity(launches);
    let mut waiting: Option<(String, Instant)> = None;
    while latencies.len() < launches {
        let Some(Ok(event)) = events.next().await else {
            panic!("event stream ended")
        };
        match event.event {
            Some(event::Event::Subscribed(s)) => framework_id = s.framework_id,
            Some(event::Event::Offers(offers)) => {
                for offer in offers.offers {
                    let batch = if waiting.is_none() {
                        fitting(&offer, 1, &digest, latencies.len())
                    } else {
                        Vec::new()
                    };
                    if let Some(task) = batch.first() {
                        waiting = Some((task.task_id.clone(), Instant::now()));
                    }
                    let req = accept_request(&framework_id, &offer, batch);
                    scheduler.accept(req).await.expect("accept");
                }
            }
            Some(event::Event::Update(update)) => {
                let now = Instant::now();
                for status in &update.statuses {
                    let running = status.state == TaskState::TaskRunning as i32;
                    if let Some((task_id, at)) = waiting.as_ref()
                        && running
                        && status.task_id == *task_id
                    {
                        latencies.push(now - *at);
                        waiting = None;
                    }
                }
                let mut client = scheduler.clone();
                let req = ack_request(&framework_id, &update.statuses);
                tokio::spawn(async move { client.acknowledge(req).await });
            }
            _ => {}
        }
    }
    let _ = master.shutdown().await;
    latencies.sort();
    (
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
    )
}

async fn upload_hello(channel: &Channel) -> String {
    let bytes = std::fs::read(wasmesos_guest_artifacts::HELLO).expect("hello guest built");
    let chunk = UploadChunk {
        header: Some(UploadHeader {
            size: bytes.len() as u64,
            digest: String::new(),
            name: "hello.wasm".into(),
        }),
        data: bytes.into(),
    };
    ArtifactsClient::new(channel.clone())
        .upload(tokio_stream::iter(vec![chunk]))
        .await
        .expect("upload")
        .into_inner()
        .digest
}

/// An agent that reports RUNNING and FINISHED for every task the moment it is launched,
/// and counts acknowledgements of FINISHED updates (uuid byte 8 == 1).
async fn spawn_fake_agent(
    channel: Channel,
    finished_acks: Arc<AtomicUsize>,
    all_acked: Arc<Notify>,
    tasks: usize,
) {
    let session = CallHeaders::default();
    let mut client = AgentChannelClient::new(InterceptedService::new(channel, session.clone()));
    let registered = client
        .register(register_request(""))
        .await
        .expect("register");
    session.take_stream_id(&registered);
    let mut commands = registered.into_inner();
    let agent_id = match commands
        .next()
        .await
        .and_then(Result::ok)
        .and_then(|c| c.command)
    {
        Some(agent_command::Command::Registered(r)) => r.agent_id,
        other => panic!("expected registered, got {other:?}"),
    };
    tokio::spawn(async move {
        while let Some(Ok(command)) = commands.next().await {
            match command.command {
                Some(agent_command::Command::Launch(launch)) => {
                    let fw = launch.framework.map(|f| f.id).unwrap_or_default();
                    let updates = finish_all(&agent_id, &fw, &launch.tasks);
                    let mut client = client.clone();
                    tokio::spawn(async move { client.update_status(updates).await });
                }
                Some(agent_command::Command::Acknowledge(acks)) => {
                    let finished = acks
                        .acks
                        .iter()
                        .filter(|a| a.uuid.get(8) == Some(&1))
                        .count();
                    let total = finished_acks.fetch_add(finished, Ordering::SeqCst) + finished;
                    if total >= tasks {
                        all_acked.notify_one();
                    }
                }
                _ => {}
            }
        }
    });
}
