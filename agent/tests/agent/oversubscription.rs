//! Oversubscription with real guests: the estimate of the CPU an idle task leaves unused,
//! and the QoS controller suspending, then revoking, a spinning task on revocable CPU when
//! a regular task needs the CPU.

use std::time::Duration;

use wasmesos_agent::OversubscriptionConfig;
use wasmesos_guest_artifacts::{SLEEPY, SPIN};
use wasmesos_proto::agent_command::{Command, Kill};
use wasmesos_proto::{Reason, TaskInfo, TaskState};

use crate::fake_master::AckPolicy;
use crate::support::{Cluster, task, with_args};

/// `task` with its cpus replaced by `cpus`, revocable or not.
fn on_cpus(mut task: TaskInfo, cpus: f64, revocable: bool) -> TaskInfo {
    if let Some(resources) = task.resources.as_mut() {
        for item in resources.resources.iter_mut().filter(|r| r.name == "cpus") {
            item.value = cpus;
            item.revocable = revocable;
        }
    }
    task
}

fn latest_estimate(cluster: &Cluster) -> Option<f64> {
    let recorded = cluster.master.recorded();
    let last = recorded.oversubscribed.last()?;
    Some(last.resources.as_ref().map_or(0.0, |r| {
        assert!(r.resources.iter().all(|item| item.revocable), "{r:?}");
        r.scalar("cpus")
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_cpu_is_estimated_and_revocable_tasks_give_it_back() {
    let cluster = Cluster::start_with(AckPolicy::OnReceipt(1), |config| {
        config.oversubscription = Some(OversubscriptionConfig {
            estimate_interval: Duration::from_millis(100),
            qos_interval: Duration::from_millis(100),
            max_suspension: Duration::from_millis(1500),
            // Half the agent's cpus kept from revocable tasks: a spinning regular task takes
            // the room back however little CPU a loaded test machine gives it.
            margin: 0.5,
            ..OversubscriptionConfig::default()
        });
    })
    .await;
    let master = &cluster.master;
    // Sent at registration: nothing runs, nothing to oversubscribe.
    master
        .until("the first estimate", |_| latest_estimate(&cluster))
        .await;
    assert_eq!(latest_estimate(&cluster), Some(0.0));

    let sleepy = master.upload_file(SLEEPY);
    let spin = master.upload_file(SPIN);
    let idle = on_cpus(with_args(task("idle", &sleepy), &["600000"]), 2.0, false);
    master.launch("service", vec![idle]).await;
    master.state("idle", TaskState::TaskRunning).await;
    // Two idle cpus, less the 50% margin.
    master
        .until("the idle cpus estimated", |_| {
            latest_estimate(&cluster).filter(|cpus| (cpus - 1.0).abs() < 0.011)
        })
        .await;

    master
        .launch(
            "best-effort",
            vec![on_cpus(task("scavenger", &spin), 1.0, true)],
        )
        .await;
    master.state("scavenger", TaskState::TaskRunning).await;
    // Nothing regular is busy: the scavenger spins on.
    master
        .launch("service", vec![on_cpus(task("busy", &spin), 2.0, false)])
        .await;
    master.state("busy", TaskState::TaskRunning).await;
    let suspended = master
        .until("the suspension", |m| {
            m.updates_of("scavenger")
                .into_iter()
                .find(|s| s.suspended == Some(true))
        })
        .await;
    assert_eq!(suspended.state(), TaskState::TaskRunning);
    assert_eq!(suspended.reason(), Reason::TaskSuspensionUpdated);
    // The spinning regular task keeps its CPU: the scavenger is revoked.
    let ended = master.terminal("scavenger").await;
    assert_eq!(
        (ended.state(), ended.reason()),
        (TaskState::TaskKilled, Reason::Revocation),
        "{ended:?}"
    );
    assert!(
        master
            .updates_of("busy")
            .iter()
            .all(|s| !s.state().is_terminal()),
        "the regular task runs on"
    );
    for task_id in ["busy", "idle"] {
        master
            .send(Command::Kill(Kill {
                framework_id: "service".into(),
                task_id: task_id.into(),
                kill_policy: None,
                reason: Default::default(),
            }))
            .await;
        master.terminal(task_id).await;
    }
}
