//! The one error type of the test support crate.

use std::time::Duration;

/// A condition that did not hold in time.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { what: String, after: Duration },
}
