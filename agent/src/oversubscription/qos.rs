//! The QoS controller: keeps the tasks on revocable CPU within what the regular tasks
//! leave unused right now. Pure: rates in, corrections out, time as an argument.
//!
//! The policy, every QoS interval:
//! 1. The room is the agent's `cpus` less what the regular tasks used over the last
//!    interval (a task started within it counts as using all it was given), less the margin
//!    (a fraction of the agent's `cpus`). Regular tasks that end free their CPU for the
//!    revocable ones; regular tasks that get busy, or new ones, take it back.
//! 2. While the running revocable tasks hold more `cpus` than the room, the newest of them
//!    is suspended (paused in place: no CPU, memory kept; reported as RUNNING with
//!    `suspended`, as the master's preemption does).
//! 3. Otherwise suspended tasks are resumed, the longest suspended first, as long as each
//!    fits in the room that is left.
//! 4. A task suspended for `max_suspension` is killed with REASON_REVOCATION: its CPU has
//!    not come back, and its framework is better off placing it elsewhere.
//!
//! Only revocable CPU exists (memory is never oversubscribed: it is not compressible), so
//! no correction is ever for memory.

use std::collections::HashMap;
use std::time::Instant;

use super::estimate::{Rate, regular_usage};
use crate::registry::TaskKey;

/// What the controller asks of one revocable task.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Correction {
    Suspend { key: TaskKey, message: String },
    Resume { key: TaskKey, message: String },
    Kill { key: TaskKey, message: String },
}

impl Correction {
    /// The task it is for.
    pub(crate) fn key(&self) -> &TaskKey {
        match self {
            Correction::Suspend { key, .. }
            | Correction::Resume { key, .. }
            | Correction::Kill { key, .. } => key,
        }
    }
}

/// The controller's memory: which revocable tasks it saw first (newest are suspended
/// first) and which it suspended, since when.
#[derive(Debug, Default)]
pub(crate) struct QosController {
    seen: HashMap<TaskKey, u64>,
    next_seq: u64,
    suspended: HashMap<TaskKey, Instant>,
}

impl QosController {
    /// The corrections for the rates of the last interval (see the module docs).
    pub(crate) fn correct(
        &mut self,
        rates: &[Rate],
        agent_cpus: f64,
        margin: f64,
        max_suspension: std::time::Duration,
        now: Instant,
    ) -> Vec<Correction> {
        let revocable: Vec<(&TaskKey, f64)> = rates
            .iter()
            .filter(|rate| rate.usage.revocable)
            .map(|rate| (&rate.usage.key, rate.usage.cpus))
            .collect();
        self.forget_gone(&revocable);
        for (key, _) in &revocable {
            if !self.seen.contains_key(*key) {
                self.seen.insert((*key).clone(), self.next_seq);
                self.next_seq = self.next_seq.saturating_add(1);
            }
        }
        let room = (agent_cpus - regular_usage(rates) - margin * agent_cpus).max(0.0);
        let mut out = Vec::new();
        let mut running: Vec<(&TaskKey, f64)> = revocable
            .iter()
            .filter(|(key, _)| !self.suspended.contains_key(*key))
            .copied()
            .collect();
        running.sort_by_key(|(key, _)| self.seen.get(*key).copied().unwrap_or(0));
        let mut held: f64 = running.iter().map(|(_, cpus)| cpus).sum();
        if held > room + EPSILON {
            while held > room + EPSILON {
                let Some((key, cpus)) = running.pop() else {
                    break;
                };
                held -= cpus;
                self.suspended.insert(key.clone(), now);
                out.push(Correction::Suspend {
                    key: key.clone(),
                    message: format!(
                        "suspended: the regular tasks need their CPU back ({room:.2} cpus \
                         unused, revocable tasks hold {:.2})",
                        held + cpus
                    ),
                });
            }
            return out;
        }
        let mut waiting: Vec<(&TaskKey, f64, Instant)> = revocable
            .iter()
            .filter_map(|(key, cpus)| self.suspended.get(*key).map(|at| (*key, *cpus, *at)))
            .collect();
        waiting.sort_by_key(|(key, _, at)| (*at, self.seen.get(*key).copied().unwrap_or(0)));
        for (key, cpus, since) in waiting {
            if held + cpus <= room + EPSILON {
                held += cpus;
                self.suspended.remove(key);
                out.push(Correction::Resume {
                    key: key.clone(),
                    message: format!("resumed: {room:.2} cpus unused by the regular tasks"),
                });
            } else if now.saturating_duration_since(since) >= max_suspension {
                self.suspended.remove(key);
                self.seen.remove(key);
                out.push(Correction::Kill {
                    key: key.clone(),
                    message: format!(
                        "revoked: suspended for {:.0} s without its CPU coming back",
                        now.saturating_duration_since(since).as_secs_f64()
                    ),
                });
            }
        }
        out
    }

