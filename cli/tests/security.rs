//! Authentication, sessions and ACLs on a cluster of real processes: `wasmesos master
//! --credentials --acls` and an agent that authenticates, tried by honest principals and by
//! strangers over the network.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use wasmesos_detector::{CallHeaders, Credential, DEFAULT_CONNECT_TIMEOUT, MasterChannel};
use wasmesos_guest_artifacts as guests;
use wasmesos_harness::{ProcessCluster, TestFramework, eventually_some};
use wasmesos_proto::agent_client::AgentClient;
use wasmesos_proto::operator_client::OperatorClient;
use wasmesos_proto::scheduler_client::SchedulerClient;
use wasmesos_proto::{
    DrainAgentRequest, FrameworkInfo, GetAgentStateRequest, GetMaintenanceScheduleRequest,
    GetMaintenanceStatusRequest, GetStateRequest, KillRequest, MachineId, MachinesRequest,
    MaintenanceSchedule, MaintenanceWindow, MarkAgentGoneRequest, Quota, ReadFileRequest, Resource,
    ResourceRequest, Resources, SandboxFile, SetQuotaRequest, SubscribeRequest, Unavailability,
    UpdateMaintenanceScheduleRequest,
};
use wasmesos_sdk_scheduler::{DriverConfig, TaskBuilder};

const BINARY: &str = env!("CARGO_BIN_EXE_wasmesos");
const DEADLINE: Duration = Duration::from_secs(10);

const CREDENTIALS: &str = r#"{"credentials": [
  {"principal": "web", "secret": "web-secret"},
  {"principal": "batch", "secret": "batch-secret"},
  {"principal": "ops", "secret": "ops-secret"},
  {"principal": "agent", "secret": "agent-secret"}
]}"#;

/// `web` registers only in role `web`; each framework principal sees and reads only its own
/// tasks, `ops` everyone's; only `ops` sets quota.
const ACLS: &str = r#"{
  "register_frameworks": [
    {"principals": {"values": ["web"]}, "roles": {"values": ["web"]}},
    {"principals": {"values": ["web"]}, "roles": {"type": "NONE"}}
  ],
  "view_tasks": [
    {"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}},
    {"principals": {"values": ["web"]}, "framework_principals": {"values": ["web"]}},
    {"principals": {"values": ["batch"]}, "framework_principals": {"values": ["batch"]}},
    {"principals": {"type": "ANY"}, "framework_principals": {"type": "NONE"}}
  ],
  "access_sandboxes": [
    {"principals": {"values": ["ops"]}, "framework_principals": {"type": "ANY"}},
    {"principals": {"values": ["web"]}, "framework_principals": {"values": ["web"]}},
    {"principals": {"type": "ANY"}, "framework_principals": {"type": "NONE"}}
  ],
  "set_quotas": [
    {"principals": {"values": ["ops"]}, "roles": {"type": "ANY"}},
    {"principals": {"type": "ANY"}, "roles": {"type": "NONE"}}
  ],
  "mark_agents_gone": [
    {"principals": {"values": ["ops"]}, "agents": {"type": "ANY"}},
    {"principals": {"type": "ANY"}, "agents": {"type": "NONE"}}
  ],
  "drain_agents": [
    {"principals": {"values": ["ops"]}, "agents": {"type": "ANY"}},
    {"principals": {"type": "ANY"}, "agents": {"type": "NONE"}}
  ],
  "get_maintenance_schedules": [
    {"principals": {"values": ["ops"]}, "machines": {"type": "ANY"}},
    {"principals": {"type": "ANY"}, "machines": {"type": "NONE"}}
  ],
  "update_maintenance_schedules": [
    {"principals": {"values": ["ops"]}, "machines": {"type": "ANY"}},
    {"principals": {"type": "ANY"}, "machines": {"type": "NONE"}}
  ],
  "start_maintenances": [
    {"principals": {"values": ["ops"]}, "machines": {"type": "ANY"}},
    {"principals": {"type": "ANY"}, "machines": {"type": "NONE"}}
  ],
  "stop_maintenances": [
    {"principals": {"values": ["ops"]}, "machines": {"type": "ANY"}},
    {"principals": {"type": "ANY"}, "machines": {"type": "NONE"}}
  ],
  "get_maintenance_statuses": [
    {"principals": {"values": ["ops"]}, "machines": {"type": "ANY"}},
    {"principals": {"type": "ANY"}, "machines": {"type": "NONE"}}
  ]
}"#;

