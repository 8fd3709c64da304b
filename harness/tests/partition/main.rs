//! A real network partition: a master process on the host and two agent processes, each in
//! a network namespace of its own joined to the host by a veth pair. With sleepers running on
//! both agents and an offer outstanding on each, the test sets agent 0's link down, then up.
//!
//! It asserts that the partition-aware framework sees TASK_UNREACHABLE for every task of
//! the cut agent within the ping timeout (and nothing for the other agent's), that the cut
//! agent's offer is rescinded, that every task comes back RUNNING exactly once after the heal,
//! that no task id runs on two agents, and that no status update is lost: every sleeper,
//! killed at the end, ends exactly once, and both agents are left holding no update. It
//! prints the two figures: link down → TASK_UNREACHABLE, heal → RUNNING again.
//!
//! Needs root and `ip netns` (Linux); elsewhere it skips with one line. Build the binary
//! first (`cargo build -p wasmesos`) or point `WASMESOS_BIN` at one.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use wasmesos_harness::{
    Error, NetNs, ProcessCluster, SchedulerEvent, TestFramework, agent_state, eventually, scaled,
    wasmesos_binary,
};
use wasmesos_proto::{FrameworkCapability, Offer, Reason, TaskState};
use wasmesos_sdk_scheduler::{Capacity, DriverConfig, TaskBuilder, refuse_for};

const RESOURCES: &str = "cpus:4;mem:4GiB;disk:1GiB";
const SLEEPERS_PER_AGENT: usize = 8;
const HEARTBEAT: Duration = Duration::from_millis(200);
const PING_TIMEOUT: Duration = Duration::from_secs(1);
const PATIENCE: Duration = Duration::from_secs(60);

/// The namespaces, or the one line saying why this machine cannot have them.
fn namespaces(count: usize) -> Result<Vec<NetNs>, String> {
    let mut made = Vec::new();
    for _ in 0..count {
        match NetNs::create() {
            Ok(netns) => made.push(netns),
            Err(Error::NetNsUnavailable(why)) => return Err(why),
            Err(err) => panic!("creating a network namespace: {err}"),
        }
    }
    Ok(made)
}

/// Launches up to [`SLEEPERS_PER_AGENT`] sleepers on `offer`, refusing nothing, so the rest of
/// the agent comes back as a new offer.
async fn launch_sleepers(framework: &TestFramework, offer: &Offer, sleepy: &str) -> Vec<String> {
    let mut capacity = Capacity::of(offer);
    let mut tasks = Vec::new();
    let mut ids = Vec::new();
    for n in 0..SLEEPERS_PER_AGENT {
        let id = format!("sleeper-{}-{n}", offer.agent_id);
        let builder = TaskBuilder::new(id.clone(), sleepy)
            .arg("600000")
            .cpus(0.1)
            .mem(16 << 20);
        assert!(capacity.take(builder.resources()), "the agent fits them");
        tasks.push(builder.build_for(offer));
        ids.push(id);
    }
    framework
        .driver
        .launch_with_filters([offer.id.clone()], tasks, refuse_for(Duration::ZERO))
        .await
        .expect("launch");
    ids
}

