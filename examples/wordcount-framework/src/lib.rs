//! The word-count framework: the Mesos tutorial's split-and-count job on wasmesos.
//!
//! It splits a text into chunks of N lines ([`split_into_chunks`]), uploads the `wordcount`
//! guest, launches one task per chunk (the chunk travels as the task's `data`), packing several
//! tasks into each offer and spreading them over every agent that offers, relaunches chunks
//! whose tasks failed or were lost, and sums the counts the tasks return as result data
//! ([`count_file`], [`count_text`] → [`Report`]). The total equals `wc -w` of the text for ASCII
//! text ([`count_words`] is the shared rule).
//!
//! It never counts words itself (the guest does) and never prints; the `wordcount-framework`
//! binary and `wasmesos dev --demo` print [`Report::table`]. The framework is built on
//! `wasmesos-sdk-scheduler`; its bookkeeping (`job.rs`) is free of I/O and unit-tested.
// No `expect` outside tests: a panic on what a peer or a user sends is a bug (tests may).
#![cfg_attr(not(test), warn(clippy::expect_used))]
#![forbid(unsafe_code)]

mod chunks;
mod error;
mod framework;
mod job;
mod report;

pub use chunks::{Chunk, count_words, split_into_chunks};
pub use error::Error;
pub use framework::{WordCountConfig, count_file, count_text};
pub use report::{ChunkResult, Report};

/// The text bundled with the example (Genesis and Exodus, King James Version).
pub const BUNDLED_TEXT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/genesis-exodus-kjv.txt");

/// The bundled text itself, for programs that run away from the source tree.
pub const BUNDLED_TEXT_CONTENTS: &[u8] = include_bytes!("../data/genesis-exodus-kjv.txt");
