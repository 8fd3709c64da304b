//! The [`Allocator`] state machine: its fields, construction and shared bookkeeping.
//! The operations live in the sibling modules: `lifecycle` (agents, frameworks, roles),
//! `offers` (launch, recover, reservations), `round` (allocation), `snapshot`, `invariants`.

mod invariants;
mod lifecycle;
mod limits;
mod maintenance;
mod offers;
mod round;
mod snapshot;

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{AllocatorConfig, SorterKind};
use crate::pool::{Catalog, Discrete, NameId, Pool, Qty, RoleIdx, Slot, UNRESERVED};
use crate::resources::{Kind, Resource, Resources, Value};
use crate::rng::SplitMix64;
use crate::roles::{FwIdx, RoleTree};
use crate::share::{ShareCtx, share_key};
use crate::slab::Slab;
use crate::state::{Agent, AgentIdx, Framework, MinSets};
use crate::{AgentId, Error, FrameworkId};

pub use maintenance::{InverseOfferAnswer, InverseOfferStatus, InverseOffers};
pub use snapshot::{
    AgentSnapshot, FrameworkRoleSnapshot, FrameworkSnapshot, RoleSnapshot, Snapshot,
};

/// Time as the caller measures it: a duration since any fixed start. The allocator never
/// reads a clock; it only compares the times it is given.
pub type Time = Duration;

/// Resources moved from free to offered for one framework under one role on one agent.
/// The master turns each into an offer.
#[derive(Clone, Debug, PartialEq)]
pub struct Allocation {
    /// Who receives the offer.
    pub framework_id: FrameworkId,
    /// Where the resources are.
    pub agent_id: AgentId,
    /// The role the offer is made under (the framework may have several).
    pub role: Arc<str>,
    /// What is offered, with reservations.
    pub resources: Resources,
}

/// Weighted hierarchical DRF over agents' resources, with quota, reservations, filters and
/// suppression. See the crate docs for the call protocol.
#[derive(Debug)]
pub struct Allocator {
    sorter: SorterKind,
    catalog: Catalog,
    excluded_names: BTreeSet<String>,
    /// Per name id: left out of dominant shares.
    excluded: Vec<bool>,
    roles: RoleTree,
    agents: Slab<Agent>,
    agent_ids: HashMap<AgentId, AgentIdx>,
    frameworks: Slab<Framework>,
    framework_ids: HashMap<FrameworkId, FwIdx>,
    /// Every agent's total, per name.
    totals: Qty,
    /// Free unreserved resources, per name: what unmet guarantees can still draw on.
    free_unreserved: Qty,
    min_allocatable: MinSets,
    /// Frameworks without their own crumb rule (they use `min_allocatable`).
    plain_frameworks: usize,
    /// The distinct crumb rules of frameworks that have their own, with how many use each:
    /// an agent is worth a walk only if its free resources pass one of the rules in use.
    min_overrides: BTreeMap<MinSets, usize>,
    /// Roles with a guarantee and no guaranteed ancestor: what headroom is held back for
    /// (a parent's guarantee is expected to cover its children's).
    guaranteed_roles: Vec<RoleIdx>,
    /// Every role with a guarantee, deepest first: the order the guarantee stage serves
    /// them, so a nested guarantee is met inside its parent's.
    guarantee_order: Vec<RoleIdx>,
    dirty: Vec<AgentIdx>,
    dirty_all: bool,
    shares_stale: bool,
    filter_heap: BinaryHeap<Reverse<(Time, FwIdx, AgentIdx, RoleIdx)>>,
    /// Set when a round held resources back for unmet guarantees.
    headroom_blocked: Cell<bool>,
    rng: SplitMix64,
}

/// Adds one public entry to an interned pool: scalars as slots, ranges and sets as discrete.
fn push_item(pool: &mut Pool, name: NameId, res: RoleIdx, item: &Resource) {
    match item.kind() {
        Kind::Scalar => pool.push(Slot {
            name,
            res,
            units: item.units(),
        }),
        Kind::Ranges | Kind::Set => pool.push_discrete(Discrete {
            name,
            res,
            value: item.value().clone(),
        }),
    }
}

