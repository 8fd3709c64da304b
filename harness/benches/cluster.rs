//! Cluster benchmarks, printed as a table:
//!
//! - throughput: one framework runs N trivial tasks (`hello`) on 1 master + 2 agents, from
//!   the first ACCEPT to the last FINISHED acknowledged; baseline: the same N runs straight on
//!   one `wasm-executor` in this process (no master, agent or network); then the same on a
//!   cluster of 4 agents, against the 2-agent figure;
//! - latency: ACCEPT → TASK_RUNNING as the scheduler sees it, p50 and p99, one task at a time;
//!   baseline: a unary gRPC round trip to the same master (`Artifacts.Stat`); and its floor on
//!   this machine: what the path must do before RUNNING can reach the scheduler, with no
//!   work of its own. That is four one-way legs (scheduler → master → agent → master →
//!   scheduler), measured as two round trips in a row, and two synced journal appends in
//!   sequence (the master's launch record, the agent's RUNNING update), measured on the same
//!   filesystem;
//! - the same throughput and latency through Mesos's v1 scheduler HTTP API in JSON
//!   ([`mesos_json`]: RecordIO event stream, one ACKNOWLEDGE call per update); baseline: the
//!   native gRPC figures of the same run, ratio JSON/gRPC.
//!
//! `WASMESOS_BENCH_TASKS` (default 10000), `WASMESOS_BENCH_ROUNDS` (default 3) and
//! `WASMESOS_BENCH_SAMPLES` (default 500) resize it. `WASMESOS_BENCH_ONLY=json` (or `grpc`)
//! runs only that path's throughput rounds and prints their rates, to profile it alone;
//! `WASMESOS_BENCH_FS="temp dir"` (or `tmpfs`) measures on that filesystem only.
//! Run: `cargo bench -p wasmesos-harness`.

#[path = "cluster/mesos_json.rs"]
mod mesos_json;

/// The allocator of the `wasmesos` binary, whose master and agents this bench runs in-process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use wasmesos_agent::AgentTls;
use wasmesos_detector::{ClientTls, Credential, Credentials};
use wasmesos_harness::{ClientAccess, Cluster, ClusterConfig, TestFramework, TestPki, env_number};
use wasmesos_journal::{Entry, Journal, Options as JournalOptions};
use wasmesos_master::MasterTls;
use wasmesos_master::auth::Authentication;
use wasmesos_proto::artifacts_client::ArtifactsClient;
use wasmesos_proto::{Offer, StatRequest, TaskState, TaskStatus};
use wasmesos_sdk_scheduler::{
    Capacity, Driver, DriverConfig, Scheduler, TaskBuilder, digest_of, refuse_for,
};
use wasmesos_wasm_executor::{Executor, ExecutorConfig, Limits, TaskSpec};

const TASK_CPUS: f64 = 0.01;
const TASK_MEM: u64 = 16 << 20;

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> BenchResult<()> {
    if std::env::args().any(|arg| arg == "--list") {
        return Ok(()); // `cargo bench -- --list` asks harness=false benches to list; nothing to list
    }
    let tasks = env_number("WASMESOS_BENCH_TASKS", 10_000);
    let rounds = env_number("WASMESOS_BENCH_ROUNDS", 3).max(1);
    let samples = env_number("WASMESOS_BENCH_SAMPLES", 500).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(tasks, rounds, samples))
}

/// Where the work dirs (and so every task's sandbox) live: the OS temp dir, and on Linux also
/// a tmpfs. Every task creates a sandbox directory with output files and the agent later
/// deletes it; on an ext4 without a journal each inode allocation then scans for recently
/// deleted inodes, which dominated the profile on the machine this was written on, so the
/// table shows how much of the cost is the filesystem's.
fn filesystems() -> Vec<(String, PathBuf)> {
    let mut places = vec![("temp dir".to_string(), std::env::temp_dir())];
    let shm = Path::new("/dev/shm");
    if cfg!(target_os = "linux") && shm.is_dir() {
        places.push(("tmpfs".to_string(), shm.to_path_buf()));
    }
    places
}

async fn run(tasks: usize, rounds: usize, samples: usize) -> BenchResult<()> {
    let mut rows = Vec::new();
    let only_fs = std::env::var("WASMESOS_BENCH_FS").ok();
    for (label, base) in filesystems() {
        if only_fs.as_ref().is_some_and(|only| *only != label) {
            continue;
        }
        rows.extend(measure(&label, &base, tasks, rounds, samples).await?);
    }
    println!();
    println!(
        "{:<54} {:>14} {:>28} {:>8}",
        "benchmark", "median", "baseline (same run)", "ratio"
    );
    for row in rows {
        println!("{row}");
    }
    println!("targets: >= 10000 tasks/s (2000 minimum); ACCEPT -> RUNNING p50 <= 1 ms");
    println!("         Mesos HTTP/JSON throughput >= 0.5 x gRPC");
    Ok(())
}

