//! Chronos jobs per second, sustained, with 1,000 jobs on a 1 s period, printed as a table:
//!
//! - cluster: Chronos (in this process, on its redb file) on 1 master + 2 agents (in
//!   process, with `wasmesos dev`'s production heartbeats and timeouts), 1,000 jobs `R/<start>/PT1S` running `hello` from the master's store; after a
//!   warm-up, the successes counted per second over a window, median (and the lowest
//!   second); the ideal is 1,000/s;
//! - baseline: the scheduler core alone (the same 1,000 jobs for 3 s of virtual time, one offer
//!   that fits all, every run finishing at once), with its durable writes (one group commit
//!   before the launches and one per 50 finished runs): what Chronos itself could sustain if
//!   agents were free.
//!
//! `WASMESOS_BENCH_JOBS` (default 1000), `WASMESOS_BENCH_SECONDS` (default 10, the window)
//! and `WASMESOS_BENCH_ROUNDS` (default 3, core rounds) resize it.
//! Run: `cargo bench -p wasmesos-chronos --bench jobs`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasmesos_chronos::ChronosConfig;
use wasmesos_chronos::model::Job;
use wasmesos_chronos::state::State;
use wasmesos_harness::{Cluster, ClusterConfig, TestFramework};
use wasmesos_proto::{Offer, Resource, Resources, TaskState, TaskStatus, ValueType};
use wasmesos_sdk_scheduler::durable::Durable;
use wasmesos_sdk_scheduler::time::Timestamp;

/// Virtual seconds of each core round.
const CORE_SECONDS: usize = 3;
/// Finished runs whose updates share one group commit in the core rounds.
const CORE_GROUP: usize = 50;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn job(name: &str, digest: &str, start: Timestamp) -> Value {
    json!({
        "name": name,
        "command": "hello.wasm",
        "schedule": format!("R/{}/PT1S", start.iso()),
        "epsilon": "PT30S",
        "cpus": 0.01,
        "mem": 16,
        "disk": 0,
        "concurrent": true,
        "fetch": [{"uri": format!("wasmesos://sha256:{digest}"), "output_file": "hello.wasm"}],
    })
}

fn main() -> BenchResult<()> {
    if std::env::args().any(|arg| arg == "--list") {
        return Ok(());
    }
    // `RUST_LOG=wasmesos_chronos=info` shows what Chronos does meanwhile.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let jobs = env_number("WASMESOS_BENCH_JOBS", 1000);
    let seconds = env_number("WASMESOS_BENCH_SECONDS", 10).max(2);
    let rounds = env_number("WASMESOS_BENCH_ROUNDS", 3).max(1);
    let mut core: Vec<f64> = (0..rounds)
        .map(|_| core_round(jobs, CORE_SECONDS))
        .collect::<BenchResult<_>>()?;
    let core = median(&mut core);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (mut per_second, errors) = runtime.block_on(cluster_round(jobs, seconds))?;
    let lowest = per_second.iter().copied().fold(f64::INFINITY, f64::min);
    let sustained = median(&mut per_second);
    println!("Chronos, {jobs} jobs on a 1 s period (ideal {jobs} runs/s)");
    println!("{:<44} {:>12} {:>10}", "", "runs/s", "vs ideal");
    let ideal = jobs as f64;
    println!(
        "{:<44} {:>12.0} {:>9.2}x",
        format!("cluster, median second of {seconds}"),
        sustained,
        sustained / ideal
    );
    println!(
        "{:<44} {:>12.0} {:>9.2}x",
        "cluster, lowest second",
        lowest,
        lowest / ideal
    );
    println!(
        "{:<44} {:>12.0} {:>9.2}x",
        format!("baseline: scheduler core alone, median of {rounds}"),
        core,
        core / ideal
    );
    println!("failed runs in the window: {errors}");
    Ok(())
}

/// The core in virtual time: `seconds` seconds of `jobs` jobs; runs processed per wall
/// second.
fn core_round(jobs: usize, seconds: usize) -> BenchResult<f64> {
    let dir = tempfile::tempdir()?;
    let store = Durable::open(dir.path(), "chronos.redb")?;
    let mut state = State::load(store, Duration::from_secs(60))?;
    let t0 = Timestamp(1_767_225_600_000);
    let digest = "ab".repeat(32);
    for n in 0..jobs {
        let job = Job::from_json(&job(&format!("job-{n}"), &digest, t0)).ok_or("a job")?;
        state.put(job, t0).map_err(|r| format!("{r:?}"))?;
    }
    let offer = big_offer();
    let started = Instant::now();
    let mut runs = 0usize;
    for second in 0..seconds {
        let now = t0.plus(Duration::from_secs(second as u64));
        state.step(now);
        let (launches, _) = state.on_offers(std::slice::from_ref(&offer), now);
        // The launches wait for their runs' records: one group commit.
        state.flush()?;
        for (n, task) in launches.iter().flat_map(|l| &l.tasks).enumerate() {
            for phase in [TaskState::TaskRunning, TaskState::TaskFinished] {
                let status = TaskStatus {
                    task_id: task.task_id.clone(),
                    state: phase as i32,
                    ..TaskStatus::default()
                };
                state.on_status(&status, now);
            }
            runs += 1;
            if (n + 1) % CORE_GROUP == 0 {
                state.flush()?;
            }
        }
        state.flush()?;
    }
    Ok(runs as f64 / started.elapsed().as_secs_f64())
}