struct Files {
    _dir: tempfile::TempDir,
    credentials: PathBuf,
    acls: PathBuf,
    agent: PathBuf,
    ops: PathBuf,
    batch: PathBuf,
    /// Who may call the agent's own API: the master alone.
    agent_api: PathBuf,
    master: PathBuf,
}

fn files() -> Files {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    Files {
        credentials: write("credentials.json", CREDENTIALS),
        acls: write("acls.json", ACLS),
        agent: write("agent.credential", "agent agent-secret\n"),
        ops: write(
            "ops.credential",
            r#"{"principal": "ops", "secret": "ops-secret"}"#,
        ),
        batch: write("batch.credential", "batch batch-secret\n"),
        agent_api: write("agent-api.txt", "master master-secret\n"),
        master: write("master.credential", "master master-secret\n"),
        _dir: dir,
    }
}

fn credential(principal: &str, secret: &str) -> Credential {
    Credential::new(principal, secret).expect("credential")
}

async fn channel(master: &str, as_: Option<&Credential>) -> wasmesos_detector::MasterService {
    let channel = MasterChannel::connect(master, DEFAULT_CONNECT_TIMEOUT)
        .await
        .expect("connect");
    channel.service(&CallHeaders::new(as_))
}

fn subscribe(name: &str, role: &str, id: &str) -> SubscribeRequest {
    SubscribeRequest {
        framework: Some(FrameworkInfo {
            id: id.into(),
            name: name.into(),
            roles: vec![role.into()],
            ..FrameworkInfo::default()
        }),
        heartbeat_interval_seconds: 0.0,
    }
}

fn code<T>(result: Result<T, tonic::Status>) -> Code {
    result.err().map_or(Code::Ok, |status| status.code())
}

