//! The word count's bookkeeping, free of I/O: which chunks wait, which run where, what each
//! counted, and when a chunk is relaunched.

use std::collections::{HashMap, HashSet, VecDeque};

use wasmesos_proto::{TaskState, TaskStatus};

use crate::chunks::Chunk;
use crate::error::Error;
use crate::report::{ChunkResult, Report};

/// What a status update meant for the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Not a task of ours that is still running (e.g. a duplicate update): nothing changes.
    Ignored,
    /// A non-terminal state (STARTING, RUNNING).
    Running,
    /// The chunk is counted.
    Counted,
    /// The task failed or was lost; its chunk waits to be launched again.
    Requeued,
    /// The chunk failed too often; the job cannot finish.
    GaveUp,
}

#[derive(Debug)]
struct Launched {
    chunk: usize,
    agent_id: String,
}

#[derive(Debug)]
pub(crate) struct Job {
    chunks: Vec<Chunk>,
    pending: VecDeque<usize>,
    running: HashMap<String, Launched>,
    attempts: Vec<u32>,
    /// Agents each chunk failed on; a relaunch goes elsewhere while elsewhere exists.
    failed_on: Vec<HashSet<String>>,
    /// Every agent seen in an offer.
    agents: HashSet<String>,
    results: Vec<Option<ChunkResult>>,
    max_attempts: u32,
    relaunches: u32,
    failure: Option<Error>,
}

impl Job {
    pub(crate) fn new(chunks: Vec<Chunk>, max_attempts: u32) -> Self {
        let count = chunks.len();
        Job {
            pending: (0..count).collect(),
            running: HashMap::new(),
            attempts: vec![0; count],
            failed_on: vec![HashSet::new(); count],
            agents: HashSet::new(),
            results: vec![None; count],
            chunks,
            max_attempts: max_attempts.max(1),
            relaunches: 0,
            failure: None,
        }
    }

    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether a waiting chunk may run on `agent_id` (which this records as seen).
    pub(crate) fn has_pending_for(&mut self, agent_id: &str) -> bool {
        self.agents.insert(agent_id.to_string());
        self.eligible(agent_id).is_some()
    }

    /// The queue position of the first waiting chunk that may run on `agent_id`: one that did
    /// not fail there, or that failed on every agent seen so far.
    fn eligible(&self, agent_id: &str) -> Option<usize> {
        self.pending.iter().position(|chunk| {
            let failed_on = &self.failed_on[*chunk];
            !failed_on.contains(agent_id) || self.agents.iter().all(|a| failed_on.contains(a))
        })
    }

    pub(crate) fn is_done(&self) -> bool {
        self.results.iter().all(Option::is_some)
    }

    pub(crate) fn take_failure(&mut self) -> Option<Error> {
        self.failure.take()
    }

    /// Takes the next waiting chunk that may run on `agent_id`: its new task id and text.
    pub(crate) fn start_next(&mut self, agent_id: &str) -> Option<(String, &Chunk)> {
        self.agents.insert(agent_id.to_string());
        let position = self.eligible(agent_id)?;
        let chunk = self.pending.remove(position)?;
        self.attempts[chunk] += 1;
        let task_id = format!("chunk-{chunk:05}-try-{}", self.attempts[chunk]);
        let launched = Launched {
            chunk,
            agent_id: agent_id.to_string(),
        };
        self.running.insert(task_id.clone(), launched);
        Some((task_id, &self.chunks[chunk]))
    }

    /// Puts a chunk whose launch never reached the master back at the front of the queue.
    pub(crate) fn unlaunch(&mut self, task_id: &str) {
        if let Some(launched) = self.running.remove(task_id) {
            self.attempts[launched.chunk] -= 1;
            self.pending.push_front(launched.chunk);
        }
    }

