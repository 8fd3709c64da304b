//! [`Reporter`]: the order in which one task's updates leave, with TASK_STARTING held back
//! while the task starts without waiting.
//!
//! A task whose executor is loaded and for which a slot and a sandbox are free goes from
//! STARTING to RUNNING in well under a millisecond. Sent on its own, STARTING would occupy the
//! one `UpdateStatus` call in flight and RUNNING would wait for its round trip; held back, it
//! leaves with RUNNING in one batch. As soon as the task has to wait (a download, a compile,
//! a full agent), STARTING goes out first, as the contract asks.

use crate::agent::Agent;
use crate::registry::TaskKey;
use crate::updates::Update;

pub(crate) struct Reporter<'a> {
    agent: &'a Agent,
    key: &'a TaskKey,
    held: Option<Update>,
}

impl<'a> Reporter<'a> {
    pub(crate) fn new(agent: &'a Agent, key: &'a TaskKey) -> Self {
        Reporter {
            agent,
            key,
            held: None,
        }
    }

    /// Keeps `update` until the next one, or until [`flush`](Self::flush).
    pub(crate) fn hold(&mut self, update: Update) {
        self.flush();
        self.held = Some(update);
    }

    /// Sends what is held, if anything: the task is about to wait.
    pub(crate) fn flush(&mut self) {
        if let Some(held) = self.held.take() {
            self.agent.emit(self.key, held);
        }
    }

    /// Sends `update`, after what is held, in the same batch. The runner yields or ends
    /// right after (see [`Agent::report`]).
    pub(crate) fn emit(&mut self, update: Update) {
        let updates = self.held.take().into_iter().chain([update]).collect();
        self.agent.report(self.key, updates);
    }
}