fn wasmesos(master: &str, credential: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env("WASMESOS_MASTER", master)
        .env_remove("RUST_LOG");
    match credential {
        Some(path) => command.env("WASMESOS_CREDENTIAL", path),
        None => command.env_remove("WASMESOS_CREDENTIAL"),
    };
    command.output().expect("the binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_are_refused_and_principals_see_only_what_the_acls_give_them() {
    let files = files();
    let credentials = files.credentials.to_string_lossy().into_owned();
    let acls = files.acls.to_string_lossy().into_owned();
    let agent_credential = files.agent.to_string_lossy().into_owned();
    let agent_api = files.agent_api.to_string_lossy().into_owned();
    let master_credential = files.master.to_string_lossy().into_owned();
    // Reads stay open (the harness polls the state to see the agent join); every other
    // class requires a credential.
    let cluster = ProcessCluster::start(
        Path::new(BINARY),
        1,
        "cpus:2;mem:2GiB;disk:2GiB",
        &[
            "--credentials",
            &credentials,
            "--acls",
            &acls,
            "--authenticate-http-readonly",
            "false",
            "--agent-credential",
            &master_credential,
        ],
        &[
            "--credential",
            &agent_credential,
            "--http-credentials",
            &agent_api,
        ],
    )
    .await
    .expect("a master that requires credentials, and an agent that has them");
    let master = cluster.master_url();
    let web = credential("web", "web-secret");

    // An honest framework authenticates, launches and reads its own task's output.
    let config = DriverConfig::new(&master, "web")
        .role("web")
        .credential(web.clone());
    let mut framework = TestFramework::with_config(config).await.expect("subscribe");
    let web_id = framework.framework_id.clone();
    let digest = framework
        .driver
        .upload_executor(Path::new(guests::HELLO), None)
        .await
        .expect("upload")
        .digest;
    let task = TaskBuilder::new("web-task", &digest)
        .cpus(0.1)
        .mem(64 << 20);
    framework.launch_one(task).await.expect("launch");
    let status = framework.wait_for_terminal("web-task").await.expect("ends");
    assert_eq!(
        status.state(),
        wasmesos_proto::TaskState::TaskFinished,
        "{status:?}"
    );

    // No credential, or a wrong secret: refused before anything else.
    let mut anonymous = SchedulerClient::new(channel(&master, None).await);
    let refused = anonymous.subscribe(subscribe("anon", "web", "")).await;
    assert_eq!(code(refused), Code::Unauthenticated);
    let wrong = credential("web", "guess");
    let mut guesser = SchedulerClient::new(channel(&master, Some(&wrong)).await);
    let refused = guesser.subscribe(subscribe("guess", "web", "")).await;
    assert_eq!(code(refused), Code::Unauthenticated);

    // Another principal cannot take the framework over by its public id.
    let batch = credential("batch", "batch-secret");
    let mut intruder = SchedulerClient::new(channel(&master, Some(&batch)).await);
    let takeover = intruder.subscribe(subscribe("web", "web", &web_id)).await;
    let status = takeover.expect_err("takeover refused");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    // Nor act for it: without the session's stream id a call is stale, whoever sends it.
    let kill = KillRequest {
        framework_id: web_id.clone(),
        task_id: "web-task".into(),
        ..KillRequest::default()
    };
    let status = intruder.kill(kill.clone()).await.expect_err("kill refused");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("mesos-stream-id"), "{status:?}");
    let mut same_principal = SchedulerClient::new(channel(&master, Some(&web)).await);
    assert_eq!(
        code(same_principal.kill(kill).await),
        Code::FailedPrecondition
    );

    // The ACLs: web may not register in another role.
    let status = same_principal
        .subscribe(subscribe("web-elsewhere", "batch", ""))
        .await
        .expect_err("role refused");
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("register frameworks"),
        "{status:?}"
    );

    // Operator writes need a credential, and set_quotas is ops's alone.
    let quota = SetQuotaRequest {
        role: "web".into(),
        quota: Some(Quota {
            guarantee: Some(Resources::default()),
            limit: None,
        }),
    };
    let mut operator = OperatorClient::new(channel(&master, None).await);
    assert_eq!(
        code(operator.set_quota(quota.clone()).await),
        Code::Unauthenticated
    );
    let mut as_web = OperatorClient::new(channel(&master, Some(&web)).await);
    assert_eq!(
        code(as_web.set_quota(quota.clone()).await),
        Code::PermissionDenied
    );
    let ops = credential("ops", "ops-secret");
    let mut as_ops = OperatorClient::new(channel(&master, Some(&ops)).await);
    as_ops.set_quota(quota).await.expect("ops sets quota");
    // Marking an agent gone is ops's alone too: web is refused before the agent is looked
    // up, ops gets as far as finding no such agent.
    let gone = MarkAgentGoneRequest {
        agent_id: "no-such-agent".into(),
    };
    assert_eq!(
        code(as_web.mark_agent_gone(gone.clone()).await),
        Code::PermissionDenied
    );
    assert_eq!(code(as_ops.mark_agent_gone(gone).await), Code::NotFound);
    // Draining likewise, and garbage from the one allowed is refused, never applied: an
    // unknown or half-megabyte id (not echoed back), a grace that is no duration.
    let drain = |agent_id: String, max_grace_period_seconds: Option<f64>| DrainAgentRequest {
        agent_id,
        max_grace_period_seconds,
        mark_gone: false,
    };
    assert_eq!(
        code(operator.drain_agent(drain("x".into(), None)).await),
        Code::Unauthenticated
    );
    assert_eq!(
        code(as_web.drain_agent(drain("x".into(), None)).await),
        Code::PermissionDenied
    );
    let huge = as_ops.drain_agent(drain("a".repeat(512 << 10), None)).await;
    let status = huge.expect_err("an unknown agent");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().len() < 1000,
        "{} bytes",
        status.message().len()
    );
    // On the real agent: were a grace let through, the drain would be applied (OK).
    let agent_id = cluster.agents[0].agent_id.clone().expect("the agent's id");
    for grace in [f64::NAN, -1.0, f64::INFINITY] {
        assert_eq!(
            code(
                as_ops
                    .drain_agent(drain(agent_id.clone(), Some(grace)))
                    .await
            ),
            Code::InvalidArgument,
            "max grace {grace}"
        );
    }
    assert_eq!(
        code(as_ops.drain_agent(drain(String::new(), None)).await),
        Code::InvalidArgument
    );

    // Views: web's task shows to web and ops, not to batch or an anonymous reader.
    let sees_task = async |client: &mut OperatorClient<wasmesos_detector::MasterService>| {
        let state = client
            .get_state(GetStateRequest {})
            .await
            .expect("state")
            .into_inner();
        state.tasks.iter().any(|t| t.task_id == "web-task")
    };
    eventually_some("web's task in web's view", DEADLINE, async || {
        sees_task(&mut as_web).await.then_some(())
    })
    .await
    .expect("web sees its task");
    assert!(sees_task(&mut as_ops).await);
    let mut as_batch = OperatorClient::new(channel(&master, Some(&batch)).await);
    assert!(!sees_task(&mut as_batch).await, "batch sees web's task");
    assert!(
        !sees_task(&mut operator).await,
        "an anonymous reader sees web's task"
    );

    // Sandboxes: web and ops read web's output; batch may not.
    let read = ReadFileRequest {
        task_id: "web-task".into(),
        file: SandboxFile::Stdout as i32,
        offset: 0,
        length: 0,
    };
    let output = as_web
        .read_task_file(read.clone())
        .await
        .expect("web reads");
    assert!(output.into_inner().data.starts_with(b"hello from wasmesos"));
    let status = as_batch
        .read_task_file(read)
        .await
        .expect_err("batch refused");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let logs = wasmesos(&master, Some(&files.batch), &["logs", "web-task"]);
    assert!(!logs.status.success(), "{logs:?}");
    let logs = wasmesos(&master, Some(&files.ops), &["logs", "web-task"]);
    assert!(
        String::from_utf8_lossy(&logs.stdout).starts_with("hello from wasmesos"),
        "{logs:?}"
    );

    // The agent's own API answers only the master: its state holds every task's env.
    let agent_url = cluster.agents[0].url.clone();
    let agent_channel = |credential: Option<Credential>| {
        let endpoint = tonic::transport::Endpoint::from_shared(agent_url.clone()).expect("url");
        AgentClient::new(InterceptedService::new(
            endpoint.connect_lazy(),
            CallHeaders::new(credential.as_ref()),
        ))
    };
    let refused = agent_channel(None)
        .get_agent_state(GetAgentStateRequest {})
        .await;
    assert_eq!(code(refused), Code::Unauthenticated);
    let refused = agent_channel(Some(web.clone()))
        .get_agent_state(GetAgentStateRequest {})
        .await;
    assert_eq!(code(refused), Code::Unauthenticated);
    let state = agent_channel(Some(credential("master", "master-secret")))
        .get_agent_state(GetAgentStateRequest {})
        .await;
    assert_eq!(code(state), Code::Ok);

    // The CLI without a credential cannot kill: operator writes need one.
    let kill = wasmesos(&master, None, &["kill", "web-task"]);
    assert!(!kill.status.success());
    assert!(
        String::from_utf8_lossy(&kill.stderr).contains("requires authentication"),
        "{kill:?}"
    );
    framework.driver.teardown().await.expect("teardown");
}

