//! [`Journal`]: the open file, its live entries, appends, syncs and compaction.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Error;
use crate::format::{self, End, HEADER_BYTES, MAX_RECORD, RECORD_HEADER_BYTES};

/// One change in a record: a put (`value: Some`) or a delete of `key` in `table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// A small table number of the owner's choosing.
    pub table: u8,
    /// The key within the table.
    pub key: Vec<u8>,
    /// The new value, or `None` to delete the key.
    pub value: Option<Vec<u8>>,
}

impl Entry {
    /// A put.
    pub fn put(table: u8, key: impl Into<Vec<u8>>, value: Vec<u8>) -> Entry {
        Entry {
            table,
            key: key.into(),
            value: Some(value),
        }
    }

    /// A delete.
    pub fn delete(table: u8, key: impl Into<Vec<u8>>) -> Entry {
        Entry {
            table,
            key: key.into(),
            value: None,
        }
    }
}

/// What an owner sets for its journal.
#[derive(Debug, Clone)]
pub struct Options {
    /// Written in the header and checked on open (at most 16 bytes): a journal of another
    /// kind is refused.
    pub kind: &'static str,
    /// The owner's own format number, checked on open like `kind`.
    pub format: u32,
    /// How much the file grows at a time, written as zeros and synced, so that appends
    /// within it change no file size.
    pub chunk_bytes: u64,
    /// [`Journal::needs_compaction`] says yes once the records take this much and four times
    /// what the live entries need.
    pub compact_at_bytes: u64,
}

impl Options {
    /// Defaults for `kind` and `format`: 4 MiB chunks, compaction from 16 MiB.
    pub fn new(kind: &'static str, format: u32) -> Options {
        Options {
            kind,
            format,
            chunk_bytes: 4 << 20,
            compact_at_bytes: 16 << 20,
        }
    }
}

/// What opening found besides the entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Records read back.
    pub records: u64,
    /// A torn last append that was dropped: where it started and how many bytes it held.
    /// Only an append that was never synced can be torn, so nothing that was acknowledged
    /// as durable is lost; the owner should still say so in its log.
    pub torn: Option<(u64, u64)>,
    /// Whether the file was created by this open.
    pub created: bool,
}

/// An open journal: the file, locked, and its live entries. Blocking; owned by one thread.
pub struct Journal {
    file: File,
    path: PathBuf,
    options: Options,
    /// Where the next record goes.
    used: u64,
    /// The file's length: zeros from `used` to here.
    allocated: u64,
    live: HashMap<(u8, Vec<u8>), Vec<u8>>,
    /// What the live entries would take as records.
    live_bytes: u64,
    /// Reused for each record's bytes.
    buf: Vec<u8>,
    recovery: Recovery,
    /// How long the last synced [`write`](Journal::write) took, append and sync, and when
    /// it ended.
    last_synced_write: Option<(Duration, Instant)>,
}

/// A synced write that took less than this is quick: its owner may run the next one on an
/// async worker rather than hand it to a thread of its own, since two thread wake-ups (to
/// that thread and back) would cost more. Well under what tokio allows a task between two
/// awaits; a single slow sync sends its owner back to its thread.
pub const QUICK_SYNC: Duration = Duration::from_micros(50);

/// A slower synced write, up to this long (an SSD's or a virtual disk's flush), may still
/// run in place while its owner is quiet (its last synced write ended [`QUIET_GAP`] ago or
/// more): nothing else waits for the worker then, and the hop to another thread and back
/// would add two wake-ups to the latency of whatever waits for the write. While writes come
/// closer together, the owner's thread takes them and shares one sync among many; a sync
/// slower than this (a spinning disk) always goes there.
pub const QUIET_SYNC: Duration = Duration::from_millis(2);

/// How long after its last synced write ended a journal's owner counts as quiet.
pub const QUIET_GAP: Duration = Duration::from_micros(200);

