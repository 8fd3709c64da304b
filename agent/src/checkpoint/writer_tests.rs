use std::sync::mpsc;

use wasmesos_proto::TaskState;

use super::*;

fn update(task: &str, uuid: u8) -> Message {
    Message::Change(Change::Updates(vec![TaskStatus {
        task_id: task.into(),
        framework_id: "fw".into(),
        state: TaskState::TaskRunning as i32,
        uuid: vec![uuid; 16],
        ..Default::default()
    }]))
}

fn busy_pace() -> Pace {
    let mut pace = Pace::default();
    pace.synced(3, Instant::now());
    pace
}

#[test]
fn updates_that_come_one_at_a_time_never_wait() {
    let now = Instant::now();
    let mut pace = Pace::default();
    assert_eq!(pace.busy_linger(now), Duration::ZERO, "nothing synced yet");
    pace.synced(1, now);
    assert_eq!(
        pace.busy_linger(now),
        Duration::ZERO,
        "one task's updates at a time: a lone RUNNING goes out at once"
    );
}

#[test]
fn one_tasks_running_and_finished_in_a_batch_count_as_one_task() {
    let (queue, receiver) = mpsc::channel();
    queue.send(update("a", 2)).expect("queued");
    let batch = collect(update("a", 1), &receiver, &Pace::default());
    assert_eq!(batch.tasks_reporting(), 1, "one task reporting is not busy");
    queue.send(update("b", 3)).expect("queued");
    queue.send(update("a", 4)).expect("queued");
    let batch = collect(update("c", 5), &receiver, &Pace::default());
    assert_eq!(batch.tasks_reporting(), 3);
}

#[test]
fn a_stream_of_updates_makes_a_batch_wait_for_company_for_a_while() {
    let ended = Instant::now();
    let mut pace = Pace::default();
    pace.synced(3, ended);
    let soon = ended.checked_add(Duration::from_millis(1)).expect("time");
    assert_eq!(pace.busy_linger(soon), BUSY_LINGER);
    let later = ended.checked_add(BUSY_WINDOW).expect("time");
    assert_eq!(
        pace.busy_linger(later),
        Duration::ZERO,
        "the stream ended: the agent is not busy any more"
    );
}

#[test]
fn a_busy_batch_waits_its_linger_and_takes_what_came_meanwhile() {
    let (queue, receiver) = mpsc::channel();
    queue.send(update("b", 2)).expect("queued");
    let started = Instant::now();
    let batch = collect(update("a", 1), &receiver, &busy_pace());
    assert!(
        started.elapsed() >= BUSY_LINGER,
        "a busy batch with updates waits for company"
    );
    assert_eq!(batch.changes.len(), 2);
    assert_eq!(batch.updates, 2);
    assert!(batch.urgent && batch.close.is_none());
}

#[test]
fn an_idle_agent_commits_an_update_with_what_is_queued_and_nothing_more() {
    let (queue, receiver) = mpsc::channel();
    queue.send(update("b", 2)).expect("queued");
    let batch = collect(update("a", 1), &receiver, &Pace::default());
    assert_eq!(batch.updates, 2, "what was queued shares the transaction");
    assert!(batch.urgent);
}

#[test]
fn a_close_ends_a_busy_batch_at_once() {
    let (queue, receiver) = mpsc::channel();
    let (done, _closed) = oneshot::channel();
    queue.send(Message::Close(done)).expect("queued");
    let batch = collect(update("a", 1), &receiver, &busy_pace());
    assert_eq!(batch.changes.len(), 1);
    assert!(
        batch.close.is_some(),
        "the close is answered after this batch"
    );
}

#[test]
fn a_busy_batch_stops_waiting_once_it_is_full() {
    let (queue, receiver) = mpsc::channel();
    for uuid in 1..BUSY_BATCH {
        queue.send(update(&format!("t{uuid}"), 1)).expect("queued");
    }
    queue.send(update("late", 2)).expect("queued");
    let batch = collect(update("t0", 0), &receiver, &busy_pace());
    assert_eq!(batch.updates, BUSY_BATCH);
    assert!(
        receiver.try_recv().is_ok(),
        "what comes after a full batch waits for the next one"
    );
}

#[test]
fn every_update_of_a_busy_batch_is_on_disk_after_its_one_transaction() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("checkpoint.journal");
    let (mut store, _) = Store::open(&path).expect("a new checkpoint");
    let (queue, receiver) = mpsc::channel();
    queue.send(update("b", 2)).expect("queued");
    queue.send(update("c", 3)).expect("queued");
    let batch = collect(update("a", 1), &receiver, &busy_pace());
    store.apply(&batch.changes).expect("one transaction");
    drop(store);
    let (_, recovered) = Store::open(&path).expect("reopens");
    let uuids: Vec<u8> = recovered.updates.iter().map(|s| s.uuid[0]).collect();
    assert_eq!(uuids, [1, 2, 3], "all of the batch, in order");
}
