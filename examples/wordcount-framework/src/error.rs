//! The one error type of the word-count framework.

use std::path::PathBuf;

/// Why a word count did not produce a total.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    ReadText {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--lines must be at least 1")]
    ZeroLines,
    #[error(transparent)]
    Scheduler(#[from] wasmesos_sdk_scheduler::Error),
    #[error("chunk {chunk} failed {attempts} times; last: {reason}")]
    ChunkFailed {
        chunk: usize,
        attempts: u32,
        reason: String,
    },
    #[error("the word count did not finish within {0:?}")]
    TimedOut(std::time::Duration),
    #[error("the framework stopped before every chunk was counted")]
    Incomplete,
}
