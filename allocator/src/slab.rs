//! Dense storage with stable small indices and slot reuse.

#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Option<T>>,
    vacant: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            vacant: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    /// Stores `value`; `None` only when 2^32 slots are in use.
    pub(crate) fn insert(&mut self, value: T) -> Option<u32> {
        if let Some(idx) = self.vacant.pop() {
            self.slots[idx as usize] = Some(value);
            return Some(idx);
        }
        let idx = u32::try_from(self.slots.len()).ok()?;
        self.slots.push(Some(value));
        Some(idx)
    }

    pub(crate) fn remove(&mut self, idx: u32) -> Option<T> {
        let value = self.slots.get_mut(idx as usize)?.take()?;
        self.vacant.push(idx);
        Some(value)
    }

    pub(crate) fn get(&self, idx: u32) -> Option<&T> {
        self.slots.get(idx as usize)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, idx: u32) -> Option<&mut T> {
        self.slots.get_mut(idx as usize)?.as_mut()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(idx, slot)| Some((idx as u32, slot.as_ref()?)))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut T)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(idx, slot)| Some((idx as u32, slot.as_mut()?)))
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.vacant.len()
    }
}
