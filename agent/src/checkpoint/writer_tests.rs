use wasmesos_proto::TaskState;

use super::*;
use crate::registry::TaskKey;
use wasmesos_journal::QUIET_SYNC;

fn status(task: &str, uuid: u8) -> TaskStatus {
    TaskStatus {
        task_id: task.into(),
        framework_id: "fw".into(),
        state: TaskState::TaskRunning as i32,
        uuid: vec![uuid; 16],
        ..Default::default()
    }
}

fn update(task: &str, uuid: u8) -> Message {
    Message::Change(Change::Updates(vec![status(task, uuid)]))
}

fn task_record(task: &str) -> Change {
    Change::Task {
        key: TaskKey {
            framework_id: "fw".into(),
            task_id: task.into(),
        },
        info: Vec::new(),
    }
}

/// An inbox holding `messages`, with the pace of `pace`.
fn inbox_with(pace: Pace, messages: impl IntoIterator<Item = Message>) -> Inbox {
    let inbox = Inbox::default();
    inbox.lock().pace = pace;
    for message in messages {
        inbox.send(message);
    }
    inbox
}

/// How long the thread's wait for a batch took; it must end with a batch to commit.
fn time_to_batch(inbox: &Inbox) -> Duration {
    let started = Instant::now();
    assert_eq!(inbox.wait_for_batch(), Some(true));
    started.elapsed()
}

fn busy_pace() -> Pace {
    let mut pace = Pace::default();
    pace.synced(3, Duration::from_micros(10), Instant::now());
    pace
}

/// A pace whose last sync was quick and ended long enough ago: updates may go in place.
fn quiet_quick_pace() -> Pace {
    let mut pace = Pace::default();
    let long_ago = Instant::now()
        .checked_sub(QUIET_GAP * 2)
        .unwrap_or_else(Instant::now);
    pace.synced(1, Duration::from_micros(5), long_ago);
    pace
}

fn new_store(dir: &tempfile::TempDir) -> (Store, std::path::PathBuf) {
    let path = dir.path().join("checkpoint.journal");
    let (store, _) = Store::open(&path).expect("a new checkpoint");
    (store, path)
}

#[test]
fn updates_that_come_one_at_a_time_never_wait() {
    let now = Instant::now();
    let mut pace = Pace::default();
    assert_eq!(pace.busy_linger(now), Duration::ZERO, "nothing synced yet");
    pace.synced(1, Duration::from_micros(10), now);
    assert_eq!(
        pace.busy_linger(now),
        Duration::ZERO,
        "one task's updates at a time: a lone RUNNING goes out at once"
    );
}

#[test]
fn one_tasks_running_and_finished_in_a_batch_count_as_one_task() {
    let inbox = inbox_with(Pace::default(), [update("a", 1), update("a", 2)]);
    let batch = inbox.lock().take_batch();
    assert_eq!(batch.tasks_reporting(), 1, "one task reporting is not busy");
    let inbox = inbox_with(
        Pace::default(),
        [update("c", 5), update("b", 3), update("a", 4)],
    );
    let batch = inbox.lock().take_batch();
    assert_eq!(batch.tasks_reporting(), 3);
}

#[test]
fn a_stream_of_updates_makes_a_batch_wait_for_company_for_a_while() {
    let ended = Instant::now();
    let mut pace = Pace::default();
    pace.synced(3, Duration::from_micros(10), ended);
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
    let inbox = inbox_with(busy_pace(), [update("a", 1), update("b", 2)]);
    assert!(
        time_to_batch(&inbox) >= BUSY_LINGER,
        "a busy batch with updates waits for company"
    );
    let batch = inbox.lock().take_batch();
    assert_eq!(batch.changes.len(), 2);
    assert_eq!(batch.updates, 2);
    assert!(batch.urgent && batch.close.is_none());
}

#[test]
fn an_idle_agent_commits_an_update_with_what_is_queued_and_nothing_more() {
    let inbox = inbox_with(
        Pace::default(),
        [Message::Change(task_record("a")), update("a", 1)],
    );
    assert!(
        time_to_batch(&inbox) < LINGER,
        "an update ends the task record's linger at once"
    );
    let batch = inbox.lock().take_batch();
    assert_eq!(batch.changes.len(), 2, "what was queued shares the record");
    assert!(batch.urgent);
}

#[test]
fn changes_nobody_waits_for_linger_for_company() {
    let inbox = inbox_with(Pace::default(), [Message::Change(task_record("a"))]);
    assert!(
        time_to_batch(&inbox) >= LINGER,
        "a task record waits for company"
    );
}

#[test]
fn a_close_ends_a_busy_batch_at_once() {
    let (done, _closed) = oneshot::channel();
    let inbox = inbox_with(busy_pace(), [update("a", 1), Message::Close(done)]);
    assert!(time_to_batch(&inbox) < BUSY_LINGER, "a close does not wait");
    let batch = inbox.lock().take_batch();
    assert_eq!(batch.changes.len(), 1);
    assert!(
        batch.close.is_some(),
        "the close is answered after this batch"
    );
}

