//! Marathon's app model: ids, definitions with their defaults, health checks, constraints,
//! what a client sends and how it is checked. Pure data; no I/O.

pub mod app;
pub mod command;
pub mod constraint;
pub mod health;
pub mod path;
pub mod update;
pub mod validate;

pub use app::App;
pub use path::PathId;
pub use update::AppUpdate;
pub use validate::{Violation, validate};
