//! What the agent does for tasks that run until told to stop: health checks, kills with a
//! grace period, and TASK_KILLING for frameworks that ask for it.

use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use wasmesos_agent::parse_resources;
use wasmesos_guest_artifacts::{HTTP_HELLO, SLEEPY, TCP_GREETER};
use wasmesos_proto::agent_command::{Command, Kill};
use wasmesos_proto::health_check::{HttpCheck, Type};
use wasmesos_proto::{
    FrameworkCapability, FrameworkInfo, HealthCheck, KillPolicy, Reason, TaskInfo, TaskState,
    TaskStatus,
};
use wasmesos_test_support::{eventually_some, http_get};

use crate::fake_master::AckPolicy;
use crate::support::{Cluster, task, with_args};

fn kill(task_id: &str, grace_seconds: Option<f64>) -> Command {
    Command::Kill(Kill {
        framework_id: "fw-1".into(),
        task_id: task_id.into(),
        kill_policy: grace_seconds.map(|seconds| KillPolicy {
            grace_period_seconds: Some(seconds),
        }),
        reason: Default::default(),
    })
}

fn states(updates: &[TaskStatus]) -> Vec<TaskState> {
    updates.iter().map(TaskStatus::state).collect()
}

#[tokio::test]
async fn an_alive_check_reports_the_task_healthy_once() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let sleepy = master.upload_file(SLEEPY);
    let mut sleeper = with_args(task("alive", &sleepy), &["600000"]);
    sleeper.health_check = Some(HealthCheck {
        r#type: Type::Alive as i32,
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.02),
        ..HealthCheck::default()
    });
    master.launch("fw-1", vec![sleeper]).await;
    let healthy = master
        .until("a health update", |m| {
            m.updates_of("alive")
                .into_iter()
                .find(|status| status.healthy.is_some())
        })
        .await;
    assert_eq!(
        (healthy.state(), healthy.reason(), healthy.healthy),
        (
            TaskState::TaskRunning,
            Reason::TaskHealthCheckStatusUpdated,
            Some(true)
        ),
        "{healthy:?}"
    );
    master.send(kill("alive", Some(0.0))).await;
    let killed = master.terminal("alive").await;
    assert_eq!(killed.state(), TaskState::TaskKilled, "{killed:?}");
    assert_eq!(
        killed.healthy,
        Some(true),
        "the terminal update carries the last health"
    );
    let health_updates = master
        .updates_of("alive")
        .iter()
        .filter(|status| status.reason() == Reason::TaskHealthCheckStatusUpdated)
        .count();
    assert_eq!(
        health_updates, 1,
        "a success that changes nothing is not reported again"
    );
}

#[tokio::test]
async fn a_framework_with_the_killing_capability_sees_task_killing_first() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let sleepy = master.upload_file(SLEEPY);
    let capable = FrameworkInfo {
        id: "fw-1".into(),
        name: "capable".into(),
        capabilities: vec![FrameworkCapability::TaskKillingState as i32],
        ..FrameworkInfo::default()
    };
    let sleeper = with_args(task("graceful", &sleepy), &["600000"]);
    master.launch_for(capable, vec![sleeper]).await;
    master.state("graceful", TaskState::TaskRunning).await;
    master.send(kill("graceful", Some(0.25))).await;
    let killed = master.terminal("graceful").await;
    assert_eq!(
        (killed.state(), killed.reason()),
        (TaskState::TaskKilled, Reason::Killed)
    );
    let seen = states(&master.updates_of("graceful"));
    assert_eq!(
        &seen[seen.len() - 2..],
        [TaskState::TaskKilling, TaskState::TaskKilled],
        "{seen:?}"
    );

    // Without the capability, RUNNING goes straight to KILLED.
    let plain = with_args(task("plain", &sleepy), &["600000"]);
    master.launch("fw-1", vec![plain]).await;
    master.state("plain", TaskState::TaskRunning).await;
    master.send(kill("plain", None)).await;
    master.terminal("plain").await;
    assert!(!states(&master.updates_of("plain")).contains(&TaskState::TaskKilling));
}

