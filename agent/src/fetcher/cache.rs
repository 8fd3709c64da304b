//! The fetcher cache: downloads of uris fetched with `cache: true`, kept under
//! `work_dir/fetcher-cache/<sha256 of the uri>`, at most `fetcher_cache_bytes` in all (and
//! [`MAX_ENTRIES`] files), the least recently used evicted first. A hit is copied into the sandbox, never hard-linked:
//! a task may change its files, and a link would change the cached copy for the next task.
//!
//! As Mesos's, the cache lives for one run of the agent: it starts empty, so nothing a
//! previous run left (possibly half written) is ever served. Fetches of one uri take turns,
//! so two tasks asking for it together download it once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};
use tokio::sync::OwnedMutexGuard;
use tracing::{debug, warn};

use crate::Error;

use super::{Cause, Limit, Target, copy_capped};

/// Most entries the cache holds, however small they are.
const MAX_ENTRIES: usize = 10_000;

/// The cache key of a uri.
pub(crate) fn key(uri: &str) -> String {
    hex::encode(Sha256::digest(uri.as_bytes()))
}

pub(crate) struct FetchCache {
    dir: PathBuf,
    capacity: u64,
    state: Mutex<State>,
    /// One lock per uri being fetched; an entry goes when nobody holds or waits for it.
    turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    total: u64,
    clock: u64,
}

struct Entry {
    size: u64,
    last_used: u64,
}

/// The right to fetch one uri through the cache until dropped.
pub(crate) struct Turn<'a> {
    cache: &'a FetchCache,
    key: String,
    _guard: OwnedMutexGuard<()>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut turns = self
            .cache
            .turns
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The map's and this guard's: nobody else waits for this uri.
        if turns
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) <= 2)
        {
            turns.remove(&self.key);
        }
    }
}

