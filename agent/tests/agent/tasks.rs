//! Launch, results, executor fetch, kill, messages, and what the master may send wrong.

use wasmesos_guest_artifacts::{HELLO, MESSENGER, SLEEPY, WORDCOUNT};
use wasmesos_proto::agent_command::{Command, FrameworkMessage, Kill};
use wasmesos_proto::{AgentCommand, Reason, Resources, StatusSource, TaskState, TaskStatus};

use crate::fake_master::AckPolicy;
use crate::support::{Cluster, MIB, task, with_args};

fn states(updates: &[TaskStatus]) -> Vec<TaskState> {
    updates.iter().map(TaskStatus::state).collect()
}

#[tokio::test]
async fn wordcount_tasks_finish_with_their_counts_and_the_executor_is_fetched_once() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let digest = master.upload_file(WORDCOUNT);
    let mut first = task("count-1", &digest);
    first.data = b"the quick brown fox".to_vec();
    let mut second = task("count-2", &digest);
    second.data = b"hello   wasm\nworld".to_vec();
    master.launch("fw-1", vec![first, second]).await;

    for (task_id, count) in [("count-1", "4"), ("count-2", "3")] {
        let done = master.terminal(task_id).await;
        assert_eq!(done.state(), TaskState::TaskFinished, "{done:?}");
        assert_eq!(done.reason(), Reason::Finished);
        assert_eq!(done.data, count.as_bytes());
        assert_eq!(done.exit_code, Some(0));
        let updates = master.updates_of(task_id);
        let seen = states(&updates);
        assert_eq!(seen.first(), Some(&TaskState::TaskStarting), "{seen:?}");
        assert_eq!(seen.get(1), Some(&TaskState::TaskRunning), "{seen:?}");
        assert_eq!(seen.last(), Some(&TaskState::TaskFinished), "{seen:?}");
        let terminals = seen.iter().filter(|s| s.is_terminal()).count();
        assert_eq!(terminals, 1, "exactly one terminal update: {seen:?}");
        for update in &updates {
            assert_eq!(update.uuid.len(), 16);
            assert_eq!(update.agent_id, cluster.agent_id);
            assert_eq!(update.framework_id, "fw-1");
            assert!(update.timestamp > 0.0);
        }
        let uuids: std::collections::HashSet<_> = updates.iter().map(|u| &u.uuid).collect();
        assert_eq!(uuids.len(), updates.len(), "every update has its own uuid");
    }
    master.launch("fw-1", vec![task("count-3", &digest)]).await;
    assert_eq!(master.terminal("count-3").await.data, b"0");
    assert_eq!(
        master.recorded().downloads.get(&digest),
        Some(&1),
        "fetched once"
    );
    let cached = cluster
        .work_dir
        .path()
        .join("artifacts")
        .join(format!("{digest}.wasm"));
    assert!(cached.is_file(), "the executor is kept in the work dir");
}

#[tokio::test]
async fn concurrent_launches_of_one_new_digest_fetch_it_once() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let digest = master.upload_file(HELLO);
    let tasks = (0..8)
        .map(|n| task(&format!("hello-{n}"), &digest))
        .collect();
    master.launch("fw-1", tasks).await;
    for n in 0..8 {
        let done = master.terminal(&format!("hello-{n}")).await;
        assert_eq!(done.state(), TaskState::TaskFinished, "{done:?}");
    }
    assert_eq!(master.recorded().downloads.get(&digest), Some(&1));
}

#[tokio::test]
async fn a_running_task_is_killed_and_unknown_ones_are_reported_lost() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let sleepy = master.upload_file(SLEEPY);
    master
        .launch(
            "fw-1",
            vec![with_args(task("sleeper", &sleepy), &["600000"])],
        )
        .await;
    master.state("sleeper", TaskState::TaskRunning).await;
    let kill = |task_id: &str| {
        Command::Kill(Kill {
            framework_id: "fw-1".into(),
            task_id: task_id.into(),
            kill_policy: None,
            reason: Default::default(),
        })
    };
    master.send(kill("sleeper")).await;
    let killed = master.terminal("sleeper").await;
    assert_eq!(
        (killed.state(), killed.reason()),
        (TaskState::TaskKilled, Reason::Killed)
    );

    master.send(kill("nobody")).await;
    let lost = master.terminal("nobody").await;
    assert_eq!(
        (lost.state(), lost.reason()),
        (TaskState::TaskLost, Reason::TaskUnknown)
    );
    assert!(
        lost.uuid.is_empty(),
        "an answer about an unknown task needs no ack"
    );

    // Killing a task that already ended answers with its terminal state again.
    master.send(kill("sleeper")).await;
    master
        .until("the kill answered again", |m| {
            let again = m
                .updates_of("sleeper")
                .iter()
                .filter(|s| s.state() == TaskState::TaskKilled)
                .count();
            (again >= 2).then_some(())
        })
        .await;
}

