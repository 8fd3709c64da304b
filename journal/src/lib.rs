//! An append-only, checksummed key/value journal: what the agent's checkpoint and the master's
//! registry keep on disk.
//!
//! A [`Journal`] is one file. Each [`Journal::write`] appends one *record*, a batch of
//! [`Entry`]s (puts and deletes in small numbered tables) that recovery applies whole or not
//! at all, and syncs it when asked (`fdatasync`, or `FlushFileBuffers` on Windows). The live
//! entries are kept in memory, so a reopen replays the file once and a compaction rewrites
//! only them.
//!
//! Why not a B-tree: a synced B-tree commit rewrites and checksums its dirty pages and free
//! list, tens of microseconds of CPU whatever it holds. A record here costs one `write` of its
//! bytes and one checksum, and the file is preallocated with zeros a chunk at a time, so the
//! `fdatasync` that follows has no file size or extent to journal on ext4 or NTFS.
//!
//! The file format ([`format`]): a 32-byte header (magic, journal version, the owner's kind
//! and its own format number), then records `[len u32][crc32 u32][payload]`, little-endian,
//! the checksum covering the length and the payload, then zeros to the end of the
//! preallocated chunk. Recovery reads records until the zeros. A record that fails its
//! checksum is a torn write when nothing valid follows it (a crash in the middle of an
//! unsynced append): it and everything after it are dropped and zeroed, and [`Recovery`]
//! says how much. A damaged record followed by a valid one is damage, not a torn write, and
//! the file is refused ([`Error::Corrupt`]); so is a file that ends inside a record, since
//! the file is grown (with zeros, synced) before a record is written there, and so is a header
//! of another kind or version: the owner must never start empty over a file it cannot read.
//!
//! Compaction ([`Journal::compact`]) writes the live entries to `<file>.compact`, syncs it,
//! renames it over the journal and syncs the directory, so at every instant the path names
//! either the old journal or the complete new one. A new journal is created the same way,
//! so the path never names an empty or half-written file. The open file holds an exclusive
//! lock ([`std::fs::File::try_lock`]): a second process gets [`Error::Locked`].

mod error;
pub mod format;
mod journal;

pub use error::Error;
pub use journal::{
    Entry, Journal, Options, QUICK_SYNC, QUIET_GAP, QUIET_SYNC, Recovery, may_sync_in_place,
};
