//! The fuzz targets of wasmesos as plain functions: what the cargo-fuzz crate (`fuzz/`,
//! nightly) runs under libFuzzer, and what `tests/corpora.rs` replays on stable from the
//! committed corpora and crash regressions, so CI checks every input ever found interesting.
//!
//! Each function takes arbitrary bytes, runs the project's own parsing, validation or state
//! machine on them and panics only on a bug: a panic inside the code under test, or a broken
//! invariant that the function asserts (a round trip that does not come back, a core whose
//! next wakeup is not in the future). Errors the code returns are the expected outcome for
//! most inputs and are ignored. No target does I/O.
//!
//! | function | what a stranger sends it |
//! |---|---|
//! | [`master_core`] | length-prefixed protobuf requests (scheduler, agent and operator calls) to the master's [`wasmesos_master::core::Core`], in advancing virtual time |
//! | [`resources`] | the resource text syntax, sizes, wire `Resources` and Mesos's JSON resources |
//! | [`component_validation`] | uploaded component bytes, as the artifact store validates them |
//! | [`http_decoders`] | Mesos API bodies (JSON and protobuf), RecordIO streams and HTTP query strings |

#![forbid(unsafe_code)]

mod component;
mod http;
mod master_core;
mod resources;

pub use component::component_validation;
pub use http::http_decoders;
pub use master_core::master_core;
pub use resources::resources;

/// A fuzz target: arbitrary bytes in, a panic only on a bug.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/fuzz_targets/` and `fuzz/corpus/` name them.
pub const TARGETS: &[(&str, Target)] = &[
    ("master_core", master_core),
    ("resources", resources),
    ("component_validation", component_validation),
    ("http_decoders", http_decoders),
];