/// Builds the share context from disjoint fields, so `self.roles` can be borrowed mutably.
macro_rules! share_ctx {
    ($self:ident) => {
        $crate::share::ShareCtx {
            totals: &$self.totals,
            excluded: &$self.excluded,
        }
    };
}
pub(crate) use share_ctx;

impl Allocator {
    /// An empty cluster with `config`'s weights, quotas and rules.
    pub fn new(config: AllocatorConfig) -> Result<Self, Error> {
        let mut allocator = Self {
            sorter: config.sorter,
            catalog: Catalog::default(),
            excluded_names: config.fair_share_excluded.clone(),
            excluded: Vec::new(),
            roles: RoleTree::new(),
            agents: Slab::default(),
            agent_ids: HashMap::new(),
            frameworks: Slab::default(),
            framework_ids: HashMap::new(),
            totals: Qty::default(),
            free_unreserved: Qty::default(),
            min_allocatable: Vec::new(),
            plain_frameworks: 0,
            min_overrides: BTreeMap::new(),
            guaranteed_roles: Vec::new(),
            guarantee_order: Vec::new(),
            dirty: Vec::new(),
            dirty_all: false,
            shares_stale: false,
            filter_heap: BinaryHeap::new(),
            headroom_blocked: Cell::new(false),
            rng: SplitMix64::new(config.seed),
        };
        allocator.min_allocatable = allocator.min_sets(&config.min_allocatable)?;
        for (role, weight) in &config.weights {
            allocator.set_weight(role, *weight)?;
        }
        for (role, quota) in &config.quotas {
            allocator.set_quota(role, quota.clone())?;
        }
        Ok(allocator)
    }

    fn intern_name(&mut self, name: &Arc<str>) -> Result<NameId, Error> {
        self.intern_entry(name, false)
    }

    /// Interns a name, or its revocable variant, which counts in no dominant share.
    fn intern_entry(&mut self, name: &Arc<str>, revocable: bool) -> Result<NameId, Error> {
        let id = if revocable {
            self.catalog.intern_revocable(name)
        } else {
            self.catalog.intern(name)
        };
        let id = id.ok_or_else(|| {
            Error::InvalidResources(format!(
                "too many distinct resource names (at most {})",
                crate::pool::MAX_NAMES
            ))
        })?;
        while self.excluded.len() < self.catalog.len() {
            let next_id = self.excluded.len() as NameId;
            let next = self.catalog.name(next_id);
            let excluded =
                self.catalog.is_revocable(next_id) || self.excluded_names.contains(&**next);
            self.excluded.push(excluded);
        }
        Ok(id)
    }

    /// Interns `resources`, creating names and reservation roles as needed.
    fn pool_from(&mut self, resources: &Resources) -> Result<Pool, Error> {
        resources.check_bounds()?;
        let mut pool = Pool::default();
        for item in resources.iter() {
            let name = self.intern_entry(item.name_arc(), item.is_revocable())?;
            let res = match item.reservation() {
                Some(role) => self.roles.ensure(role)?,
                None => UNRESERVED,
            };
            push_item(&mut pool, name, res, item);
        }
        Ok(pool)
    }

    /// Interns `resources` without creating anything; `None` if a name or role is unknown,
    /// in which case nothing in the cluster can hold them.
    fn pool_lookup(&self, resources: &Resources) -> Option<Pool> {
        let mut pool = Pool::default();
        for item in resources.iter() {
            let name = if item.is_revocable() {
                self.catalog.revocable_id(item.name())?
            } else {
                self.catalog.id(item.name())?
            };
            let res = match item.reservation() {
                Some(role) => self.roles.get(role)?,
                None => UNRESERVED,
            };
            push_item(&mut pool, name, res, item);
        }
        Some(pool)
    }

    fn resources_of(&self, pool: &Pool) -> Resources {
        let reservation =
            |res: RoleIdx| (res != UNRESERVED).then(|| self.roles.node(res).path.clone());
        let mut out = Resources::new();
        for slot in pool.slots() {
            out.push(Resources::entry(
                self.catalog.name(slot.name).clone(),
                reservation(slot.res),
                self.catalog.is_revocable(slot.name),
                Value::Scalar(slot.units),
            ));
        }
        for item in pool.discrete() {
            out.push(Resources::entry(
                self.catalog.name(item.name).clone(),
                reservation(item.res),
                false,
                item.value.clone(),
            ));
        }
        out
    }

