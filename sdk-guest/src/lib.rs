//! The Rust guest SDK for wasmesos: write a task executor as a WebAssembly component.
//!
//! This crate owns the guest side of the `wasmesos:executor` WIT world
//! (`sdk-guest/wit/executor.wit`): the [`Executor`] trait a framework author implements, the
//! [`export_executor!`] macro that turns it into the world's `run` export, the [`Task`] it
//! receives, and safe wrappers for the agent's [`host`] interface. It never runs anything
//! itself and has no view of the agent: the sandbox, limits and outcomes live in the
//! `wasmesos-wasm-executor` crate, and the example executors in `examples/guests/`.
//!
//! # A complete executor
//!
//! ```
//! use std::time::Duration;
//! use wasmesos_sdk_guest::{Executor, Task, host};
//!
//! /// Counts the words in the task's data and greets the scheduler.
//! struct WordCount;
//!
//! impl Executor for WordCount {
//!     fn run(task: Task) -> Result<Vec<u8>, String> {
//!         host::set_status("counting");
//!         let text = std::str::from_utf8(&task.data).map_err(|err| format!("data: {err}"))?;
//!         let words = text.split_whitespace().count();
//!         wasmesos_sdk_guest::info!("task {} counted {words} words", task.task_id);
//!         host::send_message(format!("counted {words}").as_bytes());
//!         if let Some(reply) = host::receive_message(Duration::from_millis(10)) {
//!             wasmesos_sdk_guest::debug!("scheduler replied {} bytes", reply.len());
//!         }
//!         Ok(words.to_string().into_bytes())
//!     }
//! }
//!
//! wasmesos_sdk_guest::export_executor!(WordCount);
//! # fn main() {
//! #     let task = wasmesos_sdk_guest::Task {
//! #         task_id: "t1".into(), name: "wc".into(), args: vec![], env: vec![],
//! #         data: b"one two three".to_vec(),
//! #         resources: wasmesos_sdk_guest::Resources {
//! #             cpus: 1.0, mem_bytes: 1 << 20, disk_bytes: 0, fuel: None, timeout: None,
//! #         },
//! #     };
//! #     assert_eq!(WordCount::run(task), Ok(b"3".to_vec()));
//! # }
//! ```
//!
//! # Building
//!
//! An executor is a library crate compiled to a component:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! wasmesos-sdk-guest = "0.1"
//! ```
//!
//! ```text
//! rustup target add wasm32-wasip2
//! cargo build --target wasm32-wasip2 --release
//! # -> target/wasm32-wasip2/release/<crate_name>.wasm, ready to upload
//! ```
//!
//! `wasm32-wasip2` links a component directly; no adapter or post-processing is needed. Build it
//! as a `cdylib`: a binary crate would also export `wasi:cli/run`, and the component would then
//! be both a command and an executor.
//!
//! # What the host provides
//!
//! - the [`host`] interface: a status message for `TASK_RUNNING`, messages to and from the
//!   framework's scheduler, and structured log lines;
//! - WASI 0.2: clocks, random, stdin/stdout/stderr (streamed to capped files in the sandbox),
//!   only the environment variables the task was given, and a filesystem whose only preopen is
//!   the task's sandbox directory, mounted at `/`. Plain `std::fs`, `std::env`,
//!   `std::time` and `println!` work;
//! - sockets only to the addresses the task was granted; anything else is refused.
//!
//! Every resource in [`Task::resources`] is a hard limit: exceeding memory, fuel, the timeout or
//! the disk quota ends the task.
//!
//! # How results map to task states
//!
//! | the executor…                       | task state      | carries                   |
//! |-------------------------------------|-----------------|---------------------------|
//! | returns `Ok(data)`                  | `TASK_FINISHED` | `data` as the result bytes |
//! | returns `Err(message)`              | `TASK_FAILED`   | `message`                 |
//! | panics or traps                     | `TASK_FAILED`   | reason *trap*             |
//! | exceeds a limit                     | `TASK_FAILED`   | the limit's reason        |
//! | is killed by the framework          | `TASK_KILLED`   |                           |
//!
//! Panics abort on `wasm32-wasip2`, so a panic is a trap: return `Err` for failures the
//! framework should read.
//!
//! # Plain commands
//!
//! Any `wasi:cli/command` component, from any language, also runs as a task: a Rust binary
//! with `fn main` built for `wasm32-wasip2` is one. It gets its args and env from the task, and
//! its exit code is the result: `0` is `TASK_FINISHED`, anything else `TASK_FAILED` with reason
//! *exit code*. Commands cannot use [`host`]; that needs the `executor` world.
//!
//! On `wasm32-wasip2`, Rust's `std::process::exit(N)` and a non-zero `ExitCode` from `main`
//! reach the host only as "failed", reported as exit code 1. To report a particular code, call
//! `wasi:cli/exit.exit-with-code` (WASI 0.2.12), e.g. `wasip2::cli::exit::exit_with_code(N)`
//! from the `wasip2` crate, as `examples/guests/guest-exit` does.
//!
//! # Testing natively
//!
//! On non-wasm targets this crate still builds: [`host`] then talks to a per-thread stand-in
//! that [`testing`] fills and inspects, so `Executor::run` can be unit-tested with
//! `cargo test` on the developer's machine.

// No `expect` outside tests: a panic on what a peer or a user sends is a bug (tests may).
#![cfg_attr(not(test), warn(clippy::expect_used))]
#![deny(unsafe_code)]

#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
// SAFETY: this module is wit-bindgen's generated ABI glue for `executor.wit`; its unsafe
// blocks lift and lower values exactly as the WIT types describe, which is what the host's
// generated bindings expect on the other side.
pub mod bindings;
pub mod host;
mod log_macros;
mod task;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use host::Level;
pub use task::{Resources, Task};

/// A task executor: the code that runs when a wasmesos agent launches one of your tasks.
///
/// Implement it on a unit struct and export that struct with [`export_executor!`].
pub trait Executor {
    /// Runs one task to completion.
    ///
    /// `Ok(data)` finishes the task with `data` as its result; `Err(message)` fails it with
    /// `message`.
    fn run(task: Task) -> Result<Vec<u8>, String>;
}

/// Exports `$executor` (a type implementing [`Executor`]) as this component's `run` function.
///
/// Use it once per component, at the crate root or in any module. It expands to
/// wit-bindgen's ABI glue, which is `unsafe` code: the crate may `#![deny(unsafe_code)]`
/// (the expansion allows it locally) but not `#![forbid(unsafe_code)]`.
#[macro_export]
macro_rules! export_executor {
    ($executor:ty) => {
        // The generated ABI glue is unsafe; it belongs to wit-bindgen, not to the caller.
        #[allow(unsafe_code)]
        const _: () = {
            struct WasmesosExecutorExport;

            impl $crate::__private::Guest for WasmesosExecutorExport {
                fn run(
                    task: $crate::__private::TaskInfo,
                ) -> ::core::result::Result<::std::vec::Vec<u8>, ::std::string::String> {
                    $crate::__private::run_executor::<$executor>(task)
                }
            }

            $crate::__private::export_executor_world!(
                WasmesosExecutorExport with_types_in $crate::bindings
            );
        };
    };
}

/// Items used by [`export_executor!`]'s expansion; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::export_executor_world;
    pub use crate::bindings::{Guest, TaskInfo};

    /// Converts the WIT record into a [`Task`](crate::Task) and runs `E` on it.
    pub fn run_executor<E: crate::Executor>(task: TaskInfo) -> Result<Vec<u8>, String> {
        E::run(task.into())
    }
}
