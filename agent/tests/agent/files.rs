//! `Agent.ReadFile` and `Agent.GetAgentState` on the agent's own port.

use std::time::Duration;

use tonic::Code;
use wasmesos_guest_artifacts::{HELLO, SLEEPY};
use wasmesos_proto::{GetAgentStateRequest, ReadFileRequest, SandboxFile, TaskState};
use wasmesos_test_support::{assert_eventually, eventually_some};

use crate::fake_master::AckPolicy;
use crate::support::{Cluster, task, with_args};

fn request(task_id: &str, file: SandboxFile, offset: i64, length: u64) -> ReadFileRequest {
    ReadFileRequest {
        task_id: task_id.into(),
        file: file as i32,
        offset,
        length,
    }
}

#[tokio::test]
async fn read_file_serves_bounded_ranges_of_a_tasks_output() {
    let cluster = Cluster::start_with(AckPolicy::OnReceipt(1), |config| {
        config.read_file_max_bytes = 64;
    })
    .await;
    let master = &cluster.master;
    let hello = master.upload_file(HELLO);
    master
        .launch(
            "fw-1",
            vec![with_args(
                task("greeter", &hello),
                &["--stderr", "oops", "world"],
            )],
        )
        .await;
    assert_eq!(
        master.terminal("greeter").await.state(),
        TaskState::TaskFinished
    );
    let mut client = cluster.client().await;
    let mut read = async |offset: i64, length: u64| {
        client
            .read_file(request("greeter", SandboxFile::Stdout, offset, length))
            .await
            .expect("read_file")
            .into_inner()
    };

    let head = read(0, 0).await;
    assert!(
        head.data.starts_with(b"hello from wasmesos\n"),
        "{:?}",
        String::from_utf8_lossy(&head.data)
    );
    assert!(head.size > 64, "hello prints more than the cap");
    assert_eq!(head.data.len(), 64, "length 0 means the server's cap");
    assert_eq!(head.offset, 0);
    assert!(!head.growing, "a finished task's output no longer grows");

    assert_eq!(read(6, 4).await.data, b"from");
    assert_eq!(
        read(0, 1 << 30).await.data.len(),
        64,
        "the cap bounds a large length"
    );
    let tail = read(-10, 0).await;
    assert_eq!(tail.offset, head.size - 10);
    assert_eq!(tail.data.len(), 10);
    let past = read(i64::MAX, 10).await;
    assert!(past.data.is_empty());
    assert_eq!(past.offset, head.size);

    let stderr = client
        .read_file(request("greeter", SandboxFile::Stderr, 0, 0))
        .await
        .expect("stderr")
        .into_inner();
    assert_eq!(stderr.data, b"oops\n");
}

#[tokio::test]
async fn read_file_refuses_ids_that_leave_the_sandbox_and_unknown_tasks() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let hello = master.upload_file(HELLO);
    master.launch("fw-1", vec![task("known", &hello)]).await;
    master.terminal("known").await;
    // A file next to the sandboxes that a path escape would reach.
    std::fs::write(
        cluster.work_dir.path().join("sandboxes").join("secret"),
        b"secret",
    )
    .expect("write");
    let mut client = cluster.client().await;
    for task_id in [
        "..",
        "../known",
        "fw-1/known",
        "../../etc",
        "/etc/passwd",
        "a\\b",
        "C:x",
        "",
    ] {
        let err = client
            .read_file(request(task_id, SandboxFile::Stdout, 0, 0))
            .await
            .expect_err("an escaping id must be refused");
        assert_eq!(err.code(), Code::InvalidArgument, "{task_id:?}: {err:?}");
    }
    let unknown = client
        .read_file(request("secret", SandboxFile::Stdout, 0, 0))
        .await
        .expect_err("unknown task");
    assert_eq!(unknown.code(), Code::NotFound);
    let no_file = client
        .read_file(request("known", SandboxFile::Unspecified, 0, 0))
        .await
        .expect_err("no file named");
    assert_eq!(no_file.code(), Code::InvalidArgument);
    let bogus_enum = ReadFileRequest {
        file: 99,
        ..request("known", SandboxFile::Stdout, 0, 0)
    };
    let err = client
        .read_file(bogus_enum)
        .await
        .expect_err("unknown file kind");
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_running_tasks_output_is_growing_and_the_state_lists_it() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let sleepy = master.upload_file(SLEEPY);
    master
        .launch(
            "fw-1",
            vec![with_args(task("napping", &sleepy), &["600000"])],
        )
        .await;
    master.state("napping", TaskState::TaskRunning).await;
    let mut client = cluster.client().await;
    let read = client
        .read_file(request("napping", SandboxFile::Stdout, 0, 0))
        .await
        .expect("read_file")
        .into_inner();
    assert!(read.growing);
    let state = client
        .get_agent_state(GetAgentStateRequest {})
        .await
        .expect("state")
        .into_inner();
    assert_eq!(
        state.agent.as_ref().map(|a| a.id.as_str()),
        Some(cluster.agent_id.as_str())
    );
    let napping = state
        .tasks
        .iter()
        .find(|t| t.task.as_ref().is_some_and(|t| t.task_id == "napping"))
        .expect("the running task is listed");
    assert_eq!(napping.framework_id, "fw-1");
    assert_eq!(
        napping.latest.as_ref().map(|s| s.state()),
        Some(TaskState::TaskRunning)
    );
}

