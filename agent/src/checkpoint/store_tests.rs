use super::*;
use wasmesos_proto::TaskState;

fn key(task: &str) -> TaskKey {
    TaskKey {
        framework_id: "fw".into(),
        task_id: task.into(),
    }
}

fn status(task: &str, state: TaskState, uuid: u8) -> TaskStatus {
    TaskStatus {
        task_id: task.into(),
        framework_id: "fw".into(),
        state: state as i32,
        uuid: vec![uuid; 16],
        ..Default::default()
    }
}

fn task_change(task: &str) -> Change {
    let info = TaskInfo {
        task_id: task.into(),
        name: format!("{task} name"),
        resources: Some(crate::parse_resources("cpus:1;ports:[31000-31001]").expect("valid")),
        ..Default::default()
    };
    Change::Task {
        key: key(task),
        info: info.encode_to_vec(),
    }
}

fn framework() -> FrameworkInfo {
    FrameworkInfo {
        id: "fw".into(),
        name: "a framework".into(),
        ..Default::default()
    }
}

fn uuids(updates: &[TaskStatus]) -> Vec<u8> {
    updates.iter().map(|s| s.uuid[0]).collect()
}

fn reopen(path: &Path) -> Recovered {
    Store::open(path).expect("the checkpoint opens").1
}

#[test]
fn tasks_and_unacknowledged_updates_survive_a_reopen_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("checkpoint.redb");
    let (mut store, recovered) = Store::open(&path).expect("a new checkpoint");
    assert!(recovered.agent_id.is_none() && recovered.tasks.is_empty());
    store
        .apply(&[
            Change::AgentId(Some("agent-7".into())),
            Change::Framework(framework()),
            task_change("a"),
            task_change("b"),
            Change::Updates(vec![
                status("a", TaskState::TaskStarting, 1),
                status("a", TaskState::TaskRunning, 2),
            ]),
        ])
        .expect("first batch");
    store
        .apply(&[
            Change::Updates(vec![status("b", TaskState::TaskRunning, 3)]),
            Change::Acked { uuid: vec![1; 16] },
            Change::Updates(vec![status("a", TaskState::TaskFinished, 4)]),
        ])
        .expect("second batch");
    drop(store);

    let recovered = reopen(&path);
    assert_eq!(recovered.agent_id.as_deref(), Some("agent-7"));
    assert_eq!(recovered.frameworks, vec![framework()]);
    assert_eq!(
        uuids(&recovered.updates),
        [2, 3, 4],
        "acked ones gone, order kept"
    );
    let mut tasks: Vec<(String, String, Option<TaskState>)> = recovered
        .tasks
        .iter()
        .map(|t| {
            let latest = t.latest.as_ref().map(TaskStatus::state);
            let ports = t.info.resources.clone().unwrap_or_default().ranges("ports");
            assert_eq!(
                ports.to_string(),
                "[31000-31001]",
                "ports survive the checkpoint"
            );
            (t.key.task_id.clone(), t.info.name.clone(), latest)
        })
        .collect();
    tasks.sort();
    assert_eq!(
        tasks,
        [
            ("a".into(), "a name".into(), Some(TaskState::TaskFinished)),
            ("b".into(), "b name".into(), Some(TaskState::TaskRunning)),
        ]
    );
}

#[test]
fn a_reopened_checkpoint_appends_after_what_it_holds_and_still_takes_acks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("checkpoint.redb");
    let (mut store, _) = Store::open(&path).expect("a new checkpoint");
    store
        .apply(&[
            task_change("a"),
            Change::Updates(vec![status("a", TaskState::TaskRunning, 1)]),
        ])
        .expect("written");
    drop(store);
    let (mut store, _) = Store::open(&path).expect("reopened");
    store
        .apply(&[
            Change::Updates(vec![status("a", TaskState::TaskFailed, 2)]),
            Change::Acked { uuid: vec![1; 16] },
        ])
        .expect("written after the reopen");
    drop(store);
    let (mut store, recovered) = Store::open(&path).expect("reopened again");
    assert_eq!(uuids(&recovered.updates), [2]);
    store
        .apply(&[Change::Acked { uuid: vec![2; 16] }])
        .expect("terminal ack");
    drop(store);
    let recovered = reopen(&path);
    assert!(recovered.updates.is_empty());
    assert!(
        recovered.tasks.is_empty(),
        "the ack of the terminal update completes the task"
    );
}

#[test]
fn an_acked_terminal_update_drops_the_task_and_later_its_framework() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("checkpoint.redb");
    let (mut store, _) = Store::open(&path).expect("a new checkpoint");
    store
        .apply(&[
            Change::Framework(framework()),
            task_change("a"),
            Change::Updates(vec![status("a", TaskState::TaskFinished, 1)]),
        ])
        .expect("written");
    store
        .apply(&[
            Change::Acked { uuid: vec![1; 16] },
            // A duplicate or unknown ack changes nothing.
            Change::Acked { uuid: vec![1; 16] },
            Change::Acked { uuid: vec![9; 16] },
        ])
        .expect("acked");
    drop(store);
    let recovered = reopen(&path);
    assert!(recovered.tasks.is_empty() && recovered.updates.is_empty());
    assert!(
        recovered.frameworks.is_empty(),
        "a framework without tasks is not kept"
    );
}

#[test]
fn clear_forgets_everything_but_the_file_stays_usable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("checkpoint.redb");
    let (mut store, _) = Store::open(&path).expect("a new checkpoint");
    store
        .apply(&[
            Change::AgentId(Some("agent-1".into())),
            Change::Framework(framework()),
            task_change("a"),
            Change::Updates(vec![status("a", TaskState::TaskRunning, 1)]),
            Change::Clear,
            task_change("b"),
        ])
        .expect("written");
    drop(store);
    let recovered = reopen(&path);
    assert!(recovered.agent_id.is_none());
    assert!(recovered.updates.is_empty());
    let tasks: Vec<&str> = recovered
        .tasks
        .iter()
        .map(|t| t.key.task_id.as_str())
        .collect();
    assert_eq!(tasks, ["b"]);
}

#[test]
fn a_file_that_is_not_a_checkpoint_is_refused_with_its_path_and_the_way_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("checkpoint.redb");
    std::fs::write(&path, b"these bytes were never a checkpoint".repeat(200)).expect("write");
    let err = Store::open(&path).expect_err("garbage is refused");
    assert!(matches!(err, Error::Checkpoint { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("move it aside"), "{message}");
}

#[test]
fn a_damaged_page_is_refused_not_trusted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("checkpoint.redb");
    let (mut store, _) = Store::open(&path).expect("a new checkpoint");
    let many: Vec<TaskStatus> = (0..200u8)
        .map(|n| TaskStatus {
            message: "x".repeat(500),
            ..status(&format!("t{n}"), TaskState::TaskRunning, n)
        })
        .collect();
    store.apply(&[Change::Updates(many)]).expect("written");
    drop(store);
    let mut bytes = std::fs::read(&path).expect("read");
    // Past redb's header and first pages, inside the data the updates occupy.
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..middle + 4096] {
        *byte ^= 0x5a;
    }
    std::fs::write(&path, &bytes).expect("write");
    let err = Store::open(&path).expect_err("a damaged file is refused");
    assert!(matches!(err, Error::Checkpoint { .. }), "{err:?}");
}
