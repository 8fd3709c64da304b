//! The agent's book of tasks: what runs, its latest status, and how to reach it.
//!
//! A task is *active* from launch until its terminal update is acknowledged; active tasks
//! are what the agent reports when it re-registers. Then it moves to a bounded list of
//! completed tasks kept for `GetAgentState` and `ReadFile`. The registry knows nothing of
//! wasmtime: a running task is reached through [`TaskControl`]. Its lock is never held across
//! an `.await`.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use wasmesos_proto::{FrameworkInfo, KillPolicy, Reason, TaskInfo, TaskReport, TaskStatus};
use wasmesos_wasm_executor::OutputMemory;

/// Identifies a task on this agent: task ids are unique only within a framework.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TaskKey {
    pub(crate) framework_id: String,
    pub(crate) task_id: String,
}

/// How the registry reaches a task that is running in the executor.
pub(crate) trait TaskControl: Send + Sync {
    /// Asks the executor to stop the task, letting a service finish what is in flight for
    /// `grace`; its terminal update follows from the runner and carries `reason` when the
    /// master gave one (REASON_AGENT_DRAINING), else REASON_KILLED.
    fn kill(&self, grace: Duration, reason: Reason);
    /// Hands a framework message to the guest; false when it can no longer take one.
    fn deliver(&self, data: Vec<u8>) -> bool;
    /// Suspends the task in place (`true`) or resumes it (`false`); the runner reports the
    /// change in a RUNNING update carrying `message`.
    fn suspend(&self, suspended: bool, message: String);
    /// CPU time the task has used so far.
    fn cpu_time(&self) -> Duration;
}

/// One running task as the oversubscription loop sees it: what it was given and the CPU it
/// has used so far.
#[derive(Debug, Clone)]
pub(crate) struct TaskUsage {
    pub(crate) key: TaskKey,
    /// Its `cpus`, revocable or not (a task takes one kind).
    pub(crate) cpus: f64,
    /// Whether its `cpus` are revocable: the QoS controller may take them back.
    pub(crate) revocable: bool,
    pub(crate) cpu_time: Duration,
}

/// Where a task's output is: its sandbox directory (none before it starts, or when it left
/// nothing on disk) and the streams it holds in memory.
#[derive(Default, Clone)]
pub(crate) struct Place {
    pub(crate) sandbox: Option<PathBuf>,
    pub(crate) output: Option<OutputMemory>,
}

struct ActiveTask {
    info: TaskInfo,
    place: Place,
    latest: TaskStatus,
    /// Wakes the runner while it is still fetching the executor.
    kill_signal: Arc<Notify>,
    kill_requested: bool,
    control: Option<Box<dyn TaskControl>>,
    /// The uuid of the guest's RUNNING update whose acknowledgement the runner awaits.
    watched: Option<Vec<u8>>,
    /// Notified when `watched` is acknowledged.
    acked: Arc<Notify>,
}

struct CompletedTask {
    info: TaskInfo,
    place: Place,
    latest: TaskStatus,
    /// Its place in `Completed::order`, so a stale entry there is recognised.
    seq: u64,
}

/// Completed tasks, oldest first, bounded; the oldest is dropped (and its sandbox deleted)
/// when a newer one arrives over the limit.
#[derive(Default)]
struct Completed {
    tasks: HashMap<TaskKey, CompletedTask>,
    order: VecDeque<(u64, TaskKey)>,
    next_seq: u64,
}

impl Completed {
    fn push(&mut self, key: TaskKey, info: TaskInfo, place: Place, latest: TaskStatus) {
        let seq = self.next_seq;
        self.next_seq = seq.saturating_add(1);
        self.order.push_back((seq, key.clone()));
        let task = CompletedTask {
            info,
            place,
            latest,
            seq,
        };
        self.tasks.insert(key, task);
    }

    /// Drops the oldest tasks beyond `limit` (with the output they hold in memory), returning
    /// them with their sandboxes on disk, if any.
    fn evict(&mut self, limit: usize) -> Vec<Expired> {
        let mut evicted = Vec::new();
        while self.tasks.len() > limit {
            let Some((seq, key)) = self.order.pop_front() else {
                break;
            };
            if self.tasks.get(&key).is_some_and(|task| task.seq == seq)
                && let Some(task) = self.tasks.remove(&key)
            {
                let sandbox = task.place.sandbox;
                evicted.push(Expired { key, sandbox });
            }
        }
        evicted
    }

