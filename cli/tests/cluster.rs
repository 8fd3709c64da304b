//! The cluster commands and a cluster of separate OS processes: `wasmesos master` and
//! `wasmesos agent` children on random loopback ports, driven by the scheduler SDK and by
//! `wasmesos run/state/tasks/logs/kill/agents`.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use wasmesos_guest_artifacts as guests;
use wasmesos_harness::{
    ProcessCluster, SchedulerEvent, TestFramework, cluster_state, eventually, eventually_some,
};
use wasmesos_proto::{Reason, TaskState};
use wasmesos_sdk_scheduler::{TaskBuilder, refuse_for};

const BINARY: &str = env!("CARGO_BIN_EXE_wasmesos");
const FAST_MASTER: &[&str] = &[
    "--agent-heartbeat-interval",
    "100ms",
    "--agent-ping-timeout",
    "1s",
];
const SMALL_AGENT: &[&str] = &["--max-tasks", "256"];
/// How long a condition on the master's published state may take to hold.
const DEADLINE: Duration = Duration::from_secs(10);

async fn processes(agents: usize) -> ProcessCluster {
    ProcessCluster::start(
        Path::new(BINARY),
        agents,
        "cpus:2;mem:2GiB;disk:2GiB",
        FAST_MASTER,
        SMALL_AGENT,
    )
    .await
    .expect("master and agents as processes")
}

