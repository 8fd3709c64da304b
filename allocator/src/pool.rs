//! Internal, interned resource bags: names become small ids and reservations role indices, so
//! the allocation loop compares integers instead of strings.

use std::collections::HashMap;
use std::sync::Arc;

use crate::resources::{Kind, Value};

pub(crate) type NameId = u16;
pub(crate) type RoleIdx = u32;

/// The reservation of an unreserved slot. Role index 0 is the root, which cannot reserve.
pub(crate) const UNRESERVED: RoleIdx = 0;

/// How many distinct resource names a cluster may use.
pub(crate) const MAX_NAMES: usize = 256;

/// Interned resource names. A revocable name (`cpus{REV}`) has an id of its own, so the
/// allocator keeps an agent's revocable pool apart from its regular one with no other
/// change: quota and crumb rules name regular ids, and revocable ids count in no share.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    names: Vec<Arc<str>>,
    /// Per id: whether it is the revocable variant of its name.
    revocable: Vec<bool>,
    /// Per id: the regular id of the same name (itself for a regular id).
    base: Vec<NameId>,
    ids: HashMap<Arc<str>, NameId>,
    revocable_ids: HashMap<Arc<str>, NameId>,
}

impl Catalog {
    /// The id of `name`, adding it if new; `None` once [`MAX_NAMES`] names exist, because every
    /// per-role and per-framework quantity vector is as long as the catalog.
    pub(crate) fn intern(&mut self, name: &Arc<str>) -> Option<NameId> {
        if let Some(id) = self.ids.get(name) {
            return Some(*id);
        }
        let id = self.push(name, false, None)?;
        self.ids.insert(name.clone(), id);
        Some(id)
    }

    /// The id of revocable `name`, adding it (and the regular name) if new.
    pub(crate) fn intern_revocable(&mut self, name: &Arc<str>) -> Option<NameId> {
        if let Some(id) = self.revocable_ids.get(name) {
            return Some(*id);
        }
        let base = self.intern(name)?;
        let id = self.push(name, true, Some(base))?;
        self.revocable_ids.insert(name.clone(), id);
        Some(id)
    }

    fn push(&mut self, name: &Arc<str>, revocable: bool, base: Option<NameId>) -> Option<NameId> {
        if self.names.len() >= MAX_NAMES {
            return None;
        }
        let id = NameId::try_from(self.names.len()).ok()?;
        self.names.push(name.clone());
        self.revocable.push(revocable);
        self.base.push(base.unwrap_or(id));
        Some(id)
    }

    pub(crate) fn id(&self, name: &str) -> Option<NameId> {
        self.ids.get(name).copied()
    }

    pub(crate) fn revocable_id(&self, name: &str) -> Option<NameId> {
        self.revocable_ids.get(name).copied()
    }

    pub(crate) fn is_revocable(&self, id: NameId) -> bool {
        self.revocable
            .get(usize::from(id))
            .copied()
            .unwrap_or(false)
    }

    /// The regular id of `id`'s name: what crumb rules count it as.
    pub(crate) fn base(&self, id: NameId) -> NameId {
        self.base.get(usize::from(id)).copied().unwrap_or(id)
    }

    pub(crate) fn name(&self, id: NameId) -> &Arc<str> {
        &self.names[usize::from(id)]
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}

/// One entry of a [`Pool`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    pub(crate) name: NameId,
    pub(crate) res: RoleIdx,
    pub(crate) units: i64,
}

impl Slot {
    fn key(&self) -> (NameId, RoleIdx) {
        (self.name, self.res)
    }

    pub(crate) fn is_reserved(&self) -> bool {
        self.res != UNRESERVED
    }
}

/// A ranges or set entry of a [`Pool`] (`ports:[31000-32000]`): allocated exactly, value
/// by value, and never counted in shares or quota, which stay on scalars as in Mesos.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Discrete {
    pub(crate) name: NameId,
    pub(crate) res: RoleIdx,
    /// A `Value::Ranges` or `Value::Set`, never empty.
    pub(crate) value: Value,
}

impl Discrete {
    fn key(&self) -> (NameId, RoleIdx, Kind) {
        (self.name, self.res, self.value.kind())
    }
}

/// A sorted bag of scalar slots without zero entries, and of non-empty discrete entries.
/// Scalar-only pools (the common case) never touch the discrete list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pool {
    slots: Vec<Slot>,
    discrete: Vec<Discrete>,
}

impl Pool {
    pub(crate) fn slots(&self) -> &[Slot] {
        &self.slots
    }

    pub(crate) fn discrete(&self) -> &[Discrete] {
        &self.discrete
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty() && self.discrete.is_empty()
    }

