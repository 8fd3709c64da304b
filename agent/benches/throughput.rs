//! Agent throughput and launch latency, against the bare executor as the baseline.
//!
//! One real agent is driven over gRPC by the tests' fake master (which acknowledges every
//! update on receipt). Each round launches `TASKS` trivial `wordcount` tasks in launch
//! commands of `PER_LAUNCH` (as one accepted offer would) and stops the clock when the last
//! terminal update has reached the master and been acknowledged. The baseline runs the same
//! tasks straight on a `wasm-executor` in the same process, with no agent, no gRPC and no
//! status updates. Latency is launch command sent → TASK_RUNNING received, one task at a time.
//!
//! Run: `cargo bench -p wasmesos-agent --bench throughput` (prints a table).

#[path = "../tests/agent/fake_master.rs"]
#[allow(dead_code)]
mod fake_master;

use std::time::{Duration, Instant};

use fake_master::{AckPolicy, FakeMaster};
use wasmesos_agent::{AgentConfig, ExecutorConfig, parse_resources};
use wasmesos_proto::{ExecutorInfo, Resources, TaskInfo, TaskState};
use wasmesos_wasm_executor::{Executor, Limits, TaskSpec};

const TASKS: usize = 2_000;
const PER_LAUNCH: usize = 100;
const ROUNDS: usize = 5;
const LATENCY_SAMPLES: usize = 300;
const MEM: u64 = 16 << 20;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let work_dir = tempfile::tempdir().expect("temp dir");
    let executor_config = ExecutorConfig {
        cache_dir: Some(work_dir.path().join("compiled")),
        max_concurrent_tasks: 4_000,
        ..ExecutorConfig::default()
    };
    let master = FakeMaster::start(AckPolicy::OnReceipt(1)).await;
    let config = AgentConfig {
        master_url: master.url.clone(),
        listen: "127.0.0.1:0".parse().expect("socket address"),
        resources: Some(parse_resources("cpus:64;mem:64GiB;disk:64GiB").expect("resources")),
        work_dir: work_dir.path().join("agent"),
        executor: executor_config.clone(),
        ..AgentConfig::default()
    };
    let mut agent = wasmesos_agent::spawn(config).await.expect("agent starts");
    agent
        .registered(Duration::from_secs(30))
        .await
        .expect("agent registers");
    let digest = master.upload_file(wasmesos_guest_artifacts::WORDCOUNT);

    round(&master, &digest, "warmup", 200).await;
    let agent_rates: Vec<f64> = {
        let mut rates = Vec::new();
        for r in 0..ROUNDS {
            rates.push(round(&master, &digest, &format!("r{r}"), TASKS).await);
        }
        rates
    };
    let latencies = running_latencies(&master, &digest).await;
    agent.shutdown().await.expect("agent stops");

    let baseline_rates = baseline(executor_config, work_dir.path()).await;
    let agent_median = median(agent_rates.clone());
    let baseline_median = median(baseline_rates.clone());
    println!();
    println!(
        "agent throughput: {TASKS} wordcount tasks per round, {PER_LAUNCH} per launch, {ROUNDS} rounds"
    );
    println!("{:<44} {:>14} {:>14}", "", "median tasks/s", "rounds");
    println!(
        "{:<44} {:>14.0} {:>14}",
        "agent (launch -> FINISHED acked at master)",
        agent_median,
        format_rates(&agent_rates)
    );
    println!(
        "{:<44} {:>14.0} {:>14}",
        "baseline: bare executor (launch -> report)",
        baseline_median,
        format_rates(&baseline_rates)
    );
    println!(
        "{:<44} {:>14.2}",
        "ratio agent / baseline",
        agent_median / baseline_median
    );
    println!();
    println!("launch command -> TASK_RUNNING at the master, {LATENCY_SAMPLES} sequential tasks");
    println!(
        "{:<44} {:>10.0} us",
        "p50",
        percentile(&latencies, 0.50).as_secs_f64() * 1e6
    );
    println!(
        "{:<44} {:>10.0} us",
        "p99",
        percentile(&latencies, 0.99).as_secs_f64() * 1e6
    );
}

fn task(task_id: String, digest: &str) -> TaskInfo {
    TaskInfo {
        name: task_id.clone(),
        task_id,
        executor: Some(ExecutorInfo {
            digest: digest.into(),
            ..Default::default()
        }),
        resources: Some(Resources::from_scalars([
            ("cpus", 0.1),
            ("mem", MEM as f64),
        ])),
        data: b"a few words to count".to_vec(),
        ..Default::default()
    }
}

/// Launches `count` tasks and returns tasks per second until all are finished and acked.
async fn round(master: &FakeMaster, digest: &str, prefix: &str, count: usize) -> f64 {
    let done_before = master.recorded().terminals;
    let started = Instant::now();
    for batch in 0..count.div_ceil(PER_LAUNCH) {
        let tasks = (batch * PER_LAUNCH..((batch + 1) * PER_LAUNCH).min(count))
            .map(|n| task(format!("{prefix}-{n}"), digest))
            .collect();
        master.launch("bench", tasks).await;
    }
    let target = done_before + count;
    master
        .until("the round's terminal updates", |m| {
            (m.recorded().terminals >= target).then_some(())
        })
        .await;
    let elapsed = started.elapsed();
    let finished = master
        .recorded()
        .updates
        .iter()
        .filter(|s| {
            s.task_id.starts_with(&format!("{prefix}-")) && s.state() == TaskState::TaskFinished
        })
        .count();
    assert!(
        finished >= count,
        "{prefix}: only {finished} of {count} finished"
    );
    count as f64 / elapsed.as_secs_f64()
}

async fn running_latencies(master: &FakeMaster, digest: &str) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(LATENCY_SAMPLES);
    for n in 0..LATENCY_SAMPLES {
        let task_id = format!("latency-{n}");
        let sent = Instant::now();
        master
            .launch("bench", vec![task(task_id.clone(), digest)])
            .await;
        let arrived = master
            .until("TASK_RUNNING", |m| {
                let recorded = m.recorded();
                recorded
                    .updates
                    .iter()
                    .rposition(|s| s.task_id == task_id && s.state() == TaskState::TaskRunning)
                    .map(|i| recorded.arrivals[i])
            })
            .await;
        latencies.push(arrived - sent);
        master.terminal(&task_id).await;
    }
    latencies.sort();
    latencies
}

async fn baseline(config: ExecutorConfig, dir: &std::path::Path) -> Vec<f64> {
    let executor = Executor::new(config).expect("executor");
    let program = executor
        .load_file(wasmesos_guest_artifacts::WORDCOUNT.as_ref())
        .await
        .expect("load wordcount");
    let sandboxes = dir.join("baseline");
    let mut rates = Vec::new();
    for r in 0..ROUNDS {
        let started = Instant::now();
        let mut running = Vec::with_capacity(TASKS);
        for n in 0..TASKS {
            let task_id = format!("r{r}-{n}");
            let mut spec = TaskSpec::new(task_id.clone(), sandboxes.join(&task_id));
            spec.data = b"a few words to count".to_vec();
            spec.limits = Limits {
                mem_bytes: MEM,
                cpus: Some(0.1),
                ..Limits::default()
            };
            running.push(executor.launch(&program, spec).expect("launch"));
        }
        for task in running {
            task.wait().await;
        }
        rates.push(TASKS as f64 / started.elapsed().as_secs_f64());
    }
    rates
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

fn format_rates(rates: &[f64]) -> String {
    rates
        .iter()
        .map(|r| format!("{r:.0}"))
        .collect::<Vec<_>>()
        .join("/")
}
