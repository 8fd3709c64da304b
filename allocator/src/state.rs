//! Per-agent and per-framework bookkeeping.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::pool::{NameId, Pool, Qty, RoleIdx};
use crate::roles::FwIdx;
use crate::{AgentId, FrameworkId, Time};

pub(crate) type AgentIdx = u32;

/// One framework's stake in one agent, under one of its roles.
#[derive(Debug)]
pub(crate) struct Holding {
    pub(crate) fw: FwIdx,
    pub(crate) role: RoleIdx,
    pub(crate) offered: Pool,
    pub(crate) used: Pool,
}

#[derive(Debug)]
pub(crate) struct Agent {
    pub(crate) id: AgentId,
    pub(crate) total: Pool,
    pub(crate) free: Pool,
    pub(crate) holdings: Vec<Holding>,
    /// Queued for the next round.
    pub(crate) dirty: bool,
    /// Offered at all (an operator deactivates an agent to drain it).
    pub(crate) active: bool,
}

impl Agent {
    pub(crate) fn holding(&self, fw: FwIdx, role: RoleIdx) -> Option<usize> {
        self.holdings
            .iter()
            .position(|h| h.fw == fw && h.role == role)
    }

    /// Drops a holding that no longer holds anything; returns whether it did.
    pub(crate) fn prune_holding(&mut self, at: usize) -> bool {
        let empty = self.holdings[at].offered.is_empty() && self.holdings[at].used.is_empty();
        if empty {
            self.holdings.swap_remove(at);
        }
        empty
    }
}

/// Declined resources a framework does not want to see again on one agent until `expiry`.
#[derive(Debug)]
pub(crate) struct Filter {
    pub(crate) resources: Pool,
    pub(crate) expiry: Time,
}

/// A framework's membership in one role.
#[derive(Debug)]
pub(crate) struct FwRole {
    pub(crate) role: RoleIdx,
    /// Offered + used under this role.
    pub(crate) alloc: Qty,
    pub(crate) suppressed: bool,
    /// False once the framework dropped the role (UPDATE_FRAMEWORK) while still holding
    /// resources in it: the membership stays for the accounting, suppressed, until re-added.
    pub(crate) subscribed: bool,
    /// The key in the role's sorted set while present there.
    pub(crate) key: Option<u64>,
}

/// Minimum offer sizes: an offer is worth making if it covers one of these sets.
pub(crate) type MinSets = Vec<Vec<(NameId, i64)>>;

#[derive(Debug)]
pub(crate) struct Framework {
    pub(crate) id: FrameworkId,
    pub(crate) roles: Vec<FwRole>,
    pub(crate) active: bool,
    pub(crate) min_allocatable: Option<MinSets>,
    /// Offered revocable resources too (capability REVOCABLE_RESOURCES).
    pub(crate) revocable: bool,
    pub(crate) filters: HashMap<(AgentIdx, RoleIdx), Filter, FastHash>,
    /// Number of holdings per agent, so removal visits only those agents.
    pub(crate) agents: HashMap<AgentIdx, u32, FastHash>,
}

impl Framework {
    pub(crate) fn role_slot(&self, role: RoleIdx) -> Option<usize> {
        self.roles.iter().position(|r| r.role == role)
    }
}

/// Fx-style multiplicative hashing for the small integer keys above; the keys come from
/// the allocator's own indices, never from outside, so flooding is not a concern.
pub(crate) type FastHash = BuildHasherDefault<FxHasher>;

#[derive(Default)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.hash
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.add(u64::from(*byte));
        }
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }
}

impl FxHasher {
    fn add(&mut self, value: u64) {
        self.hash = (self.hash.rotate_left(5) ^ value).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}
