//! The master SIGKILLed 20 times while a framework launches 10,000 hello tasks: every task
//! whose launch was attempted ends in exactly one acknowledged terminal state, and no task
//! is unaccounted for.
//!
//! An answered ACCEPT does not mean a launch: the master answers OK and refuses a dead
//! master's offers with TASK_ERROR (INVALID_OFFERS). So the test judges each ending by what
//! the agents said: a task an agent ever reported (STARTING, RUNNING, ...) must end
//! FINISHED; LOST is accounted only for tasks no agent ever reported — the master never
//! knew them, or recorded them but died before the agent got the launch (both LOST,
//! RECONCILIATION: the latter when the agent re-registers without it).
//!
//! A second terminal state for any task fails the test. (A refused launch that the driver's
//! post-subscribe reconciliation also asked about gets two answers from the master; the
//! driver delivers only the first.)

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use wasmesos_harness::{
    ProcessCluster, SchedulerEvent, TestFramework, agent_state, cluster_state, eventually, scaled,
};
use wasmesos_proto::reconcile_request::ReconcileTask;
use wasmesos_proto::{Offer, Reason, StatusSource, TaskInfo, TaskState, TaskStatus};
use wasmesos_sdk_scheduler::{Capacity, TaskBuilder, refuse_for};

use crate::{PATIENCE, binary};

const TASKS: usize = 10_000;
const KILLS: usize = 20;
const AGENTS: usize = 3;
const AGENT_RESOURCES: &str = "cpus:8;mem:16GiB";
/// How many tasks one ACCEPT carries at most, so a kill lands among many small calls.
const BATCH: usize = 50;

/// What the test knows about one task id.
#[derive(Debug, Default, Clone)]
struct Ledger {
    /// ACCEPT answered OK by the master.
    accepted: bool,
    agent_id: String,
    /// An agent or the task's executor reported it: it reached an agent.
    reached_an_agent: bool,
    /// Distinct terminal states of acknowledged updates (ones with a uuid).
    acknowledged: Vec<(TaskState, Reason)>,
    /// Distinct terminal states of answers without a uuid (reconciliation).
    answered: Vec<(TaskState, Reason)>,
}

impl Ledger {
    fn new(accepted: bool, agent_id: String) -> Self {
        Ledger {
            accepted,
            agent_id,
            ..Ledger::default()
        }
    }

    fn ended(&self) -> bool {
        !self.acknowledged.is_empty() || !self.answered.is_empty()
    }

    /// The ending that counts: the acknowledged one, else the first answer without a uuid.
    fn ending(&self) -> Option<(TaskState, Reason)> {
        self.acknowledged
            .first()
            .or_else(|| self.answered.first())
            .copied()
    }

    /// Every other terminal state the framework was told, acknowledged or not.
    fn others(&self) -> Vec<(TaskState, Reason)> {
        let first = self.ending().map(|(state, _)| state);
        self.acknowledged
            .iter()
            .chain(&self.answered)
            .filter(|(state, _)| Some(*state) != first)
            .copied()
            .collect()
    }
}

fn note(endings: &mut Vec<(TaskState, Reason)>, status: &TaskStatus) {
    let state = status.state();
    if !endings.iter().any(|(seen, _)| *seen == state) {
        endings.push((state, status.reason()));
    }
}

#[derive(Debug, Default)]
struct Books {
    tasks: HashMap<String, Ledger>,
    /// Updates for ids this test never launched.
    strangers: BTreeSet<String>,
    /// How much of the framework's history is already booked.
    booked: usize,
}

impl Books {
    fn book(&mut self, framework: &TestFramework) {
        let history = framework.history();
        for event in &history[self.booked..] {
            if let SchedulerEvent::Update(status) = event {
                self.record(status);
            }
        }
        self.booked = history.len();
    }

    fn record(&mut self, status: &TaskStatus) {
        let Some(ledger) = self.tasks.get_mut(&status.task_id) else {
            self.strangers.insert(status.task_id.clone());
            return;
        };
        let from_agent = matches!(
            status.source(),
            StatusSource::SourceAgent | StatusSource::SourceExecutor
        );
        ledger.reached_an_agent |= from_agent && status.state() != TaskState::TaskLost;
        if !status.state().is_terminal() {
            return;
        }
        if status.uuid.is_empty() {
            note(&mut ledger.answered, status);
        } else {
            note(&mut ledger.acknowledged, status);
        }
    }

