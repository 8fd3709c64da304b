//! A job's `schedule`: `R[n]/start/period` (ISO 8601 repeating intervals), with Chronos's
//! `scheduleTimeZone`. `R` alone repeats forever; an empty start means now. As Chronos does,
//! the schedule is rewritten as it runs: each occurrence taken moves the start one period on
//! and counts one repetition down, so the stored text always names the next run.

use super::iso8601::{Instant, Period, Zone};
use wasmesos_sdk_scheduler::time::Timestamp;

/// A parsed `schedule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Runs left; `None` repeats forever.
    pub repeat: Option<u64>,
    /// The next run.
    pub start: Instant,
    pub period: Period,
}

impl Schedule {
    /// Parses `text` with the job's `scheduleTimeZone` (empty for none); an empty start is
    /// `now` less a second, as Chronos has it. `None` when it does not parse, names an
    /// unknown zone, or has a period of zero length.
    pub fn parse(text: &str, time_zone: &str, now: Timestamp) -> Option<Schedule> {
        let mut parts = text.splitn(3, '/');
        let repeat = parts.next()?.strip_prefix('R')?;
        let start = parts.next()?;
        let period = parts.next()?;
        let repeat = match repeat {
            "" => None,
            digits if digits.bytes().all(|b| b.is_ascii_digit()) => Some(digits.parse().ok()?),
            _ => return None,
        };
        let zone = match time_zone.trim() {
            "" => None,
            name => Some(Zone::parse(name)?),
        };
        let start = if start.is_empty() {
            let millis = i64::try_from(now.0).ok()?.saturating_sub(1000);
            Instant {
                millis,
                zone: zone.unwrap_or_default(),
            }
        } else {
            Instant::parse(start, zone)?
        };
        let period = Period::parse(period)?;
        (period.approximate_ms()? > 0).then_some(Schedule {
            repeat,
            start,
            period,
        })
    }

    /// `R3/2014-03-08T20:00:00.000Z/PT2H` (Chronos's `Iso8601Expressions.create`).
    pub fn format(&self) -> String {
        let repeat = self.repeat.map(|n| n.to_string()).unwrap_or_default();
        format!("R{repeat}/{}/{}", self.start.format(), self.period.format())
    }

    /// Whether any run is left.
    pub fn exhausted(&self) -> bool {
        self.repeat == Some(0)
    }

    /// Takes the occurrence at `start`: the start moves one period on and one repetition
    /// is spent. `false` (and no change) when none is left or time runs out.
    pub fn advance(&mut self) -> bool {
        if self.exhausted() {
            return false;
        }
        let Some(next) = self.start.plus(&self.period) else {
            self.repeat = Some(0);
            return false;
        };
        self.start = next;
        if let Some(n) = &mut self.repeat {
            *n -= 1;
        }
        true
    }

    /// Skips every occurrence before `until` (each one spends a repetition), in one step for
    /// fixed-length periods; returns how many were skipped.
    pub fn skip_before(&mut self, until: i64) -> u64 {
        let mut skipped = 0u64;
        if !self.period.is_calendar()
            && let Some(length) = self.period.approximate_ms()
            && length > 0
            && self.start.millis < until
        {
            // All but the last occurrence before `until`, at once.
            let behind = (until - self.start.millis - 1) / length;
            let jump = u64::try_from(behind)
                .unwrap_or(0)
                .min(self.repeat.unwrap_or(u64::MAX));
            if jump > 1 {
                let step = i64::try_from(jump - 1).unwrap_or(0);
                self.start.millis = self
                    .start
                    .millis
                    .saturating_add(length.saturating_mul(step));
                if let Some(n) = &mut self.repeat {
                    *n -= jump - 1;
                }
                skipped = jump - 1;
            }
        }
        while self.start.millis < until && self.advance() {
            skipped += 1;
        }
        skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Schedule {
        Schedule::parse(text, "", Timestamp(10_000)).expect(text)
    }

    #[test]
    fn schedules_parse_and_print_as_chronos_writes_them() {
        let s = parse("R3/2014-03-08T20:00:00Z/PT2H");
        assert_eq!(s.repeat, Some(3));
        assert_eq!(s.format(), "R3/2014-03-08T20:00:00.000Z/PT2H");
        assert_eq!(parse("R/2014-03-08T20:00:00.000Z/P1D").repeat, None);
        let now = parse("R1//PT24H");
        assert_eq!(
            now.start.millis, 9_000,
            "an empty start is now less a second"
        );
        let zoned = Schedule::parse("R/2014-10-10T18:32:00Z/PT60M", "+01:00", Timestamp(0));
        assert_eq!(
            zoned.expect("parses").format(),
            "R/2014-10-10T18:32:00.000+01:00/PT60M"
        );
        for bad in [
            "",
            "R",
            "R3/x/PT1S",
            "3/2014-01-01T00:00Z/PT1S",
            "Rx/2014-01-01T00:00Z/PT1S",
            "R3/2014-01-01T00:00Z/PT0S",
            "R3/2014-01-01T00:00Z/1S",
            "R3/2014-01-01T00:00Z",
        ] {
            assert_eq!(Schedule::parse(bad, "", Timestamp(0)), None, "{bad}");
        }
        assert_eq!(
            Schedule::parse("R/2014-01-01T00:00Z/PT1S", "Mars/Olympus", Timestamp(0)),
            None
        );
    }

    #[test]
    fn advancing_spends_repetitions_and_moves_the_start() {
        let mut s = parse("R2/1970-01-01T00:00:01Z/PT1S");
        assert!(s.advance());
        assert_eq!(s.format(), "R1/1970-01-01T00:00:02.000Z/PT1S");
        assert!(s.advance());
        assert!(s.exhausted() && !s.advance());
        assert_eq!(s.format(), "R0/1970-01-01T00:00:03.000Z/PT1S");
        let mut monthly = parse("R/2016-01-31T00:00:00Z/P1M");
        assert!(monthly.advance());
        assert_eq!(monthly.start.format(), "2016-02-29T00:00:00.000Z");
    }

    #[test]
    fn skipping_leaves_the_last_occurrence_before_the_limit_behind() {
        let mut forever = parse("R/1970-01-01T00:00:00Z/PT1S");
        assert_eq!(forever.skip_before(1_000_000_500), 1_000_001);
        assert_eq!(forever.start.millis, 1_000_001_000);
        let mut counted = parse("R5/1970-01-01T00:00:00Z/PT1S");
        assert_eq!(counted.skip_before(3_000), 3);
        assert_eq!(counted.format(), "R2/1970-01-01T00:00:03.000Z/PT1S");
        let mut few = parse("R2/1970-01-01T00:00:00Z/PT1S");
        assert_eq!(few.skip_before(100_000), 2);
        assert!(few.exhausted());
        let mut monthly = parse("R/2016-01-01T00:00:00Z/P1M");
        let june = Instant::parse("2016-06-15T00:00:00Z", None)
            .expect("parses")
            .millis;
        assert_eq!(monthly.skip_before(june), 6);
        assert_eq!(monthly.start.format(), "2016-07-01T00:00:00.000Z");
    }
}
