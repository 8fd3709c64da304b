//! What the master configures: weights, quotas, excluded scalars, crumbs, sorter.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::Resources;

/// How roles and frameworks are ordered when an agent's resources are handed out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SorterKind {
    /// Weighted dominant resource fairness at every level of the role tree, then DRF among the
    /// frameworks of a role: the lowest weighted dominant share goes first.
    #[default]
    Drf,
    /// A weighted random order at every level (Mesos's `random` sorter): a child with weight 2
    /// is picked first twice as often as one with weight 1. Costs O(children) per agent.
    WeightedRandom,
}

/// Per-role quota. Quantities ignore reservations (a name counts whatever its reservation).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quota {
    /// Resources set aside for the role's subtree before fair sharing: other roles are not
    /// given unreserved resources that would leave less free than the unmet guarantees need.
    #[serde(default)]
    pub guarantee: Resources,
    /// A ceiling on what the role's subtree consumes (offered + used + unallocated
    /// reservations); names not listed are unlimited. `None` means no limit at all.
    #[serde(default)]
    pub limit: Option<Resources>,
}

/// The allocator's configuration; every field has a sensible default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AllocatorConfig {
    /// Weight per role path (`eng`, `eng/backend`); absent roles weigh 1.0.
    pub weights: BTreeMap<String, f64>,
    /// Quota per role path.
    pub quotas: BTreeMap<String, Quota>,
    /// Resource names left out of dominant-share computation, e.g. `gpus`, so that a scarce
    /// resource does not make its users look rich.
    pub fair_share_excluded: BTreeSet<String>,
    /// Crumb control: an offer is made only if it contains at least one of these sets
    /// entirely. Empty means any non-empty offer is worth making.
    pub min_allocatable: Vec<Resources>,
    /// Role and framework ordering.
    pub sorter: SorterKind,
    /// Seed for the agent visiting order and the random sorter, so runs are reproducible.
    pub seed: u64,
}

impl Default for AllocatorConfig {
    fn default() -> Self {
        Self {
            weights: BTreeMap::new(),
            quotas: BTreeMap::new(),
            fair_share_excluded: BTreeSet::new(),
            min_allocatable: default_min_allocatable(),
            sorter: SorterKind::Drf,
            seed: 0x5eed,
        }
    }
}

/// Mesos's default: 0.01 cpus, or 32 MiB of memory.
pub fn default_min_allocatable() -> Vec<Resources> {
    let sets = [
        Resources::scalar("cpus", 0.01),
        Resources::scalar("mem", 32.0 * 1024.0 * 1024.0),
    ];
    sets.into_iter().flatten().collect()
}

/// How a framework subscribes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FrameworkSpec {
    /// The roles it receives offers for; at least one. Reserved resources of role `r` are
    /// offered to frameworks of `r` and of `r`'s descendants.
    pub roles: Vec<String>,
    /// Overrides [`AllocatorConfig::min_allocatable`] for this framework.
    #[serde(default)]
    pub min_allocatable: Option<Vec<Resources>>,
}

impl FrameworkSpec {
    /// A framework subscribed to the given roles, with the cluster's crumb rule.
    pub fn with_roles<I, S>(roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            roles: roles.into_iter().map(Into::into).collect(),
            min_allocatable: None,
        }
    }
}
