//! The memory limit: one budget for all of an instance's memories and tables, or, for a
//! service, one budget shared by all the instances it runs at once.
//!
//! wasmtime's `StoreLimits` caps each memory separately; a component with two memories would get
//! twice the budget. This limiter sums every grow instead, and remembers that it refused one: a
//! Rust guest whose allocation fails aborts with `unreachable`, which would otherwise be
//! indistinguishable from any other abort.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::control::{Control, StopReason};

/// Bytes per table element as the limit counts them: a function reference is one pointer.
const TABLE_ELEMENT_BYTES: u64 = 8;

#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    budget: Budget,
    /// What this store holds.
    in_use: u64,
    peak: u64,
    refused: bool,
    max_memories: usize,
    max_tables: usize,
    max_instances: usize,
}

#[derive(Debug)]
enum Budget {
    /// One task's own limit.
    Own(u64),
    /// A service's limit, shared by its instances.
    Shared(Arc<SharedMemory>),
}

/// A service's memory: one limit for all the instances it runs at once. An instance returns
/// what it held when its store is dropped.
///
/// A refused grow stops the whole service with the memory-limit reason, as a container's
/// out-of-memory kill takes the whole container: wasm memory never shrinks within an
/// instance, so a service at its limit would only go on failing requests.
#[derive(Debug)]
pub(crate) struct SharedMemory {
    limit: u64,
    in_use: AtomicU64,
    peak: AtomicU64,
    control: Arc<Control>,
}

impl SharedMemory {
    pub(crate) fn new(limit: u64, control: Arc<Control>) -> Self {
        SharedMemory {
            limit,
            in_use: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            control,
        }
    }

    /// The most the service's instances held at once.
    pub(crate) fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    fn grow(&self, extra: u64) -> bool {
        let granted = self
            .in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |in_use| {
                in_use
                    .checked_add(extra)
                    .filter(|wanted| *wanted <= self.limit)
            });
        match granted {
            Ok(before) => {
                self.peak
                    .fetch_max(before.saturating_add(extra), Ordering::Relaxed);
                true
            }
            Err(_) => {
                self.control.stop(StopReason::MemoryLimit);
                false
            }
        }
    }

    fn release(&self, bytes: u64) {
        // Only what was granted is released, so this never goes below zero.
        self.in_use.fetch_sub(bytes, Ordering::AcqRel);
    }
}

impl MemoryLimiter {
    pub(crate) fn new(limit: u64, max_memories: u32, max_tables: u32, max_instances: u32) -> Self {
        Self::with_budget(Budget::Own(limit), max_memories, max_tables, max_instances)
    }

    /// A limiter that draws on a service's shared budget.
    pub(crate) fn shared(
        memory: Arc<SharedMemory>,
        max_memories: u32,
        max_tables: u32,
        max_instances: u32,
    ) -> Self {
        Self::with_budget(
            Budget::Shared(memory),
            max_memories,
            max_tables,
            max_instances,
        )
    }

    fn with_budget(budget: Budget, max_memories: u32, max_tables: u32, max_instances: u32) -> Self {
        MemoryLimiter {
            budget,
            in_use: 0,
            peak: 0,
            refused: false,
            max_memories: max_memories as usize,
            max_tables: max_tables as usize,
            max_instances: max_instances as usize,
        }
    }

    /// Whether a grow was refused because of the budget.
    pub(crate) fn refused(&self) -> bool {
        self.refused
    }

    /// The most this store held at once.
    pub(crate) fn peak(&self) -> u64 {
        self.peak
    }

    fn grow(&mut self, current: u64, desired: u64) -> bool {
        let extra = desired.saturating_sub(current);
        let wanted = self.in_use.saturating_add(extra);
        let granted = match &self.budget {
            Budget::Own(limit) => wanted <= *limit,
            Budget::Shared(memory) => memory.grow(extra),
        };
        if !granted {
            self.refused = true;
            return false;
        }
        self.in_use = wanted;
        self.peak = self.peak.max(wanted);
        true
    }
}

impl Drop for MemoryLimiter {
    /// The store and its memories are going away: give their bytes back to the service.
    fn drop(&mut self) {
        if let Budget::Shared(memory) = &self.budget {
            memory.release(self.in_use);
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(self.grow(current as u64, desired as u64))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let bytes = |elements: usize| (elements as u64).saturating_mul(TABLE_ELEMENT_BYTES);
        Ok(self.grow(bytes(current), bytes(desired)))
    }

    fn instances(&self) -> usize {
        self.max_instances
    }

    fn tables(&self) -> usize {
        self.max_tables
    }

    fn memories(&self) -> usize {
        self.max_memories
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn counts_all_memories_against_one_budget() {
        let mut limiter = MemoryLimiter::new(100, 4, 4, 4);
        assert!(limiter.memory_growing(0, 60, None).unwrap_or(false));
        assert!(!limiter.memory_growing(0, 60, None).unwrap_or(true));
        assert!(limiter.refused());
        assert_eq!(limiter.peak(), 60);
    }

    #[test]
    fn tables_count_as_pointer_sized_elements() {
        let mut limiter = MemoryLimiter::new(80, 4, 4, 4);
        assert!(limiter.table_growing(0, 10, None).unwrap_or(false));
        assert!(!limiter.table_growing(10, 11, None).unwrap_or(true));
        assert_eq!(limiter.peak(), 80);
    }

    #[test]
    fn a_shared_budget_is_returned_when_a_store_drops() {
        let control = Arc::new(Control::default());
        let memory = Arc::new(SharedMemory::new(100, Arc::clone(&control)));
        let mut first = MemoryLimiter::shared(Arc::clone(&memory), 4, 4, 4);
        let mut second = MemoryLimiter::shared(Arc::clone(&memory), 4, 4, 4);
        assert!(first.memory_growing(0, 60, None).unwrap_or(false));
        assert!(second.memory_growing(0, 40, None).unwrap_or(false));
        drop(first);
        let mut third = MemoryLimiter::shared(Arc::clone(&memory), 4, 4, 4);
        assert!(third.memory_growing(0, 60, None).unwrap_or(false));
        assert_eq!(memory.peak(), 100);
        assert_eq!(control.reason(), None);
    }

    #[test]
    fn a_refused_shared_grow_stops_the_service() {
        let control = Arc::new(Control::default());
        let memory = Arc::new(SharedMemory::new(100, Arc::clone(&control)));
        let mut first = MemoryLimiter::shared(Arc::clone(&memory), 4, 4, 4);
        let mut second = MemoryLimiter::shared(Arc::clone(&memory), 4, 4, 4);
        assert!(first.memory_growing(0, 60, None).unwrap_or(false));
        assert!(!second.memory_growing(0, 60, None).unwrap_or(true));
        assert!(second.refused());
        assert_eq!(control.reason(), Some(StopReason::MemoryLimit));
    }
}
