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

/// A new checkpoint in `dir` holding task `a` and its RUNNING update (uuid 1), synced.
fn with_task_a_running(dir: &Path) -> (std::path::PathBuf, Store) {
    let path = dir.join("checkpoint.journal");
    let (mut store, _) = Store::open(&path).expect("a new checkpoint");
    store
        .apply(&[
            task_change("a"),
            Change::Updates(vec![status("a", TaskState::TaskRunning, 1)]),
        ])
        .expect("written");
    (path, store)
}

fn reopen(path: &Path) -> Recovered {
    Store::open(path).expect("the checkpoint opens").1
}

#[test]
fn tasks_and_unacknowledged_updates_survive_a_reopen_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("checkpoint.journal");
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
    let (path, store) = with_task_a_running(dir.path());
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
    let path = dir.path().join("checkpoint.journal");
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
    let path = dir.path().join("checkpoint.journal");
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
    let path = dir.path().join("checkpoint.journal");
    std::fs::write(&path, b"these bytes were never a checkpoint".repeat(200)).expect("write");
    let err = Store::open(&path).expect_err("garbage is refused");
    assert!(matches!(err, Error::Checkpoint { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("move it aside"), "{message}");
}

#[test]
fn a_damaged_record_is_refused_not_trusted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("checkpoint.journal");
    let (mut store, _) = Store::open(&path).expect("a new checkpoint");
    for n in 0..50u8 {
        let update = TaskStatus {
            message: "x".repeat(500),
            ..status(&format!("t{n}"), TaskState::TaskRunning, n)
        };
        store
            .apply(&[Change::Updates(vec![update])])
            .expect("written");
    }
    drop(store);
    let mut bytes = std::fs::read(&path).expect("read");
    // Inside the records, with valid ones after the damage: not a torn write.
    let middle = 32 + 600 * 20;
    for byte in &mut bytes[middle..middle + 64] {
        *byte ^= 0x5a;
    }
    std::fs::write(&path, &bytes).expect("write");
    let err = Store::open(&path).expect_err("a damaged file is refused");
    assert!(matches!(err, Error::Checkpoint { .. }), "{err:?}");
    assert!(err.to_string().contains("damaged"), "{err}");
}

#[test]
fn a_write_torn_by_a_crash_is_dropped_and_what_was_synced_before_it_is_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (path, mut store) = with_task_a_running(dir.path());
    let torn_at = store.journal.used_bytes() as usize;
    store
        .apply(&[Change::Updates(vec![status(
            "a",
            TaskState::TaskFinished,
            2,
        )])])
        .expect("to be torn");
    drop(store);
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[torn_at + 12..torn_at + 4096].fill(0);
    std::fs::write(&path, &bytes).expect("write");
    let recovered = reopen(&path);
    assert_eq!(uuids(&recovered.updates), [1]);
    assert_eq!(
        recovered.tasks[0].latest.as_ref().map(TaskStatus::state),
        Some(TaskState::TaskRunning)
    );
}

#[test]
fn an_older_redb_checkpoint_is_refused_with_its_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let old = dir.path().join("checkpoint.redb");
    std::fs::write(&old, b"redb file").expect("write");
    let err = Store::open(&dir.path().join("checkpoint.journal")).expect_err("refused");
    let message = err.to_string();
    assert!(message.contains(&old.display().to_string()), "{message}");
    assert!(message.contains("older wasmesos"), "{message}");
    assert!(message.contains("move it aside"), "{message}");
}

#[test]
fn thousands_of_tasks_later_the_checkpoint_is_compacted_to_what_is_live() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("checkpoint.journal");
    let (mut store, _) = Store::open(&path).expect("a new checkpoint");
    let uuid = |n: u32, state: u8| {
        let mut uuid = n.to_le_bytes().to_vec();
        uuid.extend_from_slice(&[state; 12]);
        uuid
    };
    let mut compacted = false;
    for n in 0..40_000u32 {
        let task = format!("t{n}");
        let running = TaskStatus {
            uuid: uuid(n, 1),
            ..status(&task, TaskState::TaskRunning, 0)
        };
        let finished = TaskStatus {
            uuid: uuid(n, 2),
            message: "done".repeat(20),
            ..status(&task, TaskState::TaskFinished, 0)
        };
        let mut changes = vec![task_change(&task), Change::Updates(vec![running, finished])];
        // Every task but the last ten is acknowledged, as the master does.
        if let Some(old) = n.checked_sub(10) {
            changes.push(Change::Acked { uuid: uuid(old, 1) });
            changes.push(Change::Acked { uuid: uuid(old, 2) });
        }
        let before = store.journal.used_bytes();
        store.apply(&changes).expect("written");
        compacted |= store.journal.used_bytes() < before;
    }
    assert!(compacted, "40,000 tasks must have compacted the journal");
    assert!(std::fs::metadata(&path).expect("metadata").len() < 24 << 20);
    drop(store);
    let recovered = reopen(&path);
    let mut tasks: Vec<&str> = recovered
        .tasks
        .iter()
        .map(|t| t.key.task_id.as_str())
        .collect();
    tasks.sort_unstable();
    let mut expected: Vec<String> = (39_990..40_000).map(|n| format!("t{n}")).collect();
    expected.sort_unstable();
    assert_eq!(tasks, expected);
    assert_eq!(recovered.updates.len(), 20);
}
