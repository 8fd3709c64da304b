//! What `/state` costs at 1,000 agents and 10,000 tasks, and whether polling it stalls
//! allocation.
//!
//! A real master on loopback; 1,000 fake agents (10 cpus each) filled by one fake
//! framework with 10,000 RUNNING tasks; one more "probe" agent whose offer the framework
//! declines with `refuse_seconds: 0` again and again, so every decline triggers an
//! allocation round over the whole cluster and a new offer.
//!
//! * `/state` latency, sequential GETs, with the cluster idle and while offers churn.
//! * Decline → next offer latency (an allocation round plus the two RPCs around it) with
//!   no `/state` polling (the baseline) and with four clients polling `/state` as fast as
//!   they can; the ratio shows whether polling stalls allocation.
//! * The actor time spent building snapshots, from the master's own histogram.
//!
//! `cargo bench -p wasmesos-master --bench state`; `WASMESOS_BENCH_QUICK=1` for a short run.

#[path = "../tests/http_support/mod.rs"]
mod http_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_stream::StreamExt;
use tonic::Streaming;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use wasmesos_detector::CallHeaders;

/// A channel whose calls carry one session's stream id.
type Session = InterceptedService<Channel, CallHeaders>;
use wasmesos_master::MasterConfig;
use wasmesos_proto::v1::agent_channel_client::AgentChannelClient;
use wasmesos_proto::v1::artifacts_client::ArtifactsClient;
use wasmesos_proto::v1::scheduler_client::SchedulerClient;
use wasmesos_proto::v1::{
    AcceptRequest, AgentCommand, AgentInfo, DeclineRequest, Event, ExecutorInfo, Filters,
    FrameworkInfo, Offer, Operation, RegisterRequest, Resources, StatusUpdates, SubscribeRequest,
    TaskInfo, TaskState, TaskStatus, UploadChunk, UploadHeader, agent_command, event, operation,
};

const AGENTS: usize = 1_000;
const TASKS_PER_AGENT: usize = 10;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// HTTP/2 connections the fake agents share (a server caps concurrent streams per
/// connection).
const CHANNELS: usize = 10;
const POLLERS: usize = 4;

fn main() {
    let quick = std::env::var_os("WASMESOS_BENCH_QUICK").is_some();
    let (gets, rounds) = if quick { (50, 100) } else { (300, 500) };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run(gets, rounds));
}

async fn run(gets: usize, rounds: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = MasterConfig::for_tests(dir.path());
    // Fake agents do not heartbeat; keep them registered for the whole run.
    config.agent_heartbeat_interval = Duration::from_secs(600);
    config.agent_ping_timeout = Duration::from_secs(3600);
    let master = wasmesos_master::spawn(config).await.expect("master starts");
    let addr = master.addr;
    let channels = connect(&master.url()).await;
    let (framework_id, mut events, session) = subscribe(&channels[0]).await;
    let digest = upload_hello(&channels[0]).await;
    let started = Instant::now();
    let agents = fill_cluster(&channels, &session, &framework_id, &digest, &mut events).await;
    wait_for_tasks(addr, AGENTS * TASKS_PER_AGENT).await;
    println!(
        "cluster: {AGENTS} agents, {} RUNNING tasks (set up in {:.1} s)\n",
        AGENTS * TASKS_PER_AGENT,
        started.elapsed().as_secs_f64()
    );
    let _probe = register(&channels[0], 1.0).await;
    let mut offer = next_offer(&mut events).await;
    let scheduler = SchedulerClient::new(InterceptedService::new(channels[0].clone(), session));

    let idle = state_latencies(addr, gets).await;
    let body = http_support::get(addr, "/state").await.body.len();
    println!("/state body: {:.1} MiB", body as f64 / (1024.0 * 1024.0));
    println!("{:<52} {:>10} {:>10}", "measurement", "p50 ms", "p99 ms");
    row("/state, cluster idle (sequential GETs)", &idle);

    let baseline = decline_rounds(&scheduler, &framework_id, &mut events, &mut offer, rounds).await;
    row("decline -> offer, no /state polling (baseline)", &baseline);

    let polling = Polling::start(addr);
    let loaded = decline_rounds(&scheduler, &framework_id, &mut events, &mut offer, rounds).await;
    let (polled, polls) = polling.stop().await;
    row(
        &format!("decline -> offer, {POLLERS} clients polling /state"),
        &loaded,
    );
    row("/state while offers churn (polling clients)", &polled);
    println!(
        "\n/state requests served during the polled run: {polls} ({:.0}/s)",
        polls as f64 / loaded.iter().sum::<Duration>().as_secs_f64()
    );
    println!(
        "decline -> offer, polled / baseline: p50 {:.2}x, p99 {:.2}x",
        ratio(&loaded, &baseline, 0.50),
        ratio(&loaded, &baseline, 0.99)
    );
    let metrics = http_support::get(addr, "/metrics").await.text();
    let builds = sample(&metrics, "wasmesos_state_snapshot_build_seconds_count");
    let build_sum = sample(&metrics, "wasmesos_state_snapshot_build_seconds_sum");
    if builds > 0.0 {
        println!(
            "snapshot builds on the actor: {builds} taking {:.2} ms on average",
            build_sum / builds * 1e3
        );
    }
    drop(agents);
}