fn big_offer() -> Offer {
    let scalar = |name: &str, value: f64| Resource {
        name: name.into(),
        r#type: ValueType::Scalar as i32,
        value,
        ..Resource::default()
    };
    Offer {
        id: "o".into(),
        framework_id: "fw".into(),
        agent_id: "agent".into(),
        hostname: "host".into(),
        resources: Some(Resources {
            resources: vec![
                scalar("cpus", 1e6),
                scalar("mem", 1e15),
                scalar("disk", 1e15),
            ],
        }),
        role: "*".into(),
        unavailability: None,
    }
}

/// The real thing: successes per second over the window, and the errors counted in it.
async fn cluster_round(jobs: usize, seconds: usize) -> BenchResult<(Vec<f64>, u64)> {
    // What `wasmesos dev` runs: production heartbeats and timeouts.
    let config = ClusterConfig::local(2, "127.0.0.1:0".parse()?)
        .agent_resources("cpus:64;mem:64GiB;disk:64GiB");
    let cluster = Cluster::start(config).await?;
    let digest =
        TestFramework::upload_component(&cluster.master_url(), wasmesos_guest_artifacts::HELLO)
            .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let work_dir = cluster.dir().join("chronos");
    let chronos_config = ChronosConfig::new(cluster.master_url(), &work_dir);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let chronos = tokio::spawn(wasmesos_chronos::serve(listener, chronos_config, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    // Every job starts at the same second, once all are added: the time to add them is
    // estimated from the first ones (each add is one durable write).
    let started = Instant::now();
    let probe = jobs.min(20);
    let far = Timestamp::now().plus(Duration::from_secs(86_400));
    for n in 0..probe {
        add(&http, &url, &job(&format!("job-{n}"), &digest, far)).await?;
    }
    let per_job = started.elapsed() / u32::try_from(probe.max(1))?;
    // Each add also steps the state over every job: the later adds are slower.
    let margin = per_job * u32::try_from(jobs)? * 4 + Duration::from_secs(5);
    let start = Timestamp::now().plus(margin);
    for n in 0..jobs {
        add(&http, &url, &job(&format!("job-{n}"), &digest, start)).await?;
    }
    let late = Timestamp::now().since(start);
    if !late.is_zero() {
        println!(
            "(the last jobs were added {late:?} after their start; the warm-up follows the last)"
        );
    }
    // Warm up: the first runs compile the program on each agent.
    tokio::time::sleep(start.since(Timestamp::now()) + Duration::from_secs(5)).await;
    let (mut before, errors_before) = totals(&http, &url).await?;
    let mut per_second = Vec::new();
    let mut at = Instant::now();
    for _ in 0..seconds {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (now, _) = totals(&http, &url).await?;
        let elapsed = at.elapsed().as_secs_f64();
        at = Instant::now();
        per_second.push(now.saturating_sub(before) as f64 / elapsed);
        before = now;
    }
    let (_, errors_after) = totals(&http, &url).await?;
    let _ = stop.send(());
    chronos.await??;
    cluster.shutdown().await?;
    Ok((per_second, errors_after.saturating_sub(errors_before)))
}

async fn add(http: &reqwest::Client, url: &str, job: &Value) -> BenchResult<()> {
    let answer = http
        .post(format!("{url}/v1/scheduler/iso8601"))
        .header("content-type", "application/json")
        .body(job.to_string())
        .send()
        .await?;
    if answer.status() != 204 {
        return Err(format!("adding a job: {}", answer.status()).into());
    }
    Ok(())
}

/// Successes and errors summed over every job.
async fn totals(http: &reqwest::Client, url: &str) -> BenchResult<(u64, u64)> {
    let text = http
        .get(format!("{url}/v1/scheduler/jobs"))
        .send()
        .await?
        .text()
        .await?;
    let jobs: Vec<Value> = serde_json::from_str(&text)?;
    let sum = |key: &str| jobs.iter().filter_map(|j| j[key].as_u64()).sum::<u64>();
    Ok((sum("successCount"), sum("errorCount")))
}