    /// Forgets a task that is launched again under the same id.
    fn forget(&mut self, key: &TaskKey) {
        self.tasks.remove(key);
    }
}

/// A completed task dropped from the retained list.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Expired {
    pub(crate) key: TaskKey,
    /// Its files on disk, if it left any.
    pub(crate) sandbox: Option<PathBuf>,
}

#[derive(Default)]
struct Books {
    active: HashMap<TaskKey, ActiveTask>,
    completed: Completed,
    frameworks: HashMap<String, FrameworkInfo>,
}

/// What [`Registry::attach`] found.
pub(crate) enum Attach {
    /// The task is reachable through its control from now on.
    Attached,
    /// A kill arrived while the executor was being fetched: the caller kills the task now.
    KillRequested,
    /// The task was dropped meanwhile (the master shut the agent down): the caller kills it
    /// and reports nothing.
    Gone,
}

/// What [`Registry::kill`] did.
#[derive(Debug)]
pub(crate) enum Kill {
    /// The task was signalled; TASK_KILLED follows from its runner.
    Signalled,
    /// The task ended and its terminal update still waits for its acknowledgement.
    Unacknowledged,
    /// The task ended and its terminal update was acknowledged; this is that update.
    Completed(TaskStatus),
    /// No such task on this agent.
    Unknown,
}

/// Where a task's output is, and whether it may still grow.
#[derive(Clone)]
pub(crate) struct Located {
    pub(crate) place: Place,
    pub(crate) growing: bool,
}

/// The tasks of one agent; cheap to share behind an `Arc`.
pub(crate) struct Registry {
    books: Mutex<Books>,
    completed_limit: usize,
}

impl Registry {
    pub(crate) fn new(completed_limit: usize) -> Self {
        Registry {
            books: Mutex::new(Books::default()),
            completed_limit,
        }
    }

    fn books(&self) -> MutexGuard<'_, Books> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.books
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn add_framework(&self, framework: FrameworkInfo) {
        self.books()
            .frameworks
            .insert(framework.id.clone(), framework);
    }

    /// Takes a new task in. `None` when a task with the same key is already active.
    pub(crate) fn admit(
        &self,
        key: &TaskKey,
        info: TaskInfo,
        staging: TaskStatus,
    ) -> Option<Arc<Notify>> {
        let mut books = self.books();
        if books.active.contains_key(key) {
            return None;
        }
        books.completed.forget(key);
        let kill_signal = Arc::new(Notify::new());
        let task = ActiveTask {
            info,
            place: Place::default(),
            latest: staging,
            kill_signal: Arc::clone(&kill_signal),
            kill_requested: false,
            control: None,
            watched: None,
            acked: Arc::new(Notify::new()),
        };
        books.active.insert(key.clone(), task);
        Some(kill_signal)
    }

    /// Puts back a task that an earlier run of the agent had on its books; nothing runs it.
    pub(crate) fn restore(&self, key: &TaskKey, info: TaskInfo, latest: TaskStatus) {
        let task = ActiveTask {
            info,
            place: Place::default(),
            latest,
            kill_signal: Arc::new(Notify::new()),
            kill_requested: false,
            control: None,
            watched: None,
            acked: Arc::new(Notify::new()),
        };
        self.books().active.insert(key.clone(), task);
    }

    /// Records `statuses` (in order) as the task's latest and hands them to `publish` while
    /// still holding the lock, so that updates are queued in the order they are recorded and
    /// none slips past [`abandon_all`](Self::abandon_all). Returns false, publishing nothing,
    /// when the task is no longer active.
    pub(crate) fn record(
        &self,
        key: &TaskKey,
        statuses: Vec<TaskStatus>,
        publish: impl FnOnce(Vec<TaskStatus>),
    ) -> bool {
        let mut books = self.books();
        let Some(task) = books.active.get_mut(key) else {
            return false;
        };
        let Some(last) = statuses.last() else {
            return true;
        };
        if last.state().is_terminal() {
            task.control = None;
        }
        task.latest = last.clone();
        publish(statuses);
        true
    }

