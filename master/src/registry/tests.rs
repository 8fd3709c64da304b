use std::path::Path;

use wasmesos_proto::v1::{AgentInfo, FrameworkInfo, TaskInfo, TaskState, TaskStatus};

use super::*;

/// Wire resources of every kind, so the round trips below cover ranges and sets.
fn resources(text: &str) -> Option<wasmesos_proto::v1::Resources> {
    let model: wasmesos_allocator::Resources = text.parse().expect("valid resources");
    Some(wasmesos_proto::resources_to_proto(&model))
}

fn agent(id: &str, removed: bool) -> Op {
    Op::PutAgent(AgentRecord {
        info: Some(AgentInfo {
            id: id.into(),
            hostname: "h".into(),
            resources: resources("cpus:2;ports:[31000-32000];ports(web):[80-80];zones:{a,b}"),
            ..AgentInfo::default()
        }),
        removed,
        registered_at: 1.5,
        removed_at: if removed { 2.5 } else { 0.0 },
        ..AgentRecord::default()
    })
}

fn framework(id: &str) -> Op {
    Op::PutFramework(FrameworkRecord {
        info: Some(FrameworkInfo {
            id: id.into(),
            name: "f".into(),
            failover_timeout_seconds: 60.0,
            ..FrameworkInfo::default()
        }),
        removed: false,
        removed_at: 0.0,
    })
}

fn task(framework_id: &str, task_id: &str, state: TaskState) -> Op {
    Op::PutTask(Box::new(TaskRecord {
        framework_id: framework_id.into(),
        agent_id: "a1".into(),
        role: "*".into(),
        info: Some(TaskInfo {
            task_id: task_id.into(),
            resources: resources("cpus:1;ports:[31000-31001,31005-31005]"),
            ..TaskInfo::default()
        }),
        status: Some(TaskStatus {
            task_id: task_id.into(),
            state: state as i32,
            ..TaskStatus::default()
        }),
        started_at: 2.0,
    }))
}

fn some_ops() -> Vec<Op> {
    vec![
        agent("a1", false),
        agent("a2", false),
        framework("f/1"),
        task("f/1", "t1", TaskState::TaskStaging),
        task("f/1", "t2", TaskState::TaskStaging),
        task("f/1", "t1", TaskState::TaskFinished),
        Op::RemoveTask {
            framework_id: "f/1".into(),
            task_id: "t2".into(),
        },
        agent("a2", true),
        maintenance("db1"),
        maintenance("db2"),
    ]
}

/// The maintenance record with one DOWN machine (a later one replaces it whole).
fn maintenance(hostname: &str) -> Op {
    use wasmesos_proto::v1::{MachineId, MachineInfo, MachineMode, MaintenanceSchedule};
    let id = MachineId {
        hostname: hostname.into(),
        ip: "10.0.0.1".into(),
    };
    Op::PutMaintenance(MaintenanceRecord {
        schedule: Some(MaintenanceSchedule::default()),
        machines: vec![MachineInfo {
            id: Some(id),
            mode: MachineMode::MachineDown as i32,
            unavailability: None,
        }],
    })
}

fn expected() -> Snapshot {
    let mut snapshot = Snapshot::default();
    for op in some_ops() {
        snapshot.apply(op);
    }
    snapshot
}

fn is_corrupt_naming(err: &Error, path: &Path) -> bool {
    let text = err.to_string();
    matches!(err, Error::RegistryCorrupt { .. })
        && text.contains(&path.display().to_string())
        && text.contains("move")
}

#[test]
fn later_ops_win_and_removals_forget() {
    let snapshot = expected();
    assert_eq!(snapshot.agents.len(), 2);
    assert!(snapshot.agents["a2"].removed);
    assert_eq!(snapshot.tasks.len(), 1);
    let machines = snapshot.maintenance.as_ref().map(|m| m.machines.clone());
    assert_eq!(
        machines
            .and_then(|m| m.first().and_then(|m| m.id.clone()))
            .map(|id| id.hostname),
        Some("db2".to_string())
    );
    let t1 = &snapshot.tasks[&task_key("f/1", "t1")];
    assert_eq!(
        t1.status.as_ref().map(|s| s.state),
        Some(TaskState::TaskFinished as i32)
    );
}

