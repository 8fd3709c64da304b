//! The resource estimator: how much CPU the agent's regular tasks were allocated and do not
//! use, measured from their CPU time. Pure: readings in, numbers out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::registry::{TaskKey, TaskUsage};

/// One task's CPU use over the last window, in cores.
#[derive(Debug, Clone)]
pub(crate) struct Rate {
    pub(crate) usage: TaskUsage,
    /// Cores used on average since the previous reading; `None` for a task first seen now
    /// (counted as using all it was given, until it has a window of its own).
    pub(crate) cores: Option<f64>,
}

/// Turns successive CPU-time readings into rates.
#[derive(Debug, Default)]
pub(crate) struct Sampler {
    last: HashMap<TaskKey, (Instant, Duration)>,
}

impl Sampler {
    /// The rate of each task since its previous reading; forgets tasks that are gone.
    pub(crate) fn sample(&mut self, now: Instant, tasks: Vec<TaskUsage>) -> Vec<Rate> {
        let mut next = HashMap::with_capacity(tasks.len());
        let rates = tasks
            .into_iter()
            .map(|usage| {
                let cores = self.last.get(&usage.key).and_then(|(at, cpu)| {
                    let wall = now.checked_duration_since(*at)?.as_secs_f64();
                    let used = usage.cpu_time.checked_sub(*cpu)?.as_secs_f64();
                    (wall > 0.0).then(|| used / wall)
                });
                next.insert(usage.key.clone(), (now, usage.cpu_time));
                Rate { usage, cores }
            })
            .collect();
        self.last = next;
        rates
    }
}

/// Cores the regular (non-revocable) tasks were given and left unused in the window, less
/// `margin` (a fraction of what they were given, kept back for their bursts). A task first
/// seen in this window counts as using all it was given. Rounded down to hundredths.
pub(crate) fn regular_slack(rates: &[Rate], margin: f64) -> f64 {
    let (given, unused) = rates.iter().filter(|rate| !rate.usage.revocable).fold(
        (0.0, 0.0),
        |(given, unused), rate| {
            let cpus = rate.usage.cpus;
            let idle = rate.cores.map_or(0.0, |cores| (cpus - cores).max(0.0));
            (given + cpus, unused + idle)
        },
    );
    let slack = (unused - margin * given).max(0.0);
    // The epsilon keeps 1.6 from becoming 1.59 through binary fractions.
    ((slack * 100.0) + 1e-6).floor() / 100.0
}

/// Cores the regular tasks used in the window; a task first seen in it counts as using all
/// it was given.
pub(crate) fn regular_usage(rates: &[Rate]) -> f64 {
    rates
        .iter()
        .filter(|rate| !rate.usage.revocable)
        .map(|rate| rate.cores.unwrap_or(rate.usage.cpus))
        .sum()
}

/// Whether a new estimate is worth sending: it moved by `min_change` cores or more, or
/// it went to or from zero.
pub(crate) fn worth_sending(last: Option<f64>, estimate: f64, min_change: f64) -> bool {
    match last {
        None => true,
        Some(last) => (estimate - last).abs() >= min_change || ((last == 0.0) != (estimate == 0.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(task: &str, cpus: f64, revocable: bool, cpu_ms: u64) -> TaskUsage {
        TaskUsage {
            key: TaskKey {
                framework_id: "fw".into(),
                task_id: task.into(),
            },
            cpus,
            revocable,
            cpu_time: Duration::from_millis(cpu_ms),
        }
    }

    #[test]
    fn slack_is_what_regular_tasks_leave_unused_less_the_margin() {
        let start = Instant::now();
        let mut sampler = Sampler::default();
        let first = sampler.sample(
            start,
            vec![usage("idle", 2.0, false, 0), usage("busy", 1.0, false, 0)],
        );
        assert_eq!(regular_slack(&first, 0.1), 0.0, "new tasks count as busy");
        let later = start + Duration::from_secs(2);
        // Over 2 s: "idle" used 0.2 s (0.1 cores), "busy" 2 s (1 core), a revocable task
        // 1 s, which changes nothing.
        let rates = sampler.sample(
            later,
            vec![
                usage("idle", 2.0, false, 200),
                usage("busy", 1.0, false, 2000),
                usage("best-effort", 1.5, true, 1000),
            ],
        );
        // Unused: 1.9 + 0; margin 10% of 3 cores given.
        assert_eq!(regular_slack(&rates, 0.1), 1.6);
        assert_eq!(regular_slack(&rates, 0.0), 1.9);
        assert_eq!(regular_slack(&rates, 1.0), 0.0, "never negative");
    }

    #[test]
    fn a_task_that_left_is_forgotten_and_a_new_one_starts_busy() {
        let start = Instant::now();
        let mut sampler = Sampler::default();
        sampler.sample(start, vec![usage("a", 1.0, false, 0)]);
        let rates = sampler.sample(
            start + Duration::from_secs(1),
            vec![usage("b", 1.0, false, 0)],
        );
        assert_eq!(rates[0].cores, None);
        let rates = sampler.sample(
            start + Duration::from_secs(2),
            vec![usage("a", 1.0, false, 0)],
        );
        assert_eq!(
            rates[0].cores, None,
            "'a' was forgotten when it was not seen"
        );
    }

    #[test]
    fn small_changes_are_not_sent() {
        assert!(worth_sending(None, 0.0, 0.1));
        assert!(!worth_sending(Some(1.0), 1.05, 0.1));
        assert!(worth_sending(Some(1.0), 1.1, 0.1));
        assert!(worth_sending(Some(1.0), 0.85, 0.1));
        assert!(worth_sending(Some(0.05), 0.0, 0.1), "to zero always");
        assert!(worth_sending(Some(0.0), 0.05, 0.1), "from zero always");
    }
}