    /// Like [`record`](Self::record) for one update whose acknowledgement the caller waits
    /// for: the task's [`ack_signal`](Self::ack_signal) is notified when it arrives (the
    /// runner holds the guest's newer statuses back until then).
    pub(crate) fn record_watched(
        &self,
        key: &TaskKey,
        status: TaskStatus,
        publish: impl FnOnce(Vec<TaskStatus>),
    ) -> bool {
        let mut books = self.books();
        let Some(task) = books.active.get_mut(key) else {
            return false;
        };
        task.watched = Some(status.uuid.clone());
        task.latest = status.clone();
        publish(vec![status]);
        true
    }

    /// What [`record_watched`](Self::record_watched) notifies; `None` once the task is gone.
    pub(crate) fn ack_signal(&self, key: &TaskKey) -> Option<Arc<Notify>> {
        self.books()
            .active
            .get(key)
            .map(|task| Arc::clone(&task.acked))
    }

    /// Records where an active task's output is now. False when the task is gone.
    pub(crate) fn place(&self, key: &TaskKey, place: Place) -> bool {
        match self.books().active.get_mut(key) {
            Some(task) => {
                task.place = place;
                true
            }
            None => false,
        }
    }

    pub(crate) fn attach(&self, key: &TaskKey, control: Box<dyn TaskControl>) -> Attach {
        let mut books = self.books();
        let Some(task) = books.active.get_mut(key) else {
            return Attach::Gone;
        };
        task.control = Some(control);
        if task.kill_requested {
            Attach::KillRequested
        } else {
            Attach::Attached
        }
    }

    /// Kills a task with `policy`, or the kill policy it was launched with when `None`;
    /// `reason` is the master's (REASON_UNSPECIFIED: its framework asked).
    pub(crate) fn kill(&self, key: &TaskKey, policy: Option<&KillPolicy>, reason: Reason) -> Kill {
        let mut books = self.books();
        if let Some(task) = books.active.get_mut(key) {
            if task.latest.state().is_terminal() {
                return Kill::Unacknowledged;
            }
            task.kill_requested = true;
            let grace = kill_grace(policy.or(task.info.kill_policy.as_ref()));
            match &task.control {
                Some(control) => control.kill(grace, reason),
                None => task.kill_signal.notify_one(),
            }
            return Kill::Signalled;
        }
        books
            .completed
            .tasks
            .get(key)
            .map_or(Kill::Unknown, |done| Kill::Completed(done.latest.clone()))
    }

    /// Suspends or resumes a running task; false when it is unknown, not running yet, or
    /// being killed (a kill wins over a suspension).
    pub(crate) fn suspend(&self, key: &TaskKey, suspended: bool, message: String) -> bool {
        let books = self.books();
        match books.active.get(key) {
            Some(task) if !task.kill_requested && !task.latest.state().is_terminal() => {
                match &task.control {
                    Some(control) => {
                        control.suspend(suspended, message);
                        true
                    }
                    None => false,
                }
            }
            _ => false,
        }
    }

    /// The CPU readings of every running task (attached, not being killed).
    pub(crate) fn usage(&self) -> Vec<TaskUsage> {
        let books = self.books();
        books
            .active
            .iter()
            .filter(|(_, task)| !task.kill_requested && !task.latest.state().is_terminal())
            .filter_map(|(key, task)| {
                let control = task.control.as_ref()?;
                let resources = task.info.resources.as_ref();
                let (cpus, revocable) = resources.map_or((0.0, false), |r| {
                    let revocable: f64 = r
                        .resources
                        .iter()
                        .filter(|item| item.name == "cpus" && item.revocable)
                        .map(|item| item.value)
                        .sum();
                    (r.scalar("cpus"), revocable > 0.0)
                });
                Some(TaskUsage {
                    key: key.clone(),
                    cpus,
                    revocable,
                    cpu_time: control.cpu_time(),
                })
            })
            .collect()
    }

    /// Hands `data` to a running task; false when the task is unknown or not running.
    pub(crate) fn deliver(&self, key: &TaskKey, data: Vec<u8>) -> bool {
        let books = self.books();
        match books.active.get(key).and_then(|task| task.control.as_ref()) {
            Some(control) => control.deliver(data),
            None => false,
        }
    }

