//! The simulated schedulers: what each wants and how it answers an offer.

use super::{Behavior, Demand, FrameworkGroup};
use crate::{FrameworkId, Resources, Time};

/// One simulated framework.
#[derive(Debug)]
pub(super) struct SimFramework {
    pub(super) id: FrameworkId,
    pub(super) role: String,
    pub(super) group: usize,
    /// Tasks still wanted; `None` is unbounded.
    pub(super) remaining: Option<u64>,
    pub(super) suppressed: bool,
    /// Offers held (hoarders).
    pub(super) held: u32,
    /// Since when it has wanted resources without holding an offer.
    pub(super) waiting_since: Option<Time>,
}

impl SimFramework {
    pub(super) fn new(id: FrameworkId, role: String, group: usize, spec: &FrameworkGroup) -> Self {
        let remaining = match spec.demand {
            Demand::Unbounded => None,
            Demand::Tasks(n) => Some(n),
            Demand::Waves { .. } => Some(0),
        };
        Self {
            id,
            role,
            group,
            remaining,
            suppressed: false,
            held: 0,
            waiting_since: None,
        }
    }

    pub(super) fn wants(&self) -> bool {
        self.remaining.is_none_or(|n| n > 0)
    }

    /// Fairness and starvation are measured over these.
    pub(super) fn is_unbounded_greedy(&self, spec: &FrameworkGroup) -> bool {
        spec.behavior == Behavior::Greedy && spec.demand == Demand::Unbounded
    }

    /// How many tasks it would launch now out of `fit` that fit.
    pub(super) fn tasks_to_launch(&self, fit: u64) -> u64 {
        self.remaining.map_or(fit, |n| n.min(fit))
    }

    pub(super) fn launched(&mut self, count: u64) {
        if let Some(n) = &mut self.remaining {
            *n -= count.min(*n);
        }
    }

    /// Updates the wait clock; returns the wait that just ended, if an offer arrived.
    pub(super) fn note_offer(&mut self, now: Time) -> Option<Time> {
        self.waiting_since
            .take()
            .map(|since| now.saturating_sub(since))
    }

    /// Starts the wait clock if it wants resources and holds no offer.
    pub(super) fn maybe_start_waiting(&mut self, now: Time) {
        if self.wants() && self.held == 0 && self.waiting_since.is_none() {
            self.waiting_since = Some(now);
        }
    }
}

/// Picks resources for one `task` and `ports` of its ports out of `offer`: scalars reserved
/// entries first, the lowest free unreserved ports; `None` if it does not fit.
pub(super) fn carve(offer: &Resources, task: &Resources, ports: u64) -> Option<Resources> {
    let mut out = carve_scalars(offer, task)?;
    if ports > 0 {
        let free = offer
            .iter()
            .find(|item| item.name() == "ports" && item.reservation().is_none())
            .and_then(|item| item.ranges())?;
        out = out.with_ranges("ports", None, free.lowest(ports)?).ok()?;
    }
    Some(out)
}

fn carve_scalars(offer: &Resources, task: &Resources) -> Option<Resources> {
    if offer.contains(task) {
        return Some(task.clone());
    }
    let mut out = Resources::new();
    for name in task.names() {
        let mut need = task.get(name);
        let mut entries: Vec<_> = offer.iter().filter(|item| item.name() == name).collect();
        entries.sort_by_key(|item| item.reservation().is_none());
        for item in entries {
            if need <= 0.0 {
                break;
            }
            let take = need.min(item.amount());
            out = match item.reservation() {
                Some(role) => out.with_reserved(name, role, take).ok()?,
                None => out.with(name, take).ok()?,
            };
            need -= take;
        }
        if need > 1e-6 {
            return None;
        }
    }
    offer.contains(&out).then_some(out)
}