#[tokio::test]
async fn a_health_check_on_a_port_the_task_lacks_is_refused_before_it_runs() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let sleepy = master.upload_file(SLEEPY);
    let mut checked = task("portless", &sleepy);
    checked.health_check = Some(HealthCheck {
        r#type: Type::Http as i32,
        http: Some(HttpCheck {
            port: 31000,
            path: "/health".into(),
            statuses: vec![],
        }),
        ..HealthCheck::default()
    });
    master.launch("fw-1", vec![checked]).await;
    let refused = master.terminal("portless").await;
    assert_eq!(
        (refused.state(), refused.reason()),
        (TaskState::TaskError, Reason::InvalidTask),
        "{refused:?}"
    );
    assert!(
        refused
            .message
            .contains("port 31000, which is not one of the task's ports"),
        "{}",
        refused.message
    );
    assert!(!states(&master.updates_of("portless")).contains(&TaskState::TaskRunning));
}

/// A port nobody listens on now: bound, learnt, freed.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// `task` with one CPU, `mem_mib` MiB and the single port `port`.
fn service(task_id: &str, digest: &str, mem_mib: u64, port: u16) -> TaskInfo {
    let mut service = task(task_id, digest);
    service.resources = Some(
        parse_resources(&format!("cpus:1;mem:{mem_mib}MiB;ports:[{port}-{port}]"))
            .expect("valid resources"),
    );
    service
}

/// `GET path` on `127.0.0.1:port` over its own connection: the status and the body.
async fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    http_get(("127.0.0.1", port), path).await
}

#[tokio::test]
async fn a_wasi_http_service_answers_on_its_port_and_knows_it_from_its_env() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let hello = master.upload_file(HTTP_HELLO);
    let port = free_port();
    master
        .launch("fw-1", vec![service("web", &hello, 64, port)])
        .await;
    master.state("web", TaskState::TaskRunning).await;
    // RUNNING means the listener is up: the first request needs no retry.
    let (status, body) = get(port, "/").await.expect("the service answers");
    assert_eq!((status, body.as_str()), (200, "hello from wasmesos\n"));
    let (_, env) = get(port, "/env").await.expect("env");
    assert!(env.contains(&format!("PORT0={port}\n")), "{env}");
    assert!(env.contains(&format!("PORTS={port}\n")), "{env}");
    assert!(env.contains("HOST="), "{env}");

    master.send(kill("web", Some(0.0))).await;
    let killed = master.terminal("web").await;
    assert_eq!(killed.state(), TaskState::TaskKilled, "{killed:?}");
    assert!(
        get(port, "/").await.is_err(),
        "a killed service no longer listens"
    );
}

#[tokio::test]
async fn a_failing_http_health_check_kills_the_service_as_unhealthy() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let hello = master.upload_file(HTTP_HELLO);
    let port = free_port();
    let mut checked = service("sick", &hello, 64, port);
    checked.health_check = Some(HealthCheck {
        r#type: Type::Http as i32,
        http: Some(HttpCheck {
            port: u32::from(port),
            // http-hello answers 404 here.
            path: "/health".into(),
            statuses: vec![],
        }),
        delay_seconds: Some(0.0),
        interval_seconds: Some(0.05),
        consecutive_failures: Some(2),
        grace_period_seconds: Some(0.0),
        ..HealthCheck::default()
    });
    master.launch("fw-1", vec![checked]).await;
    let killed = master.terminal("sick").await;
    assert_eq!(
        (killed.state(), killed.reason(), killed.healthy),
        (TaskState::TaskKilled, Reason::TaskUnhealthy, Some(false)),
        "{killed:?}"
    );
    assert!(
        killed.message.contains("answered 404"),
        "{}",
        killed.message
    );
    let unhealthy = master
        .updates_of("sick")
        .into_iter()
        .filter(|status| status.state() == TaskState::TaskRunning && status.healthy == Some(false))
        .count();
    assert_eq!(
        unhealthy, 1,
        "the first failure is reported, the second kills"
    );
}