    /// Notes an acknowledgement: a task whose terminal update is acknowledged is complete.
    /// Returns the completed tasks that no longer fit the retained list; the caller deletes
    /// their files.
    pub(crate) fn acknowledged(&self, key: &TaskKey, uuid: &[u8]) -> Vec<Expired> {
        let mut books = self.books();
        if let Some(task) = books.active.get_mut(key)
            && task.watched.as_deref() == Some(uuid)
        {
            task.watched = None;
            task.acked.notify_one();
        }
        let done = books
            .active
            .get(key)
            .is_some_and(|task| task.latest.uuid == uuid && task.latest.state().is_terminal());
        if !done {
            return Vec::new();
        }
        if let Some(task) = books.active.remove(key) {
            books
                .completed
                .push(key.clone(), task.info, task.place, task.latest);
        }
        books.completed.evict(self.completed_limit)
    }

    /// The active tasks of one framework.
    pub(crate) fn framework_tasks(&self, framework_id: &str) -> Vec<TaskKey> {
        self.books()
            .active
            .keys()
            .filter(|key| key.framework_id == framework_id)
            .cloned()
            .collect()
    }

    /// Forgets every active task and framework, killing what runs; used when the master has
    /// removed this agent. `then` runs under the lock, so no update recorded later is queued
    /// before it. Returns how many tasks were dropped.
    pub(crate) fn abandon_all(&self, then: impl FnOnce()) -> usize {
        let mut books = self.books();
        let abandoned: Vec<ActiveTask> = books.active.drain().map(|(_, task)| task).collect();
        books.frameworks.clear();
        then();
        drop(books);
        for task in &abandoned {
            match &task.control {
                Some(control) => control.kill(Duration::ZERO, Reason::Unspecified),
                None => task.kill_signal.notify_one(),
            }
        }
        abandoned.len()
    }

    /// What the agent tells the master on re-registration: active tasks and their frameworks.
    pub(crate) fn reports(&self) -> (Vec<TaskReport>, Vec<FrameworkInfo>) {
        let books = self.books();
        let tasks: Vec<TaskReport> = books
            .active
            .iter()
            .map(|(key, task)| report(key, &task.info, &task.latest))
            .collect();
        let frameworks = books
            .frameworks
            .values()
            .filter(|fw| books.active.keys().any(|key| key.framework_id == fw.id))
            .cloned()
            .collect();
        (tasks, frameworks)
    }

    /// Active and retained completed tasks, for `GetAgentState`.
    pub(crate) fn all_reports(&self) -> Vec<TaskReport> {
        let books = self.books();
        let active = books
            .active
            .iter()
            .map(|(key, task)| report(key, &task.info, &task.latest));
        let completed = books
            .completed
            .tasks
            .iter()
            .map(|(key, done)| report(key, &done.info, &done.latest));
        active.chain(completed).collect()
    }

    /// Finds a task's sandbox by task id alone (as `ReadFile` names tasks), preferring an
    /// active task over a completed one and a recent completion over an older one.
    pub(crate) fn locate(&self, task_id: &str) -> Option<Located> {
        let books = self.books();
        if let Some(task) = books
            .active
            .iter()
            .find_map(|(key, task)| (key.task_id == task_id).then_some(task))
        {
            return Some(Located {
                place: task.place.clone(),
                growing: !task.latest.state().is_terminal(),
            });
        }
        books
            .completed
            .tasks
            .iter()
            .filter(|(key, _)| key.task_id == task_id)
            .max_by_key(|(_, done)| done.seq)
            .map(|(_, done)| Located {
                place: done.place.clone(),
                growing: false,
            })
    }
}

fn report(key: &TaskKey, info: &TaskInfo, latest: &TaskStatus) -> TaskReport {
    TaskReport {
        task: Some(info.clone()),
        framework_id: key.framework_id.clone(),
        latest: Some(latest.clone()),
    }
}