    fn unresolved(&self) -> Vec<ReconcileTask> {
        self.tasks
            .iter()
            .filter(|(_, ledger)| !ledger.ended())
            .map(|(id, ledger)| ReconcileTask {
                task_id: id.clone(),
                agent_id: ledger.agent_id.clone(),
            })
            .collect()
    }
}

/// Packs up to `BATCH` of the remaining tasks into `offer`.
fn pack(offer: &Offer, digest: &str, next: &mut usize) -> Vec<TaskInfo> {
    let mut room = Capacity::of(offer);
    let mut infos = Vec::new();
    while *next < TASKS && infos.len() < BATCH {
        let task = TaskBuilder::new(format!("hello-{next}"), digest)
            .cpus(0.1)
            .mem(32 << 20);
        if !room.take(task.resources()) {
            break;
        }
        infos.push(task.build_for(offer));
        *next += 1;
    }
    infos
}

/// Kills and restarts the master each time `launched` passes another `TASKS / (KILLS + 1)`,
/// waiting for the new master to answer before the next kill. Returns the cluster so its
/// processes outlive the launches.
async fn killer(
    mut cluster: ProcessCluster,
    mut launched: watch::Receiver<usize>,
) -> (ProcessCluster, usize) {
    let every = TASKS / (KILLS + 1);
    let mut kills = 0;
    while kills < KILLS {
        let threshold = every * (kills + 1);
        if launched
            .wait_for(|count| *count >= threshold)
            .await
            .is_err()
        {
            break;
        }
        cluster
            .restart_master(&[])
            .await
            .expect("restart the master");
        kills += 1;
        let url = cluster.master_url();
        // A closure returning an owned future: the spawned killer must be `Send`.
        eventually("the restarted master answers", PATIENCE, || {
            let url = url.clone();
            async move { cluster_state(&url).await.is_ok() }
        })
        .await
        .expect("the master answers after a restart");
    }
    (cluster, kills)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_master_kills_during_ten_thousand_tasks_lose_nothing() {
    let started = Instant::now();
    let cluster = ProcessCluster::start(&binary(), AGENTS, AGENT_RESOURCES, &[], &[])
        .await
        .expect("cluster");
    let url = cluster.master_url();
    let mut framework = TestFramework::start(&url, "kills-10k", None)
        .await
        .expect("framework");
    framework.timeout = PATIENCE;
    let digest = framework
        .driver
        .upload_executor(Path::new(wasmesos_guest_artifacts::HELLO), None)
        .await
        .expect("upload")
        .digest;
    let (progress, launched) = watch::channel(0usize);
    let mut books = Books::default();
    // Launches and kills interleave in this one task: the killer waits on the launch count.
    let (failed_accepts, (cluster, kills)) = tokio::join!(
        launch_all(&mut framework, &mut books, &digest, progress),
        killer(cluster, launched)
    );
    let launched_in = started.elapsed();

    settle(&mut framework, &mut books).await;
    // The framework acknowledged every update: no agent holds one back any more.
    let agent_urls: Vec<String> = cluster.agents.iter().map(|a| a.url.clone()).collect();
    eventually("every agent's updates acknowledged", PATIENCE, async || {
        for url in &agent_urls {
            match agent_state(url).await {
                Ok(state) if state.unacknowledged_updates == 0 => {}
                _ => return false,
            }
        }
        true
    })
    .await
    .expect("the framework acknowledges every update");
    let report = tally(&books);
    println!(
        "{} tasks attempted: {} FINISHED, {} refused (stale offer), {} LOST by reconciliation \
         (never reached an agent; {} after a failed ACCEPT); {failed_accepts} ACCEPT calls failed; {kills} master kills; \
         launches done after {launched_in:.1?}, all settled after {:.1?}",
        books.tasks.len(),
        report.finished,
        report.stale,
        report.unknown,
        report.unknown_after_failed_accept,
        started.elapsed()
    );
    assert_eq!(kills, KILLS, "every kill happened");
    assert!(
        books.strangers.is_empty(),
        "updates for unknown ids: {:?}",
        books.strangers
    );
    assert!(
        report.wrong.is_empty(),
        "tasks with a wrong ending: {:?}",
        report.wrong
    );
    assert_eq!(
        report.finished + report.stale + report.unknown,
        TASKS,
        "every attempted task is accounted for"
    );
}

/// Launches all `TASKS`, publishing the count launched after each ACCEPT; returns how many
/// ACCEPTs failed.
async fn launch_all(
    framework: &mut TestFramework,
    books: &mut Books,
    digest: &str,
    progress: watch::Sender<usize>,
) -> usize {
    let mut next = 0;
    let mut failed_accepts = 0;
    while next < TASKS {
        let offers = framework.next_offers().await.expect("offers keep coming");
        for offer in offers {
            let infos = pack(&offer, digest, &mut next);
            if infos.is_empty() {
                let _ = framework
                    .driver
                    .decline([offer.id.clone()], Some(refuse_for(Duration::ZERO)))
                    .await;
                continue;
            }
            let ids: Vec<String> = infos.iter().map(|info| info.task_id.clone()).collect();
            let answer = framework
                .driver
                .launch_with_filters([offer.id.clone()], infos, refuse_for(Duration::ZERO))
                .await;
            failed_accepts += usize::from(answer.is_err());
            for id in ids {
                let ledger = Ledger::new(answer.is_ok(), offer.agent_id.clone());
                books.tasks.insert(id, ledger);
            }
            progress.send_replace(next);
            if answer.is_err() {
                // The master is gone: the other offers in hand died with it.
                break;
            }
        }
        books.book(framework);
    }
    failed_accepts
}

/// Waits for every task to end, reconciling the ones without a terminal state explicitly
/// each time the updates pause.
async fn settle(framework: &mut TestFramework, books: &mut Books) {
    let deadline = Instant::now() + scaled(PATIENCE * 2);
    framework.timeout = Duration::from_secs(5);
    // Reconcile only when the updates pause, so answers do not breed more questions.
    let mut quiet = true;
    loop {
        framework.drain();
        books.book(framework);
        let unresolved = books.unresolved();
        if unresolved.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} tasks never reached a terminal state, e.g. {:?}",
            unresolved.len(),
            unresolved.first()
        );
        if quiet {
            framework
                .driver
                .reconcile(unresolved)
                .await
                .expect("reconcile the unresolved tasks");
        }
        // An update or a quiet spell, whichever comes first, then book and look again.
        quiet = framework
            .wait_for("an update", |event| {
                matches!(event, SchedulerEvent::Update(_)).then_some(())
            })
            .await
            .is_err();
    }
}

