//! Forgetting removed agents and frameworks, as Mesos's registry does with
//! `--registry_max_agent_age` and `--registry_max_agent_count`: a removal is remembered (so a
//! removed agent is told to shut down and a removed framework cannot resubscribe) for
//! [`MasterConfig::registry_max_removed_age`](crate::MasterConfig), and at most
//! `registry_max_removed_count` of each kind are kept, the oldest forgotten first. Without
//! this, every agent that ever left and every framework ever torn down would stay in memory
//! and in the registry for good.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use super::{Core, Time};
use crate::registry::Op;

/// How often the removals are looked over.
const FORGET_EVERY: Duration = Duration::from_secs(60);

impl Core {
    /// Forgets removals older than the configured age, and the oldest beyond the count.
    pub(super) fn forget_removed(&mut self, now: Time) {
        if now < self.next_forget {
            return;
        }
        self.next_forget = now.saturating_add(FORGET_EVERY);
        let oldest = self.unix(now) - self.config.registry_max_removed_age.as_secs_f64();
        let max = self.config.registry_max_removed_count;
        for id in expired(&mut self.removed_agents, oldest, max) {
            tracing::info!(agent_id = %id, "forgetting a removed agent");
            self.registry_ops.push(Op::ForgetAgent(id.to_string()));
        }
        for id in expired(&mut self.removed_frameworks, oldest, max) {
            tracing::info!(framework_id = %id, "forgetting a removed framework");
            self.registry_ops.push(Op::ForgetFramework(id.to_string()));
        }
    }
}

/// Takes out of `removed` what was removed before `oldest` (Unix seconds), then the oldest
/// beyond `max`; returns what it took.
fn expired<Id: Clone + Eq + Hash>(
    removed: &mut HashMap<Id, f64>,
    oldest: f64,
    max: usize,
) -> Vec<Id> {
    let mut gone: Vec<Id> = removed
        .iter()
        .filter(|(_, at)| **at < oldest)
        .map(|(id, _)| id.clone())
        .collect();
    for id in &gone {
        removed.remove(id);
    }
    if removed.len() > max {
        let mut by_age: Vec<(f64, Id)> = removed.iter().map(|(id, at)| (*at, id.clone())).collect();
        by_age.sort_by(|a, b| a.0.total_cmp(&b.0));
        let excess = removed.len().saturating_sub(max);
        for (_, id) in by_age.into_iter().take(excess) {
            removed.remove(&id);
            gone.push(id);
        }
    }
    gone
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_old_and_the_oldest_beyond_the_count_are_forgotten() {
        let mut removed: HashMap<&str, f64> =
            [("a", 10.0), ("b", 20.0), ("c", 30.0), ("d", 40.0)].into();
        let mut gone = expired(&mut removed, 15.0, 2);
        gone.sort_unstable();
        assert_eq!(gone, ["a", "b"]);
        assert_eq!(removed.len(), 2);
        assert!(expired(&mut removed, 0.0, 2).is_empty());
        assert_eq!(expired(&mut removed, 0.0, 1), ["c"]);
    }
}
