//! A registry that lives in memory: nothing survives the process. Tests and benchmarks use
//! it to run the master without a disk, and to share one registry between two masters in
//! one process.

use std::sync::Mutex;

use futures::future::BoxFuture;

use super::{Op, RegistryStore, Snapshot};
use crate::Error;

/// A [`RegistryStore`] backed by a [`Snapshot`] behind a mutex.
#[derive(Debug, Default)]
pub struct MemoryRegistry {
    state: Mutex<Snapshot>,
}

impl MemoryRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of what it holds now.
    pub fn snapshot(&self) -> Snapshot {
        self.state
            .lock()
            .map(|state| state.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }
}

impl RegistryStore for MemoryRegistry {
    fn load(&self) -> BoxFuture<'_, Result<Snapshot, Error>> {
        let snapshot = self.snapshot();
        Box::pin(async move { Ok(snapshot) })
    }

    fn commit(&self, ops: Vec<Op>) -> BoxFuture<'_, Result<(), Error>> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for op in ops {
            state.apply(op);
        }
        Box::pin(async { Ok(()) })
    }
}
