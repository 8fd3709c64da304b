//! Marathon's deployment time, printed as a table: `POST /v2/apps` of one app with N
//! instances of the `http-hello` wasi:http service (default 1,000), each with an HTTP health
//! check every second, until Marathon counts all N RUNNING and then all N healthy; a median
//! over a few rounds, each round deleting the app and waiting for its tasks to end first. A
//! first, cold round (each agent compiles the component) is printed apart.
//!
//! The cluster is `wasmesos dev`'s: a master and 4 agents in this process (the harness's
//! `ClusterConfig::local`, production heartbeats and timeouts, 1,024 instance slots per
//! agent; `dev`'s 2 agents hold 512 services of 4 slots each, so 4 here), each agent with
//! its own quarter of the ports, and Marathon in the same process on its own port, reached
//! over HTTP as a client would.
//!
//! Reference (no baseline of our own can run Marathon here): the OpenStack performance
//! team measured Marathon 0.15.2 on Mesos 0.27 with 189 agents starting one app of 500
//! Docker instances in a median of 14.18 s and of 100 in 6.09 s ("Results of measuring
//! performance of Mesos Marathon", docs.openstack.org performance-docs).
//!
//! `WASMESOS_BENCH_INSTANCES` (default 1000) and `WASMESOS_BENCH_ROUNDS` (default 3) resize
//! it. Run: `cargo bench -p wasmesos-marathon --bench deploy`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::oneshot;
use wasmesos_harness::{Cluster, ClusterConfig, TestFramework, env_number};
use wasmesos_marathon::MarathonConfig;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

const AGENTS: usize = 4;
/// Instance slots of each agent (`ClusterConfig::local`, as `wasmesos dev`).
const SLOTS_PER_AGENT: usize = 1024;
/// Slots one wasi:http service holds: its `max_concurrency`, 4 by default.
const SLOTS_PER_SERVICE: usize = 4;
/// How long one round may take before the bench gives up.
const ROUND_LIMIT: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(50);

fn main() -> BenchResult<()> {
    if std::env::args().any(|arg| arg == "--list") {
        return Ok(()); // `cargo bench -- --list` asks harness=false benches to list
    }
    let instances = env_number("WASMESOS_BENCH_INSTANCES", 1000).max(1);
    let rounds = env_number("WASMESOS_BENCH_ROUNDS", 3).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench(instances, rounds))
}

struct Round {
    running: Duration,
    healthy: Duration,
}

