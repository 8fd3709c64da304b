//! The state machine on its own, in virtual time: schedules taken and skipped, launches
//! on offers, successes, retries, dependencies, deletes and what a reload keeps.

use std::time::Duration;

use serde_json::json;
use wasmesos_proto::{Offer, Resource, Resources, TaskState, TaskStatus, ValueType};

use super::*;

const SECOND: u64 = 1000;
/// 2026-01-01T00:00:00Z: schedules in tests start there.
const T0: u64 = 1_767_225_600_000;

fn at(seconds: u64) -> Timestamp {
    Timestamp(T0 + seconds * SECOND)
}

fn program() -> String {
    format!("wasmesos://sha256:{}", "ab".repeat(32))
}

fn job(value: serde_json::Value) -> Job {
    let mut value = value;
    if value.get("command").is_none() {
        value["command"] = json!(program());
    }
    Job::from_json(&value).expect("a job")
}

fn open(dir: &std::path::Path) -> State {
    let store = Durable::open(dir, "state.redb").expect("store");
    State::load(store, Duration::from_secs(5)).expect("load")
}

fn offer(id: &str) -> Offer {
    let scalar = |name: &str, value: f64| Resource {
        name: name.into(),
        r#type: ValueType::Scalar as i32,
        value,
        ..Resource::default()
    };
    Offer {
        id: id.into(),
        framework_id: "fw".into(),
        agent_id: "agent".into(),
        hostname: "host".into(),
        resources: Some(Resources {
            resources: vec![
                scalar("cpus", 8.0),
                scalar("mem", 8.0 * 1024.0 * 1024.0 * 1024.0),
                scalar("disk", 8.0 * 1024.0 * 1024.0 * 1024.0),
            ],
        }),
        role: "*".into(),
        unavailability: None,
    }
}

fn status(task_id: &str, state: TaskState) -> TaskStatus {
    TaskStatus {
        task_id: task_id.into(),
        state: state as i32,
        ..TaskStatus::default()
    }
}

/// Steps to `now` and launches what is due; returns the launched task ids.
fn launch(state: &mut State, now: Timestamp) -> Vec<String> {
    state.step(now);
    let (launches, _) = state.on_offers(&[offer("o")], now);
    launches
        .into_iter()
        .flat_map(|l| l.tasks)
        .map(|t| t.task_id)
        .collect()
}

fn put(state: &mut State, value: serde_json::Value, now: Timestamp) {
    state
        .put(job(value), now)
        .map_err(|r| format!("{r:?}"))
        .expect("stored");
}

#[test]
fn a_repeating_job_runs_its_count_and_is_then_disabled() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = open(dir.path());
    put(
        &mut state,
        json!({"name": "tick", "schedule": "R3/2026-01-01T00:00:10Z/PT1S"}),
        at(0),
    );
    assert!(launch(&mut state, at(9)).is_empty(), "not yet due");
    let mut ran = Vec::new();
    for second in 10..20 {
        for id in launch(&mut state, at(second)) {
            state.on_status(&status(&id, TaskState::TaskRunning), at(second));
            state.on_status(&status(&id, TaskState::TaskFinished), at(second));
            ran.push(id);
        }
    }
    assert_eq!(
        ran,
        vec![
            task_id(at(10), 0, "tick"),
            task_id(at(11), 0, "tick"),
            task_id(at(12), 0, "tick")
        ]
    );
    let tick = state.job("tick").expect("job");
    assert_eq!(tick.success_count, 3);
    assert_eq!(tick.last_success, at(12).iso());
    assert!(
        tick.disabled,
        "Chronos disables a job whose repetitions ran out"
    );
    assert_eq!(
        tick.schedule().map(|s| s.0),
        Some("R0/2026-01-01T00:00:13.000Z/PT1S")
    );
}

#[test]
fn downtime_skips_runs_older_than_epsilon_and_keeps_those_within() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = open(dir.path());
    put(
        &mut state,
        json!({"name": "late", "schedule": "R/2026-01-01T00:00:00Z/PT10S", "epsilon": "PT15S", "concurrent": true}),
        at(0),
    );
    // Down from 0 s to 100 s: the runs due at 90 and 100 s are within 15 s; older ones are not.
    let ids = launch(&mut state, at(100));
    assert_eq!(
        ids,
        vec![task_id(at(90), 0, "late"), task_id(at(100), 0, "late")]
    );
    assert_eq!(
        state.job("late").and_then(Job::schedule).map(|s| s.0),
        Some("R/2026-01-01T00:01:50.000Z/PT10S")
    );
    // A queued run that finds no offer within its epsilon is dropped.
    put(
        &mut state,
        json!({"name": "starved", "schedule": "R1/2026-01-01T00:02:00Z/PT1S", "epsilon": "PT5S"}),
        at(100),
    );
    state.step(at(120));
    assert_eq!(state.runs().filter(|r| r.job == "starved").count(), 1);
    state.step(at(126));
    assert_eq!(state.runs().filter(|r| r.job == "starved").count(), 0);
}

