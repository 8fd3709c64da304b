//! The state machine on its own: operations, their refusals, offers and updates, and what
//! a reload from the store keeps.

use serde_json::json;
use wasmesos_proto::{Offer, Resource, Resources, TaskState, TaskStatus, ValueType};

use super::*;
use crate::model::AppUpdate;

fn digest_cmd() -> String {
    format!("wasmesos://sha256:{}", "ab".repeat(32))
}

fn update(value: serde_json::Value) -> AppUpdate {
    serde_json::from_value(value).expect("an update")
}

fn open(dir: &std::path::Path) -> State {
    let store = Durable::open(dir, "state.redb").expect("store");
    State::load(store, EventBus::default()).expect("load")
}

fn offer(id: &str, host: &str) -> Offer {
    let scalar = |name: &str, value: f64| Resource {
        name: name.into(),
        r#type: ValueType::Scalar as i32,
        value,
        ..Resource::default()
    };
    let ports = wasmesos_sdk_scheduler::Ranges::from_values(31_000..=31_010);
    Offer {
        id: id.into(),
        framework_id: "fw".into(),
        agent_id: format!("agent-{host}"),
        hostname: host.into(),
        resources: Some(Resources {
            resources: vec![
                scalar("cpus", 4.0),
                scalar("mem", 4.0 * 1024.0 * 1024.0 * 1024.0),
                scalar("disk", 4.0 * 1024.0 * 1024.0 * 1024.0),
                Resource::from_ranges("ports", "", &ports),
            ],
        }),
        role: "*".into(),
        unavailability: None,
    }
}

fn status(task_id: &str, state: TaskState, healthy: Option<bool>) -> TaskStatus {
    TaskStatus {
        task_id: task_id.into(),
        state: state as i32,
        healthy,
        ..TaskStatus::default()
    }
}

#[test]
fn apps_are_created_locked_during_deployments_and_kept_across_a_reload() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = open(dir.path());
    let now = Timestamp(1_000);
    let (app, deployment) = state
        .create_app(
            update(json!({"id": "/web", "cmd": digest_cmd(), "instances": 2})),
            now,
        )
        .map_err(|r| format!("{r:?}"))
        .expect("created");
    assert_eq!(app.port_definitions[0].port, 10_000);
    assert!(matches!(
        state.create_app(update(json!({"id": "/web", "cmd": digest_cmd()})), now),
        Err(Refusal::Conflict(_))
    ));
    let id = app.id.clone();
    match state.update_app(
        &id,
        update(json!({"instances": 3})),
        false,
        Timestamp(2_000),
    ) {
        Err(Refusal::Locked(ids)) => assert_eq!(ids, vec![deployment.id.clone()]),
        other => panic!("not locked: {other:?}"),
    }
    let change = state
        .update_app(&id, update(json!({"instances": 3})), true, Timestamp(2_000))
        .map_err(|r| format!("{r:?}"))
        .expect("forced");
    assert_eq!(state.deployments().count(), 1);
    assert_eq!(
        state.deployments().next().map(|d| d.id.clone()),
        Some(change.deployment_id)
    );

    state.subscribed(Timestamp(2_000));
    state.step(Timestamp(2_000));
    let (launches, unused) = state.on_offers(&[offer("o1", "h1")], Timestamp(2_100));
    assert!(unused.is_empty());
    assert_eq!(launches[0].tasks.len(), 3);
    let ports: Vec<u64> = state.tasks().flat_map(|t| t.ports.clone()).collect();
    assert_eq!(ports.len(), 3, "one port each, none shared: {ports:?}");
    drop(state);

    // A reload knows the app, its deployment and the three launched tasks: none again.
    let mut state = open(dir.path());
    assert_eq!(state.tasks().count(), 3);
    state.subscribed(Timestamp(3_000));
    state.step(Timestamp(3_000));
    let (launches, _) = state.on_offers(&[offer("o2", "h1")], Timestamp(3_000));
    assert!(launches.is_empty(), "nothing launched twice");
    let ids: Vec<String> = state.tasks().map(|t| t.id.clone()).collect();
    for id in &ids {
        state.on_status(&status(id, TaskState::TaskRunning, None), Timestamp(3_100));
    }
    state.step(Timestamp(3_200));
    assert_eq!(
        state.deployments().count(),
        0,
        "deployment done once all run"
    );
}

