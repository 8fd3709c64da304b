//! The patience factor: how much longer than written every test deadline may be.

use std::sync::OnceLock;
use std::time::Duration;

/// The environment variable holding the patience factor, e.g. `WASMESOS_TEST_PATIENCE=3`.
pub const PATIENCE_VAR: &str = "WASMESOS_TEST_PATIENCE";

/// A factor past this is a typo rather than a slow machine; it also keeps [`scaled`] far
/// from `Duration`'s overflow.
const MAX_PATIENCE: f64 = 1_000.0;

/// The factor from [`PATIENCE_VAR`]: a positive number, 1 when the variable is unset.
///
/// # Panics
///
/// When the variable is set to anything but a number in (0, 1000]: a test run with a
/// misspelt patience should stop at once, saying which variable is wrong.
pub fn patience() -> f64 {
    static PATIENCE: OnceLock<f64> = OnceLock::new();
    *PATIENCE.get_or_init(|| match std::env::var(PATIENCE_VAR) {
        Err(std::env::VarError::NotPresent) => 1.0,
        Ok(value) => parse(&value).unwrap_or_else(|reason| panic!("{PATIENCE_VAR}: {reason}")),
        Err(err) => panic!("{PATIENCE_VAR}: {err}"),
    })
}

/// `deadline` stretched by [`patience`].
pub fn scaled(deadline: Duration) -> Duration {
    scale(deadline, patience())
}

fn scale(deadline: Duration, factor: f64) -> Duration {
    Duration::try_from_secs_f64(deadline.as_secs_f64() * factor).unwrap_or(Duration::MAX)
}

fn parse(value: &str) -> Result<f64, String> {
    let factor: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a number"))?;
    if factor > 0.0 && factor <= MAX_PATIENCE {
        Ok(factor)
    } else {
        Err(format!("{value:?} is not in (0, {MAX_PATIENCE}]"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_positive_factors() {
        assert_eq!(parse("1"), Ok(1.0));
        assert_eq!(parse(" 2.5 "), Ok(2.5));
        assert_eq!(parse("0.5"), Ok(0.5));
    }

    #[test]
    fn refuses_what_is_not_a_sane_factor() {
        for bad in ["", "slow", "0", "-1", "NaN", "inf", "1e9"] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn scales_by_the_factor() {
        assert_eq!(scale(Duration::from_secs(10), 2.5), Duration::from_secs(25));
        assert_eq!(
            scale(Duration::from_millis(10), 1.0),
            Duration::from_millis(10)
        );
    }
}
