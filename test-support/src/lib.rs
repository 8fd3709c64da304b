//! What every wasmesos test uses to wait: [`eventually`] re-checks a condition until it holds
//! or a deadline passes, and [`scaled`] stretches every test deadline by the patience factor
//! read from `WASMESOS_TEST_PATIENCE` ([`patience`]), so a slow or loaded machine can give
//! the tests more time without editing them.
//!
//! It never sleeps a fixed time to let something happen, and it is for tests, benchmarks and
//! the test harness only: a bad `WASMESOS_TEST_PATIENCE` panics. A wait on a notification or
//! a stream keeps its own shape and takes its deadline from [`scaled`].
#![forbid(unsafe_code)]

mod error;
mod eventually;
mod http;
mod patience;
pub mod python;

pub use error::Error;
pub use eventually::{eventually, eventually_some};
pub use http::http_get;
pub use patience::{PATIENCE_VAR, patience, scaled};

/// Waits (see [`eventually`]) until `condition` — an expression, which may `.await` — is
/// true, and panics naming `what` if it is still false after `deadline` (scaled by
/// [`patience`]). For tests, in the manner of linkerd's `assert_eventually!`.
#[macro_export]
macro_rules! assert_eventually {
    ($what:expr, $deadline:expr, $condition:expr $(,)?) => {
        if let Err(err) = $crate::eventually($what, $deadline, async || $condition).await {
            panic!("{err}");
        }
    };
}