    /// True when some entry, scalar or discrete, is reserved.
    pub(crate) fn has_reserved(&self) -> bool {
        self.slots.iter().any(Slot::is_reserved)
            || self.discrete.iter().any(|d| d.res != UNRESERVED)
    }

    /// Adds a ranges or set entry, merging (a union) with one of the same key.
    pub(crate) fn push_discrete(&mut self, item: Discrete) {
        if item.value.is_empty() || item.value.kind() == Kind::Scalar {
            return;
        }
        match self.discrete.binary_search_by(|d| d.key().cmp(&item.key())) {
            Ok(at) => self.discrete[at].value.merge(&item.value),
            Err(at) => self.discrete.insert(at, item),
        }
    }

    fn discrete_contains(&self, other: &Pool) -> bool {
        other.discrete.iter().all(|wanted| {
            self.discrete
                .binary_search_by(|d| d.key().cmp(&wanted.key()))
                .is_ok_and(|at| self.discrete[at].value.contains(&wanted.value))
        })
    }

    pub(crate) fn push(&mut self, slot: Slot) {
        if slot.units == 0 {
            return;
        }
        match self.slots.binary_search_by(|s| s.key().cmp(&slot.key())) {
            Ok(at) => {
                self.slots[at].units = self.slots[at].units.saturating_add(slot.units);
                if self.slots[at].units == 0 {
                    self.slots.remove(at);
                }
            }
            Err(at) => self.slots.insert(at, slot),
        }
    }

    pub(crate) fn add(&mut self, other: &Pool) {
        if self.slots.is_empty() {
            self.slots.clone_from(&other.slots);
        } else {
            for slot in &other.slots {
                self.push(*slot);
            }
        }
        if self.discrete.is_empty() {
            self.discrete.clone_from(&other.discrete);
        } else {
            for item in &other.discrete {
                self.push_discrete(item.clone());
            }
        }
    }

    fn units(&self, name: NameId, res: RoleIdx) -> i64 {
        self.slots
            .binary_search_by(|s| s.key().cmp(&(name, res)))
            .map_or(0, |at| self.slots[at].units)
    }

    pub(crate) fn contains(&self, other: &Pool) -> bool {
        other
            .slots
            .iter()
            .all(|slot| self.units(slot.name, slot.res) >= slot.units)
            && self.discrete_contains(other)
    }

    /// Removes `other` if it fits entirely; returns whether it did.
    pub(crate) fn take(&mut self, other: &Pool) -> bool {
        if self == other {
            self.slots.clear();
            self.discrete.clear();
            return true;
        }
        if !self.contains(other) {
            return false;
        }
        for slot in &other.slots {
            self.push(Slot {
                units: -slot.units,
                ..*slot
            });
        }
        for wanted in &other.discrete {
            if let Ok(at) = self
                .discrete
                .binary_search_by(|d| d.key().cmp(&wanted.key()))
            {
                self.discrete[at].value.subtract(&wanted.value);
            }
        }
        self.discrete.retain(|d| !d.value.is_empty());
        true
    }

    /// The entries, scalar and discrete, whose name and reservation pass `keep`.
    pub(crate) fn filtered(&self, keep: impl Fn(NameId, RoleIdx) -> bool) -> Pool {
        Pool {
            slots: self
                .slots
                .iter()
                .filter(|s| keep(s.name, s.res))
                .copied()
                .collect(),
            discrete: self
                .discrete
                .iter()
                .filter(|d| keep(d.name, d.res))
                .cloned()
                .collect(),
        }
    }

    /// Keeps the scalar slots that pass `keep` (which may shrink them); discrete entries
    /// are left alone.
    pub(crate) fn retain(&mut self, keep: impl FnMut(&mut Slot) -> bool) {
        self.slots.retain_mut(keep);
        self.slots.retain(|s| s.units != 0);
    }
}

/// Quantities per name id, reservations ignored; missing ids are zero.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Qty(Vec<i64>);

impl Qty {
    pub(crate) fn get(&self, name: NameId) -> i64 {
        self.0.get(usize::from(name)).copied().unwrap_or(0)
    }

    pub(crate) fn add(&mut self, name: NameId, units: i64) {
        let at = usize::from(name);
        if self.0.len() <= at {
            self.0.resize(at + 1, 0);
        }
        self.0[at] = self.0[at].saturating_add(units);
    }

    pub(crate) fn add_pool(&mut self, pool: &Pool) {
        for slot in pool.slots() {
            self.add(slot.name, slot.units);
        }
    }

    pub(crate) fn sub_pool(&mut self, pool: &Pool) {
        for slot in pool.slots() {
            self.add(slot.name, -slot.units);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (NameId, i64)> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, units)| **units != 0)
            .map(|(at, units)| (NameId::try_from(at).unwrap_or(NameId::MAX), *units))
    }
}
