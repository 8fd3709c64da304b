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
//! (`accept.rs` for launch validation, `operations.rs` for RESERVE / UNRESERVE offer
//! operations, `roles.rs` for the operator's weights, quota and reservations, `tasks.rs` for
//! the status relay, `agents.rs` for liveness); the allocation policy is the
//! `wasmesos-allocator` crate. Frameworks that subscribe with a failover timeout of 0 get
//! [`DEFAULT_FAILOVER_TIMEOUT`] (7 days).
//!
//! # Allocation features
//!
//! * **Roles**: frameworks subscribe with one or more roles and get offers per role
//!   (`Offer.role`); roles are paths (`eng/backend`) with a weight at each level
//!   ([`MasterConfig::role_weights`]); SUPPRESS and REVIVE may name roles.
//! * **Reservations**: static ones come with an agent's resources (`cpus(ads):4`); dynamic
//!   ones from RESERVE / UNRESERVE operations in ACCEPT (for the offer's role) and from
//!   `Operator.ReserveResources` / `UnreserveResources`, which rescind the agent's
//!   outstanding offers when the free pool falls short. Reserved resources are offered only
//!   to their role and its descendants.
//! * **Quota and weights at run time**: `Operator.SetQuota` (guarantee and limit) and
//!   `Operator.UpdateWeights` reach the allocator at once; `Operator.GetRoles` lists roles
//!   with weights, shares, quota and reservations.
//! * **Offer control**: [`MasterConfig::offer_timeout`] rescinds unanswered offers,
//!   [`MasterConfig::min_allocatable_resources`] withholds crumbs,
//!   [`MasterConfig::fair_share_excluded`] keeps scarce scalars (e.g. `gpus`) out of shares,
//!   and [`MasterConfig::role_sorter`] picks DRF or the weighted-random order.
//! * **Maintenance** (`core/maintenance/`): a schedule of machine windows; offers of a
//!   DRAINING machine's agents carry the unavailability and its holders get inverse offers;
//!   a DOWN machine's agents are removed and refused. Draining a single agent is `drain.rs`.
//!
//! **Durability.** Agents, frameworks, task records and the maintenance schedule live in the registry
//! ([`registry`]: `work_dir/registry.journal` by default) and are written before anything
//! that depends on them is acknowledged; a restarted master recovers from it
//! (`core/recovery.rs`). Weights and quota set through the operator API, and dynamic
//! reservations, are not in the registry yet: a restarted master starts them from its
//! [`MasterConfig`], and agents re-register with the resources they were started with.
// No `expect` outside tests: a panic on what a peer or a user sends is a bug (tests may).
#![cfg_attr(not(test), warn(clippy::expect_used))]
#![forbid(unsafe_code)]
// What a peer sends must not panic this crate: no unchecked arithmetic, truncating casts or
// indexing in its code (tests may; a site that is right says why where it allows one).
#![cfg_attr(
    not(test),
    warn(
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation,
        clippy::indexing_slicing
    )
)]

mod actor;
pub mod artifacts;
pub mod auth;
mod boot;
mod config;
pub mod core;
mod entry;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod ha;
mod http;
pub mod mesos;
pub mod metrics;
pub mod registry;
mod rpc;
mod server;
mod tls;

pub use config::{
    DEFAULT_AGENT_REREGISTER_TIMEOUT, DEFAULT_CALL_TIMEOUT, DEFAULT_FAILOVER_TIMEOUT,
    DEFAULT_LISTEN, DEFAULT_MAX_COMPLETED_FRAMEWORKS, DEFAULT_MAX_COMPLETED_TASKS,
    DEFAULT_REGISTRY_MAX_REMOVED_AGE, DEFAULT_REGISTRY_MAX_REMOVED_COUNT, MasterConfig,
    PreemptionMode,
};
pub use entry::{MasterHandle, serve, spawn};
pub use error::Error;
pub use ha::{DEFAULT_SESSION_TIMEOUT, HaConfig};
pub use tls::MasterTls;
