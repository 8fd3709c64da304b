//! Completed work is kept as Mesos keeps it: removed frameworks and their last tasks stay
//! readable, within `max_completed_frameworks` and `max_completed_tasks_per_framework`.

use wasmesos_proto::v1::TaskState;

use super::{Harness, only_offer, task};
use crate::MasterConfig;

/// Subscribes a framework, runs `tasks` one-cpu tasks to FINISHED, and tears it down.
fn finished_framework(h: &mut Harness, agent: &str, name: &str, tasks: usize) -> String {
    let fw = h.subscribe(name, &[]);
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    let infos = (0..tasks)
        .map(|i| task(&format!("{name}-t{i}"), agent, "cpus:0.1;mem:1MiB"))
        .collect();
    h.accept(&fw, &[&offer.id], infos, Some(0.0));
    for i in 0..tasks {
        let id = format!("{name}-t{i}");
        h.report(agent, &fw, &[(&id, TaskState::TaskFinished, 1)]);
        h.advance(std::time::Duration::from_millis(1));
    }
    h.core.teardown(&fw, h.now).expect("teardown");
    h.take();
    fw
}

#[test]
fn a_torn_down_framework_and_its_tasks_stay_in_the_state() {
    let mut h = Harness::new();
    let agent = h.register("cpus:4;mem:4GiB");
    let fw = finished_framework(&mut h, &agent, "run", 2);
    let snapshot = h.snapshot();
    assert!(snapshot.frameworks.is_empty());
    assert_eq!(snapshot.completed_frameworks.len(), 1);
    let completed = &snapshot.completed_frameworks[0];
    assert_eq!(completed.id, fw);
    assert!(!completed.connected);
    assert!(completed.unregistered_time.is_some());
    let tasks: Vec<_> = snapshot
        .tasks
        .iter()
        .filter(|t| t.framework_id == fw)
        .collect();
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| t.state == "FINISHED" && t.terminal));
    // The sandbox of a finished task of a gone framework can still be found.
    let location = snapshot.locate_task("run-t0").expect("located");
    assert_eq!(location.agent_id, agent);
    let state = h.cluster_state();
    assert_eq!(state.completed_frameworks.len(), 1);
    assert!(state.completed_frameworks[0].unregistered_time.is_some());
    assert_eq!(state.tasks.len(), 2);
}

#[test]
fn completed_frameworks_and_their_tasks_are_bounded() {
    let config = MasterConfig {
        max_completed_frameworks: 2,
        max_completed_tasks_per_framework: 3,
        ..MasterConfig::default()
    };
    let mut h = Harness::with_config(config);
    let agent = h.register("cpus:8;mem:4GiB");
    let first = finished_framework(&mut h, &agent, "a", 5);
    let second = finished_framework(&mut h, &agent, "b", 5);
    let third = finished_framework(&mut h, &agent, "c", 1);
    let snapshot = h.snapshot();
    let ids: Vec<&str> = snapshot
        .completed_frameworks
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    assert_eq!(
        ids,
        vec![second.as_str(), third.as_str()],
        "oldest forgotten"
    );
    assert!(snapshot.tasks.iter().all(|t| t.framework_id != first));
    let kept: Vec<&str> = snapshot
        .tasks
        .iter()
        .filter(|t| t.framework_id == second)
        .map(|t| t.task_id.as_str())
        .collect();
    assert_eq!(
        kept,
        vec!["b-t2", "b-t3", "b-t4"],
        "the newest tasks are kept"
    );
}

#[test]
fn zero_keeps_no_completed_framework() {
    let config = MasterConfig {
        max_completed_frameworks: 0,
        ..MasterConfig::default()
    };
    let mut h = Harness::with_config(config);
    let agent = h.register("cpus:4;mem:4GiB");
    finished_framework(&mut h, &agent, "z", 1);
    let snapshot = h.snapshot();
    assert!(snapshot.completed_frameworks.is_empty());
    assert!(snapshot.tasks.is_empty());
}