impl FetchCache {
    /// An empty cache in `dir` (emptied if it holds anything). Blocking.
    pub(crate) fn open(dir: PathBuf, capacity: u64) -> Result<Self, Error> {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(Error::io("emptying", &dir, err)),
        }
        std::fs::create_dir_all(&dir).map_err(|err| Error::io("creating", &dir, err))?;
        Ok(FetchCache {
            dir,
            capacity,
            state: Mutex::new(State::default()),
            turns: Mutex::new(HashMap::new()),
        })
    }

    /// Waits until no other fetch of `key` runs.
    pub(crate) async fn turn(&self, key: &str) -> Turn<'_> {
        let lock = {
            let mut turns = self.turns.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(turns.entry(key.to_string()).or_default())
        };
        Turn {
            cache: self,
            key: key.to_string(),
            _guard: lock.lock_owned().await,
        }
    }

    /// Copies the cached file of `key` into `target`'s temp file; `None` on a miss.
    pub(crate) async fn copy_out(
        &self,
        key: &str,
        target: &Target,
        limit: Limit,
    ) -> Result<Option<u64>, Cause> {
        let size = {
            let mut state = self.lock();
            let now = state.tick();
            let Some(entry) = state.entries.get_mut(key) else {
                return Ok(None);
            };
            entry.last_used = now;
            entry.size
        };
        limit.check(size)?;
        let source = match tokio::fs::File::open(self.dir.join(key)).await {
            Ok(source) => source,
            Err(err) => {
                warn!(key, err = %err, "fetcher cache entry unreadable; fetching again");
                self.forget(key);
                return Ok(None);
            }
        };
        let file = target.file().await?;
        copy_capped(source, file, &target.temp, limit)
            .await
            .map(Some)
    }

    /// Keeps a copy of `target`'s complete temp file (`size` bytes) under `key`, evicting
    /// the least recently used entries to make room. A failure only costs the copy.
    pub(crate) async fn insert(&self, key: &str, target: &Target, size: u64) {
        if size > self.capacity {
            debug!(key, size, "too large for the fetcher cache");
            return;
        }
        let evicted = self.make_room(key, size);
        let path = self.dir.join(key);
        let temp = self
            .dir
            .join(format!(".{}.part", uuid::Uuid::new_v4().simple()));
        let copied = match target.read_temp().await {
            Ok(source) => {
                tokio::task::spawn_blocking(move || copy_file(source, &temp, &path, evicted))
                    .await
                    .map_err(|err| std::io::Error::other(err.to_string()))
                    .and_then(|copied| copied)
            }
            Err(cause) => Err(std::io::Error::other(cause.0)),
        };
        if let Err(err) = copied {
            warn!(key, err = %err, "cannot keep the download in the fetcher cache");
            self.forget(key);
        }
    }

    /// Books `size` bytes for `key`, dropping the least recently used entries until the
    /// total fits; the files of those dropped.
    fn make_room(&self, key: &str, size: u64) -> Vec<PathBuf> {
        let mut state = self.lock();
        let mut evicted = Vec::new();
        if let Some(old) = state.entries.remove(key) {
            state.total = state.total.saturating_sub(old.size);
        }
        while state.total.saturating_add(size) > self.capacity || state.entries.len() >= MAX_ENTRIES
        {
            let Some(oldest) = state
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(entry) = state.entries.remove(&oldest) {
                state.total = state.total.saturating_sub(entry.size);
            }
            evicted.push(self.dir.join(oldest));
        }
        let now = state.tick();
        state.total = state.total.saturating_add(size);
        state.entries.insert(
            key.to_string(),
            Entry {
                size,
                last_used: now,
            },
        );
        evicted
    }

    fn forget(&self, key: &str) {
        let mut state = self.lock();
        if let Some(entry) = state.entries.remove(key) {
            state.total = state.total.saturating_sub(entry.size);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn tick(&mut self) -> u64 {
        self.clock = self.clock.saturating_add(1);
        self.clock
    }
}

/// Deletes `evicted`, then copies `source` to `temp` and renames it to `path`. Blocking.
fn copy_file(
    mut source: std::fs::File,
    temp: &std::path::Path,
    path: &std::path::Path,
    evicted: Vec<PathBuf>,
) -> std::io::Result<()> {
    for old in evicted {
        if let Err(err) = std::fs::remove_file(&old) {
            warn!(path = %old.display(), err = %err, "cannot delete an evicted fetcher cache entry");
        }
    }
    let mut out = std::fs::File::create(temp)?;
    let copied = std::io::copy(&mut source, &mut out).and_then(|_| std::fs::rename(temp, path));
    if copied.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    copied
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_entries_go_first_and_the_total_stays_bounded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = FetchCache::open(dir.path().join("cache"), 100).expect("open");
        assert!(cache.make_room("a", 40).is_empty());
        assert!(cache.make_room("b", 40).is_empty());
        // Using `a` makes `b` the oldest.
        if let Some(entry) = cache.lock().entries.get_mut("a") {
            entry.last_used = 99;
        }
        let evicted = cache.make_room("c", 40);
        assert_eq!(evicted, [cache.dir.join("b")]);
        let state = cache.lock();
        assert_eq!(state.total, 80);
        assert!(state.entries.contains_key("a") && state.entries.contains_key("c"));
    }

    #[test]
    fn empty_files_are_bounded_in_number() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = FetchCache::open(dir.path().join("cache"), 100).expect("open");
        for n in 0..=MAX_ENTRIES {
            cache.make_room(&n.to_string(), 0);
        }
        let state = cache.lock();
        assert_eq!(state.entries.len(), MAX_ENTRIES);
        assert!(!state.entries.contains_key("0"), "the oldest went");
    }

    #[test]
    fn keys_are_the_sha256_of_the_uri() {
        assert_eq!(key("http://h/a"), key("http://h/a"));
        assert_ne!(key("http://h/a"), key("http://h/b"));
        assert_eq!(key("x").len(), 64);
    }
}