#[tokio::test]
async fn a_kill_with_grace_lets_the_request_in_flight_finish() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let hello = master.upload_file(HTTP_HELLO);
    let port = free_port();
    master
        .launch("fw-1", vec![service("draining", &hello, 64, port)])
        .await;
    master.state("draining", TaskState::TaskRunning).await;
    let slow = tokio::spawn(get(port, "/sleep?ms=1000"));
    // Accepted in order: once a later connection is answered, the slow one is being served.
    assert_eq!(get(port, "/").await.expect("answer").0, 200);
    master.send(kill("draining", Some(30.0))).await;
    let (status, body) = slow.await.expect("joined").expect("the slow request");
    assert_eq!((status, body.as_str()), (200, "slept 1000 ms\n"));
    let killed = master.terminal("draining").await;
    assert_eq!(killed.state(), TaskState::TaskKilled, "{killed:?}");
}

#[tokio::test]
async fn requests_past_the_concurrency_limit_queue_and_memory_over_the_limit_fails_it() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let hello = master.upload_file(HTTP_HELLO);
    let port = free_port();
    let mut one_at_a_time = service("narrow", &hello, 32, port);
    one_at_a_time.max_concurrency = 1;
    master.launch("fw-1", vec![one_at_a_time]).await;
    master.state("narrow", TaskState::TaskRunning).await;
    let requests: Vec<_> = (0..4)
        .map(|_| tokio::spawn(get(port, "/sleep?ms=100")))
        .collect();
    for request in requests {
        let (status, _) = request.await.expect("joined").expect("answered");
        assert_eq!(status, 200, "queued, not refused");
    }
    // 64 MiB in a 32 MiB service: the whole service ends, as an out-of-memory kill would.
    let _ = get(port, "/alloc?mb=64").await;
    let failed = master.terminal("narrow").await;
    assert_eq!(
        (failed.state(), failed.reason()),
        (TaskState::TaskFailed, Reason::MemoryLimit),
        "{failed:?}"
    );
}

#[tokio::test]
async fn a_service_whose_port_is_taken_or_missing_is_refused_with_a_clear_reason() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let hello = master.upload_file(HTTP_HELLO);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    master
        .launch("fw-1", vec![service("squatted", &hello, 64, port)])
        .await;
    let refused = master.terminal("squatted").await;
    assert_eq!(refused.state(), TaskState::TaskError, "{refused:?}");
    assert!(
        refused
            .message
            .contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{}",
        refused.message
    );
    master
        .launch("fw-1", vec![task("portless-web", &hello)])
        .await;
    let refused = master.terminal("portless-web").await;
    assert_eq!(
        (refused.state(), refused.reason()),
        (TaskState::TaskError, Reason::InvalidTask),
        "{refused:?}"
    );
    assert!(
        refused.message.contains("needs a port"),
        "{}",
        refused.message
    );
}

#[tokio::test]
async fn a_wasi_cli_program_may_listen_on_its_own_ports_and_no_others() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let greeter = master.upload_file(TCP_GREETER);
    let port = free_port();
    master
        .launch("fw-1", vec![service("greeter", &greeter, 64, port)])
        .await;
    master.state("greeter", TaskState::TaskRunning).await;
    // RUNNING comes before the guest binds: it is a program, not a listener the agent holds.
    let greeting = eventually_some("the greeting", Duration::from_secs(10), async || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let mut greeting = String::new();
        stream.read_to_string(&mut greeting).await.ok()?;
        Some(greeting)
    })
    .await
    .unwrap_or_else(|err| {
        panic!(
            "the guest listens on its port ({err}): {:?}",
            master.updates_of("greeter")
        )
    });
    assert_eq!(
        greeting,
        format!("hello from a wasi:cli service on port {port}\n")
    );
    master.send(kill("greeter", None)).await;
    assert_eq!(
        master.terminal("greeter").await.state(),
        TaskState::TaskKilled
    );

    // A port named in its env but not granted: the bind is refused.
    let other = free_port();
    let mut squatter = task("squatter", &greeter);
    if let Some(executor) = squatter.executor.as_mut() {
        executor.env.insert("PORT0".into(), other.to_string());
    }
    master.launch("fw-1", vec![squatter]).await;
    let refused = master.terminal("squatter").await;
    assert_eq!(
        (refused.state(), refused.exit_code),
        (TaskState::TaskFailed, Some(3)),
        "{refused:?}"
    );
}
