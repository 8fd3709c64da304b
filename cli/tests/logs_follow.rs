//! `wasmesos logs --follow` against a cluster of OS processes: it waits while the task runs,
//! prints what the task writes, and exits once the task has ended.

use std::path::Path;
use std::process::Command;

use wasmesos_guest_artifacts as guests;
use wasmesos_harness::{ProcessCluster, TestFramework};
use wasmesos_proto::TaskState;
use wasmesos_sdk_scheduler::TaskBuilder;

const BINARY: &str = env!("CARGO_BIN_EXE_wasmesos");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_prints_until_the_task_ends() {
    let cluster = ProcessCluster::start(
        Path::new(BINARY),
        1,
        "cpus:2;mem:2GiB;disk:2GiB",
        &[],
        &["--max-tasks", "16"],
    )
    .await
    .expect("master and agent as processes");
    let master = cluster.master_url();
    let mut framework = TestFramework::start(&master, "follow", None)
        .await
        .expect("subscribe");
    let digest = framework
        .driver
        .upload_executor(Path::new(guests::SLEEPY), None)
        .await
        .expect("upload")
        .digest;
    let task = TaskBuilder::new("napper", &digest)
        .cpus(0.1)
        .mem(64 << 20)
        .args(["2000"]);
    framework.launch_one(task).await.expect("launch");
    framework
        .wait_for_status("napper", |state| state == TaskState::TaskRunning)
        .await
        .expect("running");
    let follow = tokio::task::spawn_blocking(move || {
        Command::new(BINARY)
            .args(["logs", "napper", "--follow"])
            .env("WASMESOS_MASTER", master)
            .env_remove("RUST_LOG")
            .output()
            .expect("the binary runs")
    });
    let ended = framework
        .wait_for_terminal("napper")
        .await
        .expect("terminal");
    assert_eq!(ended.state(), TaskState::TaskFinished, "{ended:?}");
    let output = follow.await.expect("follow");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "awake\n");
    framework.teardown().await.expect("teardown");
}