async fn bench(instances: usize, rounds: usize) -> BenchResult<()> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    // Each task takes one port, so an agent's ports bound how many tasks it gets: a fair
    // share each, since every service holds SLOTS_PER_SERVICE of its agent's instance slots.
    let per_agent = instances.div_ceil(AGENTS);
    if per_agent * SLOTS_PER_SERVICE > SLOTS_PER_AGENT {
        return Err(format!(
            "{instances} services need more than {AGENTS} agents' {SLOTS_PER_AGENT} instance slots"
        )
        .into());
    }
    let mut cluster = Cluster::start(ClusterConfig::local(0, loopback)).await?;
    for index in 0..AGENTS {
        // Agents share this host's ports: each offers its own range.
        let first = 20_000 + index * per_agent;
        let last = first + per_agent - 1;
        let resources = format!("cpus:16;mem:32GiB;disk:32GiB;ports:[{first}-{last}]");
        cluster.add_agent(&resources).await?;
    }
    cluster.wait_for_active_agents(AGENTS).await?;
    let master = cluster.master_url();
    let digest = upload(&master, wasmesos_guest_artifacts::HTTP_HELLO).await?;

    let work_dir = tempfile::tempdir()?;
    let listener = tokio::net::TcpListener::bind(loopback).await?;
    let marathon = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    let config = MarathonConfig::new(master.clone(), work_dir.path());
    let served = tokio::spawn(wasmesos_marathon::serve(listener, config, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();

    println!(
        "Marathon deployment: one app of {instances} http-hello instances (HTTP health check \
         every 1 s), {AGENTS} agents and the master in process, Marathon over HTTP"
    );
    println!(
        "{:>6}  {:>14}  {:>14}",
        "round", "all RUNNING s", "all healthy s"
    );
    let mut results = Vec::new();
    // Round 0 is cold: each agent compiles the component once (then loads it from its
    // cache), so it is printed but left out of the median.
    for round in 0..=rounds {
        let id = format!("/bench-{round}");
        let result = deploy(&http, &marathon, &id, &digest, instances).await?;
        let label = if round == 0 {
            "cold".to_string()
        } else {
            round.to_string()
        };
        println!(
            "{label:>6}  {:>14.2}  {:>14.2}",
            result.running.as_secs_f64(),
            result.healthy.as_secs_f64()
        );
        if round > 0 {
            results.push(result);
        }
        remove(&http, &marathon, &master, &id).await?;
    }
    let running = median(results.iter().map(|r| r.running).collect());
    let healthy = median(results.iter().map(|r| r.healthy).collect());
    println!(
        "median  {:>14.2}  {:>14.2}   ({:.0} instances/s to RUNNING, {:.0}/s to healthy)",
        running.as_secs_f64(),
        healthy.as_secs_f64(),
        instances as f64 / running.as_secs_f64(),
        instances as f64 / healthy.as_secs_f64()
    );
    println!(
        "reference: Marathon 0.15.2 / Mesos 0.27, 189 agents, Docker: 500 instances in 14.18 s \
         (35/s), 100 in 6.09 s (OpenStack performance-docs, median of one app's creation)"
    );
    let _ = stop.send(());
    served.await??;
    cluster.shutdown().await?;
    Ok(())
}

/// POSTs the app and times it until Marathon counts every instance RUNNING, then healthy.
async fn deploy(
    http: &reqwest::Client,
    marathon: &str,
    id: &str,
    digest: &str,
    instances: usize,
) -> BenchResult<Round> {
    let app = json!({
        "id": id,
        "cmd": "http-hello.wasm",
        "cpus": 0.01,
        "mem": 16,
        "instances": instances,
        "fetch": [{"uri": format!("wasmesos://sha256:{digest}"), "outputFile": "http-hello.wasm"}],
        "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0,
                          "gracePeriodSeconds": 300, "intervalSeconds": 1,
                          "timeoutSeconds": 5, "delaySeconds": 0,
                          "maxConsecutiveFailures": 3}],
    });
    let started = Instant::now();
    let response = http
        .post(format!("{marathon}/v2/apps"))
        .header("content-type", "application/json")
        .body(app.to_string())
        .send()
        .await?;
    if response.status().as_u16() != 201 {
        return Err(format!("POST /v2/apps: {}", response.text().await?).into());
    }
    let mut running = None;
    loop {
        let counts = app_counts(http, marathon, id).await?;
        if running.is_none() && counts.0 >= instances {
            running = Some(started.elapsed());
        }
        if let Some(running) = running
            && counts.1 >= instances
        {
            return Ok(Round {
                running,
                healthy: started.elapsed(),
            });
        }
        if started.elapsed() > ROUND_LIMIT {
            return Err(
                format!("{id}: {counts:?} (running, healthy) after {ROUND_LIMIT:?}").into(),
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `tasksRunning` and `tasksHealthy` of the app.
async fn app_counts(
    http: &reqwest::Client,
    marathon: &str,
    id: &str,
) -> BenchResult<(usize, usize)> {
    let body = http
        .get(format!("{marathon}/v2/apps?id={id}"))
        .send()
        .await?
        .text()
        .await?;
    let answer: Value = serde_json::from_str(&body)?;
    let app = answer["apps"]
        .as_array()
        .and_then(|apps| apps.iter().find(|app| app["id"] == id))
        .ok_or_else(|| format!("{id} missing from /v2/apps"))?;
    let count = |key: &str| app[key].as_u64().unwrap_or(0) as usize;
    Ok((count("tasksRunning"), count("tasksHealthy")))
}

/// Deletes the app and waits until the master counts none of Marathon's tasks active.
async fn remove(http: &reqwest::Client, marathon: &str, master: &str, id: &str) -> BenchResult<()> {
    http.delete(format!("{marathon}/v2/apps{id}?force=true"))
        .send()
        .await?
        .error_for_status()?;
    let started = Instant::now();
    loop {
        let body = http
            .get(format!("{master}/frameworks"))
            .send()
            .await?
            .text()
            .await?;
        let frameworks: Value = serde_json::from_str(&body)?;
        let active: u64 = frameworks
            .as_array()
            .map(|list| list.iter().filter_map(|f| f["active_tasks"].as_u64()).sum())
            .unwrap_or(0);
        if active == 0 {
            return Ok(());
        }
        if started.elapsed() > ROUND_LIMIT {
            return Err(format!("{active} tasks still active after deleting {id}").into());
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn upload(master: &str, path: &str) -> BenchResult<String> {
    let uploader = TestFramework::start(master, "uploader", None).await?;
    let digest = uploader
        .driver
        .upload_executor(Path::new(path), None)
        .await?
        .digest;
    uploader.teardown().await?;
    Ok(digest)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}