fn row(name: &str, samples: &[Duration]) {
    println!(
        "{name:<52} {:>10.3} {:>10.3}",
        percentile(samples, 0.50).as_secs_f64() * 1e3,
        percentile(samples, 0.99).as_secs_f64() * 1e3
    );
}

fn percentile(samples: &[Duration], q: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(at).copied().unwrap_or_default()
}

fn ratio(loaded: &[Duration], baseline: &[Duration], q: f64) -> f64 {
    percentile(loaded, q).as_secs_f64() / percentile(baseline, q).as_secs_f64()
}

fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

async fn connect(url: &str) -> Vec<Channel> {
    let mut channels = Vec::with_capacity(CHANNELS);
    for _ in 0..CHANNELS {
        let channel = Channel::from_shared(url.to_string())
            .expect("url")
            .connect()
            .await
            .expect("connect");
        channels.push(channel);
    }
    channels
}

async fn subscribe(channel: &Channel) -> (String, Streaming<Event>, CallHeaders) {
    let request = SubscribeRequest {
        framework: Some(FrameworkInfo {
            name: "state-bench".into(),
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    };
    let subscribed = SchedulerClient::new(channel.clone())
        .subscribe(request)
        .await
        .expect("subscribe");
    let session = CallHeaders::default();
    session.take_stream_id(&subscribed);
    let mut events = subscribed.into_inner();
    loop {
        let next = events.next().await.expect("stream").expect("event");
        if let Some(event::Event::Subscribed(s)) = next.event {
            return (s.framework_id, events, session);
        }
    }
}

/// A registered fake agent: the command stream that keeps it connected.
struct FakeAgent {
    id: String,
    /// Its registration's stream id, for its status updates.
    session: CallHeaders,
    _commands: Streaming<AgentCommand>,
}

async fn register(channel: &Channel, cpus: f64) -> FakeAgent {
    let request = RegisterRequest {
        agent: Some(AgentInfo {
            hostname: "bench".into(),
            resources: Some(Resources::from_scalars([
                ("cpus", cpus),
                ("mem", cpus * GIB),
            ])),
            ..AgentInfo::default()
        }),
        ..RegisterRequest::default()
    };
    let registered = AgentChannelClient::new(channel.clone())
        .register(request)
        .await
        .expect("register");
    let session = CallHeaders::default();
    session.take_stream_id(&registered);
    let mut commands = registered.into_inner();
    let first = commands.next().await.expect("stream").expect("command");
    match first.command {
        Some(agent_command::Command::Registered(r)) => FakeAgent {
            id: r.agent_id,
            session,
            _commands: commands,
        },
        other => panic!("expected REGISTERED, got {other:?}"),
    }
}

/// Uploads the hello guest, which the tasks name (nothing runs it: the agents are fake).
async fn upload_hello(channel: &Channel) -> String {
    let bytes = std::fs::read(wasmesos_guest_artifacts::HELLO).expect("hello is built");
    let chunk = UploadChunk {
        header: Some(UploadHeader {
            size: bytes.len() as u64,
            digest: String::new(),
            name: "hello.wasm".into(),
        }),
        data: bytes.into(),
    };
    ArtifactsClient::new(channel.clone())
        .upload(tokio_stream::iter([chunk]))
        .await
        .expect("upload")
        .into_inner()
        .digest
}

async fn next_offer(events: &mut Streaming<Event>) -> Offer {
    next_offers(events).await.remove(0)
}

/// The offers of the next OFFERS event (one round may offer many agents at once).
async fn next_offers(events: &mut Streaming<Event>) -> Vec<Offer> {
    loop {
        let next = events.next().await.expect("stream").expect("event");
        if let Some(event::Event::Offers(offers)) = next.event
            && !offers.offers.is_empty()
        {
            return offers.offers;
        }
    }
}

/// Registers the agents, fills each with RUNNING tasks, and returns them (kept connected).
async fn fill_cluster(
    channels: &[Channel],
    session: &CallHeaders,
    framework_id: &str,
    digest: &str,
    events: &mut Streaming<Event>,
) -> Vec<FakeAgent> {
    let mut agents = Vec::with_capacity(AGENTS);
    for i in 0..AGENTS {
        agents.push(register(&channels[i % channels.len()], TASKS_PER_AGENT as f64).await);
    }
    let mut scheduler = SchedulerClient::new(InterceptedService::new(
        channels[0].clone(),
        session.clone(),
    ));
    let mut filled = 0;
    let mut pending: Vec<Offer> = Vec::new();
    while filled < AGENTS {
        if pending.is_empty() {
            pending = next_offers(events).await;
        }
        let Some(offer) = pending.pop() else {
            continue;
        };
        let tasks = tasks_for(&offer, digest, filled);
        let statuses = running(framework_id, &tasks);
        scheduler
            .accept(accept(framework_id, &offer, tasks))
            .await
            .expect("accept");
        let updates = StatusUpdates {
            agent_id: offer.agent_id.clone(),
            statuses,
        };
        let agent = agents
            .iter()
            .find(|a| a.id == offer.agent_id)
            .expect("offers name registered agents");
        let channel = channels[filled % channels.len()].clone();
        AgentChannelClient::new(InterceptedService::new(channel, agent.session.clone()))
            .update_status(updates)
            .await
            .expect("updates");
        filled += 1;
    }
    agents
}

fn tasks_for(offer: &Offer, digest: &str, n: usize) -> Vec<TaskInfo> {
    (0..TASKS_PER_AGENT)
        .map(|k| TaskInfo {
            task_id: format!("task-{n:04}-{k:02}"),
            name: "bench".into(),
            agent_id: offer.agent_id.clone(),
            executor: Some(ExecutorInfo {
                digest: digest.into(),
                ..ExecutorInfo::default()
            }),
            resources: Some(Resources::from_scalars([("cpus", 1.0), ("mem", GIB)])),
            ..TaskInfo::default()
        })
        .collect()
}

fn running(framework_id: &str, tasks: &[TaskInfo]) -> Vec<TaskStatus> {
    tasks
        .iter()
        .map(|task| TaskStatus {
            task_id: task.task_id.clone(),
            framework_id: framework_id.into(),
            state: TaskState::TaskRunning as i32,
            uuid: task.task_id.as_bytes().to_vec(),
            ..TaskStatus::default()
        })
        .collect()
}

fn accept(framework_id: &str, offer: &Offer, tasks: Vec<TaskInfo>) -> AcceptRequest {
    AcceptRequest {
        framework_id: framework_id.into(),
        offer_ids: vec![offer.id.clone()],
        operations: vec![Operation {
            operation: Some(operation::Operation::Launch(operation::Launch { tasks })),
        }],
        filters: None,
    }
}

async fn wait_for_tasks(addr: SocketAddr, want: usize) {
    http_support::json_until(addr, "/tasks?state=running&limit=1", |page| {
        page["total"].as_u64() == Some(want as u64)
    })
    .await;
}

async fn state_latencies(addr: SocketAddr, gets: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(gets);
    for _ in 0..gets {
        let started = Instant::now();
        let answer = http_support::get(addr, "/state").await;
        samples.push(started.elapsed());
        assert_eq!(answer.status, 200);
    }
    samples
}

/// Declines the probe's offer `rounds` times, timing each decline until the next offer.
async fn decline_rounds(
    scheduler: &SchedulerClient<Session>,
    framework_id: &str,
    events: &mut Streaming<Event>,
    offer: &mut Offer,
    rounds: usize,
) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(rounds);
    let mut scheduler = scheduler.clone();
    for _ in 0..rounds {
        let decline = DeclineRequest {
            framework_id: framework_id.into(),
            offer_ids: vec![offer.id.clone()],
            filters: Some(Filters {
                refuse_seconds: Some(0.0),
            }),
        };
        let started = Instant::now();
        scheduler.decline(decline).await.expect("decline");
        *offer = next_offer(events).await;
        samples.push(started.elapsed());
    }
    samples
}

/// Clients GETting `/state` back to back until stopped.
struct Polling {
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    clients: Vec<tokio::task::JoinHandle<Vec<Duration>>>,
}

impl Polling {
    fn start(addr: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let clients = (0..POLLERS)
            .map(|_| {
                let stop = Arc::clone(&stop);
                let served = Arc::clone(&served);
                tokio::spawn(async move {
                    let mut samples = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        let answer = http_support::get(addr, "/state").await;
                        samples.push(started.elapsed());
                        assert_eq!(answer.status, 200);
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                    samples
                })
            })
            .collect();
        Self {
            stop,
            served,
            clients,
        }
    }

    async fn stop(self) -> (Vec<Duration>, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for client in self.clients {
            all.extend(client.await.expect("poller"));
        }
        (all, self.served.load(Ordering::Relaxed))
    }
}
