//! Every hostile guest, launched through the agent at once, ends with the reason of the limit
//! it ran into; bad components end in TASK_ERROR; and the agent keeps working afterwards.

use wasmesos_guest_artifacts::{
    DEEP_RECURSION, DISK_FILLER, ENV_PROBE, FS_ESCAPE, FUEL_BOMB, HELLO, MEMORY_BOMB, SLEEPY,
    SOCKET_ATTEMPT, SPIN, STATUS_FLOOD, STDOUT_FLOOD, TRAP, UNSUPPORTED_IMPORT, WORDCOUNT,
};
use wasmesos_proto::{
    GetAgentStateRequest, ReadFileRequest, Reason, Resources, SandboxFile, TaskInfo, TaskState,
    TaskStatus,
};

use crate::fake_master::AckPolicy;
use crate::support::{Cluster, MIB, task, with_args};

struct Case {
    task: TaskInfo,
    state: TaskState,
    reason: Reason,
    exit_code: Option<i32>,
}

fn case(task: TaskInfo, state: TaskState, reason: Reason) -> Case {
    Case {
        task,
        state,
        reason,
        exit_code: None,
    }
}

fn with_mem(mut task: TaskInfo, mem: f64, disk: f64) -> TaskInfo {
    task.resources = Some(Resources::from_scalars([
        ("cpus", 1.0),
        ("mem", mem),
        ("disk", disk),
    ]));
    task
}

fn with_ports(mut task: TaskInfo, resources: &str) -> TaskInfo {
    task.resources = Some(wasmesos_agent::parse_resources(resources).expect("valid resources"));
    task
}

#[tokio::test]
async fn hostile_guests_are_contained_with_the_right_reasons_and_the_agent_stays_healthy() {
    let cluster = Cluster::start_with(AckPolicy::OnReceipt(1), |config| {
        config.output_cap_bytes = 64 * 1024;
    })
    .await;
    let master = &cluster.master;
    let upload = |path: &str| master.upload_file(path);
    let (memory_bomb, fuel_bomb, recursion) = (
        upload(MEMORY_BOMB),
        upload(FUEL_BOMB),
        upload(DEEP_RECURSION),
    );
    let (spin, sleepy, disk_filler, trap) = (
        upload(SPIN),
        upload(SLEEPY),
        upload(DISK_FILLER),
        upload(TRAP),
    );
    let (hello, wordcount, flood) = (upload(HELLO), upload(WORDCOUNT), upload(STDOUT_FLOOD));
    let (unsupported, escape, env_probe) = (
        upload(UNSUPPORTED_IMPORT),
        upload(FS_ESCAPE),
        upload(ENV_PROBE),
    );
    let core_module = master.upload(b"\0asm\x01\0\0\0".to_vec());
    let garbage = master.upload(b"definitely not wasm".to_vec());

    let mut fuel = task("fuel", &fuel_bomb);
    fuel.fuel = 5_000_000;
    let mut spin_timeout = task("spin-timeout", &spin);
    spin_timeout.timeout_ms = 300;
    let mut sleep_timeout = with_args(task("sleep-timeout", &sleepy), &["600000"]);
    sleep_timeout.timeout_ms = 300;
    let mut exit_three = case(
        with_args(task("exit-3", &hello), &["--exit", "3"]),
        TaskState::TaskFailed,
        Reason::ExitCode,
    );
    exit_three.exit_code = Some(3);
    let host_file = cluster.work_dir.path().join("host-secret");
    std::fs::write(&host_file, b"secret").expect("write host file");
    let host_file = host_file.to_string_lossy().into_owned();

    let cases = vec![
        case(
            with_mem(task("memory", &memory_bomb), 32.0 * MIB, 0.0),
            TaskState::TaskFailed,
            Reason::MemoryLimit,
        ),
        case(fuel, TaskState::TaskFailed, Reason::FuelExhausted),
        case(
            task("recursion", &recursion),
            TaskState::TaskFailed,
            Reason::StackOverflow,
        ),
        case(spin_timeout, TaskState::TaskFailed, Reason::Timeout),
        case(sleep_timeout, TaskState::TaskFailed, Reason::Timeout),
        case(
            with_mem(task("disk", &disk_filler), 64.0 * MIB, 4.0 * MIB),
            TaskState::TaskFailed,
            Reason::DiskLimit,
        ),
        case(task("trap", &trap), TaskState::TaskFailed, Reason::Trap),
        exit_three,
        case(
            with_args(task("no-file", &wordcount), &["missing.txt"]),
            TaskState::TaskFailed,
            Reason::GuestError,
        ),
        case(
            with_args(task("flood", &flood), &["4"]),
            TaskState::TaskFinished,
            Reason::Finished,
        ),
        case(
            with_args(task("escape", &escape), &[&host_file]),
            TaskState::TaskFinished,
            Reason::Finished,
        ),
        case(
            with_ports(
                task("env", &env_probe),
                "cpus:1;mem:64MiB;ports:[31007-31008]",
            ),
            TaskState::TaskFinished,
            Reason::Finished,
        ),
        case(
            task("unsupported", &unsupported),
            TaskState::TaskError,
            Reason::UnsupportedImports,
        ),
        case(
            task("core-module", &core_module),
            TaskState::TaskError,
            Reason::InvalidComponent,
        ),
        case(
            task("garbage", &garbage),
            TaskState::TaskError,
            Reason::InvalidComponent,
        ),
    ];
    let tasks = cases.iter().map(|c| c.task.clone()).collect();
    master.launch("fw-hostile", tasks).await;
    for expected in &cases {
        let task_id = &expected.task.task_id;
        let end = master.terminal(task_id).await;
        assert_eq!(
            (end.state(), end.reason()),
            (expected.state, expected.reason),
            "{task_id}: {end:?}"
        );
        if expected.exit_code.is_some() {
            assert_eq!(end.exit_code, expected.exit_code, "{task_id}");
        }
    }

    let mut client = cluster.client().await;
    let mut stdout = async |task_id: &str| {
        client
            .read_file(ReadFileRequest {
                task_id: task_id.into(),
                file: SandboxFile::Stdout as i32,
                offset: 0,
                length: 0,
            })
            .await
            .expect("read stdout")
            .into_inner()
    };
    let flood_out = stdout("flood").await;
    // The executor compacts to the last `cap` bytes once the file is a slack (here the cap
    // itself) past it: 4 MiB written, at most 128 KiB kept.
    assert!(
        flood_out.size <= 2 * 64 * 1024,
        "the output cap holds: {} bytes kept",
        flood_out.size
    );
    let escape_out = String::from_utf8_lossy(&stdout("escape").await.data).into_owned();
    assert!(!escape_out.contains("ESCAPED"), "{escape_out}");
    let env_out = String::from_utf8_lossy(&stdout("env").await.data).into_owned();
    assert!(env_out.contains("probe PATH=<unset>"), "{env_out}");
    assert!(env_out.contains("probe HOME=<unset>"), "{env_out}");
    // Its granted ports, as Marathon names them, and the agent's hostname.
    for line in ["PORT0=31007", "PORT1=31008", "PORTS=31007,31008", "HOST="] {
        assert!(
            env_out.lines().any(|l| l.starts_with(line)),
            "{line}: {env_out}"
        );
    }

    // The agent is healthy: a plain task still runs, and the agent still answers.
    master
        .launch("fw-hostile", vec![task("after", &hello)])
        .await;
    assert_eq!(
        master.terminal("after").await.state(),
        TaskState::TaskFinished
    );
    let state = client
        .get_agent_state(GetAgentStateRequest {})
        .await
        .expect("state");
    assert_eq!(state.into_inner().tasks.len(), cases.len() + 1);
}

