//! The wasmesos sandbox: runs each task as a WebAssembly component in its own wasmtime
//! instance, with hard limits, in place of a container.
//!
//! It owns the wasmtime engines (pooling allocator, epoch interruption driven by one ticker
//! thread, async on tokio), the compile cache keyed by sha256 and engine compatibility, the
//! per-task store with its limits (memory across all memories and tables, CPU share, fuel,
//! timeout, disk quota, capped stdout/stderr), the WASI sandbox (one preopened dir, given env
//! and args, no network unless granted), the `wasmesos:executor/host` interface, kill, and the
//! typed [`Outcome`] of every task. It also serves `wasi:http` components as services
//! ([`Executor::serve`]): one instance per request on a listener the caller bound, with the
//! task's limits held for the whole service. It never talks to a master, never fetches
//! artifacts, never binds a port itself, and never deserializes compiled code it did not
//! write itself.
//!
//! Start at [`Executor`]: [`Executor::load`] a component into a [`Program`], then
//! [`Executor::launch`] it with a [`TaskSpec`] and [`RunningTask::wait`] for its [`Report`]
//! ([`Executor::launch_inline`] runs the task inside `wait` instead of on a tokio task of its
//! own). A [`ProgramKind::HttpService`] is started with [`Executor::serve`] instead, and
//! [`RunningService::wait`] reports how it ended. The agent crate drives this; `wasmesos
//! exec` runs one task locally under the same sandbox. `README.md` has the launch and service
//! figures and the pool settings behind them.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wasmesos_wasm_executor::Error> {
//! use wasmesos_wasm_executor::{Executor, ExecutorConfig, TaskSpec};
//! let executor = Executor::new(ExecutorConfig::small())?;
//! let program = executor.load_file("hello.wasm".as_ref()).await?;
//! let mut spec = TaskSpec::new("task-1", "/tmp/sandboxes/task-1");
//! spec.args = vec!["world".into()];
//! let report = executor.launch(&program, spec)?.wait().await;
//! println!("{} ({})", report.outcome, report.outcome.reason_code());
//! # Ok(()) }
//! ```

// No `expect` outside tests: a panic on what a peer or a user sends is a bug (tests may).
#![cfg_attr(not(test), warn(clippy::expect_used))]
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod addr_rule;
mod cache;
mod config;
mod control;
mod cpu;
mod disk;
mod engine;
mod error;
mod executor;
mod host;
mod imports;
mod limiter;
mod mailbox;
mod outcome;
mod outgoing;
mod output;
mod private_dir;
mod program;
mod queue;
mod sandbox;
mod service;
mod spec;
mod store;
mod task;
mod watchdog;

pub use addr_rule::AddrRule;
pub use cache::{CacheStats, Digest};
pub use config::ExecutorConfig;
pub use control::{KillHandle, Suspension};
pub use cpu::CpuClock;
pub use error::Error;
pub use executor::Executor;
pub use mailbox::{GuestEvent, GuestEvents, LogLevel, MessageSender, log_guest_line};
pub use outcome::{FailureReason, Outcome, Report, TaskError};
pub use output::{OutputMemory, TaskStream};
pub use private_dir::ensure_private_dir;
pub use program::{Program, ProgramKind};
pub use sandbox::{STDERR_FILE, STDOUT_FILE};
pub use service::{RunningService, ServiceConfig, ServiceStats};
pub use spec::{AllowedAddr, Limits, NetworkPolicy, OutputConfig, TaskSpec};
pub use task::RunningTask;