async fn measure(
    label: &str,
    base: &Path,
    tasks: usize,
    rounds: usize,
    samples: usize,
) -> BenchResult<Vec<String>> {
    let hello = Path::new(wasmesos_guest_artifacts::HELLO);
    let cluster = start_cluster(2, base).await?;
    let master = cluster.master_url();

    let digest = digest_of(&std::fs::read(hello)?);
    if let Ok(only) = std::env::var("WASMESOS_BENCH_ONLY") {
        // The component is uploaded by the gRPC path; do it once so the JSON URI resolves.
        throughput(&master, hello, 1, 0).await?;
        for round in 0..rounds {
            let rate = match only.as_str() {
                "json" => mesos_json::throughput(&master, &digest, tasks, round).await?,
                "grpc" => throughput(&master, hello, tasks, round).await?,
                other => return Err(format!("WASMESOS_BENCH_ONLY={other}: json or grpc").into()),
            };
            eprintln!("{label}, round {round}: {only} {rate:.0} tasks/s");
        }
        cluster.shutdown().await?;
        return Ok(Vec::new());
    }
    let mut cluster_rates = Vec::new();
    let mut json_rates = Vec::new();
    let mut executor_rates = Vec::new();
    for round in 0..rounds {
        let rate = throughput(&master, hello, tasks, round).await?;
        eprintln!("{label}, round {round}: cluster {rate:.0} tasks/s");
        cluster_rates.push(rate);
        let json_rate = mesos_json::throughput(&master, &digest, tasks, round).await?;
        eprintln!("{label}, round {round}: Mesos HTTP/JSON {json_rate:.0} tasks/s");
        json_rates.push(json_rate);
        let baseline = executor_throughput(hello, tasks, cluster.dir()).await?;
        eprintln!("{label}, round {round}: executor alone {baseline:.0} tasks/s");
        executor_rates.push(baseline);
    }
    let (running, rtt, two_rtt) = on_worker(latency_of(
        &master,
        hello,
        samples,
        &ClientAccess::default(),
    ))
    .await?;
    let json_running = {
        let (master, digest) = (master.clone(), digest.clone());
        on_worker(async move { mesos_json::latency(&master, &digest, samples).await }).await?
    };
    let synced = synced_appends(cluster.dir(), samples)?;
    cluster.shutdown().await?;
    let mut four_agent_rates = Vec::new();
    let cluster = start_cluster(4, base).await?;
    let master = cluster.master_url();
    for round in 0..rounds {
        let rate = throughput(&master, hello, tasks, round).await?;
        eprintln!("{label}, round {round}: 4 agents {rate:.0} tasks/s");
        four_agent_rates.push(rate);
    }
    cluster.shutdown().await?;

    // The same cluster with TLS on every port and every caller authenticated.
    let secured = Secured::new()?;
    let cluster = secured.start_cluster(2, base).await?;
    let master = cluster.master_url();
    let mut secured_rates = Vec::new();
    for round in 0..rounds {
        let rate = throughput_as(&master, hello, tasks, round, &secured.access).await?;
        eprintln!("{label}, round {round}: TLS and authentication {rate:.0} tasks/s");
        secured_rates.push(rate);
    }
    let (secured_running, ..) =
        on_worker(latency_of(&master, hello, samples, &secured.access)).await?;
    cluster.shutdown().await?;

    let cluster_rate = median(&mut cluster_rates);
    let secured_rate = median(&mut secured_rates);
    let json_rate = median(&mut json_rates);
    let executor_rate = median(&mut executor_rates);
    let four_agent_rate = median(&mut four_agent_rates);
    let mut rows = vec![
        format!(
            "{:<54} {:>14} {:>28} {:>8.2}",
            format!("throughput, {tasks} hello tasks, 2 agents, {label}"),
            format!("{cluster_rate:.0} tasks/s"),
            format!("executor alone {executor_rate:.0}/s"),
            cluster_rate / executor_rate
        ),
        format!(
            "{:<54} {:>14} {:>28} {:>8.2}",
            format!("  the same, 4 agents, {label}"),
            format!("{four_agent_rate:.0} tasks/s"),
            format!("2 agents {cluster_rate:.0}/s"),
            four_agent_rate / cluster_rate
        ),
        format!(
            "{:<54} {:>14} {:>28} {:>8.2}",
            format!("  the same, Mesos HTTP API in JSON, {label}"),
            format!("{json_rate:.0} tasks/s"),
            format!("gRPC {cluster_rate:.0}/s"),
            json_rate / cluster_rate
        ),
        format!(
            "{:<54} {:>14} {:>28} {:>8.2}",
            format!("  the same, TLS and authentication, {label}"),
            format!("{secured_rate:.0} tasks/s"),
            format!("plain {cluster_rate:.0}/s"),
            secured_rate / cluster_rate
        ),
    ];
    for (name, quantile) in [("p50", 0.50), ("p99", 0.99)] {
        let value = percentile(&running, quantile);
        let base = percentile(&rtt, quantile);
        rows.push(format!(
            "{:<54} {:>14} {:>28} {:>8.2}",
            format!("ACCEPT -> TASK_RUNNING {name} ({samples} tasks), {label}"),
            format!("{:.3} ms", millis(value)),
            format!("gRPC round trip {:.3} ms", millis(base)),
            value.as_secs_f64() / base.as_secs_f64()
        ));
        let synced_value = percentile(&synced, quantile);
        let floor = percentile(&two_rtt, quantile) + synced_value * 2;
        rows.push(format!(
            "{:<54} {:>14} {:>28} {:>8.2}",
            format!("  its floor {name}: 4 legs + 2 synced appends, {label}"),
            format!("{:.3} ms", millis(floor)),
            format!("synced append {:.3} ms", millis(synced_value)),
            value.as_secs_f64() / floor.as_secs_f64()
        ));
        let secured_value = percentile(&secured_running, quantile);
        rows.push(format!(
            "{:<54} {:>14} {:>28} {:>8.2}",
            format!("  the same {name}, TLS and authentication, {label}"),
            format!("{:.3} ms", millis(secured_value)),
            format!("plain {:.3} ms", millis(value)),
            secured_value.as_secs_f64() / value.as_secs_f64()
        ));
        let json_value = percentile(&json_running, quantile);
        rows.push(format!(
            "{:<54} {:>14} {:>28} {:>8.2}",
            format!("  the same {name}, Mesos HTTP API in JSON, {label}"),
            format!("{:.3} ms", millis(json_value)),
            format!("gRPC {:.3} ms", millis(value)),
            json_value.as_secs_f64() / value.as_secs_f64()
        ));
    }
    Ok(rows)
}

