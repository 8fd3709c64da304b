//! Per-principal limits: call rates (Mesos's `--rate_limits`, as token buckets) and the
//! bytes of components a principal may upload.
//!
//! ```json
//! {"limits": [{"principal": "web", "qps": 50, "capacity": 100}],
//!  "aggregate_default_qps": 20, "aggregate_default_capacity": 40}
//! ```
//!
//! A listed principal has a bucket of its own: `qps` tokens a second, at most `capacity`
//! (default: one second's worth, and at least 1) banked for a burst. Every caller not listed,
//! with or without a principal, shares the aggregate bucket; without
//! `aggregate_default_qps` they are not limited. A call that finds its bucket empty is
//! refused at once (429, or gRPC RESOURCE_EXHAUSTED) rather than queued: a flood costs the
//! master one map lookup per call and no memory. Agents' calls are never limited.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use serde::Deserialize;

use crate::Error;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitJson {
    principal: String,
    qps: f64,
    #[serde(default)]
    capacity: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitsJson {
    #[serde(default)]
    limits: Vec<LimitJson>,
    #[serde(default)]
    aggregate_default_qps: Option<f64>,
    #[serde(default)]
    aggregate_default_capacity: Option<f64>,
}

/// A rate and the burst it may bank.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub qps: f64,
    pub capacity: f64,
}

impl Rate {
    fn new(qps: f64, capacity: Option<f64>) -> Result<Self, String> {
        if !(qps.is_finite() && qps > 0.0) {
            return Err(format!("qps {qps} must be positive and finite"));
        }
        let capacity = capacity.unwrap_or(qps).max(1.0);
        if !capacity.is_finite() {
            return Err("capacity must be finite".into());
        }
        Ok(Self { qps, capacity })
    }
}

/// The operator's rate limits.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateLimits {
    pub principals: HashMap<String, Rate>,
    /// What every other caller shares; `None`: they are not limited.
    pub aggregate: Option<Rate>,
}

impl RateLimits {
    /// Parses Mesos's `--rate_limits` JSON.
    pub fn parse(text: &str) -> Result<Self, String> {
        let json: RateLimitsJson = serde_json::from_str(text).map_err(|err| err.to_string())?;
        let mut principals = HashMap::new();
        for limit in json.limits {
            let rate = Rate::new(limit.qps, limit.capacity)
                .map_err(|why| format!("principal {:?}: {why}", limit.principal))?;
            if principals.insert(limit.principal.clone(), rate).is_some() {
                return Err(format!("principal {:?} is listed twice", limit.principal));
            }
        }
        let aggregate = json
            .aggregate_default_qps
            .map(|qps| Rate::new(qps, json.aggregate_default_capacity))
            .transpose()
            .map_err(|why| format!("aggregate_default: {why}"))?;
        Ok(Self {
            principals,
            aggregate,
        })
    }

    /// Reads a rate limits file.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            Error::InvalidConfig(format!("cannot read rate limits {}: {err}", path.display()))
        })?;
        Self::parse(&text)
            .map_err(|why| Error::InvalidConfig(format!("rate limits {}: {why}", path.display())))
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Self {
        Self {
            tokens: rate.capacity,
            at: now,
        }
    }

    /// Takes one token if there is one, after refilling for the time since the last call.
    fn take(&mut self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.qps).min(rate.capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The buckets: one per listed principal (a bounded set: the file lists them) and the
/// shared one.
pub(crate) struct RateLimiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<Option<String>, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            buckets: Mutex::default(),
        }
    }

    /// Whether `principal` may make one more call now; `Err` names the limit it is over.
    pub(crate) fn admit(&self, principal: Option<&str>, now: Instant) -> Result<(), String> {
        let (key, rate) = match principal.and_then(|p| self.limits.principals.get_key_value(p)) {
            Some((p, rate)) => (Some(p.clone()), *rate),
            None => match self.limits.aggregate {
                Some(rate) => (None, rate),
                None => return Ok(()),
            },
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets
            .entry(key.clone())
            .or_insert_with(|| Bucket::full(rate, now));
        if bucket.take(rate, now) {
            return Ok(());
        }
        Err(match key {
            Some(p) => format!(
                "principal {p:?} is over its rate limit of {} calls/s; retry later",
                rate.qps
            ),
            None => format!(
                "callers without a limit of their own are over the shared rate limit of {} calls/s; retry later",
                rate.qps
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_principal_gets_its_burst_then_its_rate() {
        let limits = RateLimits::parse(
            r#"{"limits": [{"principal": "web", "qps": 10, "capacity": 3}],
                "aggregate_default_qps": 1}"#,
        )
        .expect("valid");
        let limiter = RateLimiter::new(limits);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.admit(Some("web"), start).is_ok());
        }
        let over = limiter.admit(Some("web"), start).expect_err("burst spent");
        assert!(over.contains("web") && over.contains("10"), "{over}");
        // A tenth of a second brings one token back.
        let later = start + Duration::from_millis(100);
        assert!(limiter.admit(Some("web"), later).is_ok());
        assert!(limiter.admit(Some("web"), later).is_err());
        // Unlisted principals and anonymous callers share one bucket of one call.
        assert!(limiter.admit(Some("batch"), start).is_ok());
        assert!(limiter.admit(None, start).is_err());
        assert!(
            limiter
                .admit(Some("web"), start + Duration::from_secs(10))
                .is_ok()
        );
    }

    #[test]
    fn without_an_aggregate_others_are_unlimited_and_bad_files_say_why() {
        let limiter = RateLimiter::new(
            RateLimits::parse(r#"{"limits": [{"principal": "web", "qps": 1}]}"#).expect("valid"),
        );
        let now = Instant::now();
        for _ in 0..1000 {
            assert!(limiter.admit(Some("batch"), now).is_ok());
        }
        assert!(RateLimits::parse(r#"{"limits": [{"principal": "w", "qps": 0}]}"#).is_err());
        assert!(RateLimits::parse(r#"{"limits": [{"principal": "w", "qps": "x"}]}"#).is_err());
        let twice = r#"{"limits": [{"principal": "w", "qps": 1}, {"principal": "w", "qps": 2}]}"#;
        assert!(RateLimits::parse(twice).is_err_and(|e| e.contains("twice")));
    }
}
