//! Agent throughput and launch latency, against the bare executor as the baseline.
//!
//! One real agent is driven over gRPC by the tests' fake master (which acknowledges every
//! update on receipt). Each round launches `TASKS` trivial `wordcount` tasks in launch
//! commands of `PER_LAUNCH` (as one accepted offer would) and stops the clock when the last
//! terminal update has reached the master and been acknowledged. The baseline runs the same
//! tasks straight on a `wasm-executor` in the same process, with no agent, no gRPC and no
//! status updates, but with output in memory and sandbox dirs made beforehand, as the agent
//! runs them: the ratio is the agent's own overhead. Latency is launch command sent → TASK_RUNNING received, one task at a time.
//!
//! Besides tasks per second (wall clock, which other load on the machine skews), it reports
//! the process CPU time per task, which such load does not. The fake master runs in the same
//! process, so the agent's figures include its share.
//!
//! Run: `cargo bench -p wasmesos-agent --bench throughput` (prints a table).

#[path = "../tests/agent/fake_master.rs"]
#[allow(dead_code)]
mod fake_master;

use std::time::{Duration, Instant};

use cpu_time::ProcessTime;
use fake_master::{AckPolicy, FakeMaster};
use wasmesos_agent::{AgentConfig, ExecutorConfig, parse_resources};
use wasmesos_proto::{ExecutorInfo, Resources, TaskInfo, TaskState};
use wasmesos_wasm_executor::{Executor, Limits, OutputMemory, TaskSpec};

const TASKS: usize = 2_000;
const PER_LAUNCH: usize = 100;
const ROUNDS: usize = 5;
const LATENCY_SAMPLES: usize = 300;
const MEM: u64 = 16 << 20;
const DATA: &[u8] = b"a few words to count";

fn main() {
    // The agent turns off wasmtime's error backtraces itself (whatever RUST_BACKTRACE says);
    // the baseline, started after the agent in this process, benefits from that too.
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
    let registered = agent.registered(Duration::from_secs(30)).await;
    registered.expect("agent registers");
    let digest = master.upload_file(wasmesos_guest_artifacts::WORDCOUNT);

    round(&master, &digest, "warmup", 200).await;
    let mut agent_rounds = Vec::new();
    for r in 0..ROUNDS {
        agent_rounds.push(round(&master, &digest, &format!("r{r}"), TASKS).await);
    }
    let latencies = running_latencies(&master, &digest).await;
    agent.shutdown().await.expect("agent stops");
    let baseline_rounds = baseline(executor_config, work_dir.path()).await;
    print_table(&agent_rounds, &baseline_rounds, &latencies);
}

/// One measured round.
struct Round {
    tasks_per_second: f64,
    cpu_us_per_task: f64,
}

impl Round {
    fn measure(count: usize, started: Instant, cpu_started: ProcessTime) -> Round {
        Round {
            tasks_per_second: count as f64 / started.elapsed().as_secs_f64(),
            cpu_us_per_task: cpu_started.elapsed().as_secs_f64() * 1e6 / count as f64,
        }
    }
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
        data: DATA.to_vec(),
        ..Default::default()
    }
}

/// Launches `count` tasks and measures them until all are finished and acknowledged.
async fn round(master: &FakeMaster, digest: &str, prefix: &str, count: usize) -> Round {
    let done_before = master.recorded().terminals;
    let cpu_started = ProcessTime::now();
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
    let measured = Round::measure(count, started, cpu_started);
    let prefix = format!("{prefix}-");
    let finished = master
        .recorded()
        .updates
        .iter()
        .filter(|s| s.task_id.starts_with(&prefix) && s.state() == TaskState::TaskFinished)
        .count();
    assert!(
        finished >= count,
        "{prefix}: only {finished} of {count} finished"
    );
    measured
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

/// The same tasks on a bare executor, set up the way the agent runs them: output held in
/// memory and sandbox directories made once, before the clock starts, and reused.
async fn baseline(config: ExecutorConfig, dir: &std::path::Path) -> Vec<Round> {
    let executor = Executor::new(config).expect("executor");
    let program = executor
        .load_file(wasmesos_guest_artifacts::WORDCOUNT.as_ref())
        .await
        .expect("load wordcount");
    let sandboxes: Vec<_> = (0..TASKS)
        .map(|n| dir.join("baseline").join(n.to_string()))
        .collect();
    for sandbox in &sandboxes {
        std::fs::create_dir_all(sandbox).expect("sandbox dir");
    }
    let output_memory = AgentConfig::default().output_memory_bytes;
    let mut rounds = Vec::new();
    for r in 0..ROUNDS {
        let cpu_started = ProcessTime::now();
        let started = Instant::now();
        let mut running = Vec::with_capacity(TASKS);
        for (n, sandbox) in sandboxes.iter().enumerate() {
            let mut spec = TaskSpec::new(format!("r{r}-{n}"), sandbox);
            spec.data = DATA.to_vec();
            spec.limits = Limits {
                mem_bytes: MEM,
                cpus: Some(0.1),
                ..Limits::default()
            };
            spec.output.memory = Some(OutputMemory::new(output_memory));
            running.push(executor.launch(&program, spec).expect("launch"));
        }
        for task in running {
            task.wait().await;
        }
        rounds.push(Round::measure(TASKS, started, cpu_started));
    }
    rounds
}

fn print_table(agent: &[Round], baseline: &[Round], latencies: &[Duration]) {
    let rate = |rounds: &[Round]| median(rounds.iter().map(|r| r.tasks_per_second).collect());
    let cpu = |rounds: &[Round]| median(rounds.iter().map(|r| r.cpu_us_per_task).collect());
    println!();
    println!(
        "agent throughput: {TASKS} wordcount tasks per round, {PER_LAUNCH} per launch, \
         {ROUNDS} rounds (medians)"
    );
    println!(
        "{:<44} {:>9} {:>12}   tasks/s per round",
        "", "tasks/s", "CPU us/task"
    );
    for (name, rounds) in [
        ("agent (launch -> FINISHED acked at master)", agent),
        ("baseline: bare executor (launch -> report)", baseline),
    ] {
        let per_round: Vec<String> = rounds
            .iter()
            .map(|r| format!("{:.0}", r.tasks_per_second))
            .collect();
        println!(
            "{name:<44} {:>9.0} {:>12.1}   {}",
            rate(rounds),
            cpu(rounds),
            per_round.join("/")
        );
    }
    println!(
        "{:<44} {:>9.2} {:>12.2}",
        "ratio agent / baseline",
        rate(agent) / rate(baseline),
        cpu(agent) / cpu(baseline)
    );
    println!();
    println!("launch command -> TASK_RUNNING at the master, {LATENCY_SAMPLES} sequential tasks");
    for (name, p) in [("p50", 0.50), ("p99", 0.99)] {
        let micros = percentile(latencies, p).as_secs_f64() * 1e6;
        println!("{name:<44} {micros:>9.0} us");
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}
