//! The wasmesos master: it pools agents' resources, offers them to frameworks by weighted
//! Dominant Resource Fairness, validates and forwards launches, and relays task status
//! updates, kills and messages between schedulers and agents.
//!
//! It owns the agent and framework registries, offers, task records and the artifact store
//! (`work_dir/artifacts/<sha256>.wasm`). It never runs guest code, never trusts what peers
//! send (every request is validated; malformed ones get INVALID_ARGUMENT) and never holds a
//! lock across an await: all bookkeeping lives in [`core::Core`], a state machine with no
//! I/O and no clock, owned by one actor task that RPC handlers talk to over a channel.
//!
//! Start at [`serve`] / [`spawn`] and [`MasterConfig`]; the rules live in `core/`
//! (`accept.rs` for launch validation, `tasks.rs` for the status relay, `agents.rs` for
//! liveness); the allocation policy is the `wasmesos-allocator` crate. Frameworks that
//! subscribe with a failover timeout of 0 get [`DEFAULT_FAILOVER_TIMEOUT`] (7 days).
#![forbid(unsafe_code)]

mod actor;
pub mod artifacts;
mod config;
pub mod core;
mod error;
mod rpc;
mod server;

pub use config::{DEFAULT_FAILOVER_TIMEOUT, DEFAULT_LISTEN, MasterConfig};
pub use error::Error;
pub use server::{MasterHandle, serve, spawn};
