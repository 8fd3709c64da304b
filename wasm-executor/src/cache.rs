//! The compile cache: one compilation per (sha256 digest, engine), shared in memory and kept on
//! disk.
//!
//! In memory, concurrent loads of the same bytes wait on one `OnceCell`, so they compile once.
//! On disk, artifacts live at `<cache_dir>/<digest>-<compat>.cwasm`, where `<compat>` hashes the
//! engine's compatibility fingerprint; a file is written to a temp name and renamed into place,
//! so a reader never sees half of one. This module holds the crate's only `unsafe`: loading such
//! a file back.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest as _, Sha256};
use tokio::sync::OnceCell;
use wasmtime::component::Component;

use crate::Error;
use crate::engine::{MeteredEngine, Metering};

/// The sha256 of a component's bytes, in lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Hashes `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(hex::encode(Sha256::digest(bytes)))
    }

    /// The hex string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Counters that show where compiled code came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Components compiled by Cranelift in this process.
    pub compiled: u64,
    /// Components loaded from the on-disk cache instead of compiled.
    pub loaded_from_disk: u64,
    /// Loads answered by a component already in memory (or being compiled by another load).
    pub memory_hits: u64,
}

type Slot = Arc<OnceCell<Component>>;

pub(crate) struct CompileCache {
    dir: Option<PathBuf>,
    slots: Mutex<HashMap<(Digest, Metering), Slot>>,
    compiled: AtomicU64,
    loaded_from_disk: AtomicU64,
    memory_hits: AtomicU64,
}

impl CompileCache {
    pub(crate) fn new(dir: Option<PathBuf>) -> Result<Self, Error> {
        if let Some(dir) = &dir {
            // Its files are loaded as native code: nobody else may be able to plant one.
            crate::private_dir::ensure_private_dir(dir)?;
        }
        Ok(CompileCache {
            dir,
            slots: Mutex::new(HashMap::new()),
            compiled: AtomicU64::new(0),
            loaded_from_disk: AtomicU64::new(0),
            memory_hits: AtomicU64::new(0),
        })
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            compiled: self.compiled.load(Ordering::Relaxed),
            loaded_from_disk: self.loaded_from_disk.load(Ordering::Relaxed),
            memory_hits: self.memory_hits.load(Ordering::Relaxed),
        }
    }

    /// Drops the in-memory copies of `digest`; the disk copy stays.
    pub(crate) fn forget(&self, digest: &Digest) {
        self.lock_slots().retain(|(held, _), _| held != digest);
    }

    /// The component for `bytes` on `engine`: from memory, else from disk, else compiled.
    pub(crate) async fn component(
        &self,
        engine: &MeteredEngine,
        metering: Metering,
        digest: &Digest,
        bytes: &Arc<[u8]>,
    ) -> Result<Component, Error> {
        let slot = self.slot(digest, metering);
        if let Some(component) = slot.get() {
            self.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(component.clone());
        }
        let mut initialised_here = false;
        let component = slot
            .get_or_try_init(|| {
                initialised_here = true;
                self.load_or_compile(engine, digest, bytes)
            })
            .await?;
        if !initialised_here {
            self.memory_hits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(component.clone())
    }

    fn slot(&self, digest: &Digest, metering: Metering) -> Slot {
        let mut slots = self.lock_slots();
        Arc::clone(slots.entry((digest.clone(), metering)).or_default())
    }

    fn lock_slots(&self) -> std::sync::MutexGuard<'_, HashMap<(Digest, Metering), Slot>> {
        // The map holds no invariant a panicking holder could break.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn load_or_compile(
        &self,
        engine: &MeteredEngine,
        digest: &Digest,
        bytes: &Arc<[u8]>,
    ) -> Result<Component, Error> {
        let path = self.artifact_path(engine, digest);
        if let Some(path) = &path
            && let Some(component) = load_artifact(engine, path).await
        {
            self.loaded_from_disk.fetch_add(1, Ordering::Relaxed);
            return Ok(component);
        }
        let component = compile(engine, bytes).await?;
        self.compiled.fetch_add(1, Ordering::Relaxed);
        if let Some(path) = path {
            store_artifact(component.clone(), path).await;
        }
        Ok(component)
    }

    fn artifact_path(&self, engine: &MeteredEngine, digest: &Digest) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{digest}-{}.cwasm", engine.compat_hash)))
    }
}

async fn compile(engine: &MeteredEngine, bytes: &Arc<[u8]>) -> Result<Component, Error> {
    let engine = engine.engine.clone();
    let bytes = Arc::clone(bytes);
    let compiled = tokio::task::spawn_blocking(move || Component::new(&engine, &bytes[..]))
        .await
        .map_err(|err| Error::Host(format!("the compiler thread failed: {err}")))?;
    compiled.map_err(|err| Error::InvalidComponent(format!("{err:#}")))
}

/// Loads a cached artifact; `None` (after logging why) means "compile instead".
async fn load_artifact(engine: &MeteredEngine, path: &Path) -> Option<Component> {
    let engine = engine.engine.clone();
    let owned = path.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || {
        if !owned.is_file() {
            return None;
        }
        Some(deserialize_own_artifact(&engine, &owned))
    })
    .await;
    match loaded {
        Ok(Some(Ok(component))) => Some(component),
        Ok(None) => None,
        Ok(Some(Err(err))) => {
            tracing::warn!(path = %path.display(), err = %format!("{err:#}"), "discarding unusable cached artifact");
            let _ = std::fs::remove_file(path);
            None
        }
        Err(err) => {
            tracing::warn!(path = %path.display(), %err, "cache loader thread failed");
            None
        }
    }
}

/// Deserializes an artifact from the cache directory.
///
/// Only ever called with paths built by [`CompileCache::artifact_path`], inside the cache
/// directory this executor created, for files that [`store_artifact`] wrote.
#[allow(unsafe_code)]
fn deserialize_own_artifact(engine: &wasmtime::Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `deserialize_file` trusts its input to be machine code wasmtime produced. The file
    // at `path` was written by this crate's own `Component::serialize` (see `store_artifact`)
    // into the cache directory the executor owns, under a name keyed by the component's sha256
    // and a hash of this engine's compatibility fingerprint, and moved into place only once
    // complete (temp file + rename). Bytes from outside (uploads, the network) never reach this
    // directory: they go through `Component::new`, which validates and compiles them. wasmtime
    // itself still rejects an artifact built by another wasmtime version or engine config.
    unsafe { Component::deserialize_file(engine, path) }
}

/// Writes an artifact atomically. A failure only costs a recompilation later, so it is logged,
/// not returned.
async fn store_artifact(component: Component, path: PathBuf) {
    let written = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let bytes = component.serialize().map_err(|err| format!("{err:#}"))?;
        let dir = path.parent().ok_or("artifact path has no parent")?;
        let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|err| err.to_string())?;
        std::io::Write::write_all(&mut temp, &bytes).map_err(|err| err.to_string())?;
        temp.as_file().sync_all().map_err(|err| err.to_string())?;
        temp.persist(&path).map_err(|err| err.to_string())?;
        Ok(())
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::warn!(%err, "cannot write compiled artifact to the cache"),
        Err(err) => tracing::warn!(%err, "cache writer thread failed"),
    }
}
