//! The journal's one error type.

use std::io;
use std::path::PathBuf;

/// What opening, writing or compacting a journal can fail with. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The OS refused an operation on the file.
    #[error("{path}: {what}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done ("writing a record", "syncing", …).
        what: &'static str,
        /// What the OS said.
        source: io::Error,
    },
    /// The file is not a journal of this kind and version, or a record in it is damaged.
    #[error("{path} cannot be read back: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, and where.
        reason: String,
    },
    /// Another process holds the journal open.
    #[error("{path} is in use by another process")]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// A record larger than [`crate::format::MAX_RECORD`].
    #[error("{path}: a record of {bytes} bytes is larger than a journal record may be")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The record's size.
        bytes: usize,
    },
}