/// Whether an owner may make its next synced write in place, on the async worker that asks
/// for it, when its last synced write took `took` and ended `since` ago: a quick sync always,
/// a slower one up to [`QUIET_SYNC`] only while the owner is quiet.
pub fn may_sync_in_place(took: Duration, since: Duration) -> bool {
    took < QUICK_SYNC || (took < QUIET_SYNC && since >= QUIET_GAP)
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .field("used", &self.used)
            .field("live", &self.live.len())
            .finish()
    }
}

impl Journal {
    /// Opens the journal at `path`, or creates it when nothing is there, and reads it back.
    /// A file that is not a journal of `options.kind` and format, or that is damaged beyond
    /// a torn last append, is [`Error::Corrupt`]; a journal another process holds is
    /// [`Error::Locked`].
    pub fn open(path: &Path, options: Options) -> Result<Journal, Error> {
        let exists = path
            .try_exists()
            .map_err(io_error(path, "looking for it"))?;
        if !exists {
            let (file, used, allocated) = write_new(path, &options, std::iter::empty())?;
            sync_dir(path)?;
            let mut journal = Journal::empty(file, path, options, allocated);
            journal.used = used;
            journal.recovery.created = true;
            return Ok(journal);
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io_error(path, "opening it"))?;
        lock(&file, path)?;
        // Through the locked handle: on Windows the lock keeps every other handle out.
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(io_error(path, "reading it"))?;
        let corrupt = |reason: String| Error::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        format::check_header(&bytes, options.kind, options.format).map_err(corrupt)?;
        let mut live = HashMap::new();
        let mut live_bytes = 0u64;
        let mut records = 0u64;
        let end = format::scan(&bytes, |entries| {
            records += 1;
            for entry in entries {
                let key = bytes[entry.key.clone()].to_vec();
                let value = entry.value.clone().map(|range| bytes[range].to_vec());
                apply(&mut live, &mut live_bytes, entry.table, key, value);
            }
        })
        .map_err(corrupt)?;
        let allocated = bytes.len() as u64;
        drop(bytes);
        let (used, torn) = match end {
            End::Clean { at } => (at as u64, None),
            End::Torn { at, dropped } => {
                zero(&mut file, path, at as u64, allocated)?;
                (at as u64, Some((at as u64, dropped as u64)))
            }
        };
        file.seek(SeekFrom::Start(used))
            .map_err(io_error(path, "seeking to its end"))?;
        Ok(Journal {
            file,
            path: path.to_path_buf(),
            options,
            used,
            allocated,
            live,
            live_bytes,
            buf: Vec::new(),
            recovery: Recovery {
                records,
                torn,
                created: false,
            },
            last_synced_write: None,
        })
    }

