//! Maintenance across failovers, with masters and an agent as processes under a real
//! ZooKeeper and the operator using `wasmesos maintenance` through the `zk://` URL: the
//! schedule and the machines' modes live in the registry, so each new leader offers with the
//! same windows, keeps a DOWN machine's agent out, and lets it back once the machine is UP.

use std::process::Command;
use tonic::Code;
use wasmesos_harness::{HaCluster, SchedulerEvent, TestFramework, eventually_some};
use wasmesos_proto::operator_client::OperatorClient;
use wasmesos_proto::{
    GetMaintenanceScheduleRequest, GetMaintenanceStatusRequest, GetStateRequest, MachineId,
    MaintenanceSchedule, MaintenanceStatus, Unavailability,
};

use crate::common::{PATIENCE, SESSION_TIMEOUT, binary, tracing};

/// The agents announce themselves at 127.0.0.1; `db9` is a machine with no agent.
const AGENT_MACHINE: &str = "127.0.0.1";
const TWO_HOURS: i64 = 2 * 3600 * 1_000_000_000;

fn maintenance(zk: &str, args: &[&str]) {
    let out = Command::new(binary())
        .arg("maintenance")
        .args(args)
        .env("WASMESOS_MASTER", zk)
        .env_remove("WASMESOS_CREDENTIAL")
        .output()
        .expect("wasmesos runs");
    assert!(
        out.status.success(),
        "maintenance {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The leader's schedule and status, once it has booted (a new leader answers UNAVAILABLE
/// until its registry is loaded).
async fn leader_maintenance(cluster: &HaCluster) -> (MaintenanceSchedule, MaintenanceStatus) {
    eventually_some("the leader's maintenance", PATIENCE, async || {
        let leader = cluster.wait_for_leader().await.ok()?;
        let mut client = OperatorClient::connect(leader.url()).await.ok()?;
        let schedule = client
            .get_maintenance_schedule(GetMaintenanceScheduleRequest {})
            .await;
        let schedule = match schedule {
            Err(status) if status.code() == Code::Unavailable => return None,
            other => other.expect("the schedule").into_inner(),
        };
        let status = client
            .get_maintenance_status(GetMaintenanceStatusRequest {})
            .await
            .ok()?
            .into_inner();
        Some((schedule, status))
    })
    .await
    .expect("a leader that answers")
}

fn names(ids: impl IntoIterator<Item = MachineId>) -> Vec<String> {
    let mut names: Vec<String> = ids
        .into_iter()
        .map(|id| {
            if id.hostname.is_empty() {
                id.ip
            } else {
                id.hostname
            }
        })
        .collect();
    names.sort();
    names
}

fn draining(status: &MaintenanceStatus) -> Vec<String> {
    names(status.draining_machines.iter().filter_map(|m| m.id.clone()))
}

fn down(status: &MaintenanceStatus) -> Vec<String> {
    names(status.down_machines.clone())
}

/// The agents the leader has registered.
async fn leader_agents(cluster: &HaCluster) -> Option<usize> {
    let leader = cluster.wait_for_leader().await.ok()?;
    let mut client = OperatorClient::connect(leader.url()).await.ok()?;
    let state = client.get_state(GetStateRequest {}).await.ok()?;
    Some(state.into_inner().agents.len())
}

/// Kills the leader and waits for another master to lead and answer.
async fn fail_over(cluster: &mut HaCluster) {
    let leader = cluster.wait_for_leader().await.expect("a leader");
    let index = cluster
        .master_index(&leader.url())
        .expect("a master of ours");
    cluster.kill_master(index).await.expect("kill the leader");
    cluster
        .wait_for_new_leader(&leader.url())
        .await
        .expect("a new leader");
    // The killed one comes back as a standby, for the next failover.
    cluster
        .start_master(index)
        .await
        .expect("restart as standby");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_and_machine_modes_survive_failovers() {
    tracing();
    let mut cluster = HaCluster::start(&binary(), 2, 1, "cpus:1;mem:256MiB", SESSION_TIMEOUT)
        .await
        .expect("ZooKeeper, two masters and an agent");
    let zk = cluster.zk_url();
    maintenance(
        &zk,
        &[
            "schedule",
            "add",
            AGENT_MACHINE,
            "db9",
            "--start",
            "+1h",
            "--duration",
            "2h",
        ],
    );
    maintenance(&zk, &["down", "db9"]);
    let (schedule, status) = leader_maintenance(&cluster).await;
    assert_eq!(draining(&status), vec![AGENT_MACHINE.to_string()]);
    assert_eq!(down(&status), vec!["db9".to_string()]);
    let window = schedule.windows[0].unavailability.expect("a window");
    assert_eq!(window.duration_nanos, Some(TWO_HOURS));

    // A new leader: the same schedule and modes, and offers of the agent carry the window.
    fail_over(&mut cluster).await;
    let (after, status) = leader_maintenance(&cluster).await;
    assert_eq!(after, schedule, "the schedule after a failover");
    assert_eq!(draining(&status), vec![AGENT_MACHINE.to_string()]);
    assert_eq!(down(&status), vec!["db9".to_string()]);
    let mut framework = TestFramework::start(&zk, "maintenance-watcher", None)
        .await
        .expect("a framework through zk://");
    let offered: Option<Unavailability> = framework
        .wait_for("an offer of the re-registered agent", |event| match event {
            SchedulerEvent::Offers(offers) => offers.first().map(|o| o.unavailability),
            _ => None,
        })
        .await
        .expect("an offer");
    assert_eq!(offered, Some(window), "the offer carries the window");
    framework.stop().await.expect("stop the framework");

    // The agent's machine goes DOWN: its agent is removed, and a leader after the next
    // failover still refuses it until the machine is UP again.
    maintenance(&zk, &["down", AGENT_MACHINE]);
    eventually_some("the agent removed", PATIENCE, async || {
        (leader_agents(&cluster).await? == 0).then_some(())
    })
    .await
    .expect("no agent once its machine is DOWN");
    fail_over(&mut cluster).await;
    let (_, status) = leader_maintenance(&cluster).await;
    assert!(draining(&status).is_empty(), "{status:?}");
    assert_eq!(
        down(&status),
        vec![AGENT_MACHINE.to_string(), "db9".to_string()]
    );
    // The agent keeps asking to register and is refused.
    assert_eq!(
        leader_agents(&cluster).await,
        Some(0),
        "a DOWN machine's agent"
    );
    maintenance(&zk, &["up", AGENT_MACHINE]);
    eventually_some(
        "the agent back once its machine is UP",
        PATIENCE,
        async || (leader_agents(&cluster).await? == 1).then_some(()),
    )
    .await
    .expect("the agent registers again");
    let (schedule, status) = leader_maintenance(&cluster).await;
    assert_eq!(down(&status), vec!["db9".to_string()]);
    assert_eq!(
        names(schedule.windows.into_iter().flat_map(|w| w.machine_ids)),
        vec!["db9".to_string()]
    );
}