fn schedule_of(machines: Vec<MachineId>) -> UpdateMaintenanceScheduleRequest {
    UpdateMaintenanceScheduleRequest {
        schedule: Some(MaintenanceSchedule {
            windows: vec![MaintenanceWindow {
                machine_ids: machines,
                unavailability: Some(Unavailability {
                    start_nanos: 1_900_000_000_000_000_000,
                    duration_nanos: Some(3_600_000_000_000),
                }),
            }],
        }),
    }
}

fn machine(hostname: &str, ip: &str) -> MachineId {
    MachineId {
        hostname: hostname.into(),
        ip: ip.into(),
    }
}

/// A master with the credentials and ACLs above (reads open, as the harness polls the
/// state), and one agent with `resources` that authenticates as `agent`.
async fn secured_cluster(files: &Files, resources: &str) -> ProcessCluster {
    let credentials = files.credentials.to_string_lossy().into_owned();
    let acls = files.acls.to_string_lossy().into_owned();
    let agent_credential = files.agent.to_string_lossy().into_owned();
    ProcessCluster::start(
        Path::new(BINARY),
        1,
        resources,
        &[
            "--credentials",
            &credentials,
            "--acls",
            &acls,
            "--authenticate-http-readonly",
            "false",
        ],
        &["--credential", &agent_credential],
    )
    .await
    .expect("a master that requires credentials, and an agent that has them")
}