    pub(crate) fn on_status(&mut self, status: &TaskStatus) -> Progress {
        let state = status.state();
        if !self.running.contains_key(&status.task_id) {
            return Progress::Ignored;
        }
        if !state.is_terminal() {
            return Progress::Running;
        }
        let Some(launched) = self.running.remove(&status.task_id) else {
            return Progress::Ignored;
        };
        match parse_count(state, &status.data) {
            Some(words) => {
                self.record(&status.task_id, launched, words);
                Progress::Counted
            }
            None => {
                self.failed_on[launched.chunk].insert(launched.agent_id);
                self.retry_or_give_up(launched.chunk, describe(status))
            }
        }
    }

    fn record(&mut self, task_id: &str, launched: Launched, words: u64) {
        let chunk = &self.chunks[launched.chunk];
        self.results[launched.chunk] = Some(ChunkResult {
            chunk: chunk.index,
            first_line: chunk.first_line,
            line_count: chunk.line_count,
            task_id: task_id.to_string(),
            agent_id: launched.agent_id,
            words,
            attempts: self.attempts[launched.chunk],
        });
    }

    fn retry_or_give_up(&mut self, chunk: usize, reason: String) -> Progress {
        let attempts = self.attempts[chunk];
        if attempts >= self.max_attempts {
            tracing::warn!(chunk, attempts, %reason, "giving up on chunk");
            self.failure = Some(Error::ChunkFailed {
                chunk,
                attempts,
                reason,
            });
            return Progress::GaveUp;
        }
        tracing::info!(chunk, attempts, %reason, "relaunching chunk");
        self.relaunches += 1;
        self.pending.push_back(chunk);
        Progress::Requeued
    }

    pub(crate) fn report(&self) -> Option<Report> {
        let rows: Option<Vec<ChunkResult>> = self.results.iter().cloned().collect();
        rows.map(|rows| Report::new(rows, self.relaunches))
    }
}

/// A FINISHED task's result is its count in ASCII decimal; anything else is a failure.
fn parse_count(state: TaskState, data: &[u8]) -> Option<u64> {
    if state != TaskState::TaskFinished {
        return None;
    }
    std::str::from_utf8(data).ok()?.trim().parse().ok()
}

fn describe(status: &TaskStatus) -> String {
    let mut text = format!("{:?} ({:?})", status.state(), status.reason());
    if !status.message.is_empty() {
        text.push_str(": ");
        text.push_str(&status.message);
    }
    text
}

#[cfg(test)]
mod tests {
    use wasmesos_proto::Reason;

    use super::*;
    use crate::chunks::split_into_chunks;

    fn status(task_id: &str, state: TaskState, data: &[u8]) -> TaskStatus {
        TaskStatus {
            task_id: task_id.into(),
            state: state as i32,
            data: data.to_vec(),
            ..TaskStatus::default()
        }
    }

    fn two_chunk_job(max_attempts: u32) -> Job {
        Job::new(split_into_chunks(b"a b\nc d e\n", 1), max_attempts)
    }

    #[test]
    fn counts_add_up_and_duplicates_change_nothing() {
        let mut job = two_chunk_job(3);
        let first = job
            .start_next("agent-1")
            .map(|(id, _)| id)
            .expect("chunk 0");
        let second = job
            .start_next("agent-2")
            .map(|(id, _)| id)
            .expect("chunk 1");
        assert!(!job.has_pending());
        assert_eq!(
            job.on_status(&status(&first, TaskState::TaskRunning, b"")),
            Progress::Running
        );
        assert_eq!(
            job.on_status(&status(&first, TaskState::TaskFinished, b"2")),
            Progress::Counted
        );
        assert_eq!(
            job.on_status(&status(&first, TaskState::TaskFinished, b"2")),
            Progress::Ignored
        );
        assert!(!job.is_done());
        assert_eq!(
            job.on_status(&status(&second, TaskState::TaskFinished, b"3")),
            Progress::Counted
        );
        assert!(job.is_done());
        let report = job.report().expect("every chunk counted");
        assert_eq!(report.total, 5);
        assert_eq!(report.rows[1].agent_id, "agent-2");
    }

