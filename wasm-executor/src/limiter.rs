//! The per-task memory limit: one budget for all of an instance's memories and tables.
//!
//! wasmtime's `StoreLimits` caps each memory separately; a component with two memories would get
//! twice the budget. This limiter sums every grow instead, and remembers that it refused one: a
//! Rust guest whose allocation fails aborts with `unreachable`, which would otherwise be
//! indistinguishable from any other abort.

/// Bytes per table element as the limit counts them: a function reference is one pointer.
const TABLE_ELEMENT_BYTES: u64 = 8;

#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    limit: u64,
    in_use: u64,
    peak: u64,
    refused: bool,
    max_memories: usize,
    max_tables: usize,
    max_instances: usize,
}

impl MemoryLimiter {
    pub(crate) fn new(limit: u64, max_memories: u32, max_tables: u32, max_instances: u32) -> Self {
        MemoryLimiter {
            limit,
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

    pub(crate) fn peak(&self) -> u64 {
        self.peak
    }

    fn grow(&mut self, current: u64, desired: u64) -> bool {
        let extra = desired.saturating_sub(current);
        let wanted = self.in_use.saturating_add(extra);
        if wanted > self.limit {
            self.refused = true;
            return false;
        }
        self.in_use = wanted;
        self.peak = self.peak.max(wanted);
        true
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
}