#[tokio::test]
async fn a_kill_during_the_fetch_ends_the_task_before_it_starts() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    // The digest is valid but never uploaded, and the kill is sent right behind the launch:
    // either the kill wins (KILLED) or the fetch fails first (ERROR); never RUNNING.
    let missing = "0".repeat(64);
    master.launch("fw-1", vec![task("early", &missing)]).await;
    master
        .send(Command::Kill(Kill {
            framework_id: "fw-1".into(),
            task_id: "early".into(),
            kill_policy: None,
            reason: Default::default(),
        }))
        .await;
    let end = master.terminal("early").await;
    assert!(
        matches!(end.state(), TaskState::TaskKilled | TaskState::TaskError),
        "{end:?}"
    );
    assert!(!states(&master.updates_of("early")).contains(&TaskState::TaskRunning));
}

#[tokio::test]
async fn framework_messages_round_trip_through_a_running_executor() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let messenger = master.upload_file(MESSENGER);
    master
        .launch(
            "fw-1",
            vec![with_args(task("echo", &messenger), &["30000"])],
        )
        .await;
    master
        .until("the messenger's `ready` status", |m| {
            m.updates_of("echo")
                .into_iter()
                .find(|s| s.state() == TaskState::TaskRunning && s.message == "ready")
        })
        .await;
    let message = |data: &[u8]| {
        Command::Message(FrameworkMessage {
            framework_id: "fw-1".into(),
            task_id: "echo".into(),
            data: data.to_vec(),
        })
    };
    master.send(message(b"ping")).await;
    let echoed = master
        .until("the echo", |m| m.recorded().messages.first().cloned())
        .await;
    assert_eq!(echoed.data, b"echo:ping");
    assert_eq!(
        (
            echoed.agent_id.as_str(),
            echoed.framework_id.as_str(),
            echoed.task_id.as_str()
        ),
        (cluster.agent_id.as_str(), "fw-1", "echo")
    );
    // A message for a task that does not run is dropped, not an error.
    master
        .send(Command::Message(FrameworkMessage {
            framework_id: "fw-1".into(),
            task_id: "nobody".into(),
            data: b"lost".to_vec(),
        }))
        .await;
    master.send(message(b"stop")).await;
    let done = master.terminal("echo").await;
    assert_eq!(done.state(), TaskState::TaskFinished, "{done:?}");
    assert_eq!(done.data, b"1");
    assert_eq!(done.source(), StatusSource::SourceExecutor);
}

#[tokio::test]
async fn an_executor_download_outlasts_a_master_that_is_briefly_down() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let digest = master.upload_file(HELLO);
    // More refusals than a fixed handful of attempts would survive: the agent keeps trying
    // while its patience lasts (60 s by default), backing off up to 2 s.
    master.fail_downloads(6);
    master.launch("fw-1", vec![task("hello", &digest)]).await;
    let end = master.terminal("hello").await;
    assert_eq!(end.state(), TaskState::TaskFinished, "{end:?}");
    assert_eq!(master.recorded().downloads.get(&digest), Some(&7));
}

#[tokio::test]
async fn an_unknown_or_malformed_digest_is_executor_not_found() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    master
        .launch(
            "fw-1",
            vec![
                task("missing", &"ab".repeat(32)),
                task("malformed", "../../etc/passwd"),
                task("upper", &"AB".repeat(32)),
            ],
        )
        .await;
    for task_id in ["missing", "malformed", "upper"] {
        let end = master.terminal(task_id).await;
        assert_eq!(
            (end.state(), end.reason()),
            (TaskState::TaskError, Reason::ExecutorNotFound),
            "{task_id}: {end:?}"
        );
        assert!(!end.message.is_empty());
    }
    assert_eq!(
        master.recorded().downloads.len(),
        1,
        "only the well-formed digest is asked for"
    );
}