    fn forget_gone(&mut self, revocable: &[(&TaskKey, f64)]) {
        let present = |key: &TaskKey| revocable.iter().any(|(k, _)| *k == key);
        self.seen.retain(|key, _| present(key));
        self.suspended.retain(|key, _| present(key));
    }

    /// How many revocable tasks the controller holds suspended.
    pub(crate) fn suspended(&self) -> usize {
        self.suspended.len()
    }

    /// The tasks the controller holds suspended, to hold them so: a resume from elsewhere
    /// (a new master resumes every task it adopts) must not let one run past the room.
    pub(crate) fn held_suspended(&self) -> impl Iterator<Item = &TaskKey> {
        self.suspended.keys()
    }
}

/// Cores below which a difference is rounding.
const EPSILON: f64 = 1e-6;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::registry::TaskUsage;

    fn rate(task: &str, cpus: f64, revocable: bool, cores: f64) -> Rate {
        Rate {
            usage: TaskUsage {
                key: key(task),
                cpus,
                revocable,
                cpu_time: Duration::ZERO,
            },
            cores: Some(cores),
        }
    }

    fn key(task: &str) -> TaskKey {
        TaskKey {
            framework_id: "fw".into(),
            task_id: task.into(),
        }
    }

    const MAX: Duration = Duration::from_secs(30);

    #[test]
    fn revocable_tasks_are_suspended_newest_first_then_resumed_then_revoked() {
        let mut qos = QosController::default();
        let start = Instant::now();
        // The regular task leaves 1.8 cores unused: both revocable tasks fit.
        let quiet = [
            rate("service", 2.0, false, 0.2),
            rate("old", 1.0, true, 1.0),
            rate("new", 0.5, true, 0.5),
        ];
        assert!(qos.correct(&quiet, 2.0, 0.0, MAX, start).is_empty());
        // It wakes up: 0.8 unused. "new" goes first; the 1.0 "old" holds is still over
        // 0.8, so it follows.
        let busy = [
            rate("service", 2.0, false, 1.2),
            rate("old", 1.0, true, 1.0),
            rate("new", 0.5, true, 0.5),
        ];
        let at = start + Duration::from_secs(1);
        let corrections = qos.correct(&busy, 2.0, 0.0, MAX, at);
        let suspended: Vec<&str> = corrections
            .iter()
            .map(|c| match c {
                Correction::Suspend { key, .. } => key.task_id.as_str(),
                other => panic!("only suspensions expected, got {other:?}"),
            })
            .collect();
        assert_eq!(suspended, ["new", "old"]);
        assert_eq!(qos.suspended(), 2);
        // 1.1 unused: "old" (suspended first, with "new") fits again, "new" does not.
        let easing = [
            rate("service", 2.0, false, 0.9),
            rate("old", 1.0, true, 0.0),
            rate("new", 0.5, true, 0.0),
        ];
        let corrections = qos.correct(&easing, 2.0, 0.0, MAX, at + Duration::from_secs(1));
        assert_eq!(corrections.len(), 1, "{corrections:?}");
        assert!(
            matches!(&corrections[0], Correction::Resume { key, .. } if key.task_id == "old"),
            "the older of two suspended at once goes first: {corrections:?}"
        );
        // Past the longest suspension, the one still suspended is revoked.
        let corrections = qos.correct(&easing, 2.0, 0.0, MAX, at + MAX);
        assert_eq!(corrections.len(), 1, "{corrections:?}");
        assert!(matches!(&corrections[0], Correction::Kill { .. }));
        assert_eq!(qos.suspended(), 0);
    }

    #[test]
    fn regular_tasks_that_end_leave_their_cpu_to_revocable_ones() {
        let mut qos = QosController::default();
        let now = Instant::now();
        // Nothing regular runs: the agent's two cpus, less a 10% margin, are room.
        let alone = [rate("r", 1.5, true, 1.5)];
        assert!(qos.correct(&alone, 2.0, 0.1, MAX, now).is_empty());
        // A regular task just started counts as busy on all it was given.
        let mut started = rate("service", 1.0, false, 0.0);
        started.cores = None;
        let corrections = qos.correct(&[started, rate("r", 1.5, true, 1.5)], 2.0, 0.1, MAX, now);
        assert!(
            matches!(&corrections[..], [Correction::Suspend { .. }]),
            "{corrections:?}"
        );
    }

    #[test]
    fn a_task_that_ended_is_forgotten() {
        let mut qos = QosController::default();
        let now = Instant::now();
        let busy = [rate("service", 1.0, false, 1.0), rate("r", 1.0, true, 1.0)];
        assert_eq!(qos.correct(&busy, 1.0, 0.0, MAX, now).len(), 1);
        assert_eq!(qos.suspended(), 1);
        let gone = [rate("service", 1.0, false, 1.0)];
        assert!(qos.correct(&gone, 1.0, 0.0, MAX, now + MAX).is_empty());
        assert_eq!(qos.suspended(), 0);
    }
}