    fn empty(file: File, path: &Path, options: Options, allocated: u64) -> Journal {
        Journal {
            file,
            path: path.to_path_buf(),
            options,
            used: HEADER_BYTES as u64,
            allocated,
            live: HashMap::new(),
            live_bytes: 0,
            buf: Vec::new(),
            recovery: Recovery::default(),
            last_synced_write: None,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What opening found.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The live value at `key` in `table`.
    pub fn get(&self, table: u8, key: &[u8]) -> Option<&[u8]> {
        // The map is keyed by owned keys; lookups on the hot path are rare (recovery).
        self.live.get(&(table, key.to_vec())).map(Vec::as_slice)
    }

    /// Every live entry, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (u8, &[u8], &[u8])> {
        self.live
            .iter()
            .map(|((table, key), value)| (*table, key.as_slice(), value.as_slice()))
    }

    /// How many live entries there are.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no entry is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// How many bytes of records the file holds.
    pub fn used_bytes(&self) -> u64 {
        self.used
    }

    /// Appends `entries` as one record, applied whole or not at all by a later open, and
    /// syncs the file when `sync` is set (then, once this returns, a crash loses none of
    /// it, nor any earlier record). An empty batch writes nothing. On an error nothing is
    /// applied and the next record goes where this one would have.
    pub fn write(&mut self, entries: Vec<Entry>, sync: bool) -> Result<(), Error> {
        let started = Instant::now();
        if !entries.is_empty() {
            self.buf.clear();
            self.buf.resize(RECORD_HEADER_BYTES, 0);
            for entry in &entries {
                match &entry.value {
                    Some(value) => format::put(&mut self.buf, entry.table, &entry.key, value),
                    None => format::delete(&mut self.buf, entry.table, &entry.key),
                }
            }
            let payload = self.buf.len() - RECORD_HEADER_BYTES;
            if payload > MAX_RECORD {
                return Err(Error::TooLarge {
                    path: self.path.clone(),
                    bytes: payload,
                });
            }
            format::seal(&mut self.buf);
            self.append()?;
            for entry in entries {
                apply(
                    &mut self.live,
                    &mut self.live_bytes,
                    entry.table,
                    entry.key,
                    entry.value,
                );
            }
        }
        if sync {
            self.sync()?;
            self.last_synced_write = Some((started.elapsed(), Instant::now()));
        }
        Ok(())
    }

    /// How long the last synced [`write`](Self::write) took; `None` before the first.
    pub fn last_synced_write(&self) -> Option<Duration> {
        self.last_synced_write.map(|(took, _)| took)
    }

    /// Whether the last synced write took less than [`QUICK_SYNC`].
    pub fn syncs_quickly(&self) -> bool {
        self.last_synced_write
            .is_some_and(|(took, _)| took < QUICK_SYNC)
    }

    /// Whether the next synced write may run in place at `now` ([`may_sync_in_place`] for
    /// the last one); not before the first, whose cost is unknown.
    pub fn syncs_in_place(&self, now: Instant) -> bool {
        self.last_synced_write.is_some_and(|(took, ended)| {
            may_sync_in_place(took, now.saturating_duration_since(ended))
        })
    }

    /// Writes `self.buf` at `used`, growing the file by a chunk first when it must.
    fn append(&mut self) -> Result<(), Error> {
        let len = self.buf.len() as u64;
        if self.used + len > self.allocated {
            let grow = self.options.chunk_bytes.max(len);
            let from = self.allocated;
            zero(&mut self.file, &self.path, from, from + grow)?;
            self.allocated = from + grow;
        }
        let written = self
            .file
            .seek(SeekFrom::Start(self.used))
            .and_then(|_| self.file.write_all(&self.buf));
        if let Err(err) = written {
            // Whatever part landed is overwritten by the next record, or read as torn.
            let _ = self.file.seek(SeekFrom::Start(self.used));
            return Err(io_error(&self.path, "writing a record")(err));
        }
        self.used += len;
        Ok(())
    }

    /// Makes every record written so far durable.
    pub fn sync(&mut self) -> Result<(), Error> {
        self.file
            .sync_data()
            .map_err(io_error(&self.path, "syncing it"))
    }

    /// Whether the records take enough more room than the live entries that a compaction
    /// is worth its write.
    pub fn needs_compaction(&self) -> bool {
        self.used >= self.options.compact_at_bytes && self.used >= self.live_bytes.saturating_mul(4)
    }

    /// Rewrites the journal as its live entries alone: to `<file>.compact`, synced, then
    /// renamed over the journal, and the directory synced. On an error the journal goes on
    /// in the old file, unchanged.
    pub fn compact(&mut self) -> Result<(), Error> {
        let (file, used, allocated) = write_new(&self.path, &self.options, self.live.iter())?;
        // The path names the new file from here on, whatever fails next.
        self.file = file;
        self.used = used;
        self.allocated = allocated;
        self.file
            .seek(SeekFrom::Start(used))
            .map_err(io_error(&self.path, "seeking to its end"))?;
        sync_dir(&self.path)
    }

    /// Compacts when [`needs_compaction`](Self::needs_compaction) says so, and returns the
    /// bytes of records before and after; `None` when it was not needed.
    pub fn compact_if_needed(&mut self) -> Result<Option<(u64, u64)>, Error> {
        if !self.needs_compaction() {
            return Ok(None);
        }
        let before = self.used;
        self.compact()?;
        Ok(Some((before, self.used)))
    }
}

/// Applies one entry to the live map, keeping `live_bytes` the size of the live entries as
/// records of their own.
fn apply(
    live: &mut HashMap<(u8, Vec<u8>), Vec<u8>>,
    live_bytes: &mut u64,
    table: u8,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
) {
    let key_len = key.len();
    let slot = (table, key);
    let removed = match value {
        Some(value) => {
            *live_bytes = live_bytes.saturating_add(entry_record_bytes(key_len, value.len()));
            live.insert(slot, value)
        }
        None => live.remove(&slot),
    };
    if let Some(old) = removed {
        *live_bytes = live_bytes.saturating_sub(entry_record_bytes(key_len, old.len()));
    }
}

/// What a put of this size takes as a record of its own, as compaction writes it.
fn entry_record_bytes(key: usize, value: usize) -> u64 {
    (RECORD_HEADER_BYTES + 10 + key + value) as u64
}

/// Writes a journal holding `entries` (one record each) at `<path>.compact`, preallocated and
/// synced, and renames it to `path` (the caller syncs the directory). Returns the open,
/// locked file, where its records end and its length.
fn write_new<'a>(
    path: &Path,
    options: &Options,
    entries: impl Iterator<Item = (&'a (u8, Vec<u8>), &'a Vec<u8>)>,
) -> Result<(File, u64, u64), Error> {
    let staging = staging_path(path);
    let failed = |what| io_error(&staging, what);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&staging)
        .map_err(failed("creating it"))?;
    lock(&file, &staging)?;
    let mut out = io::BufWriter::with_capacity(1 << 20, &mut file);
    out.write_all(&format::header(options.kind, options.format))
        .map_err(failed("writing the header"))?;
    let mut used = HEADER_BYTES as u64;
    let mut record = Vec::new();
    for ((table, key), value) in entries {
        record.clear();
        record.resize(RECORD_HEADER_BYTES, 0);
        format::put(&mut record, *table, key, value);
        format::seal(&mut record);
        out.write_all(&record).map_err(failed("writing a record"))?;
        used += record.len() as u64;
    }
    out.flush().map_err(failed("writing it"))?;
    drop(out);
    let allocated = used + options.chunk_bytes;
    zero(&mut file, &staging, used, allocated)?;
    std::fs::rename(&staging, path).map_err(io_error(path, "renaming the compacted journal"))?;
    Ok((file, used, allocated))
}