/// A loopback listener that accepts and drops every connection; its `ip:port`.
async fn accepting_listener() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let target = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    target
}

#[tokio::test]
async fn the_network_is_closed_unless_the_task_is_granted_the_address() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let socket_attempt = master.upload_file(SOCKET_ATTEMPT);
    let target = accepting_listener().await;
    let denied = with_args(task("denied", &socket_attempt), &[&target]);
    let mut granted = with_args(task("granted", &socket_attempt), &[&target]);
    if let Some(executor) = granted.executor.as_mut() {
        executor.network_allow = vec![target.clone()];
    }
    master.launch("fw-net", vec![denied, granted]).await;
    let denied = master.terminal("denied").await;
    assert_eq!(
        (denied.state(), denied.reason(), denied.exit_code),
        (TaskState::TaskFailed, Reason::ExitCode, Some(3)),
        "{denied:?}"
    );
    let granted = master.terminal("granted").await;
    assert_eq!(granted.state(), TaskState::TaskFinished, "{granted:?}");
}

/// A download sent as one message larger than the agent decodes (a master it should not
/// trust) fails the task with the reason, instead of being buffered whole; the agent goes on.
#[tokio::test]
async fn an_oversized_download_message_fails_the_task_and_the_agent_goes_on() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let hello = master.upload_file(HELLO);
    let blob = master.upload(vec![7u8; 6 << 20]);
    master.send_downloads_in_chunks_of(8 << 20);
    master
        .launch("fw-big", vec![task("one-message", &blob)])
        .await;
    let failed = master.terminal("one-message").await;
    assert_ne!(failed.state(), TaskState::TaskFinished, "{failed:?}");
    assert!(failed.message.contains("too large"), "{failed:?}");
    master.send_downloads_in_chunks_of(256 * 1024);
    master.launch("fw-big", vec![task("after", &hello)]).await;
    let after = master.terminal("after").await;
    assert_eq!(after.state(), TaskState::TaskFinished, "{after:?}");
}