#[test]
fn failures_are_replaced_after_the_backoff_and_unconfirmed_tasks_are_dropped() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = open(dir.path());
    let app = json!({"id": "/job", "cmd": digest_cmd(), "backoffSeconds": 10});
    state
        .create_app(update(app), Timestamp(0))
        .map_err(|r| format!("{r:?}"))
        .expect("created");
    state.subscribed(Timestamp(0));
    state.step(Timestamp(0));
    let (launches, _) = state.on_offers(&[offer("o1", "h1")], Timestamp(0));
    let first = launches[0].tasks[0].task_id.clone();
    state.on_status(
        &status(&first, TaskState::TaskRunning, None),
        Timestamp(100),
    );
    // Exit 0 is a failure for a long-running app: delayed, and the failure is reported.
    state.on_status(
        &status(&first, TaskState::TaskFinished, None),
        Timestamp(200),
    );
    state.step(Timestamp(300));
    let (launches, _) = state.on_offers(&[offer("o2", "h1")], Timestamp(300));
    assert!(launches.is_empty(), "held by the backoff");
    let id = crate::model::PathId::parse("/job").expect("id");
    assert!(
        state
            .app(&id)
            .and_then(|r| r.last_task_failure.clone())
            .is_some()
    );
    let effects = state.step(Timestamp(10_300));
    assert!(effects.contains(&Effect::Revive), "{effects:?}");
    let (launches, _) = state.on_offers(&[offer("o3", "h1")], Timestamp(10_300));
    assert_eq!(launches.len(), 1, "relaunched after the delay");
    let second = launches[0].tasks[0].task_id.clone();

    // Never confirmed by the master: dropped (and killed) after the timeout, then replaced.
    let later = Timestamp(10_300)
        .plus(UNCONFIRMED_TIMEOUT)
        .plus(std::time::Duration::from_secs(1));
    let effects = state.step(later);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Kill { task_id, .. } if *task_id == second))
    );
    assert!(state.task(&second).is_none());
}

#[test]
fn a_cancelled_deployment_rolls_back_and_a_new_app_is_deleted() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = open(dir.path());
    let (app, created) = state
        .create_app(
            update(json!({"id": "/web", "cmd": digest_cmd()})),
            Timestamp(1_000),
        )
        .map_err(|r| format!("{r:?}"))
        .expect("created");
    let change = state
        .update_app(&app.id, update(json!({"mem": 64})), true, Timestamp(2_000))
        .map_err(|r| format!("{r:?}"))
        .expect("updated");
    assert!(state.deployments().all(|d| d.id != created.id));
    let rollback = state
        .cancel_deployment(&change.deployment_id, false, Timestamp(3_000))
        .map_err(|r| format!("{r:?}"))
        .expect("cancelled")
        .expect("a rollback deployment");
    assert_eq!(state.app(&app.id).map(|r| r.app.mem), Some(128.0));
    state
        .cancel_deployment(&rollback.deployment_id, true, Timestamp(4_000))
        .map_err(|r| format!("{r:?}"))
        .expect("forced");
    assert_eq!(state.deployments().count(), 0);
    assert!(matches!(
        state.cancel_deployment("nope", false, Timestamp(5_000)),
        Err(Refusal::NotFound(_))
    ));
}

#[test]
fn a_restart_replaces_every_task_by_a_rolling_upgrade() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = open(dir.path());
    let app = json!({"id": "/web", "cmd": digest_cmd(), "instances": 2,
                     "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0}});
    let (app, _) = state
        .create_app(update(app), Timestamp(0))
        .map_err(|r| format!("{r:?}"))
        .expect("created");
    state.subscribed(Timestamp(0));
    state.step(Timestamp(0));
    let (launches, _) = state.on_offers(&[offer("o1", "h1")], Timestamp(0));
    let old: Vec<String> = launches[0]
        .tasks
        .iter()
        .map(|t| t.task_id.clone())
        .collect();
    for id in &old {
        state.on_status(&status(id, TaskState::TaskRunning, None), Timestamp(10));
    }
    state.step(Timestamp(20));
    assert_eq!(state.deployments().count(), 0);
    state
        .restart_app(&app.id, false, Timestamp(1_000))
        .map_err(|r| format!("{r:?}"))
        .expect("restarted");
    // min healthy 1, max 2: one old task goes, then one new one may start.
    let effects = state.step(Timestamp(1_000));
    let kills = effects
        .iter()
        .filter(|e| matches!(e, Effect::Kill { .. }))
        .count();
    assert_eq!(kills, 1, "{effects:?}");
    let (launches, _) = state.on_offers(&[offer("o2", "h1")], Timestamp(1_000));
    assert!(launches.is_empty(), "the killed task still holds its place");
    let killed = old
        .iter()
        .find(|id| state.task(id).is_some_and(|t| t.kill.is_some()))
        .cloned()
        .expect("one marked");
    state.on_status(
        &status(&killed, TaskState::TaskKilled, None),
        Timestamp(1_100),
    );
    state.step(Timestamp(1_100));
    let (launches, _) = state.on_offers(&[offer("o3", "h1")], Timestamp(1_100));
    assert_eq!(launches.iter().map(|l| l.tasks.len()).sum::<usize>(), 1);
    assert!(
        state
            .app(&app.id)
            .and_then(|r| r.last_task_failure.clone())
            .is_none(),
        "a kill is no failure"
    );
}