fn staging_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".compact");
    path.with_file_name(name)
}

/// Writes zeros from `from` to `to` and syncs the file, size included.
fn zero(file: &mut File, path: &Path, from: u64, to: u64) -> Result<(), Error> {
    static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
    let failed = io_error(path, "preallocating it");
    file.seek(SeekFrom::Start(from)).map_err(&failed)?;
    let mut left = to.saturating_sub(from);
    while left > 0 {
        let n = left.min(ZEROS.len() as u64) as usize;
        file.write_all(&ZEROS[..n]).map_err(&failed)?;
        left -= n as u64;
    }
    file.sync_all().map_err(&failed)
}

fn lock(file: &File, path: &Path) -> Result<(), Error> {
    file.try_lock().map_err(|err| match err {
        std::fs::TryLockError::WouldBlock => Error::Locked {
            path: path.to_path_buf(),
        },
        std::fs::TryLockError::Error(err) => io_error(path, "locking it")(err),
    })
}

/// Makes a rename in `path`'s directory durable. Windows has no directory handles to sync;
/// its rename (`MoveFileEx`) is journaled by NTFS.
fn sync_dir(path: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error(dir, "syncing the directory"))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn io_error(path: &Path, what: &'static str) -> impl Fn(io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io {
        path: path.clone(),
        what,
        source,
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