/// Reads offers until one from each of `agents` is held (none answered).
async fn hold_offers(framework: &mut TestFramework, agents: &[String]) -> HashMap<String, Offer> {
    let mut held: HashMap<String, Offer> = HashMap::new();
    while agents.iter().any(|agent| !held.contains_key(agent)) {
        for offer in framework.next_offers().await.expect("offers") {
            held.insert(offer.agent_id.clone(), offer);
        }
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_makes_tasks_unreachable_and_a_healed_one_brings_them_back() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let links = match namespaces(2) {
        Ok(links) => links,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let binary = wasmesos_binary()
        .expect("the wasmesos binary: run `cargo build -p wasmesos` or set WASMESOS_BIN");
    let (heartbeat, ping) = (
        format!("{}ms", HEARTBEAT.as_millis()),
        format!("{}ms", PING_TIMEOUT.as_millis()),
    );
    let master_args = [
        "--agent-heartbeat-interval",
        heartbeat.as_str(),
        "--agent-ping-timeout",
        ping.as_str(),
    ];
    // Listening on every address: each agent reaches it on its own link's host address.
    let mut cluster =
        ProcessCluster::start_listening_on(&binary, "0.0.0.0:0", 0, RESOURCES, &master_args, &[])
            .await
            .expect("master process");
    for link in &links {
        cluster
            .add_agent_in(link, RESOURCES)
            .await
            .expect("agent process in its namespace");
    }
    cluster
        .wait_for_active_agents(2)
        .await
        .expect("both agents active");
    let agent_ids: Vec<String> = cluster
        .agents
        .iter()
        .map(|agent| agent.agent_id.clone().expect("agent id"))
        .collect();
    let (cut, spared) = (agent_ids[0].clone(), agent_ids[1].clone());

    let mut config = DriverConfig::new(cluster.master_url(), "partition-aware");
    config
        .framework
        .capabilities
        .push(FrameworkCapability::PartitionAware as i32);
    let mut framework = TestFramework::with_config(config).await.expect("subscribe");
    framework.timeout = PATIENCE;
    let sleepy = framework
        .driver
        .upload_executor(std::path::Path::new(wasmesos_guest_artifacts::SLEEPY), None)
        .await
        .expect("upload")
        .digest;
    let offers = hold_offers(&mut framework, &agent_ids).await;
    let mut on_agent: HashMap<String, Vec<String>> = HashMap::new();
    for (agent, offer) in &offers {
        on_agent.insert(
            agent.clone(),
            launch_sleepers(&framework, offer, &sleepy).await,
        );
    }
    let all: Vec<String> = on_agent.values().flatten().cloned().collect();
    let mut running: HashSet<String> = HashSet::new();
    framework
        .wait_for("every sleeper RUNNING", |event| {
            if let SchedulerEvent::Update(status) = event
                && status.state() == TaskState::TaskRunning
            {
                running.insert(status.task_id.clone());
            }
            (running.len() == all.len()).then_some(())
        })
        .await
        .expect("sleepers running");
    // The rest of each agent is on offer again; hold both offers unanswered.
    let held = hold_offers(&mut framework, &agent_ids).await;
    let cut_offer = held[&cut].id.clone();
    let before_cut = framework.history().len();

    links[0].link_down().expect("link down");
    let down_at = Instant::now();
    let cut_tasks: HashSet<String> = on_agent[&cut].iter().cloned().collect();
    let mut unreachable: HashSet<String> = HashSet::new();
    let mut rescinded = false;
    framework
        .wait_for("TASK_UNREACHABLE for the cut agent's tasks", |event| {
            match event {
                SchedulerEvent::Update(status) if status.state() == TaskState::TaskUnreachable => {
                    assert_eq!(status.reason(), Reason::AgentLost, "{status:?}");
                    assert!(status.unreachable_time.is_some(), "{status:?}");
                    unreachable.insert(status.task_id.clone());
                }
                SchedulerEvent::Rescinded(id) if *id == cut_offer => rescinded = true,
                _ => {}
            }
            (unreachable.len() == cut_tasks.len() && rescinded).then_some(())
        })
        .await
        .expect("the partition noticed");
    let to_unreachable = down_at.elapsed();
    assert_eq!(unreachable, cut_tasks, "only the cut agent's tasks");
    let bound = PING_TIMEOUT + HEARTBEAT * 2 + scaled(Duration::from_millis(500));
    assert!(
        to_unreachable <= bound,
        "TASK_UNREACHABLE took {to_unreachable:?}, more than the ping timeout allows ({bound:?})"
    );

    links[0].link_up().expect("link up");
    let healed_at = Instant::now();
    let mut back: HashSet<String> = HashSet::new();
    framework
        .wait_for("RUNNING again for every unreachable task", |event| {
            if let SchedulerEvent::Update(status) = event
                && status.state() == TaskState::TaskRunning
                && cut_tasks.contains(&status.task_id)
            {
                assert_eq!(status.reason(), Reason::AgentReregistered, "{status:?}");
                back.insert(status.task_id.clone());
            }
            (back == cut_tasks).then_some(())
        })
        .await
        .expect("the tasks came back");
    let to_running = healed_at.elapsed();

    // Each task of the cut agent was told UNREACHABLE once, then RUNNING once; the spared
    // agent's tasks were told nothing; nobody was told LOST or GONE.
    let mut after: HashMap<String, Vec<TaskState>> = HashMap::new();
    for event in &framework.history()[before_cut..] {
        if let SchedulerEvent::Update(status) = event {
            after
                .entry(status.task_id.clone())
                .or_default()
                .push(status.state());
        }
    }
    for task in &cut_tasks {
        assert_eq!(
            after.get(task).map(Vec::as_slice),
            Some(&[TaskState::TaskUnreachable, TaskState::TaskRunning][..]),
            "{task}"
        );
    }
    for task in &on_agent[&spared] {
        assert!(!after.contains_key(task), "{task}: {:?}", after.get(task));
    }
    // No task id runs on two agents, and every sleeper runs somewhere.
    let mut where_running: HashMap<String, usize> = HashMap::new();
    for agent in &cluster.agents {
        let state = agent_state(&agent.url).await.expect("agent state");
        for report in &state.tasks {
            if let Some(task) = &report.task {
                *where_running.entry(task.task_id.clone()).or_default() += 1;
            }
        }
    }
    for task in &all {
        assert_eq!(
            where_running.get(task),
            Some(&1),
            "{task} on exactly one agent"
        );
    }

    // No update lost: each sleeper killed ends exactly once, and the agents hold none.
    for task in &all {
        framework.driver.kill(task).await.expect("kill");
    }
    let mut ended: HashMap<String, usize> = HashMap::new();
    framework
        .wait_for("every sleeper ended", |event| {
            if let SchedulerEvent::Update(status) = event
                && status.state().is_terminal()
            {
                assert_eq!(status.state(), TaskState::TaskKilled, "{status:?}");
                *ended.entry(status.task_id.clone()).or_default() += 1;
            }
            (ended.len() == all.len()).then_some(())
        })
        .await
        .expect("kills");
    framework.driver.flush_acknowledgements().await;
    for agent in &cluster.agents {
        let url = agent.url.clone();
        eventually("the agent holding no update", PATIENCE, async || {
            agent_state(&url)
                .await
                .is_ok_and(|state| state.unacknowledged_updates == 0)
        })
        .await
        .unwrap_or_else(|err| {
            panic!("{err}: {} holds {}", agent.name, agent_state_blocking(&url));
        });
    }
    framework.drain();
    let twice: Vec<_> = framework
        .history()
        .iter()
        .filter_map(|event| match event {
            SchedulerEvent::Update(status) if status.state().is_terminal() => {
                Some(status.task_id.clone())
            }
            _ => None,
        })
        .fold(HashMap::<String, usize>::new(), |mut count, task| {
            *count.entry(task).or_default() += 1;
            count
        })
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    assert!(twice.is_empty(), "tasks that ended twice: {twice:?}");

    println!(
        "partition figures ({} tasks cut off, ping timeout {PING_TIMEOUT:?}, heartbeat {HEARTBEAT:?}): \
         link down -> TASK_UNREACHABLE at the framework {to_unreachable:?}; \
         heal -> RUNNING again {to_running:?}",
        cut_tasks.len()
    );
    framework.teardown().await.expect("teardown");
    drop(cluster);
    drop(links);
}

/// The agent's state as the failure message shows it.
fn agent_state_blocking(url: &str) -> String {
    let url = url.to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        format!("{:?}", runtime.block_on(agent_state(&url)))
    })
    .join()
    .unwrap_or_default()
}