/// The operator's `--network-allow` bounds the grants, and no grant reaches the agent's own
/// port or the master.
#[tokio::test]
async fn the_operator_bounds_grants_and_no_grant_reaches_the_agent_or_the_master() {
    let cluster = Cluster::start_with(AckPolicy::OnReceipt(1), |config| {
        config.network_allow = Some(vec!["127.0.0.0/8".parse().expect("a rule")]);
    })
    .await;
    let master = &cluster.master;
    let socket_attempt = master.upload_file(SOCKET_ATTEMPT);
    let target = accepting_listener().await;
    let authority = |url: &str| {
        url.trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned()
    };
    let agent_addr = authority(&cluster.agent.url());
    let master_addr = authority(&master.url);
    let granted = |task_id: &str, to: &str, grant: &str| {
        let mut task = with_args(task(task_id, &socket_attempt), &[to]);
        if let Some(executor) = task.executor.as_mut() {
            executor.network_allow = vec![grant.to_owned()];
        }
        task
    };
    master
        .launch(
            "fw-operator-net",
            vec![
                granted("inside", &target, "127.0.0.1"),
                granted("own-port", &agent_addr, "127.0.0.1"),
                granted("master", &master_addr, "127.0.0.1"),
                granted("outside", &target, "10.0.0.1"),
            ],
        )
        .await;
    let inside = master.terminal("inside").await;
    assert_eq!(inside.state(), TaskState::TaskFinished, "{inside:?}");
    for task_id in ["own-port", "master"] {
        let denied = master.terminal(task_id).await;
        assert_eq!(
            (denied.state(), denied.exit_code),
            (TaskState::TaskFailed, Some(3)),
            "{task_id}: {denied:?}"
        );
    }
    let outside = master.terminal("outside").await;
    assert_eq!(outside.state(), TaskState::TaskError, "{outside:?}");
    assert!(
        outside.message.contains("`10.0.0.1`")
            && outside.message.contains("--network-allow 127.0.0.0/8"),
        "{outside:?}"
    );
}

/// A work dir another local user could write to is refused before anything is read from it
/// or compiled into it: a planted `.cwasm` would run as native code.
#[cfg(unix)]
#[tokio::test]
async fn a_work_dir_others_may_write_is_refused_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().expect("tempdir");
    let work_dir = root.path().join("work");
    std::fs::create_dir(&work_dir).expect("mkdir");
    std::fs::set_permissions(&work_dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let config = crate::support::test_config("http://127.0.0.1:9", work_dir.clone());
    let Err(err) = wasmesos_agent::spawn(config).await else {
        panic!("an agent started on a world-writable work dir");
    };
    let text = err.to_string();
    assert!(text.contains("others may write to it (mode 777)"), "{text}");
    assert!(text.contains(&work_dir.display().to_string()), "{text}");
    assert!(
        !work_dir.join(wasmesos_agent::CHECKPOINT_FILE).exists(),
        "nothing is written into a refused work dir"
    );
}

/// The distinct updates (by uuid) the master got for `task_id`: each was written to the
/// checkpoint once before it was sent, so this also counts the checkpoint's writes.
fn distinct_updates(master: &crate::fake_master::FakeMaster, task_id: &str) -> Vec<TaskStatus> {
    let mut seen = std::collections::HashSet::new();
    master
        .updates_of(task_id)
        .into_iter()
        .filter(|s| seen.insert(s.uuid.clone()))
        .collect()
}

#[tokio::test]
async fn a_guest_that_loops_set_status_has_one_running_update_in_flight_at_a_time() {
    // A framework that acknowledges every update at once: one update per round trip. The
    // guest pauses now and then, so the agent reads its statuses while it loops.
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let flood = master.upload_file(STATUS_FLOOD);
    let flood = with_args(task("flood", &flood), &["10000", "1000"]);
    master.launch("fw", vec![flood]).await;
    let done = master.terminal("flood").await;
    assert_eq!(done.state(), TaskState::TaskFinished, "{done:?}");
    assert_eq!(done.data, b"10000");
    let updates = distinct_updates(master, "flood");
    let texts: Vec<&str> = updates.iter().map(|s| s.message.as_str()).collect();
    assert!(
        updates.len() <= 40,
        "10,000 set_status calls became {} updates",
        updates.len()
    );
    let last_running = updates
        .iter()
        .rev()
        .find(|s| s.state() == TaskState::TaskRunning)
        .map(|s| s.message.as_str());
    assert_eq!(last_running, Some("step 10000"), "{texts:?}");
}

#[tokio::test]
async fn a_status_flood_unacknowledged_sends_one_update_and_the_last_before_the_end() {
    // A framework that acknowledges nothing: the first text waits for its ack forever, so
    // only the last one joins it, right before the terminal update.
    let cluster = Cluster::start(AckPolicy::Manual).await;
    let master = &cluster.master;
    let flood = master.upload_file(STATUS_FLOOD);
    master.launch("fw", vec![task("flood", &flood)]).await;
    let done = master.terminal("flood").await;
    assert_eq!(done.state(), TaskState::TaskFinished, "{done:?}");
    let updates: Vec<(TaskState, String)> = distinct_updates(master, "flood")
        .into_iter()
        .map(|s| (s.state(), s.message))
        .collect();
    let running: Vec<&str> = updates
        .iter()
        .filter(|(state, _)| *state == TaskState::TaskRunning)
        .map(|(_, message)| message.as_str())
        .collect();
    assert_eq!(running, ["", "step 1", "step 10000"], "{updates:?}");
    assert!(updates.len() <= 5, "{updates:?}");
}
