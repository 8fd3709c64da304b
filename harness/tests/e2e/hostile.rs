//! Every hostile guest of the sandbox issue, through the whole cluster: each ends with the
//! reason a user can act on, and its agent keeps running tasks afterwards.

use std::time::Duration;

use wasmesos_guest_artifacts as guests;
use wasmesos_harness::{Cluster, ClusterConfig, TestFramework, read_task_file};
use wasmesos_proto::{Reason, SandboxFile, TaskState};
use wasmesos_sdk_scheduler::TaskBuilder;

use crate::common::{MIB, small_task, tracing, upload};

struct Case {
    guest: &'static str,
    task_id: &'static str,
    shape: fn(TaskBuilder) -> TaskBuilder,
    state: TaskState,
    reason: Reason,
    exit_code: Option<i32>,
}

fn failed(
    guest: &'static str,
    task_id: &'static str,
    shape: fn(TaskBuilder) -> TaskBuilder,
    reason: Reason,
) -> Case {
    Case {
        guest,
        task_id,
        shape,
        state: TaskState::TaskFailed,
        reason,
        exit_code: None,
    }
}

fn cases() -> Vec<Case> {
    vec![
        failed(
            guests::MEMORY_BOMB,
            "memory-bomb",
            |t| t.mem(32 * MIB),
            Reason::MemoryLimit,
        ),
        failed(
            guests::FUEL_BOMB,
            "fuel-bomb",
            |t| t.fuel(5_000_000),
            Reason::FuelExhausted,
        ),
        failed(
            guests::SPIN,
            "spin-forever",
            |t| t.timeout(Duration::from_millis(300)),
            Reason::Timeout,
        ),
        failed(
            guests::SLEEPY,
            "sleep-an-hour",
            |t| t.timeout(Duration::from_millis(300)),
            Reason::Timeout,
        ),
        failed(
            guests::DEEP_RECURSION,
            "deep-recursion",
            |t| t,
            Reason::StackOverflow,
        ),
        failed(
            guests::DISK_FILLER,
            "disk-filler",
            |t| t.disk(4 * MIB),
            Reason::DiskLimit,
        ),
        failed(guests::TRAP, "trap", |t| t, Reason::Trap),
        failed(
            guests::WORDCOUNT,
            "missing-file",
            |t| t.arg("no-such-file.txt"),
            Reason::GuestError,
        ),
        Case {
            exit_code: Some(3),
            ..failed(
                guests::HELLO,
                "exit-3",
                |t| t.args(["--exit", "3"]),
                Reason::ExitCode,
            )
        },
    ]
}

/// Runs `task` on the cluster's only agent and returns its terminal status.
async fn run(
    framework: &mut TestFramework,
    task: TaskBuilder,
    task_id: &str,
) -> wasmesos_proto::TaskStatus {
    framework.launch_one(task).await.expect("launch");
    framework
        .wait_for_terminal(task_id)
        .await
        .expect("terminal update")
}

async fn agent_still_runs_tasks(framework: &mut TestFramework, hello: &str, after: &str) {
    let task_id = format!("hello-after-{after}");
    let status = run(framework, small_task(&task_id, hello), &task_id).await;
    assert_eq!(
        status.state(),
        TaskState::TaskFinished,
        "after {after}: {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_guests_end_with_the_right_reason_and_the_agent_stays_healthy() {
    tracing();
    let mut config = ClusterConfig::new(1);
    config.agent.output_cap_bytes = MIB;
    let cluster = Cluster::start(config).await.expect("cluster");
    let url = cluster.master_url();
    let mut framework = TestFramework::start(&url, "hostile", None)
        .await
        .expect("subscribe");
    let hello = upload(&framework, guests::HELLO).await;

    for case in cases() {
        let digest = upload(&framework, case.guest).await;
        let task = (case.shape)(small_task(case.task_id, &digest));
        let status = run(&mut framework, task, case.task_id).await;
        assert_eq!(
            (status.state(), status.reason()),
            (case.state, case.reason),
            "{}: {status:?}",
            case.task_id
        );
        if case.exit_code.is_some() {
            assert_eq!(status.exit_code, case.exit_code, "{}", case.task_id);
        }
        agent_still_runs_tasks(&mut framework, &hello, case.task_id).await;
    }

    // Output floods are capped (tail kept) without failing or blocking the guest.
    let flood = upload(&framework, guests::STDOUT_FLOOD).await;
    let status = run(
        &mut framework,
        small_task("flood", &flood).arg("8"),
        "flood",
    )
    .await;
    assert_eq!(status.state(), TaskState::TaskFinished, "{status:?}");
    let stdout = read_task_file(&url, "flood", SandboxFile::Stdout)
        .await
        .expect("stdout");
    assert!(
        !stdout.is_empty() && stdout.len() as u64 <= MIB,
        "kept {} bytes",
        stdout.len()
    );

    // No way out of the sandbox, and nothing of the host's environment leaks in.
    let host_file = cluster.dir().join("secret.txt");
    std::fs::write(&host_file, "host secret").expect("write a host file");
    let escape = upload(&framework, guests::FS_ESCAPE).await;
    let task = small_task("fs-escape", &escape).arg(host_file.to_string_lossy());
    let status = run(&mut framework, task, "fs-escape").await;
    let stdout = read_task_file(&url, "fs-escape", SandboxFile::Stdout)
        .await
        .expect("stdout");
    let report = String::from_utf8_lossy(&stdout);
    assert_eq!(
        status.state(),
        TaskState::TaskFinished,
        "{status:?}\n{report}"
    );
    assert!(
        report.contains("BLOCKED") && !report.contains("ESCAPED"),
        "{report}"
    );

    let probe = upload(&framework, guests::ENV_PROBE).await;
    let task = small_task("env-probe", &probe).env("GREETING", "hi");
    let status = run(&mut framework, task, "env-probe").await;
    assert_eq!(status.state(), TaskState::TaskFinished, "{status:?}");
    let stdout = read_task_file(&url, "env-probe", SandboxFile::Stdout)
        .await
        .expect("stdout");
    let report = String::from_utf8_lossy(&stdout);
    assert!(report.lines().any(|line| line == "GREETING=hi"), "{report}");
    assert!(
        report.contains("probe PATH=<unset>") && report.contains("probe HOME=<unset>"),
        "{report}"
    );

    // No network unless granted: the connection is refused inside the sandbox.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let target = listener.local_addr().expect("address").to_string();
    let socket = upload(&framework, guests::SOCKET_ATTEMPT).await;
    let status = run(
        &mut framework,
        small_task("socket", &socket).arg(&target),
        "socket",
    )
    .await;
    assert_eq!(
        (status.state(), status.exit_code),
        (TaskState::TaskFailed, Some(3)),
        "{status:?}"
    );
    listener.set_nonblocking(true).expect("non-blocking");
    assert!(
        listener.accept().is_err(),
        "nothing connected to the host listener"
    );

    // A component importing what agents lack never gets stored.
    let refused = framework
        .driver
        .upload_executor(std::path::Path::new(guests::UNSUPPORTED_IMPORT), None)
        .await
        .expect_err("the master refuses it");
    let message = refused.to_string();
    assert!(message.contains("acme:missing"), "{message}");

    agent_still_runs_tasks(&mut framework, &hello, "everything").await;
    let state = cluster.state().await.expect("state");
    assert!(
        state.agents.iter().all(|agent| agent.active),
        "the agent stayed registered"
    );
    framework.teardown().await.expect("teardown");
}
