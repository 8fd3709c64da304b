//! The scheduler SDK: what a wasmesos framework links to talk to the master.
//!
//! A framework implements [`Scheduler`] (async callbacks for offers, status updates,
//! messages, …) and hands it to a [`Driver`], which subscribes to the master, re-subscribes
//! with jittered backoff under the same framework id when the subscription is lost (stream
//! ended or heartbeats missed), acknowledges status updates in batches after the `update`
//! callback returns, uploads executor components (skipping the upload when the master already
//! has the digest), and makes every scheduler call: launch/accept, decline with filters,
//! revive, suppress, kill, reconcile, message and teardown, and the answers to inverse
//! offers (maintenance: accept or decline). [`TaskBuilder`] and [`Capacity`]
//! build launches and pack them into offers.
//!
//! For frameworks that keep state of their own, `durable` is their tables of JSON records
//! (and the framework id) written in all-or-nothing batches, to a redb file or to ZooKeeper;
//! `ha` serves such a framework's API as one process or as several electing a leader on
//! ZooKeeper (followers proxy to the leader, only the leader schedules); `time` is the
//! wall-clock instants their APIs print, and `command` the one mapping of a Mesos-style
//! command line (Marathon's `cmd`, Chronos's `command`) and its fetched URIs to an executor.
//!
//! This crate never runs tasks and holds no cluster state beyond the framework id; the
//! master decides what is offered (`wasmesos-master`), agents run the tasks
//! (`wasmesos-agent`), and the wire types come from `wasmesos-proto`. The word-count example
//! (`examples/wordcount-framework`) is a complete framework built on it.
//!
//! # A complete small framework
//!
//! Runs one `hello` task per offer until three have finished, then tears itself down:
//!
//! ```no_run
//! use std::path::Path;
//! use wasmesos_proto::{event, Offer, TaskState, TaskStatus};
//! use wasmesos_sdk_scheduler::{Capacity, Driver, DriverConfig, Scheduler, TaskBuilder};
//!
//! struct Hello {
//!     digest: String,
//!     launched: usize,
//!     finished: usize,
//! }
//!
//! impl Scheduler for Hello {
//!     async fn subscribed(&mut self, driver: &Driver, subscribed: &event::Subscribed) {
//!         println!("subscribed as {}", subscribed.framework_id);
//!     }
//!
//!     async fn offers(&mut self, driver: &Driver, offers: Vec<Offer>) {
//!         for offer in offers {
//!             let task = TaskBuilder::new(format!("hello-{}", self.launched), &self.digest)
//!                 .cpus(0.1)
//!                 .mem(32 << 20)
//!                 .arg("--greet");
//!             let fits = Capacity::of(&offer).fits(task.resources());
//!             if self.launched < 3 && fits {
//!                 self.launched += 1;
//!                 let _ = driver.launch([offer.id.clone()], vec![task.build_for(&offer)]).await;
//!             } else {
//!                 let _ = driver.decline([offer.id.clone()], None).await;
//!             }
//!         }
//!     }
//!
//!     async fn update(&mut self, driver: &Driver, status: &TaskStatus) {
//!         println!("{} is {:?}", status.task_id, status.state());
//!         if status.state().is_terminal() {
//!             self.finished += 1;
//!             if self.finished == 3 {
//!                 let _ = driver.teardown().await;
//!             }
//!         }
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), wasmesos_sdk_scheduler::Error> {
//!     let config = DriverConfig::new("http://127.0.0.1:5050", "hello-framework");
//!     let driver = Driver::connect(config).await?;
//!     let uploaded = driver.upload_executor(Path::new("hello.wasm"), None).await?;
//!     let mut scheduler = Hello { digest: uploaded.digest, launched: 0, finished: 0 };
//!     driver.run(&mut scheduler).await
//! }
//! ```
// No `expect` outside tests: a panic on what a peer or a user sends is a bug (tests may).
#![cfg_attr(not(test), warn(clippy::expect_used))]
#![forbid(unsafe_code)]

mod acks;
pub mod api_address;
pub mod command;
mod config;
mod driver;
pub mod durable;
mod error;
mod event_loop;
pub mod ha;
mod inverse_offers;
mod launches;
mod link;
mod offer;
mod reconcile;
mod scheduler;
mod task;
pub mod time;
mod upload;

pub use config::{ClientTls, DEFAULT_MASTER_URL, DriverConfig, Identity};
pub use driver::Driver;
pub use error::Error;
pub use launches::Launch;
pub use offer::Capacity;
pub use scheduler::Scheduler;
pub use task::{Fetch, TaskBuilder, refuse_for};
pub use upload::{Progress, Uploaded, digest_of, upload};
pub use wasmesos_allocator::Ranges;
pub use wasmesos_detector::Credential;
pub use wasmesos_proto as proto;