#[test]
fn a_failing_run_is_retried_after_the_delay_then_counts_one_error() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = open(dir.path());
    put(
        &mut state,
        json!({"name": "flaky", "schedule": "R1/2026-01-01T00:00:00Z/PT1H", "retries": 1}),
        at(0),
    );
    let first = launch(&mut state, at(0));
    assert_eq!(first.len(), 1);
    state.on_status(&status(&first[0], TaskState::TaskFailed), at(1));
    assert!(
        launch(&mut state, at(5)).is_empty(),
        "the retry waits its delay"
    );
    let retry = launch(&mut state, at(6));
    assert_eq!(retry, vec![task_id(at(6), 1, "flaky")]);
    assert_eq!(state.job("flaky").map(|j| j.error_count), Some(0));
    state.on_status(&status(&retry[0], TaskState::TaskError), at(7));
    let flaky = state.job("flaky").expect("job");
    assert_eq!((flaky.error_count, flaky.errors_since_last_success), (1, 1));
    assert_eq!(flaky.last_error, at(7).iso());
    assert_eq!(flaky.last_success, "");
    assert!(
        launch(&mut state, at(100)).is_empty(),
        "no retry beyond retries"
    );
}

#[test]
fn a_dependent_job_runs_once_all_its_parents_succeeded() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = open(dir.path());
    put(
        &mut state,
        json!({"name": "a", "schedule": "R/2026-01-01T00:00:00Z/PT1H"}),
        at(0),
    );
    put(
        &mut state,
        json!({"name": "b", "schedule": "R/2026-01-01T00:00:00Z/PT1H"}),
        at(0),
    );
    put(
        &mut state,
        json!({"name": "c", "parents": ["a", "b"]}),
        at(0),
    );
    assert!(matches!(
        state.put(job(json!({"name": "a", "parents": ["c"]})), at(0)),
        Err(Refusal::Invalid(_))
    ));
    assert!(matches!(
        state.put(job(json!({"name": "d", "parents": ["nope"]})), at(0)),
        Err(Refusal::Invalid(_))
    ));
    assert!(matches!(
        state.put(job(json!({"name": "d", "parents": []})), at(0)),
        Err(Refusal::Invalid(_))
    ));
    let ids = launch(&mut state, at(0));
    assert_eq!(ids.len(), 2);
    state.on_status(&status(&ids[0], TaskState::TaskFinished), at(1));
    assert!(
        launch(&mut state, at(1)).is_empty(),
        "one parent is not enough"
    );
    // The state survives a reload between the two parents.
    state.flush().expect("flush");
    drop(state);
    let mut state = open(dir.path());
    state.on_status(&status(&ids[1], TaskState::TaskFinished), at(2));
    assert_eq!(launch(&mut state, at(2)), vec![task_id(at(2), 0, "c")]);
}

#[test]
fn runs_are_kept_across_a_reload_and_never_queued_twice() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = open(dir.path());
    put(
        &mut state,
        json!({"name": "once", "schedule": "R1/2026-01-01T00:00:00Z/PT1H"}),
        at(0),
    );
    let ids = launch(&mut state, at(0));
    assert_eq!(ids.len(), 1);
    state.flush().expect("flush");
    drop(state);
    let mut state = open(dir.path());
    assert!(
        launch(&mut state, at(1)).is_empty(),
        "the launched run is known; nothing new is due"
    );
    assert_eq!(
        state.task_agents(),
        vec![(ids[0].clone(), "agent".to_owned())]
    );
    // An unconfirmed run is counted lost a while after the resubscription, then retried.
    state.subscribed(at(1));
    let effects = state.step(at(1).plus(UNCONFIRMED_TIMEOUT));
    assert!(effects.contains(&Effect::Kill {
        task_id: ids[0].clone()
    }));
    assert_eq!(state.runs().map(|r| r.attempt).collect::<Vec<_>>(), vec![1]);
}

#[test]
fn run_now_kill_and_delete() {
    let dir = tempfile::tempdir().expect("dir");
    let mut state = open(dir.path());
    put(
        &mut state,
        json!({"name": "p", "schedule": "R/2026-01-01T01:00:00Z/PT1H"}),
        at(0),
    );
    put(&mut state, json!({"name": "c", "parents": ["p"]}), at(0));
    assert!(matches!(
        state.run_now("nope", None, at(0)),
        Err(Refusal::NotFound(_))
    ));
    state
        .run_now("p", None, at(0))
        .map_err(|r| format!("{r:?}"))
        .expect("queued");
    let ids = launch(&mut state, at(0));
    assert_eq!(ids, vec![task_id(at(0), 0, "p")]);
    let effects = state
        .kill("p")
        .map_err(|r| format!("{r:?}"))
        .expect("killed");
    assert_eq!(
        effects,
        vec![Effect::Kill {
            task_id: ids[0].clone()
        }]
    );
    // The API drops those effects: the next step sends the kill at once, not after the
    // retry interval.
    assert!(
        state.step(at(1)).contains(&Effect::Kill {
            task_id: ids[0].clone()
        }),
        "the kill goes out at the next step"
    );
    state.on_status(&status(&ids[0], TaskState::TaskKilled), at(2));
    let p = state.job("p").expect("job");
    assert_eq!(
        (p.success_count, p.error_count),
        (0, 0),
        "a kill counts as neither"
    );
    state
        .delete("p")
        .map_err(|r| format!("{r:?}"))
        .expect("deleted");
    assert!(state.job("p").is_none());
    assert_eq!(
        state.job("c").and_then(Job::schedule).map(|s| s.0),
        Some("R/2026-01-01T01:00:00Z/PT1H"),
        "the child takes the schedule"
    );
    assert!(matches!(state.delete("p"), Err(Refusal::NotFound(_))));
    assert_eq!(
        parse_task_id(&task_id(at(0), 2, "a_b.c")),
        Some((at(0), 2, "a_b.c"))
    );
}
