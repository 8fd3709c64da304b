//! The wasmesos agent: pools one machine's resources into the cluster and runs the master's
//! tasks, each in its own wasmtime sandbox.
//!
//! It owns registration with the master (with backoff, re-registering with its id and task
//! reports after the stream drops), heartbeats, executor fetch by sha256 digest (verified,
//! cached under `work_dir/artifacts`, loaded once per digest), the fetcher (a task's `uris`
//! downloaded into its sandbox before it starts, bounded in size and time, with an LRU
//! cache under `work_dir/fetcher-cache`), the task lifecycle on
//! [`wasmesos_wasm_executor`] with the granted resources as hard limits, one sandbox dir per
//! task (taken from `work_dir/sandbox-pool` and given back when the task leaves no files;
//! otherwise kept as `work_dir/sandboxes/<framework_id>/<task_id>/`), its `stdout` and
//! `stderr` (held in memory while small, then in the sandbox), status updates that are
//! retried until acknowledged, kill, messages both ways, the agent's own gRPC API
//! (`ReadFile`, `GetAgentState`), and its checkpoint (`work_dir/checkpoint.journal`: its id, task
//! records and every unacknowledged update, written before the update is sent), from which a
//! restarted agent re-registers, resends and reports its unfinished tasks as failed.
//! It never decides what runs where (the master does), never
//! trusts precompiled code or unverified bytes, never builds a path from an id that could
//! leave its directories, never creates or deletes a directory per task on the hot path, and
//! never panics on what the master sends.
//!
//! Start at [`serve`] / [`spawn`] and [`AgentConfig`]. Inside, `link` talks to the master,
//! `commands` handles what it sends, `runner` drives one task (`reporter` orders its
//! updates, [`task_spec`] turns its `TaskInfo` into the executor's spec, as it does for
//! `wasmesos exec`), [`health`] runs its health check, `sandboxes` hands out its directory, `status` and `outbox` make updates
//! reliable, `checkpoint` makes them durable, `recovery` reads them back after a restart,
//! and `registry` is the book of tasks. With [`AgentConfig::oversubscription`],
//! `oversubscription` estimates the CPU its tasks leave unused, offers it as revocable, and
//! runs the QoS controller that suspends and revokes the tasks on it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wasmesos_agent::Error> {
//! use wasmesos_agent::{AgentConfig, parse_resources};
//! let config = AgentConfig {
//!     master_url: "http://127.0.0.1:5050".into(),
//!     listen: "127.0.0.1:0".parse().expect("a socket address"),
//!     resources: Some(parse_resources("cpus:2;mem:4GiB;disk:10GiB")?),
//!     ..AgentConfig::default()
//! };
//! let agent = wasmesos_agent::spawn(config).await?;
//! println!("agent serving at {}", agent.url());
//! agent.shutdown().await
//! # }
//! ```

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
#![warn(missing_docs)]

mod agent;
mod artifacts;
mod auth;
mod checkpoint;
mod commands;
mod config;
mod error;
mod fetcher;
mod files;
pub mod health;
mod http;
mod ids;
mod limits;
mod link;
mod network;
mod outbox;
mod oversubscription;
mod recovery;
mod registry;
mod relay;
mod reporter;
mod resources;
mod runner;
mod sandboxes;
mod serve;
mod service;
mod spec;
mod status;
mod tls;
mod updates;

pub use checkpoint::CHECKPOINT_FILE;
pub use config::{AgentConfig, DEFAULT_LISTEN, DEFAULT_MASTER_URL};
pub use error::Error;
pub use ids::{check_digest, check_path_id};
pub use oversubscription::OversubscriptionConfig;
pub use resources::{
    DEFAULT_DISK_BYTES, DEFAULT_PORTS, complete_resources, format_resources, parse_resources,
    parse_size,
};
pub use serve::{AgentHandle, serve, spawn};
pub use spec::task_spec;
pub use tls::AgentTls;
pub use wasmesos_wasm_executor::ExecutorConfig;