#[test]
fn a_busy_batch_stops_waiting_once_it_is_full() {
    let messages = (0..=BUSY_BATCH).map(|n| update(&format!("t{n}"), 1));
    let inbox = inbox_with(busy_pace(), messages);
    assert!(
        time_to_batch(&inbox) < BUSY_LINGER,
        "a full batch does not wait"
    );
    let batch = inbox.lock().take_batch();
    assert_eq!(batch.updates, BUSY_BATCH);
    assert_eq!(
        inbox.lock().messages.len(),
        1,
        "what comes after a full batch waits for the next one"
    );
}

#[test]
fn a_disconnected_inbox_ends_the_thread_once_empty() {
    let inbox = inbox_with(Pace::default(), [Message::Change(task_record("a"))]);
    inbox.disconnect();
    assert_eq!(
        inbox.wait_for_batch(),
        Some(true),
        "what is left is committed"
    );
    drop(inbox.lock().take_batch());
    assert_eq!(inbox.wait_for_batch(), None);
}

#[test]
fn every_update_of_a_busy_batch_is_on_disk_after_its_one_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut store, path) = new_store(&dir);
    let inbox = inbox_with(
        busy_pace(),
        [update("a", 1), update("b", 2), update("c", 3)],
    );
    let batch = inbox.lock().take_batch();
    store.apply(&batch.changes).expect("one record");
    drop(store);
    let (_, recovered) = Store::open(&path).expect("reopens");
    let uuids: Vec<u8> = recovered.updates.iter().map(|s| s.uuid[0]).collect();
    assert_eq!(uuids, [1, 2, 3], "all of the batch, in order");
}

#[test]
fn updates_go_in_place_only_while_syncs_are_fast_enough_and_the_agent_is_quiet() {
    let now = Instant::now();
    assert!(
        !Pace::default().may_commit_in_place(now),
        "no sync measured yet"
    );
    assert!(quiet_quick_pace().may_commit_in_place(now));
    let long_ago = now.checked_sub(QUIET_GAP * 2).expect("time");
    let mut ssd = Pace::default();
    ssd.synced(1, Duration::from_micros(300), long_ago);
    assert!(
        ssd.may_commit_in_place(now),
        "an SSD's sync while the agent is quiet: in place"
    );
    let mut slow = Pace::default();
    slow.synced(1, QUIET_SYNC * 3, long_ago);
    assert!(
        !slow.may_commit_in_place(now),
        "a slow disk: the thread syncs"
    );
    let mut recent = Pace::default();
    recent.synced(1, Duration::from_micros(5), now);
    assert!(
        !recent.may_commit_in_place(now),
        "updates close together: the thread shares a sync among them"
    );
    assert!(
        !busy_pace().may_commit_in_place(now),
        "a busy agent: the thread shares a sync among them"
    );
}

/// The checkpoint's two writers, with no thread started: what `send_urgent` does alone.
/// Its pace is built last, so that the time opening the store took does not age it.
fn shared_without_thread(
    dir: &tempfile::TempDir,
    pace: fn() -> Pace,
) -> (Shared, crate::status::Sent) {
    let (store, _) = new_store(dir);
    let (status, sent) = StatusSender::detached();
    let shared = Shared::new(store, status);
    shared.inbox().lock().pace = pace();
    (shared, sent)
}

#[test]
fn an_update_committed_in_place_takes_what_was_queued_before_it_in_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (shared, mut sent) = shared_without_thread(&dir, quiet_quick_pace);
    shared.inbox().send(Message::Change(task_record("a")));
    shared.send_urgent(Change::Updates(vec![status("a", 1)]));
    assert!(
        shared.inbox().lock().messages.is_empty(),
        "the task record went with the update"
    );
    let batches = sent.batches();
    assert_eq!(batches.len(), 1, "forwarded at once, without the thread");
    assert_eq!(batches[0][0].uuid[0], 1);
    assert!(
        shared.inbox().lock().pace.last_took.is_some(),
        "its sync was timed"
    );
    drop(shared);
    let path = dir.path().join("checkpoint.journal");
    let (_, recovered) = Store::open(&path).expect("reopens");
    assert_eq!(recovered.tasks.len(), 1, "the task record is on disk");
    assert_eq!(recovered.updates.len(), 1, "so is its update");
}

#[test]
fn an_update_goes_to_the_thread_while_the_agent_is_busy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (shared, mut sent) = shared_without_thread(&dir, busy_pace);
    shared.send_urgent(Change::Updates(vec![status("a", 1)]));
    assert_left_to_the_thread(&shared, &mut sent);
}

/// The update is queued for the thread, and nothing was forwarded before its sync.
fn assert_left_to_the_thread(shared: &Shared, sent: &mut crate::status::Sent) {
    assert_eq!(
        shared.inbox().lock().messages.len(),
        1,
        "queued for the thread"
    );
    assert!(
        sent.batches().is_empty(),
        "nothing forwarded before its sync"
    );
}

#[test]
fn an_update_goes_to_the_thread_while_the_thread_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (shared, mut sent) = shared_without_thread(&dir, quiet_quick_pace);
    let writing = lock(&shared.writer);
    shared.send_urgent(Change::Updates(vec![status("a", 1)]));
    drop(writing);
    assert_left_to_the_thread(&shared, &mut sent);
}
