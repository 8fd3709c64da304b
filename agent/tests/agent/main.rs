//! The agent driven through its real wire protocol by a fake master on a random port.
//!
//! One test binary (the agent links wasmtime, so every extra binary costs a long link).

mod checkpoint;
mod fake_master;
mod fetch;
mod files;
mod hostile;
mod oversubscription;
mod registration;
mod reliability;
mod services;
mod support;
mod tasks;
