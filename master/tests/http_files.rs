//! `/files/read` against a real agent: a tail of a task that wrote more than the agent's
//! output cap, the master's read cap, and follow mode ending when the task does.

mod common;
mod http_support;

use common::*;
use http_support::get;
use tempfile::TempDir;
use wasmesos_proto::v1::{
    AcceptRequest, ClusterState, ExecutorInfo, Filters, Operation, TaskInfo, TaskState, TaskStatus,
    event, operation,
};

const MIB: u64 = 1024 * 1024;
/// The master's cap on one read (`MAX_READ` in `master/src/http/files.rs`).
const MASTER_READ_CAP: u64 = MIB;
/// What the agent keeps of each output stream in these tests.
const AGENT_OUTPUT_CAP: u64 = 2 * MIB;

struct Cluster {
    master: Master,
    agent: wasmesos_agent::AgentHandle,
    _dir: TempDir,
}

async fn cluster() -> Cluster {
    let master = start(|_| {}).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = wasmesos_agent::AgentConfig {
        master_url: master.handle.url(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        resources: Some(wasmesos_agent::parse_resources("cpus:4;mem:2GiB;disk:1GiB").expect("res")),
        work_dir: dir.path().to_path_buf(),
        output_cap_bytes: AGENT_OUTPUT_CAP,
        // Files bigger than one read: more than the master's cap.
        read_file_max_bytes: 4 * MIB,
        ..wasmesos_agent::AgentConfig::default()
    };
    let mut agent = wasmesos_agent::spawn(config).await.expect("agent starts");
    agent.registered(DEADLINE).await.expect("agent registers");
    Cluster {
        master,
        agent,
        _dir: dir,
    }
}

/// Launches one task running `guest` with `args`; returns the framework's event stream.
async fn launch(
    master: &Master,
    task_id: &str,
    guest: &str,
    args: &[&str],
) -> tonic::Streaming<wasmesos_proto::v1::Event> {
    let digest = master
        .upload(&read_guest(guest), 0, "")
        .await
        .expect("upload")
        .digest;
    let (framework_id, mut events) = master.subscribe("files", &[]).await;
    let offer = next_offers(&mut events).await.remove(0);
    let task = TaskInfo {
        task_id: task_id.into(),
        executor: Some(ExecutorInfo {
            digest,
            args: args.iter().map(|a| a.to_string()).collect(),
            ..ExecutorInfo::default()
        }),
        resources: Some(cpus_mem(1.0, 256.0 * MIB as f64)),
        ..TaskInfo::default()
    };
    let accept = AcceptRequest {
        framework_id,
        offer_ids: vec![offer.id],
        operations: vec![Operation {
            operation: Some(operation::Operation::Launch(operation::Launch {
                tasks: vec![task],
            })),
        }],
        filters: Some(Filters {
            refuse_seconds: Some(3600.0),
        }),
    };
    master.scheduler().accept(accept).await.expect("accept");
    events
}

/// Waits for a status of `task_id` that `pick` accepts.
async fn status_where<S>(events: &mut S, task_id: &str, pick: impl Fn(&TaskStatus) -> bool)
where
    S: tokio_stream::Stream<Item = Result<wasmesos_proto::v1::Event, tonic::Status>> + Unpin,
{
    wait_for(events, |e| match e {
        event::Event::Update(u) => u
            .statuses
            .iter()
            .any(|s| s.task_id == task_id && pick(s))
            .then_some(()),
        _ => None,
    })
    .await;
}

fn is_terminal(status: &TaskStatus) -> bool {
    status.state().is_terminal()
}

/// The flood guest's line `n`: 64 bytes.
fn flood_line(n: u64) -> String {
    format!("flood line {n:020} {:031}\n", "")
}

#[tokio::test]
async fn a_flooding_tasks_tail_is_read_capped_and_whole_lines_at_the_end() {
    let cluster = cluster().await;
    let master = &cluster.master;
    let mut events = launch(
        master,
        "flood",
        wasmesos_guest_artifacts::STDOUT_FLOOD,
        &["3"],
    )
    .await;
    status_where(&mut events, "flood", |s| {
        s.state() == TaskState::TaskFinished
    })
    .await;
    let addr = master.handle.addr;

    // 3 MiB written, 64-byte lines: the last is number 3 MiB / 64 - 1.
    let last = flood_line(3 * MIB / 64 - 1);
    let tail = get(addr, "/files/read?task_id=flood&file=stdout&offset=-64").await;
    assert_eq!(tail.status, 200, "{}", tail.text());
    let tail = tail.json();
    assert_eq!(tail["data"], last.as_str());
    assert_eq!(tail["length"], 64);
    assert_eq!(tail["growing"], false);
    let size = tail["size"].as_u64().expect("size");
    assert!(
        size > MASTER_READ_CAP && size <= AGENT_OUTPUT_CAP,
        "the agent keeps at most its cap of the 3 MiB written: {size}"
    );
    assert_eq!(tail["next_offset"], size);

    let all = get(addr, "/files/read?task_id=flood&length=100000000")
        .await
        .json();
    assert_eq!(all["length"], MASTER_READ_CAP, "one read is capped");
    assert_eq!(
        all["data"].as_str().map(str::len),
        Some(MASTER_READ_CAP as usize)
    );
    assert_eq!(
        all["next_offset"],
        all["offset"].as_u64().expect("offset") + MASTER_READ_CAP
    );

    let stderr = get(addr, "/files/read?task_id=flood&file=stderr")
        .await
        .json();
    assert_eq!(
        (stderr["length"].as_u64(), stderr["data"].as_str()),
        (Some(0), Some(""))
    );

    // Following a finished task's file from near its end returns the rest and ends.
    let followed = get(addr, "/files/read?task_id=flood&offset=-128&follow=true").await;
    assert_eq!(followed.status, 200);
    assert!(followed.content_type.starts_with("text/plain"));
    let before_last = flood_line(3 * MIB / 64 - 2);
    assert_eq!(followed.text(), format!("{before_last}{last}"));
    drop(cluster.agent);
}

#[tokio::test]
async fn follow_waits_for_output_and_ends_when_the_task_does() {
    let cluster = cluster().await;
    let master = &cluster.master;
    let mut events = launch(master, "nap", wasmesos_guest_artifacts::SLEEPY, &["3000"]).await;
    status_where(&mut events, "nap", |s| s.state() == TaskState::TaskRunning).await;
    let addr = master.handle.addr;
    let reading =
        tokio::spawn(async move { get(addr, "/files/read?task_id=nap&follow=true").await });
    status_where(&mut events, "nap", is_terminal).await;
    let followed = reading.await.expect("follow task");
    assert_eq!(followed.status, 200);
    assert_eq!(followed.text(), "awake\n");

    let finished = |s: &ClusterState| {
        s.tasks
            .iter()
            .any(|t| t.task_id == "nap" && t.state() == TaskState::TaskFinished)
    };
    let state = master.state_where(finished).await;
    let task = state
        .tasks
        .iter()
        .find(|t| t.task_id == "nap")
        .expect("task");
    assert_eq!(task.state(), TaskState::TaskFinished);
    drop(cluster.agent);
}

#[tokio::test]
async fn the_agent_serves_health_state_and_metrics_on_its_port() {
    let cluster = cluster().await;
    let master = &cluster.master;
    let mut events = launch(master, "nap", wasmesos_guest_artifacts::SLEEPY, &["0"]).await;
    status_where(&mut events, "nap", |s| s.state() == TaskState::TaskFinished).await;
    let addr = cluster.agent.addr();

    let health = get(addr, "/health").await;
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));

    let state = get(addr, "/state").await;
    assert_eq!(state.status, 200, "{}", state.text());
    let state = state.json();
    assert_eq!(
        state["id"],
        cluster.agent.agent_id().expect("registered").as_str()
    );
    assert_eq!(state["address"], cluster.agent.url().as_str());
    assert_eq!(state["resources"]["cpus"], 4.0);
    assert_eq!(
        state["resources"]["mem_bytes"],
        2.0 * 1024.0 * 1024.0 * 1024.0
    );
    assert_eq!(state["tasks"][0]["task_id"], "nap");
    assert_eq!(state["tasks"][0]["state"], "FINISHED");
    assert_eq!(state["compile_cache"]["compiled"], 1);
    assert!(state["unacknowledged_updates"].is_u64());

    let metrics = get(addr, "/metrics").await;
    assert!(metrics.content_type.starts_with("text/plain"));
    let text = metrics.text();
    for line in [
        "wasmesos_agent_tasks{state=\"FINISHED\"} 1",
        "wasmesos_agent_compile_cache_total{source=\"compiled\"} 1",
        "wasmesos_agent_compile_cache_total{source=\"disk\"} 0",
        "wasmesos_agent_registered 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
}