#[derive(Debug, Default)]
struct Report {
    finished: usize,
    /// Never reached an agent (the master never knew it, or recorded it and died before
    /// the agent got it): LOST, RECONCILIATION.
    unknown: usize,
    /// Of the never-known ones, how many had their ACCEPT call fail.
    unknown_after_failed_accept: usize,
    /// Refused: a dead master's offer.
    stale: usize,
    wrong: Vec<(String, Ledger)>,
}

/// Sorts every task by its ending; anything not explained goes to `wrong`.
fn tally(books: &Books) -> Report {
    let mut report = Report::default();
    for (id, ledger) in &books.tasks {
        let never_ran = !ledger.reached_an_agent;
        let ending = ledger.ending();
        let counter = match ending {
            Some((TaskState::TaskFinished, _)) => Some(&mut report.finished),
            Some(REFUSED) if never_ran => Some(&mut report.stale),
            Some((TaskState::TaskLost, Reason::Reconciliation)) if never_ran => {
                report.unknown_after_failed_accept += usize::from(!ledger.accepted);
                Some(&mut report.unknown)
            }
            _ => None,
        };
        match counter {
            Some(count) if ledger.others().is_empty() => *count += 1,
            _ => report.wrong.push((id.clone(), ledger.clone())),
        }
    }
    report
}

/// A launch the master refused because its offer came from a dead master.
const REFUSED: (TaskState, Reason) = (TaskState::TaskError, Reason::InvalidOffers);
