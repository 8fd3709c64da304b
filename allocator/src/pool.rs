//! Internal, interned resource bags: names become small ids and reservations role indices, so
//! the allocation loop compares integers instead of strings.

use std::collections::HashMap;
use std::sync::Arc;

pub(crate) type NameId = u16;
pub(crate) type RoleIdx = u32;

/// The reservation of an unreserved slot. Role index 0 is the root, which cannot reserve.
pub(crate) const UNRESERVED: RoleIdx = 0;

/// How many distinct resource names a cluster may use.
pub(crate) const MAX_NAMES: usize = 256;

/// Interned resource names.
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    names: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, NameId>,
}

impl Catalog {
    /// The id of `name`, adding it if new; `None` once [`MAX_NAMES`] names exist, because every
    /// per-role and per-framework quantity vector is as long as the catalog.
    pub(crate) fn intern(&mut self, name: &Arc<str>) -> Option<NameId> {
        if let Some(id) = self.ids.get(name) {
            return Some(*id);
        }
        if self.names.len() >= MAX_NAMES {
            return None;
        }
        let id = NameId::try_from(self.names.len()).ok()?;
        self.names.push(name.clone());
        self.ids.insert(name.clone(), id);
        Some(id)
    }

    pub(crate) fn id(&self, name: &str) -> Option<NameId> {
        self.ids.get(name).copied()
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

/// A sorted bag of slots without zero entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pool {
    slots: Vec<Slot>,
}

impl Pool {
    pub(crate) fn slots(&self) -> &[Slot] {
        &self.slots
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
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
            return;
        }
        for slot in &other.slots {
            self.push(*slot);
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
    }

    /// Removes `other` if it fits entirely; returns whether it did.
    pub(crate) fn take(&mut self, other: &Pool) -> bool {
        if self.slots == other.slots {
            self.slots.clear();
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
        true
    }

    pub(crate) fn filtered(&self, keep: impl Fn(&Slot) -> bool) -> Pool {
        Pool {
            slots: self.slots.iter().filter(|s| keep(s)).copied().collect(),
        }
    }

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