    #[test]
    fn failed_lost_and_garbled_tasks_are_relaunched_under_a_new_id() {
        let mut job = Job::new(split_into_chunks(b"a b\n", 10), 5);
        let failures: [(TaskState, &[u8]); 3] = [
            (TaskState::TaskFailed, b""),
            (TaskState::TaskLost, b""),
            (TaskState::TaskFinished, b"not a number"),
        ];
        let mut ids = Vec::new();
        for (state, data) in failures {
            let task_id = job
                .start_next("agent")
                .map(|(id, _)| id)
                .expect("chunk 0 waits");
            let mut failure = status(&task_id, state, data);
            failure.reason = Reason::AgentLost as i32;
            assert_eq!(job.on_status(&failure), Progress::Requeued, "{state:?}");
            ids.push(task_id);
        }
        let last = job
            .start_next("agent")
            .map(|(id, _)| id)
            .expect("chunk 0 waits");
        assert_eq!(
            job.on_status(&status(&last, TaskState::TaskFinished, b"2")),
            Progress::Counted
        );
        ids.push(last);
        ids.dedup();
        assert_eq!(ids.len(), 4, "each attempt has its own task id: {ids:?}");
        let report = job.report().expect("done");
        assert_eq!(
            (report.total, report.relaunches, report.rows[0].attempts),
            (2, 3, 4)
        );
    }

    #[test]
    fn a_chunk_failing_max_attempts_times_gives_up() {
        let mut job = two_chunk_job(2);
        for attempt in 1..=2 {
            let task_id = job
                .start_next("agent")
                .map(|(id, _)| id)
                .expect("a chunk waits");
            let progress = job.on_status(&status(&task_id, TaskState::TaskError, b""));
            let expected = if attempt == 2 {
                Progress::GaveUp
            } else {
                Progress::Requeued
            };
            assert_eq!(progress, expected);
            // chunk 1 is next in line after the first failure requeues chunk 0 behind it
            if attempt == 1 {
                let other = job
                    .start_next("agent")
                    .map(|(id, _)| id)
                    .expect("a chunk waits");
                assert_eq!(
                    job.on_status(&status(&other, TaskState::TaskFinished, b"3")),
                    Progress::Counted
                );
            }
        }
        assert!(matches!(
            job.take_failure(),
            Some(Error::ChunkFailed {
                chunk: 0,
                attempts: 2,
                ..
            })
        ));
    }

    #[test]
    fn a_failed_chunk_is_relaunched_on_another_agent_while_there_is_one() {
        let mut job = Job::new(split_into_chunks(b"a\n", 1), 5);
        assert!(job.has_pending_for("good"));
        let first = job.start_next("bad").map(|(id, _)| id).expect("chunk 0");
        assert_eq!(
            job.on_status(&status(&first, TaskState::TaskFailed, b"")),
            Progress::Requeued
        );
        assert!(!job.has_pending_for("bad"), "not again where it failed");
        assert!(job.start_next("bad").is_none());
        let second = job.start_next("good").map(|(id, _)| id).expect("elsewhere");
        assert_eq!(
            job.on_status(&status(&second, TaskState::TaskFailed, b"")),
            Progress::Requeued
        );
        assert!(
            job.has_pending_for("bad"),
            "failed everywhere: anywhere goes"
        );
    }

    #[test]
    fn an_unlaunched_chunk_keeps_its_attempt_budget() {
        let mut job = two_chunk_job(1);
        let task_id = job
            .start_next("agent")
            .map(|(id, _)| id)
            .expect("a chunk waits");
        job.unlaunch(&task_id);
        let again = job
            .start_next("agent")
            .map(|(id, _)| id)
            .expect("a chunk waits");
        assert_eq!(again, task_id);
    }
}