/// How long a killed service may finish its requests in flight: the policy's grace period,
/// or Mesos's default of 3 s. A negative, NaN or absurd one means at once or a day at most.
pub(crate) fn kill_grace(policy: Option<&KillPolicy>) -> Duration {
    const DEFAULT: Duration = Duration::from_secs(3);
    const LONGEST: Duration = Duration::from_secs(24 * 3600);
    match policy.and_then(|policy| policy.grace_period_seconds) {
        None => DEFAULT,
        Some(seconds) if seconds.is_nan() || seconds <= 0.0 => Duration::ZERO,
        Some(seconds) => Duration::try_from_secs_f64(seconds)
            .unwrap_or(LONGEST)
            .min(LONGEST),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use wasmesos_proto::TaskState;

    #[derive(Default)]
    struct Probe {
        kills: AtomicUsize,
        delivered: Mutex<Vec<Vec<u8>>>,
    }

    struct ProbeControl(Arc<Probe>);

    impl TaskControl for ProbeControl {
        fn kill(&self, _grace: Duration, _reason: Reason) {
            self.0.kills.fetch_add(1, Ordering::SeqCst);
        }
        fn deliver(&self, data: Vec<u8>) -> bool {
            self.0.delivered.lock().expect("probe lock").push(data);
            true
        }
        fn suspend(&self, _suspended: bool, _message: String) {}
        fn cpu_time(&self) -> Duration {
            Duration::ZERO
        }
    }

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

    fn expired(task: &str, sandbox: Option<&str>) -> Expired {
        Expired {
            key: key(task),
            sandbox: sandbox.map(PathBuf::from),
        }
    }

    /// Admits a task whose sandbox is the directory named like it.
    fn admit(registry: &Registry, task: &str) -> Arc<Notify> {
        let signal = registry
            .admit(
                &key(task),
                TaskInfo::default(),
                status(task, TaskState::TaskStaging, 0),
            )
            .expect("first admission");
        let place = Place {
            sandbox: Some(PathBuf::from(task)),
            output: None,
        };
        assert!(registry.place(&key(task), place));
        signal
    }

    #[test]
    fn a_duplicate_launch_is_refused_while_active() {
        let registry = Registry::new(10);
        admit(&registry, "t");
        assert!(
            registry
                .admit(&key("t"), TaskInfo::default(), TaskStatus::default())
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_kill_before_attach_wakes_the_runner_and_is_applied_at_attach() {
        let registry = Registry::new(10);
        let signal = admit(&registry, "t");
        assert!(matches!(
            registry.kill(&key("t"), None, Reason::Unspecified),
            Kill::Signalled
        ));
        signal.notified().await;
        let probe = Arc::new(Probe::default());
        let attach = registry.attach(&key("t"), Box::new(ProbeControl(Arc::clone(&probe))));
        assert!(matches!(attach, Attach::KillRequested));
    }

    #[test]
    fn kill_grace_defaults_to_three_seconds_and_clamps_what_makes_no_sense() {
        let policy = |seconds| KillPolicy {
            grace_period_seconds: Some(seconds),
        };
        assert_eq!(kill_grace(None), Duration::from_secs(3));
        assert_eq!(
            kill_grace(Some(&KillPolicy::default())),
            Duration::from_secs(3)
        );
        assert_eq!(kill_grace(Some(&policy(0.5))), Duration::from_millis(500));
        assert_eq!(kill_grace(Some(&policy(0.0))), Duration::ZERO);
        assert_eq!(kill_grace(Some(&policy(-4.0))), Duration::ZERO);
        assert_eq!(kill_grace(Some(&policy(f64::NAN))), Duration::ZERO);
        assert_eq!(
            kill_grace(Some(&policy(1e300))),
            Duration::from_secs(24 * 3600)
        );
    }

    #[test]
    fn kill_and_messages_reach_a_running_task_and_stop_after_it_ends() {
        let registry = Registry::new(10);
        admit(&registry, "t");
        let probe = Arc::new(Probe::default());
        let control = Box::new(ProbeControl(Arc::clone(&probe)));
        assert!(matches!(
            registry.attach(&key("t"), control),
            Attach::Attached
        ));
        assert!(registry.deliver(&key("t"), b"hi".to_vec()));
        assert!(matches!(
            registry.kill(&key("t"), None, Reason::Unspecified),
            Kill::Signalled
        ));
        assert_eq!(probe.kills.load(Ordering::SeqCst), 1);
        assert!(registry.record(&key("t"), vec![status("t", TaskState::TaskKilled, 9)], drop));
        assert!(!registry.deliver(&key("t"), b"late".to_vec()));
        assert!(matches!(
            registry.kill(&key("t"), None, Reason::Unspecified),
            Kill::Unacknowledged
        ));
        registry.acknowledged(&key("t"), &[9; 16]);
        assert!(
            matches!(registry.kill(&key("t"), None, Reason::Unspecified), Kill::Completed(s) if s.uuid == vec![9; 16])
        );
        assert_eq!(probe.delivered.lock().expect("probe lock").len(), 1);
        assert!(matches!(
            registry.kill(&key("other"), None, Reason::Unspecified),
            Kill::Unknown
        ));
    }

    #[test]
    fn the_terminal_ack_completes_a_task_and_completed_ones_are_bounded() {
        let registry = Registry::new(2);
        for (n, task) in ["a", "b", "c"].into_iter().enumerate() {
            admit(&registry, task);
            let uuid = n as u8 + 1;
            registry.record(
                &key(task),
                vec![status(task, TaskState::TaskFinished, uuid)],
                drop,
            );
            assert!(registry.acknowledged(&key(task), &[0; 16]).is_empty());
            assert_eq!(
                registry.reports().0.len(),
                1,
                "a wrong uuid completes nothing"
            );
            let evicted = registry.acknowledged(&key(task), &[uuid; 16]);
            assert!(registry.reports().0.is_empty());
            let expected = if task == "c" {
                vec![expired("a", Some("a"))]
            } else {
                vec![]
            };
            assert_eq!(
                evicted, expected,
                "the oldest completion's sandbox is handed back"
            );
        }
        assert!(registry.locate("a").is_none(), "oldest completion evicted");
        let located = registry.locate("c").expect("recent completion kept");
        assert!(!located.growing);
        assert_eq!(registry.all_reports().len(), 2);
        // A relaunch of a completed id replaces it; the stale place in the order is skipped.
        admit(&registry, "b");
        registry.record(
            &key("b"),
            vec![status("b", TaskState::TaskFinished, 9)],
            drop,
        );
        assert!(registry.acknowledged(&key("b"), &[9; 16]).is_empty());
        assert!(registry.locate("b").is_some());
        admit(&registry, "d");
        registry.record(
            &key("d"),
            vec![status("d", TaskState::TaskFinished, 10)],
            drop,
        );
        assert_eq!(
            registry.acknowledged(&key("d"), &[10; 16]),
            vec![expired("c", Some("c"))]
        );
    }

    #[test]
    fn abandoning_kills_what_runs_and_drops_later_updates() {
        let registry = Registry::new(10);
        admit(&registry, "t");
        let probe = Arc::new(Probe::default());
        registry.attach(&key("t"), Box::new(ProbeControl(Arc::clone(&probe))));
        let mut cleared = false;
        assert_eq!(registry.abandon_all(|| cleared = true), 1);
        assert!(cleared);
        assert_eq!(probe.kills.load(Ordering::SeqCst), 1);
        let mut published = false;
        let recorded = registry.record(
            &key("t"),
            vec![status("t", TaskState::TaskKilled, 1)],
            |_| {
                published = true;
            },
        );
        assert!(!recorded && !published);
        let probe2 = Arc::new(Probe::default());
        assert!(matches!(
            registry.attach(&key("t"), Box::new(ProbeControl(probe2))),
            Attach::Gone
        ));
    }

    #[test]
    fn a_task_without_files_on_disk_is_located_by_its_output_and_evicts_no_directory() {
        let registry = Registry::new(1);
        for (n, task) in ["a", "b"].into_iter().enumerate() {
            registry
                .admit(&key(task), TaskInfo::default(), TaskStatus::default())
                .expect("admitted");
            let located = registry.locate(task).expect("an active task");
            assert!(located.place.sandbox.is_none() && located.place.output.is_none());
            let output = OutputMemory::new(8);
            let place = Place {
                sandbox: None,
                output: Some(output.clone()),
            };
            assert!(registry.place(&key(task), place));
            let uuid = n as u8 + 1;
            registry.record(
                &key(task),
                vec![status(task, TaskState::TaskFinished, uuid)],
                drop,
            );
            let evicted = registry.acknowledged(&key(task), &[uuid; 16]);
            let expected = if task == "b" {
                vec![expired("a", None)]
            } else {
                vec![]
            };
            assert_eq!(evicted, expected);
            let located = registry.locate(task).expect("a completed task");
            assert_eq!(located.place.output, Some(output));
        }
        assert!(registry.locate("a").is_none(), "evicted with its output");
        assert!(
            !registry.place(&key("a"), Place::default()),
            "no longer active"
        );
    }
}