/// A master and `agents` agents of 2 cpus and 8 GiB each, their work dirs under `base`.
async fn start_cluster(agents: usize, base: &Path) -> BenchResult<Cluster> {
    Ok(Cluster::start(cluster_config(agents, base)).await?)
}

fn cluster_config(agents: usize, base: &Path) -> ClusterConfig {
    let mut config = ClusterConfig::new(agents).agent_resources("cpus:2;mem:8GiB;disk:8GiB");
    config.base_dir = Some(base.to_path_buf());
    config.agent.executor.max_concurrent_tasks = 1024;
    config.agent.status_update_retry = Duration::from_secs(10);
    config
}

/// A driver config for `name` with `access`'s TLS trust and credential.
fn driver_config(master: &str, name: &str, access: &ClientAccess) -> DriverConfig {
    let mut config = DriverConfig::new(master, name);
    config.tls = access.tls.clone();
    config.credential = access.credential.clone();
    config
}

/// What a cluster with TLS on every port and authentication for every caller needs: a CA,
/// certificates for the master and the agents, and credentials.
struct Secured {
    pki: TestPki,
    files: tempfile::TempDir,
    access: ClientAccess,
}

impl Secured {
    fn new() -> BenchResult<Self> {
        let pki = TestPki::new("wasmesos-bench")?;
        let files = tempfile::tempdir()?;
        let credentials = r#"{"credentials": [{"principal": "bench", "secret": "bench-secret"},
            {"principal": "agent", "secret": "agent-secret"}]}"#;
        std::fs::write(files.path().join("credentials.json"), credentials)?;
        std::fs::write(
            files.path().join("agent.credential"),
            "agent agent-secret\n",
        )?;
        let access = ClientAccess {
            tls: ClientTls {
                ca: Some(pki.ca().to_path_buf()),
                identity: None,
            },
            credential: Some(Credential::new("bench", "bench-secret")?),
        };
        Ok(Self { pki, files, access })
    }

    async fn start_cluster(&self, agents: usize, base: &Path) -> BenchResult<Cluster> {
        let mut config = cluster_config(agents, base);
        let credentials = Credentials::from_file(&self.files.path().join("credentials.json"))?;
        config.master.security.authentication = Authentication::required(credentials);
        config.master.tls = MasterTls {
            identity: Some(self.pki.issue("master")?),
            client_ca: None,
            ca: Some(self.pki.ca().to_path_buf()),
        };
        config.agent.tls = AgentTls {
            identity: Some(self.pki.issue("agent")?),
            ca: Some(self.pki.ca().to_path_buf()),
        };
        config.agent.credential_file = Some(self.files.path().join("agent.credential"));
        config.access = self.access.clone();
        Ok(Cluster::start(config).await?)
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(sorted: &[Duration], quantile: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * quantile).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// A framework that launches `total` hello tasks as fast as offers allow.
struct Flood {
    digest: String,
    round: usize,
    launched: usize,
    finished: usize,
    total: usize,
    started: Option<Instant>,
    done: Option<oneshot::Sender<Instant>>,
    /// Tasks that ended otherwise than FINISHED, by state, reason and message.
    failures: BTreeMap<String, usize>,
}

impl Scheduler for Flood {
    async fn offers(&mut self, driver: &Driver, offers: Vec<Offer>) {
        for offer in offers {
            let mut left = Capacity::of(&offer);
            let shape = TaskBuilder::new("", "").cpus(TASK_CPUS).mem(TASK_MEM);
            let mut tasks = Vec::new();
            while self.launched < self.total && left.take(shape.resources()) {
                let id = format!("r{}-t{}", self.round, self.launched);
                self.launched += 1;
                let task = TaskBuilder::new(id, &self.digest)
                    .cpus(TASK_CPUS)
                    .mem(TASK_MEM)
                    .build_for(&offer);
                tasks.push(task);
            }
            if tasks.is_empty() {
                let _ = driver
                    .decline([offer.id], Some(refuse_for(Duration::from_secs(60))))
                    .await;
                continue;
            }
            self.started.get_or_insert_with(Instant::now);
            let _ = driver
                .launch_with_filters([offer.id], tasks, refuse_for(Duration::ZERO))
                .await;
        }
    }

    async fn update(&mut self, driver: &Driver, status: &TaskStatus) {
        if !status.state().is_terminal() {
            return;
        }
        if status.state() != TaskState::TaskFinished {
            let key = format!(
                "{:?} {:?}: {}",
                status.state(),
                status.reason(),
                status.message
            );
            *self.failures.entry(key).or_default() += 1;
        }
        self.finished += 1;
        if self.finished == self.total {
            // Acknowledge this last update too before stopping the clock.
            driver.acknowledge(status);
            driver.flush_acknowledgements().await;
            if let Some(done) = self.done.take() {
                let _ = done.send(Instant::now());
            }
            driver.stop();
        }
    }
}

async fn throughput(master: &str, hello: &Path, total: usize, round: usize) -> BenchResult<f64> {
    throughput_as(master, hello, total, round, &ClientAccess::default()).await
}

async fn throughput_as(
    master: &str,
    hello: &Path,
    total: usize,
    round: usize,
    access: &ClientAccess,
) -> BenchResult<f64> {
    let driver = Driver::connect(driver_config(master, &format!("flood-{round}"), access)).await?;
    let digest = driver.upload_executor(hello, None).await?.digest;
    let (done_tx, done_rx) = oneshot::channel();
    let mut flood = Flood {
        digest,
        round,
        launched: 0,
        finished: 0,
        total,
        started: None,
        done: Some(done_tx),
        failures: BTreeMap::new(),
    };
    driver.run(&mut flood).await?;
    let finished_at = done_rx.await?;
    let started = flood.started.ok_or("no task was launched")?;
    for (what, count) in &flood.failures {
        eprintln!("warning: {count} of {total} tasks ended {what}");
    }
    // Duplicates may still be in flight; the framework is done with them.
    let _ = driver.teardown().await;
    Ok(total as f64 / (finished_at - started).as_secs_f64())
}

/// The same runs on one executor in this process: the sandbox's own cost, with the same
/// limits and 2 × 200 tasks in flight like the agents above.
async fn executor_throughput(hello: &Path, total: usize, dir: &Path) -> BenchResult<f64> {
    let executor = Executor::new(ExecutorConfig {
        max_concurrent_tasks: 1024,
        ..ExecutorConfig::default()
    })?;
    let program = executor.load_file(hello).await?;
    let sandboxes = dir.join("executor-baseline");
    let in_flight = 400;
    let started = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for index in 0..total {
        if running.len() >= in_flight {
            running.join_next().await;
        }
        let mut spec = TaskSpec::new(format!("t{index}"), sandboxes.join(format!("t{index}")));
        spec.limits = Limits {
            mem_bytes: TASK_MEM,
            cpus: Some(TASK_CPUS),
            ..Limits::default()
        };
        let task = executor.launch(&program, spec)?;
        running.spawn(task.wait());
    }
    while running.join_next().await.is_some() {}
    let rate = total as f64 / started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&sandboxes);
    Ok(rate)
}