#[tokio::test]
async fn the_journal_keeps_what_was_committed_across_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(REGISTRY_FILE);
    {
        let registry = JournalRegistry::open(&path).expect("create");
        assert!(registry.load().await.expect("load").is_empty());
        let ops = some_ops();
        let (first, second) = ops.split_at(4);
        registry.commit(first.to_vec()).await.expect("commit");
        registry.commit(second.to_vec()).await.expect("commit");
    }
    let reopened = JournalRegistry::open(&path).expect("reopen");
    assert_eq!(reopened.load().await.expect("load"), expected());
}

#[tokio::test]
async fn memory_registry_applies_ops_like_the_journal() {
    let registry = MemoryRegistry::new();
    registry.commit(some_ops()).await.expect("commit");
    assert_eq!(registry.load().await.expect("load"), expected());
}

#[test]
fn a_garbage_file_is_corrupt_and_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(REGISTRY_FILE);
    std::fs::write(
        &path,
        b"this is not a registry, just some bytes".repeat(200),
    )
    .expect("write");
    let err = JournalRegistry::open(&path).expect_err("garbage must not open");
    assert!(is_corrupt_naming(&err, &path), "{err}");
}

#[test]
fn an_empty_file_is_corrupt_not_a_fresh_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(REGISTRY_FILE);
    std::fs::write(&path, b"").expect("write");
    let err = JournalRegistry::open(&path).expect_err("an empty file must not open");
    assert!(is_corrupt_naming(&err, &path), "{err}");
}

#[tokio::test]
async fn a_truncated_registry_is_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(REGISTRY_FILE);
    {
        let registry = JournalRegistry::open(&path).expect("create");
        for i in 0..50 {
            let ops = (0..20)
                .map(|j| task("f", &format!("t{i}-{j}"), TaskState::TaskStaging))
                .collect();
            registry.commit(ops).await.expect("commit");
        }
    }
    // Cut inside the last record: its last byte that is not zero goes.
    let bytes = std::fs::read(&path).expect("read");
    let cut = bytes.iter().rposition(|byte| *byte != 0).expect("records");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    file.set_len(cut as u64).expect("truncate");
    drop(file);
    let err = match JournalRegistry::open(&path) {
        Err(err) => err,
        Ok(registry) => registry
            .load()
            .await
            .expect_err("a truncated file must not load"),
    };
    assert!(is_corrupt_naming(&err, &path), "{err}");
}

#[tokio::test]
async fn a_registry_in_use_is_refused_without_calling_it_corrupt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(REGISTRY_FILE);
    let _first = JournalRegistry::open(&path).expect("create");
    let err = JournalRegistry::open(&path).expect_err("second open");
    assert!(matches!(err, Error::Registry(_)), "{err}");
}

#[test]
fn an_older_redb_registry_is_refused_not_started_over() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = dir.path().join("registry.redb");
    std::fs::write(&old, b"a redb file").expect("write");
    let err = JournalRegistry::open(dir.path().join(REGISTRY_FILE)).expect_err("refused");
    assert!(is_corrupt_naming(&err, &old), "{err}");
    assert!(err.to_string().contains("older wasmesos"), "{err}");
    assert!(
        !dir.path().join(REGISTRY_FILE).exists(),
        "no empty registry beside it"
    );
}

#[tokio::test]
async fn only_a_lone_change_runs_in_place_on_a_disk_whose_syncs_are_not_quick() {
    let dir = tempfile::tempdir().expect("temp dir");
    let registry = JournalRegistry::open(dir.path().join(REGISTRY_FILE)).expect("create");
    let many: Vec<Op> = (0..20)
        .map(|i| task("f1", &format!("t{i}"), TaskState::TaskStaging))
        .collect();
    registry.commit(many).await.expect("a busy commit");
    // Quiet for long enough: only the size of the commits keeps them off the worker.
    std::thread::sleep(wasmesos_journal::QUIET_GAP * 2);
    let quick = registry.lock().expect("journal").syncs_quickly();
    assert_eq!(
        registry.in_place(1).expect("ask"),
        quick,
        "after a busy commit, only a quick disk runs a commit in place"
    );
    registry
        .commit(vec![framework("f1")])
        .await
        .expect("a lone commit");
    std::thread::sleep(wasmesos_journal::QUIET_GAP * 2);
    assert_eq!(
        registry.in_place(50).expect("ask"),
        registry.lock().expect("journal").syncs_quickly(),
        "a busy commit runs in place only on a quick disk"
    );
}