    fn min_sets(&mut self, sets: &[Resources]) -> Result<MinSets, Error> {
        let mut out = Vec::new();
        for set in sets {
            let mut quantities = Vec::new();
            for item in set.scalars().quantities().iter() {
                quantities.push((self.intern_name(item.name_arc())?, item.units()));
            }
            if !quantities.is_empty() {
                out.push(quantities);
            }
        }
        Ok(out)
    }

    fn agent_idx(&self, id: &AgentId) -> Result<AgentIdx, Error> {
        self.agent_ids
            .get(id)
            .copied()
            .ok_or_else(|| Error::UnknownAgent(id.clone()))
    }

    fn framework_idx(&self, id: &FrameworkId) -> Result<FwIdx, Error> {
        self.framework_ids
            .get(id)
            .copied()
            .ok_or_else(|| Error::UnknownFramework(id.clone()))
    }

    fn mark_dirty(&mut self, agent: AgentIdx) {
        if let Some(state) = self.agents.get_mut(agent)
            && !state.dirty
        {
            state.dirty = true;
            self.dirty.push(agent);
        }
    }

    /// Books resources entering (`sign = 1`) or leaving (`-1`) an agent's free pool.
    fn on_free_change(&mut self, pool: &Pool, sign: i64) {
        for slot in pool.slots() {
            if slot.is_reserved() {
                self.roles
                    .add_reserved_free(slot.res, slot.name, sign * slot.units);
            } else {
                self.free_unreserved.add(slot.name, sign * slot.units);
            }
        }
        if sign > 0 && self.headroom_blocked.replace(false) {
            self.dirty_all = true;
        }
        if sign < 0 {
            let reserved_roles: Vec<RoleIdx> = pool
                .slots()
                .iter()
                .filter(|s| s.is_reserved())
                .map(|s| s.res)
                .collect();
            for role in reserved_roles {
                self.unblock_limits(role);
            }
        }
    }

    /// Books resources entering (`sign = 1`) or leaving (`-1`) a framework's allocation.
    fn on_alloc_change(&mut self, fw: FwIdx, role: RoleIdx, pool: &Pool, sign: i64) {
        for slot in pool.slots() {
            self.roles.add_alloc(role, slot.name, sign * slot.units);
        }
        let ctx = share_ctx!(self);
        if let Some(framework) = self.frameworks.get_mut(fw)
            && let Some(at) = framework.role_slot(role)
        {
            let membership = &mut framework.roles[at];
            for slot in pool.slots() {
                membership.alloc.add(slot.name, sign * slot.units);
            }
            if let Some(old_key) = membership.key {
                let new_key = share_key(ctx.share(&membership.alloc), 1.0);
                self.roles.move_member(role, fw, old_key, new_key);
                membership.key = Some(new_key);
            }
        }
        self.roles.refresh_path(role, &ctx);
        if sign < 0 {
            self.unblock_limits(role);
        }
    }

    /// A drop in consumption under `role` may let a limited ancestor take offers again.
    fn unblock_limits(&mut self, role: RoleIdx) {
        let blocked = self.roles.chain(role).fold(false, |any, at| {
            self.roles.node(at).limit_blocked.replace(false) | any
        });
        if blocked {
            self.dirty_all = true;
        }
    }

    fn share_ctx(&self) -> ShareCtx<'_> {
        share_ctx!(self)
    }

    /// True when `allocate` has something to reconsider (dirty agents, a changed framework,
    /// expired filters aside). The master can skip a round when this is false.
    pub fn has_work(&self) -> bool {
        self.dirty_all || !self.dirty.is_empty() || self.shares_stale
    }

    /// When the earliest refusal filter expires. After it passes, `allocate` may offer the
    /// filtered resources again, so the master should schedule a round then. Exact after
    /// `allocate`; a REVIVE in between may leave an earlier, harmless wake-up.
    pub fn next_filter_expiry(&self) -> Option<Time> {
        self.filter_heap.peek().map(|Reverse((at, ..))| *at)
    }

    /// How many agents and frameworks are known.
    pub fn len(&self) -> (usize, usize) {
        (self.agents.len(), self.frameworks.len())
    }

    /// True with no agents and no frameworks.
    pub fn is_empty(&self) -> bool {
        self.agents.len() == 0 && self.frameworks.len() == 0
    }
}
