//! Launch backoff per app config: after a task of the current config ends on its own (even
//! with exit 0), the next launch waits `backoffSeconds`, then `× backoffFactor` per further
//! end, at most `maxLaunchDelaySeconds`. A new config starts again with no delay.

use std::time::Duration;

use crate::model::App;
use crate::time::Timestamp;

/// The delay of one app.
#[derive(Debug, Clone, PartialEq)]
pub struct Delay {
    /// The config version it was earned by.
    pub config_version: String,
    pub current: Duration,
    pub until: Timestamp,
    /// When the app first had to wait.
    pub since: Timestamp,
}

impl Delay {
    /// The delay after one more failure of `app`'s current config, from `previous`.
    pub fn after_failure(previous: Option<&Delay>, app: &App, now: Timestamp) -> Delay {
        let config = &app.version_info.last_config_change_at;
        let max = seconds(app.max_launch_delay_seconds);
        let current = match previous.filter(|d| &d.config_version == config) {
            // Checked: a huge factor saturates at the maximum instead of overflowing.
            Some(delay) => {
                let grown = delay.current.as_secs_f64() * app.backoff_factor.max(1.0);
                Duration::try_from_secs_f64(grown).map_or(max, |grown| grown.min(max))
            }
            None => seconds(app.backoff_seconds).min(max),
        };
        Delay {
            config_version: config.clone(),
            current,
            until: now.plus(current),
            since: previous.map_or(now, |d| d.since),
        }
    }

    /// Whether launches of `app` must still wait at `now`.
    pub fn holds(&self, app: &App, now: Timestamp) -> bool {
        self.config_version == app.version_info.last_config_change_at && now < self.until
    }
}

fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value.clamp(0.0, 86_400.0 * 365.0)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppUpdate, PathId};

    #[test]
    fn the_delay_grows_by_the_factor_up_to_the_maximum_and_resets_with_a_new_config() {
        let update: AppUpdate = serde_json::from_value(serde_json::json!({
            "cmd": "x", "backoffSeconds": 2, "backoffFactor": 2, "maxLaunchDelaySeconds": 5
        }))
        .expect("update");
        let app = update.apply(None, PathId::parse("/a").expect("id"), Timestamp(0));
        let first = Delay::after_failure(None, &app, Timestamp(1000));
        assert_eq!(first.current, Duration::from_secs(2));
        assert!(first.holds(&app, Timestamp(2999)));
        assert!(!first.holds(&app, Timestamp(3000)));
        let second = Delay::after_failure(Some(&first), &app, Timestamp(3000));
        assert_eq!(second.current, Duration::from_secs(4));
        let third = Delay::after_failure(Some(&second), &app, Timestamp(7000));
        assert_eq!(third.current, Duration::from_secs(5));
        let mut changed = app.clone();
        changed.version_info.last_config_change_at = "later".into();
        assert!(!third.holds(&changed, Timestamp(7001)));
        let fresh = Delay::after_failure(Some(&third), &changed, Timestamp(8000));
        assert_eq!(fresh.current, Duration::from_secs(2));
        changed.backoff_factor = 1e300;
        let huge = Delay::after_failure(Some(&fresh), &changed, Timestamp(9000));
        let again = Delay::after_failure(Some(&huge), &changed, Timestamp(9000));
        assert_eq!(
            again.current,
            Duration::from_secs(5),
            "saturates at the maximum"
        );
    }
}
