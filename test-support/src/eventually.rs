//! Waiting on a condition with a deadline, instead of sleeping a fixed time.

use std::time::{Duration, Instant};

use crate::{Error, scaled};

/// Re-checks `condition` (starting at once, then with pauses growing from 1 ms to 50 ms)
/// until it holds, or fails with [`Error::Timeout`] naming `what` once `deadline`, scaled by
/// [`patience`](crate::patience), has passed.
pub async fn eventually(
    what: &str,
    deadline: Duration,
    mut condition: impl AsyncFnMut() -> bool,
) -> Result<(), Error> {
    let deadline = scaled(deadline);
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        if condition().await {
            return Ok(());
        }
        if start.elapsed() >= deadline {
            return Err(Error::Timeout {
                what: what.to_string(),
                after: deadline,
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Like [`eventually`], for a condition that yields a value once it holds.
pub async fn eventually_some<T>(
    what: &str,
    deadline: Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> Result<T, Error> {
    let mut found = None;
    eventually(what, deadline, async || {
        found = probe().await;
        found.is_some()
    })
    .await?;
    found.ok_or_else(|| Error::Timeout {
        what: what.to_string(),
        after: scaled(deadline),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_once_the_condition_holds() {
        let mut calls = 0;
        let result = eventually("three calls", Duration::from_secs(5), async || {
            calls += 1;
            calls == 3
        })
        .await;
        assert!(result.is_ok());
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    async fn names_what_it_waited_for_when_time_runs_out() {
        let result = eventually("never", Duration::from_millis(20), async || false).await;
        let message = result.err().map(|err| err.to_string()).unwrap_or_default();
        assert!(message.contains("never"), "{message}");
    }

    #[tokio::test]
    async fn eventually_some_returns_the_value() {
        let mut n = 0;
        let value = eventually_some("n reaches 2", Duration::from_secs(5), async || {
            n += 1;
            (n >= 2).then_some(n * 10)
        })
        .await;
        assert_eq!(value.ok(), Some(20));
    }

    #[tokio::test]
    async fn assert_eventually_returns_once_the_condition_holds() {
        let mut calls = 0;
        crate::assert_eventually!("two calls", Duration::from_secs(5), {
            calls += 1;
            calls == 2
        });
        assert_eq!(calls, 2);
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for the impossible")]
    async fn assert_eventually_panics_naming_what_it_waited_for() {
        crate::assert_eventually!("the impossible", Duration::from_millis(20), false);
    }
}