fn wasmesos(master: &str, args: &[&str]) -> Output {
    Command::new(BINARY)
        .args(args)
        .env("WASMESOS_MASTER", master)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_agent_process_loses_its_tasks_and_its_offers() {
    let mut cluster = processes(2).await;
    let doomed = cluster.agents[0].agent_id.clone().expect("agent id");
    let mut framework = TestFramework::start(&cluster.master_url(), "survivor", None)
        .await
        .expect("subscribe");
    let digest = framework
        .driver
        .upload_executor(Path::new(guests::SLEEPY), None)
        .await
        .expect("upload")
        .digest;

    // One long task on the doomed agent; the rest of that agent comes back as an offer that
    // the framework keeps. Offers of the other agent are declined for good.
    let mut held = None;
    let mut launched = false;
    while held.is_none() {
        for offer in framework.next_offers().await.expect("offers") {
            if offer.agent_id != doomed {
                let refuse = Some(refuse_for(Duration::from_secs(3600)));
                framework
                    .driver
                    .decline([offer.id], refuse)
                    .await
                    .expect("decline");
            } else if !launched {
                let task = TaskBuilder::new("doomed-task", &digest)
                    .cpus(0.5)
                    .mem(64 << 20);
                let info = task.build_for(&offer);
                let refuse = refuse_for(Duration::ZERO);
                framework
                    .driver
                    .launch_with_filters([offer.id], vec![info], refuse)
                    .await
                    .expect("launch");
                launched = true;
            } else {
                held = Some(offer);
            }
        }
    }
    let held = held.expect("an offer of the doomed agent");
    framework
        .wait_for_status("doomed-task", |state| state == TaskState::TaskRunning)
        .await
        .expect("running");

    cluster.agents[0].kill().await.expect("kill -9 the agent");

    let lost = framework
        .wait_for_terminal("doomed-task")
        .await
        .expect("terminal update");
    assert_eq!(
        (lost.state(), lost.reason()),
        (TaskState::TaskLost, Reason::AgentLost),
        "{lost:?}"
    );
    let is_rescind =
        |event: &SchedulerEvent| matches!(event, SchedulerEvent::Rescinded(id) if *id == held.id);
    if !framework.history().iter().any(is_rescind) {
        framework
            .wait_for("the held offer's rescind", |event| {
                is_rescind(event).then_some(())
            })
            .await
            .expect("the held offer was rescinded");
    }
    let failure_seen = framework
        .history()
        .iter()
        .any(|event| matches!(event, SchedulerEvent::Failure(agent) if *agent == doomed));
    assert!(failure_seen, "a FAILURE event names the lost agent");

    // The master's state is published up to 100 ms after the FAILURE event.
    let url = cluster.master_url();
    eventually(
        "the killed agent inactive in the state",
        DEADLINE,
        async || {
            cluster_state(&url).await.is_ok_and(|state| {
                !state.agents.iter().any(|agent| {
                    agent.active && agent.agent.as_ref().is_some_and(|a| a.id == doomed)
                })
            })
        },
    )
    .await
    .expect("the killed agent is no longer active");
    framework.teardown().await.expect("teardown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasmesos_run_prints_the_output_and_exits_with_the_task_code() {
    let cluster = processes(1).await;
    let master = cluster.master_url();

    let ok = wasmesos(
        &master,
        &["run", "--env", "GREETING=hi", guests::HELLO, "--", "world"],
    );
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    let stdout = text(&ok.stdout);
    assert!(stdout.starts_with("hello from wasmesos\n"), "{stdout}");
    assert!(
        stdout.contains("arg[1]=world\n") && stdout.contains("GREETING=hi\n"),
        "{stdout}"
    );
    let stderr = text(&ok.stderr);
    for state in ["STARTING", "RUNNING", "FINISHED"] {
        assert!(stderr.contains(state), "state {state} printed: {stderr}");
    }

    let three = wasmesos(&master, &["run", guests::HELLO, "--", "--exit", "3"]);
    assert_eq!(three.status.code(), Some(3), "{three:?}");

    let bomb = wasmesos(&master, &["run", "--mem", "32MiB", guests::MEMORY_BOMB]);
    assert_eq!(bomb.status.code(), Some(1), "{bomb:?}");
    assert!(
        text(&bomb.stderr).contains("memory limit"),
        "{}",
        text(&bomb.stderr)
    );

    let tasks = wasmesos(&master, &["agents"]);
    assert_eq!(tasks.status.code(), Some(0), "{tasks:?}");
    let agent_id = cluster.agents[0].agent_id.clone().expect("agent id");
    assert!(
        text(&tasks.stdout).contains(&agent_id),
        "{}",
        text(&tasks.stdout)
    );
    // `--json` is the master's HTTP schema (`GET /state`), not one of the CLI's own.
    let json = wasmesos(&master, &["state", "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(value["agents"][0]["id"], agent_id.as_str());
    assert!(value["generation"].is_u64(), "{value}");
    assert!(value["agents"][0]["total"]["mem_bytes"].is_f64(), "{value}");
    let agents = wasmesos(&master, &["agents", "--json"]);
    let agents: serde_json::Value = serde_json::from_slice(&agents.stdout).expect("JSON");
    assert_eq!(agents[0]["id"], agent_id.as_str());
    assert!(agents[0]["active_tasks"].is_u64(), "{agents}");
    let tasks = wasmesos(&master, &["tasks", "--json"]);
    let tasks: serde_json::Value = serde_json::from_slice(&tasks.stdout).expect("JSON");
    assert!(tasks.is_array(), "{tasks}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_logs_and_kill_work_on_a_running_task() {
    let cluster = processes(1).await;
    let master = cluster.master_url();
    let mut framework = TestFramework::start(&master, "operator", None)
        .await
        .expect("subscribe");
    let digest = framework
        .driver
        .upload_executor(Path::new(guests::HELLO), None)
        .await
        .expect("upload")
        .digest;
    let task = TaskBuilder::new("greeter", &digest)
        .cpus(0.1)
        .mem(64 << 20)
        .args(["--stderr", "to stderr"]);
    framework.launch_one(task).await.expect("launch");
    framework
        .wait_for_terminal("greeter")
        .await
        .expect("finished");

    // The master's state lags its core by up to 100 ms: the ending may take one more look.
    eventually_some("greeter FINISHED in the task table", DEADLINE, async || {
        let listing = text(&wasmesos(&master, &["tasks"]).stdout);
        let finished = listing
            .lines()
            .any(|l| l.starts_with("greeter") && l.contains("FINISHED"));
        finished.then_some(())
    })
    .await
    .expect("the task table shows the ending");
    let stdout = wasmesos(&master, &["logs", "greeter"]);
    assert!(
        text(&stdout.stdout).starts_with("hello from wasmesos"),
        "{stdout:?}"
    );
    let stderr = wasmesos(&master, &["logs", "greeter", "--stderr"]);
    assert_eq!(text(&stderr.stdout), "to stderr\n");

    let sleepy = framework
        .driver
        .upload_executor(Path::new(guests::SLEEPY), None)
        .await
        .expect("upload")
        .digest;
    framework
        .launch_one(TaskBuilder::new("sleeper", &sleepy).cpus(0.1).mem(64 << 20))
        .await
        .expect("launch");
    framework
        .wait_for_status("sleeper", |state| state == TaskState::TaskRunning)
        .await
        .expect("running");
    let kill = wasmesos(&master, &["kill", "sleeper"]);
    assert_eq!(kill.status.code(), Some(0), "{kill:?}");
    let killed = framework
        .wait_for_terminal("sleeper")
        .await
        .expect("terminal");
    assert_eq!(killed.state(), TaskState::TaskKilled, "{killed:?}");

    // `tasks --json` is the master's task view: states and reason codes as `GET /state`
    // spells them, resources in bytes, `terminal`.
    let sleeper = eventually_some("sleeper KILLED in tasks --json", DEADLINE, async || {
        let json = wasmesos(&master, &["tasks", "--json"]);
        let tasks: serde_json::Value = serde_json::from_slice(&json.stdout).ok()?;
        let sleeper = tasks
            .as_array()?
            .iter()
            .find(|t| t["task_id"] == "sleeper")?;
        (sleeper["state"] == "KILLED").then(|| sleeper.clone())
    })
    .await
    .expect("the killed task in tasks --json");
    assert_eq!(sleeper["reason"], "killed", "{sleeper}");
    assert_eq!(sleeper["terminal"], true, "{sleeper}");
    assert_eq!(
        sleeper["resources"]["mem_bytes"],
        f64::from(64 << 20),
        "{sleeper}"
    );
    framework.teardown().await.expect("teardown");
}

#[test]
fn an_unreachable_master_is_one_line_naming_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    for args in [
        &["state"][..],
        &["tasks"],
        &["kill", "x"],
        &["logs", "x"],
        &["run", guests::HELLO],
    ] {
        let output = wasmesos(&url, args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {output:?}");
        let stderr = text(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains(&url) && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn every_cluster_command_has_help_with_examples() {
    for command in [
        "run",
        "dev",
        "state",
        "agents",
        "frameworks",
        "tasks",
        "logs",
        "kill",
    ] {
        let output = Command::new(BINARY)
            .args([command, "--help"])
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(0), "{command}");
        assert!(
            text(&output.stdout).contains("Examples:"),
            "{command} --help has examples"
        );
    }
}

/// A one-file-per-path HTTP/1.1 server on `127.0.0.1:0` (404 for other paths), closing
/// each connection after its response; returns its address and the requests it served.
async fn serve_files(
    files: Vec<(&'static str, Vec<u8>)>,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    let files = Arc::new(files);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let files = Arc::clone(&files);
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let head = String::from_utf8_lossy(&head);
                let path = head.split_whitespace().nth(1).unwrap_or("");
                let (status, body) = match files.iter().find(|(p, _)| *p == path) {
                    Some((_, body)) => ("200 OK", body.clone()),
                    None => ("404 Not Found", Vec::new()),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.write_all(&body).await;
            });
        }
    });
    (addr, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasmesos_run_runs_a_component_the_agent_fetches() {
    let cluster = processes(1).await;
    let master = cluster.master_url();
    let hello = std::fs::read(guests::HELLO).expect("the hello guest is built");
    let files = vec![("/hello.wasm", hello), ("/notes.txt", b"notes".to_vec())];
    let (addr, served) = serve_files(files).await;
    let program = format!("http://{addr}/hello.wasm");
    let notes = format!("http://{addr}/notes.txt");
    let run = |args: Vec<String>| {
        let master = master.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            wasmesos(&master, &args)
        })
    };
    let args = [
        "run",
        "--program-uri",
        &program,
        "--fetch",
        &notes,
        "--cache",
        "--",
        "x",
    ];
    let ok = run(args.map(String::from).to_vec()).await.expect("run");
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    let stdout = text(&ok.stdout);
    assert!(stdout.starts_with("hello from wasmesos\n"), "{stdout}");
    assert!(stdout.contains("arg[1]=x\n"), "{stdout}");
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 2);
    // Cached on the agent: a second run downloads nothing.
    let again = run(args.map(String::from).to_vec()).await.expect("run");
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 2);

    let missing = format!("http://{addr}/missing.wasm");
    let failed = run(vec!["run".into(), "--program-uri".into(), missing.clone()])
        .await
        .expect("run");
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    let stderr = text(&failed.stderr);
    assert!(
        stderr.contains(&format!("Failed to fetch '{missing}': HTTP 404 Not Found")),
        "{stderr}"
    );
    let neither = wasmesos(&master, &["run"]);
    assert_eq!(neither.status.code(), Some(2), "{neither:?}");
}

/// `wasmesos agents drain` kills the agent's task for draining and shows it DRAINED, offered
/// to no one, until `wasmesos agents reactivate` puts it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_agent_kills_its_task_for_draining_and_is_offered_again_once_reactivated() {
    let cluster = processes(1).await;
    let master = cluster.master_url();
    let agent_id = cluster.agents[0].agent_id.clone().expect("agent id");
    let mut framework = TestFramework::start(&master, "drained", None)
        .await
        .expect("subscribe");
    let digest = framework
        .driver
        .upload_executor(Path::new(guests::SLEEPY), None)
        .await
        .expect("upload")
        .digest;
    // An hour's sleep that asks for ten minutes to stop: the drain allows it a second.
    let task = TaskBuilder::new("sleeper", &digest)
        .cpus(0.5)
        .mem(64 << 20)
        .kill_grace(Duration::from_secs(600));
    framework.launch_one(task).await.expect("launch");
    framework
        .wait_for_status("sleeper", |state| state == TaskState::TaskRunning)
        .await
        .expect("running");

    let out = wasmesos(
        &master,
        &["agents", "drain", &agent_id, "--max-grace", "1s"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("draining"),
        "{}",
        text(&out.stdout)
    );
    let killed = framework
        .wait_for_terminal("sleeper")
        .await
        .expect("the drain kills the task");
    assert_eq!(
        (killed.state(), killed.reason()),
        (TaskState::TaskKilled, Reason::AgentDraining),
        "{killed:?}"
    );

    // DRAINED, in the operator's state and in `wasmesos agents`; nothing of it on offer.
    eventually(
        "the agent DRAINED with nothing offered",
        DEADLINE,
        async || {
            let state = cluster_state(&master).await.expect("state");
            state.agents.first().is_some_and(|agent| {
                agent.deactivated
                    && agent.drain_info.as_ref().map(|d| d.state())
                        == Some(wasmesos_proto::DrainState::Drained)
                    && agent
                        .offered
                        .as_ref()
                        .is_none_or(|r| r.resources.is_empty())
            })
        },
    )
    .await
    .expect("drained");
    let listed = wasmesos(&master, &["agents"]);
    assert!(
        text(&listed.stdout).contains("drained"),
        "{}",
        text(&listed.stdout)
    );
    // Refusals the operator can act on.
    let unknown = wasmesos(&master, &["agents", "deactivate", "no-such-agent"]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("Unknown agent"),
        "{}",
        text(&unknown.stderr)
    );

    framework.drain();
    let out = wasmesos(&master, &["agents", "reactivate", &agent_id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    framework
        .wait_for("an offer of the reactivated agent", |event| match event {
            SchedulerEvent::Offers(offers) => offers
                .iter()
                .any(|offer| offer.agent_id == agent_id)
                .then_some(()),
            _ => None,
        })
        .await
        .expect("offered again");
}

/// A role given a quota guarantee on a full cluster takes the CPU it lacks from a
/// preemptible framework's spinning tasks by suspending one in place (RUNNING, `suspended`,
/// the reason naming the role); once the role gives its CPU back, the task is resumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guaranteed_role_suspends_a_preemptible_task_for_its_cpu_and_it_resumes_after() {
    let cluster = processes(1).await;
    let master = cluster.master_url();
    let agent_id = cluster.agents[0].agent_id.clone().expect("agent id");
    let config = wasmesos_sdk_scheduler::DriverConfig::new(&master, "batch")
        .role("batch")
        .preemptible();
    let mut batch = TestFramework::with_config(config).await.expect("subscribe");
    let digest = batch
        .driver
        .upload_executor(Path::new(guests::SPIN), None)
        .await
        .expect("upload")
        .digest;
    // The agent's two cpus, spinning.
    for id in ["spin-0", "spin-1"] {
        let task = TaskBuilder::new(id, &digest).cpus(1.0).mem(64 << 20);
        batch.launch_one(task).await.expect("launch");
        batch
            .wait_for_status(id, |state| state == TaskState::TaskRunning)
            .await
            .expect("running");
    }

    let quota = ["roles", "set-quota", "gold", "--guarantee", "cpus:1"];
    let out = wasmesos(&master, &quota);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let appeared = std::time::Instant::now();
    let mut gold = TestFramework::start(&master, "gold", Some("gold"))
        .await
        .expect("subscribe");
    let offer = gold
        .wait_for("an offer of a cpu", |event| match event {
            SchedulerEvent::Offers(offers) => offers
                .iter()
                .find(|offer| {
                    offer.agent_id == agent_id
                        && offer.resources.as_ref().map(|r| r.scalar("cpus")) >= Some(1.0)
                })
                .cloned(),
            _ => None,
        })
        .await
        .expect("gold is offered the cpu its guarantee holds");
    eprintln!(
        "gold received its cpu {:?} after it appeared",
        appeared.elapsed()
    );
    let suspended = batch
        .wait_for("a suspension", |event| match event {
            SchedulerEvent::Update(status) if status.suspended == Some(true) => {
                Some(status.clone())
            }
            _ => None,
        })
        .await
        .expect("one spinning task is suspended");
    assert_eq!(suspended.state(), TaskState::TaskRunning, "{suspended:?}");
    assert_eq!(suspended.reason(), Reason::TaskSuspensionUpdated);
    assert!(suspended.message.contains("'gold'"), "{suspended:?}");
    // The operator sees it suspended, still RUNNING.
    eventually("the task shown suspended", DEADLINE, async || {
        let tasks = wasmesos(&master, &["tasks"]);
        text(&tasks.stdout).lines().any(|line| {
            line.starts_with(&suspended.task_id) && line.contains("RUNNING (suspended)")
        })
    })
    .await
    .expect("`wasmesos tasks` shows the suspension");

    // Gold wants nothing more and gives the cpu back: the task runs on.
    gold.driver.suppress(Vec::new()).await.expect("suppress");
    gold.driver
        .decline([offer.id], Some(refuse_for(Duration::from_secs(3600))))
        .await
        .expect("decline");
    let resumed = batch
        .wait_for("the resume", |event| match event {
            SchedulerEvent::Update(status)
                if status.suspended == Some(false) && status.task_id == suspended.task_id =>
            {
                Some(status.clone())
            }
            _ => None,
        })
        .await
        .expect("the suspended task resumes");
    assert_eq!(resumed.state(), TaskState::TaskRunning, "{resumed:?}");
    assert!(
        batch
            .states_of(&suspended.task_id)
            .iter()
            .all(|s| !s.is_terminal()),
        "never ended: {:?}",
        batch.states_of(&suspended.task_id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversubscribed_agent_offers_unused_cpu_as_revocable_and_takes_it_back() {
    let agent_flags = [
        "--max-tasks",
        "256",
        "--oversubscribe",
        "--oversubscribed-resources-interval",
        "200ms",
        "--qos-correction-interval",
        "200ms",
        "--qos-max-suspension",
        "2s",
        // Half the cpus kept from revocable tasks: the spinning regular task below takes
        // the room back however little CPU a loaded test machine gives it.
        "--oversubscription-margin",
        "0.5",
    ];
    let cluster = ProcessCluster::start(
        Path::new(BINARY),
        1,
        "cpus:2;mem:2GiB;disk:2GiB",
        // Three cores' worth of spinning guests on a machine that may have two, beside
        // other tests: a patient ping timeout, so that a heartbeat held up by the load never
        // makes the agent unreachable (its tasks would then be killed as lost, not revoked).
        &[
            "--agent-heartbeat-interval",
            "500ms",
            "--agent-ping-timeout",
            "30s",
        ],
        &agent_flags,
    )
    .await
    .expect("master and an oversubscribing agent as processes");
    let master = cluster.master_url();
    let mut service = TestFramework::start(&master, "service", None)
        .await
        .expect("subscribe");
    let sleepy = service
        .driver
        .upload_executor(Path::new(guests::SLEEPY), None)
        .await
        .expect("upload")
        .digest;
    let spin = service
        .driver
        .upload_executor(Path::new(guests::SPIN), None)
        .await
        .expect("upload")
        .digest;
    // A regular task holds both cpus and uses none of them. The rest of the offer is
    // refused for an hour, so the framework below is offered it.
    let offers = service.next_offers().await.expect("an offer");
    let offer = offers[0].clone();
    let idle = TaskBuilder::new("idle", &sleepy).cpus(2.0).mem(64 << 20);
    let idle = wasmesos_sdk_scheduler::Capacity::of(&offer)
        .place(idle)
        .expect("the agent's first offer holds it")
        .build_for(&offer);
    service
        .driver
        .launch_with_filters(
            [offer.id.clone()],
            vec![idle],
            refuse_for(Duration::from_secs(3600)),
        )
        .await
        .expect("launch");
    service
        .wait_for_status("idle", |state| state == TaskState::TaskRunning)
        .await
        .expect("running");

    // A framework that takes revocable resources is offered the idle CPU (less the
    // margin: one cpu) and runs a spinning task on it.
    let config =
        wasmesos_sdk_scheduler::DriverConfig::new(&master, "best-effort").revocable_resources();
    let mut best_effort = TestFramework::with_config(config).await.expect("subscribe");
    let task = TaskBuilder::new("scavenger", &spin)
        .revocable_cpus(1.0)
        .mem(64 << 20);
    let offer = best_effort.launch_one(task).await.expect("launch");
    let offered = wasmesos_sdk_scheduler::Capacity::of(&offer);
    assert_eq!(
        offered.get("cpus"),
        0.0,
        "the regular cpus are the service's"
    );
    assert!(
        offered.get_revocable("cpus") >= 1.0,
        "revocable cpus offered: {offer:?}"
    );
    best_effort
        .wait_for_status("scavenger", |state| state == TaskState::TaskRunning)
        .await
        .expect("the revocable task runs");
    // The regular framework never sees revocable resources.
    assert!(
        service.history().iter().all(|event| match event {
            SchedulerEvent::Offers(offers) => offers.iter().all(|offer| offer
                .resources
                .as_ref()
                .is_none_or(|r| r.resources.iter().all(|item| !item.revocable))),
            _ => true,
        }),
        "no revocable offer to a framework without the capability"
    );

    // The service needs its CPU: its idle task makes way for a spinning one on both cpus.
    service.driver.kill("idle").await.expect("kill");
    service
        .wait_for_status("idle", |state| state == TaskState::TaskKilled)
        .await
        .expect("killed");
    service.driver.revive(Vec::new()).await.expect("revive");
    let busy = TaskBuilder::new("busy", &spin).cpus(2.0).mem(64 << 20);
    service.launch_one(busy).await.expect("launch");
    service
        .wait_for_status("busy", |state| state == TaskState::TaskRunning)
        .await
        .expect("running");
    let busy_at = std::time::Instant::now();
    let suspended = best_effort
        .wait_for("the suspension", |event| match event {
            SchedulerEvent::Update(status) if status.suspended == Some(true) => {
                Some(status.clone())
            }
            _ => None,
        })
        .await
        .expect("the QoS controller suspends the revocable task");
    eprintln!(
        "QoS reaction: the revocable task was suspended {:?} after the regular task ran",
        busy_at.elapsed()
    );
    assert_eq!(suspended.state(), TaskState::TaskRunning, "{suspended:?}");
    assert_eq!(suspended.reason(), Reason::TaskSuspensionUpdated);
    assert!(
        suspended.message.contains("regular tasks need their CPU"),
        "{suspended:?}"
    );
    // The service keeps spinning: the CPU does not come back, so the task is revoked.
    let ended = best_effort
        .wait_for_status("scavenger", |state| state.is_terminal())
        .await
        .expect("revoked");
    assert_eq!(ended.state(), TaskState::TaskKilled, "{ended:?}");
    assert_eq!(ended.reason(), Reason::Revocation, "{ended:?}");
    assert!(
        service.states_of("busy").iter().all(|s| !s.is_terminal()),
        "the regular task runs on"
    );
    let metrics = reqwest::get(format!("{}/metrics", cluster.agents[0].url))
        .await
        .expect("agent metrics")
        .text()
        .await
        .expect("metrics text");
    for line in [
        "wasmesos_agent_qos_suspensions_total 1",
        "wasmesos_agent_qos_revocations_total 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}