#[tokio::test]
async fn garbage_from_the_master_is_refused_without_harm() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let hello = master.upload_file(HELLO);
    let mut nan_mem = task("nan-mem", &hello);
    nan_mem.resources = Some(Resources::from_scalars([("mem", f64::NAN)]));
    let mut no_mem = task("no-mem", &hello);
    no_mem.resources = None;
    let mut negative_cpus = task("negative-cpus", &hello);
    negative_cpus.resources = Some(Resources::from_scalars([
        ("cpus", -2.0),
        ("mem", 8.0 * MIB),
    ]));
    let mut huge_mem = task("huge-mem", &hello);
    huge_mem.resources = Some(Resources::from_scalars([("mem", 1e18)]));
    let mut bad_grant = task("bad-grant", &hello);
    if let Some(executor) = bad_grant.executor.as_mut() {
        executor.network_allow = vec!["not-an-address".into()];
    }
    let escape = task("../escape", &hello);
    let no_executor = wasmesos_proto::TaskInfo {
        executor: None,
        ..task("no-executor", &hello)
    };
    master
        .launch(
            "fw-1",
            vec![
                nan_mem,
                no_mem,
                negative_cpus,
                huge_mem,
                bad_grant,
                escape,
                no_executor,
            ],
        )
        .await;
    for task_id in [
        "nan-mem",
        "no-mem",
        "negative-cpus",
        "huge-mem",
        "bad-grant",
        "../escape",
    ] {
        let end = master.terminal(task_id).await;
        assert_eq!(
            (end.state(), end.reason()),
            (TaskState::TaskError, Reason::InvalidTask),
            "{task_id}: {end:?}"
        );
    }
    let end = master.terminal("no-executor").await;
    assert_eq!(
        (end.state(), end.reason()),
        (TaskState::TaskError, Reason::ExecutorNotFound)
    );
    assert!(
        !cluster
            .work_dir
            .path()
            .join("sandboxes")
            .join("escape")
            .exists()
    );
    assert!(!cluster.work_dir.path().join("escape").exists());

    // A launch without a framework, an empty command and a repeated `registered` change
    // nothing; the agent goes on working.
    master.launch("", vec![task("orphan", &hello)]).await;
    let orphan = master.terminal("orphan").await;
    assert_eq!(orphan.reason(), Reason::InvalidTask);
    master.send_raw(AgentCommand { command: None }).await;
    master
        .send(Command::Acknowledge(
            wasmesos_proto::agent_command::Acknowledge {
                acks: vec![wasmesos_proto::agent_command::Acknowledgement {
                    framework_id: "fw-9".into(),
                    task_id: "ghost".into(),
                    uuid: vec![1, 2, 3],
                }],
            },
        ))
        .await;
    master
        .launch("fw-1", vec![task("still-fine", &hello)])
        .await;
    assert_eq!(
        master.terminal("still-fine").await.state(),
        TaskState::TaskFinished
    );
}

#[tokio::test]
async fn a_duplicate_launch_of_an_active_task_is_ignored() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let sleepy = master.upload_file(SLEEPY);
    let long = with_args(task("twice", &sleepy), &["600000"]);
    master.launch("fw-1", vec![long.clone()]).await;
    master.state("twice", TaskState::TaskRunning).await;
    master.launch("fw-1", vec![long]).await;
    master
        .send(Command::Kill(Kill {
            framework_id: "fw-1".into(),
            task_id: "twice".into(),
            kill_policy: None,
            reason: Default::default(),
        }))
        .await;
    master.terminal("twice").await;
    let starts = states(&master.updates_of("twice"))
        .into_iter()
        .filter(|s| *s == TaskState::TaskStarting)
        .count();
    assert_eq!(starts, 1);
}

#[tokio::test]
async fn tasks_beyond_the_pool_wait_for_a_slot_instead_of_failing() {
    let cluster = Cluster::start_with(AckPolicy::OnReceipt(1), |config| {
        config.executor.max_concurrent_tasks = 2;
    })
    .await;
    let master = &cluster.master;
    let sleepy = master.upload_file(SLEEPY);
    let tasks = (0..5)
        .map(|n| with_args(task(&format!("nap-{n}"), &sleepy), &["200"]))
        .collect();
    master.launch("fw-1", tasks).await;
    for n in 0..5 {
        let end = master.terminal(&format!("nap-{n}")).await;
        assert_eq!(end.state(), TaskState::TaskFinished, "nap-{n}: {end:?}");
    }
}

/// STARTING goes out on its own while the executor is fetched, but leaves in one batch with
/// RUNNING when the task can start at once.
#[tokio::test]
async fn starting_waits_for_running_only_when_nothing_else_waits() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let hello = master.upload_file(HELLO);
    let arrivals = |task_id: &str| {
        let recorded = master.recorded();
        let mut seen = Vec::new();
        for (update, at) in recorded.updates.iter().zip(&recorded.arrivals) {
            if update.task_id == task_id {
                seen.push((update.state(), *at));
            }
        }
        seen
    };
    master.launch("fw-1", vec![task("cold", &hello)]).await;
    master.terminal("cold").await;
    let cold = arrivals("cold");
    assert_eq!(
        states_of(&cold),
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ]
    );
    assert!(
        cold[0].1 < cold[1].1,
        "STARTING left before the fetch: {cold:?}"
    );

    master.launch("fw-1", vec![task("warm", &hello)]).await;
    master.terminal("warm").await;
    let warm = arrivals("warm");
    assert_eq!(
        states_of(&warm),
        [
            TaskState::TaskStarting,
            TaskState::TaskRunning,
            TaskState::TaskFinished
        ]
    );
    assert_eq!(
        warm[0].1, warm[1].1,
        "STARTING and RUNNING in one batch: {warm:?}"
    );
}

fn states_of(arrivals: &[(TaskState, std::time::Instant)]) -> Vec<TaskState> {
    arrivals.iter().map(|(state, _)| *state).collect()
}