/// A POST of JSON to the master's HTTP port, as `principal` (Basic) or anonymously.
async fn http_post(
    master: &str,
    path: &str,
    principal: Option<(&str, &str)>,
    body: &str,
) -> (u16, String) {
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!("{master}{path}"))
        .header("Content-Type", "application/json")
        .body(body.to_string());
    if let Some((user, secret)) = principal {
        request = request.basic_auth(user, Some(secret));
    }
    let response = request.send().await.expect("the master answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_needs_its_acls_and_refuses_garbage() {
    let files = files();
    let cluster = secured_cluster(&files, "cpus:1;mem:1GiB;disk:1GiB").await;
    let master = cluster.master_url();
    let (web, ops) = (
        credential("web", "web-secret"),
        credential("ops", "ops-secret"),
    );
    let mut anonymous = OperatorClient::new(channel(&master, None).await);
    let mut as_web = OperatorClient::new(channel(&master, Some(&web)).await);
    let mut as_ops = OperatorClient::new(channel(&master, Some(&ops)).await);
    let db1 = || schedule_of(vec![machine("db1", "10.0.0.1")]);

    // Changes need a credential, then update_maintenance_schedules, even to post an empty
    // schedule (which Mesos would let anyone post).
    assert_eq!(
        code(anonymous.update_maintenance_schedule(db1()).await),
        Code::Unauthenticated
    );
    assert_eq!(
        code(as_web.update_maintenance_schedule(db1()).await),
        Code::PermissionDenied
    );
    let empty = UpdateMaintenanceScheduleRequest::default();
    assert_eq!(
        code(as_web.update_maintenance_schedule(empty).await),
        Code::PermissionDenied
    );
    // Garbage from the one allowed is refused, with messages that do not grow with it.
    let twice = schedule_of(vec![machine("db1", "10.0.0.1"), machine("DB1", "10.0.0.1")]);
    let status = as_ops
        .update_maintenance_schedule(twice)
        .await
        .expect_err("a machine twice");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "Machine '{\"hostname\":\"DB1\",\"ip\":\"10.0.0.1\"}' appears more than once in the schedule"
    );
    for garbage in [
        schedule_of(vec![machine(&"h".repeat(512 << 10), "")]),
        schedule_of(vec![machine("db1", &"9".repeat(512 << 10))]),
        schedule_of(vec![machine("", "")]),
        schedule_of(vec![]),
    ] {
        let status = as_ops
            .update_maintenance_schedule(garbage)
            .await
            .expect_err("garbage");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(
            status.message().len() < 200,
            "{} bytes",
            status.message().len()
        );
    }
    let many: Vec<MachineId> = (0..4000)
        .map(|i| machine(&format!("{}{i}", "m".repeat(200)), ""))
        .collect();
    let status = as_ops
        .update_maintenance_schedule(schedule_of(many))
        .await
        .expect_err("too large for the registry");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().contains("more than the 524288 allowed"),
        "{status:?}"
    );
    as_ops
        .update_maintenance_schedule(db1())
        .await
        .expect("ops schedules db1");

    // Reads leave out what a principal may not see: ops sees db1, web and a reader without
    // a credential see nothing.
    let windows = async |client: &mut OperatorClient<wasmesos_detector::MasterService>| {
        let schedule = client
            .get_maintenance_schedule(GetMaintenanceScheduleRequest {})
            .await
            .expect("a schedule")
            .into_inner();
        let status = client
            .get_maintenance_status(GetMaintenanceStatusRequest {})
            .await
            .expect("a status")
            .into_inner();
        (schedule.windows.len(), status.draining_machines.len())
    };
    assert_eq!(windows(&mut as_ops).await, (1, 1));
    assert_eq!(windows(&mut as_web).await, (0, 0));
    assert_eq!(windows(&mut anonymous).await, (0, 0));

    // Down and up: start_maintenances and stop_maintenances are ops's alone.
    let machines = || MachinesRequest {
        machines: vec![machine("db1", "10.0.0.1")],
    };
    assert_eq!(
        code(anonymous.start_maintenance(machines()).await),
        Code::Unauthenticated
    );
    assert_eq!(
        code(as_web.start_maintenance(machines()).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(as_web.start_maintenance(MachinesRequest::default()).await),
        Code::PermissionDenied
    );
    let status = as_ops
        .start_maintenance(MachinesRequest::default())
        .await
        .expect_err("no machine");
    assert_eq!(status.message(), "List of machines is empty");
    as_ops
        .start_maintenance(machines())
        .await
        .expect("ops takes db1 down");
    assert_eq!(
        code(as_web.stop_maintenance(machines()).await),
        Code::PermissionDenied
    );
    as_ops
        .stop_maintenance(machines())
        .await
        .expect("ops brings db1 up");

    // Mesos's HTTP API and endpoints: 401 without a credential, 403 without the ACL, 400
    // for what does not parse.
    let call = r#"{"type": "START_MAINTENANCE", "start_maintenance": {"machines": [{"hostname": "db1"}]}}"#;
    assert_eq!(http_post(&master, "/api/v1", None, call).await.0, 401);
    assert_eq!(
        http_post(&master, "/api/v1", Some(("web", "web-secret")), call)
            .await
            .0,
        403
    );
    let schedule = r#"{"windows": []}"#;
    assert_eq!(
        http_post(&master, "/maintenance/schedule", None, schedule)
            .await
            .0,
        401
    );
    assert_eq!(
        http_post(
            &master,
            "/maintenance/schedule",
            Some(("web", "web-secret")),
            schedule
        )
        .await
        .0,
        403
    );
    let (status, text) = http_post(
        &master,
        "/master/machine/down",
        Some(("ops", "ops-secret")),
        "[{",
    )
    .await;
    assert_eq!(status, 400, "{text}");
    let (status, text) = http_post(
        &master,
        "/machine/up",
        Some(("ops", "ops-secret")),
        r#"{"hostname": "db1"}"#,
    )
    .await;
    assert_eq!((status, text.as_str()), (400, "Expecting a JSON array"));
    let (status, text) = http_post(
        &master,
        "/maintenance/schedule",
        Some(("ops", "ops-secret")),
        r#"{"windows": [{"machine_ids": [{"hostname": "db1"}]}]}"#,
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("unavailability"), "{text}");

    // The CLI: a principal without the ACL is told so; ops schedules, sees and clears.
    let denied = wasmesos(
        &master,
        Some(&files.batch),
        &[
            "maintenance",
            "schedule",
            "add",
            "db2",
            "--start",
            "+1h",
            "--duration",
            "1h",
        ],
    );
    assert!(!denied.status.success(), "{denied:?}");
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("update maintenance schedules"),
        "{denied:?}"
    );
    let added = wasmesos(
        &master,
        Some(&files.ops),
        &[
            "maintenance",
            "schedule",
            "add",
            "db2",
            "--start",
            "+1h",
            "--duration",
            "1h",
        ],
    );
    assert!(added.status.success(), "{added:?}");
    let status = wasmesos(&master, Some(&files.ops), &["maintenance", "status"]);
    let table = String::from_utf8_lossy(&status.stdout);
    assert!(
        table.contains("db2") && table.contains("DRAINING"),
        "{status:?}"
    );
    // The state views list db2 DRAINING to ops, and to no one without the ACL.
    let machines_seen = async |principal: Option<(&str, &str)>| {
        let mut request = reqwest::Client::new().get(format!("{master}/state"));
        if let Some((user, secret)) = principal {
            request = request.basic_auth(user, Some(secret));
        }
        let body = request
            .send()
            .await
            .expect("the master answers")
            .text()
            .await
            .expect("a body");
        let state: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        state["maintenance"].as_array().cloned().expect("a list")
    };
    let seen = eventually_some("db2 in ops's view", DEADLINE, async || {
        let machines = machines_seen(Some(("ops", "ops-secret"))).await;
        (!machines.is_empty()).then_some(machines)
    })
    .await
    .expect("ops sees the schedule");
    assert_eq!(seen[0]["hostname"], "db2");
    assert_eq!(seen[0]["mode"], "DRAINING");
    assert_eq!(seen[0]["unavailability"]["duration_seconds"], 3600.0);
    assert!(
        machines_seen(None).await.is_empty(),
        "anonymous sees machines"
    );
    assert!(
        machines_seen(Some(("web", "web-secret"))).await.is_empty(),
        "web sees machines"
    );
    let cleared = wasmesos(
        &master,
        Some(&files.ops),
        &["maintenance", "schedule", "clear"],
    );
    assert!(cleared.status.success(), "{cleared:?}");
    let shown = wasmesos(&master, Some(&files.ops), &["maintenance", "schedule"]);
    assert_eq!(
        String::from_utf8_lossy(&shown.stdout),
        "(none)\n",
        "{shown:?}"
    );
}