#[tokio::test]
async fn sandboxes_of_tasks_beyond_the_retained_ones_are_deleted() {
    let cluster = Cluster::start_with(AckPolicy::OnReceipt(1), |config| {
        config.completed_tasks_retained = 1;
        // Output straight to the files, so that each task leaves a sandbox on disk.
        config.output_memory_bytes = 0;
    })
    .await;
    let master = &cluster.master;
    let hello = master.upload_file(HELLO);
    let sandbox = |task_id: &str| {
        cluster
            .work_dir
            .path()
            .join("sandboxes")
            .join("fw-1")
            .join(task_id)
    };
    master.launch("fw-1", vec![task("older", &hello)]).await;
    master.terminal("older").await;
    master
        .until("the older sandbox written", |_| {
            sandbox("older").join("stdout").is_file().then_some(())
        })
        .await;
    master.launch("fw-1", vec![task("newer", &hello)]).await;
    master.terminal("newer").await;
    assert_eventually!(
        "the older sandbox to be deleted",
        Duration::from_secs(30),
        !sandbox("older").exists()
    );
    assert!(
        sandbox("newer").join("stdout").is_file(),
        "the retained task keeps its sandbox"
    );
    let mut client = cluster.client().await;
    let gone = client
        .read_file(request("older", SandboxFile::Stdout, 0, 0))
        .await
        .expect_err("an expired task");
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test]
async fn small_output_is_served_from_memory_and_leaves_nothing_on_disk() {
    let cluster = Cluster::start_with(AckPolicy::OnReceipt(1), |config| {
        config.completed_tasks_retained = 1;
    })
    .await;
    let master = &cluster.master;
    let hello = master.upload_file(HELLO);
    let sandboxes = cluster.work_dir.path().join("sandboxes");
    let mut client = cluster.client().await;
    for task_id in ["first", "second"] {
        master
            .launch(
                "fw-1",
                vec![with_args(task(task_id, &hello), &["--stderr", "oops"])],
            )
            .await;
        assert_eq!(
            master.terminal(task_id).await.state(),
            TaskState::TaskFinished
        );
        let stdout = client
            .read_file(request(task_id, SandboxFile::Stdout, 0, 0))
            .await
            .expect("stdout")
            .into_inner();
        assert!(stdout.data.starts_with(b"hello from wasmesos\n"));
        assert_eq!(stdout.size, stdout.data.len() as u64);
        let stderr = client
            .read_file(request(task_id, SandboxFile::Stderr, -5, 0))
            .await
            .expect("stderr")
            .into_inner();
        assert_eq!((stderr.data.as_slice(), stderr.offset), (&b"oops\n"[..], 0));
        assert!(!sandboxes.join("fw-1").join(task_id).exists());
    }
    // The first task drops out of the retained one once the second's ack reaches the agent.
    let gone = eventually_some(
        "the first task's output to be dropped",
        Duration::from_secs(30),
        async || {
            client
                .read_file(request("first", SandboxFile::Stdout, 0, 0))
                .await
                .err()
        },
    )
    .await
    .expect("the first task's output is dropped");
    assert_eq!(gone.code(), Code::NotFound);
    let pool: Vec<_> = std::fs::read_dir(cluster.work_dir.path().join("sandbox-pool"))
        .expect("the pool")
        .collect();
    assert_eq!(pool.len(), 1, "both tasks ran in the same reused directory");
}