/// Runs `measuring` on a runtime worker, where a framework built on the SDK runs its
/// scheduler. From the thread that only waits in `block_on`, every call and every event
/// would cost one more thread wake-up, which no such framework pays.
async fn on_worker<T: Send + 'static>(
    measuring: impl Future<Output = BenchResult<T>> + Send + 'static,
) -> BenchResult<T> {
    tokio::spawn(measuring).await?
}

/// [`latency`] with owned arguments, for [`on_worker`].
fn latency_of(
    master: &str,
    hello: &Path,
    samples: usize,
    access: &ClientAccess,
) -> impl Future<Output = BenchResult<(Samples, Samples, Samples)>> + Send + 'static {
    let (master, hello, access) = (master.to_owned(), hello.to_path_buf(), access.clone());
    async move { latency(&master, &hello, samples, &access).await }
}

/// Sorted durations of many runs of one thing.
type Samples = Vec<Duration>;

/// ACCEPT → RUNNING for `samples` tasks launched one at a time, the gRPC round trip, and two
/// round trips in a row: the four one-way legs that ACCEPT → RUNNING crosses.
async fn latency(
    master: &str,
    hello: &Path,
    samples: usize,
    access: &ClientAccess,
) -> BenchResult<(Samples, Samples, Samples)> {
    let mut framework =
        TestFramework::with_config(driver_config(master, "latency", access)).await?;
    let bytes = std::fs::read(hello)?;
    let digest = digest_of(&bytes);
    framework
        .driver
        .upload_executor_bytes("hello.wasm", bytes, None)
        .await?;
    let mut running = Vec::with_capacity(samples);
    for sample in 0..samples {
        let offers = framework.next_offers().await?;
        let Some((offer, rest)) = offers.split_first() else {
            continue;
        };
        let rest: Vec<String> = rest.iter().map(|offer| offer.id.clone()).collect();
        if !rest.is_empty() {
            framework
                .driver
                .decline(rest, Some(refuse_for(Duration::ZERO)))
                .await?;
        }
        let task_id = format!("latency-{sample}");
        let task = TaskBuilder::new(&task_id, &digest)
            .cpus(TASK_CPUS)
            .mem(TASK_MEM)
            .build_for(offer);
        let start = Instant::now();
        framework
            .driver
            .launch_with_filters([offer.id.clone()], vec![task], refuse_for(Duration::ZERO))
            .await?;
        framework
            .wait_for_status(&task_id, |state| state == TaskState::TaskRunning)
            .await?;
        running.push(start.elapsed());
        framework.wait_for_terminal(&task_id).await?;
    }
    let mut client = ArtifactsClient::new(framework.driver.channel());
    let stat = StatRequest { digest };
    let mut rtt = Vec::with_capacity(samples);
    let mut two_rtt = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        client.stat(stat.clone()).await?;
        rtt.push(start.elapsed());
        let start = Instant::now();
        client.stat(stat.clone()).await?;
        client.stat(stat.clone()).await?;
        two_rtt.push(start.elapsed());
    }
    framework.teardown().await?;
    running.sort();
    rtt.sort();
    two_rtt.sort();
    Ok((running, rtt, two_rtt))
}

/// One synced append of a task-sized record (a `TaskStatus` is a few hundred bytes) to a
/// journal under `dir`, as the master's registry and the agent's checkpoint make, `samples`
/// times: the disk's share of ACCEPT → RUNNING.
fn synced_appends(dir: &Path, samples: usize) -> BenchResult<Samples> {
    let path = dir.join("latency-floor.journal");
    let mut journal = Journal::open(&path, JournalOptions::new("bench-floor", 1))?;
    let mut took = Vec::with_capacity(samples);
    for sample in 0..samples {
        let entry = Entry::put(0, sample.to_be_bytes().to_vec(), vec![7; 300]);
        let start = Instant::now();
        journal.write(vec![entry], true)?;
        took.push(start.elapsed());
    }
    drop(journal);
    std::fs::remove_file(&path)?;
    took.sort();
    Ok(took)
}