fn cpus(value: f64) -> Resources {
    Resources {
        resources: vec![Resource {
            name: "cpus".into(),
            value,
            ..Resource::default()
        }],
    }
}

fn request_for(framework_id: &str, resources: Resources) -> ResourceRequest {
    ResourceRequest {
        framework_id: framework_id.into(),
        resources: Some(resources),
        agent_id: String::new(),
        priority: Some(100),
    }
}

/// `Scheduler.Request` (a framework asking the master to preempt for it) over the network:
/// refused to a caller without a credential, to another principal's framework even with a
/// session of its own, and when oversized or malformed; the honest framework's request is
/// taken and the cluster goes on launching.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_requests_are_refused_forged_unauthenticated_or_oversized() {
    let files = files();
    let cluster = secured_cluster(&files, "cpus:2;mem:2GiB;disk:2GiB").await;
    let master = cluster.master_url();
    let web = credential("web", "web-secret");
    let config = DriverConfig::new(&master, "web")
        .role("web")
        .credential(web.clone());
    let mut framework = TestFramework::with_config(config).await.expect("subscribe");
    let web_id = framework.framework_id.clone();

    // The honest framework's request is taken.
    framework
        .driver
        .request_resources(cpus(1.0), None, Some(100))
        .await
        .expect("web's own request");

    // Without a credential: refused before anything is read.
    let mut anonymous = SchedulerClient::new(channel(&master, None).await);
    assert_eq!(
        code(anonymous.request(request_for(&web_id, cpus(1.0))).await),
        Code::Unauthenticated
    );

    // Another principal with a session of its own cannot request in web's name: its stream
    // id belongs to its own framework.
    let batch = credential("batch", "batch-secret");
    let headers = CallHeaders::new(Some(&batch));
    let session = MasterChannel::connect(&master, DEFAULT_CONNECT_TIMEOUT)
        .await
        .expect("connect")
        .service(&headers);
    let mut intruder = SchedulerClient::new(session);
    let subscribed = intruder
        .subscribe(subscribe("batch", "batch", ""))
        .await
        .expect("batch subscribes");
    headers.take_stream_id(&subscribed);
    let mut events = subscribed.into_inner();
    let first = events.message().await.expect("event").expect("SUBSCRIBED");
    let batch_id = match first.event {
        Some(wasmesos_proto::event::Event::Subscribed(subscribed)) => subscribed.framework_id,
        other => panic!("expected SUBSCRIBED first, got {other:?}"),
    };
    intruder
        .request(request_for(&batch_id, cpus(0.5)))
        .await
        .expect("batch's request for itself, with its session");
    let forged = intruder
        .request(request_for(&web_id, cpus(1.0)))
        .await
        .expect_err("a request in web's name");
    assert!(
        matches!(
            forged.code(),
            Code::FailedPrecondition | Code::PermissionDenied
        ),
        "{forged:?}"
    );

    // Oversized or malformed, even from the framework itself: refused, and the refusal
    // does not echo the request back.
    let too_many_ranges = Resources {
        resources: vec![Resource {
            name: "ports".into(),
            r#type: wasmesos_proto::ValueType::Ranges as i32,
            ranges: (0..5_000u64)
                .map(|i| wasmesos_proto::ValueRange {
                    begin: i * 3,
                    end: i * 3,
                })
                .collect(),
            ..Resource::default()
        }],
    };
    for (what, resources) in [
        ("5,000 port ranges", too_many_ranges),
        ("negative cpus", cpus(-1.0)),
        ("nothing", Resources::default()),
    ] {
        match framework
            .driver
            .request_resources(resources, None, None)
            .await
        {
            Err(wasmesos_sdk_scheduler::Error::Rpc { status, .. }) => {
                assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
                assert!(status.message().len() < 1000, "{what}: {status:?}");
            }
            other => panic!("{what}: expected a refusal, got {other:?}"),
        }
    }
    // A call over the master's decode limit is refused by the master itself (this client
    // sets no encoding limit of its own).
    let too_big = Resources {
        resources: vec![Resource {
            name: "x".repeat(5 << 20),
            value: 1.0,
            ..Resource::default()
        }],
    };
    let mut unlimited = SchedulerClient::new(channel(&master, Some(&web)).await);
    let status = unlimited
        .request(request_for(&web_id, too_big))
        .await
        .expect_err("a 5 MiB call");
    assert!(
        matches!(status.code(), Code::OutOfRange | Code::ResourceExhausted),
        "{:?}: {}",
        status.code(),
        &status.message()[..status.message().len().min(200)]
    );

    // The cluster goes on: web still launches and finishes a task.
    let digest = framework
        .driver
        .upload_executor(Path::new(guests::HELLO), None)
        .await
        .expect("upload")
        .digest;
    framework
        .launch_one(TaskBuilder::new("after", &digest).cpus(0.1).mem(64 << 20))
        .await
        .expect("launch");
    let status = framework.wait_for_terminal("after").await.expect("ends");
    assert_eq!(
        status.state(),
        wasmesos_proto::TaskState::TaskFinished,
        "{status:?}"
    );
}
