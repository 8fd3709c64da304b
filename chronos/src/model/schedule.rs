//! A job's `schedule`: `R[n]/start/period` (ISO 8601 repeating intervals), with Chronos's
//! `scheduleTimeZone`. `R` alone repeats forever; an empty start means now. As Chronos does,
//! the schedule is rewritten as it runs: each occurrence taken moves the start one period on
//! and counts one repetition down, so the stored text always names the next run (with the
//! offset its zone has then, which a named zone reads back as the same instant).
//!
//! A `scheduleTimeZone` takes precedence over the offset written in the start: the start's
//! local fields are read in that zone, and the period steps in it, so `P1D` at 09:00
//! `America/New_York` stays at 09:00 there across DST changes (`PT24H` does not).

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
    /// Parses `text` with the job's `scheduleTimeZone` (empty for none; a name Chronos
    /// would not know is UTC, as there); an empty start is `now` less a second, as Chronos
    /// has it. `None` when it does not parse or has a period of zero length.
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
        // Chronos: `TimeZone.getTimeZone(name)` for any non-empty name, which never fails.
        let zone = (!time_zone.is_empty()).then(|| Zone::schedule_time_zone(time_zone));
        let start = if start.is_empty() {
            let millis = i64::try_from(now.0).ok()?.saturating_sub(1000);
            Instant {
                millis,
                zone: zone.unwrap_or_default(),
            }
        } else {
            Instant::parse(start, zone.as_ref())?
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
        let fixed_length = self.period.is_elapsed_time()
            || (!self.period.is_calendar() && self.start.zone.is_fixed());
        if fixed_length
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
        let zoned = Schedule::parse("R/2014-10-10T18:32:00Z/PT60M", "GMT+01:00", Timestamp(0));
        assert_eq!(
            zoned.expect("parses").format(),
            "R/2014-10-10T18:32:00.000+01:00/PT60M"
        );
        // Chronos's own example: PST is Los Angeles, in daylight time in October.
        let pst = Schedule::parse("R/2014-10-10T18:32:00Z/PT60M", "PST", Timestamp(0));
        assert_eq!(
            pst.expect("parses").format(),
            "R/2014-10-10T18:32:00.000-07:00/PT60M"
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
        // A zone Java does not know is GMT to Chronos: the local fields are read as UTC.
        let unknown = Schedule::parse(
            "R/2014-01-01T00:00+05:00/PT1S",
            "Mars/Olympus",
            Timestamp(0),
        );
        assert_eq!(
            unknown.expect("parses").format(),
            "R/2014-01-01T00:00:00.000Z/PT1S"
        );
    }

    /// Takes `n` occurrences of `text` in `zone`, each read back from the text it wrote (as
    /// the stored schedule is): the starts as written.
    fn occurrences(text: &str, zone: &str, n: usize) -> Vec<String> {
        let mut written = text.to_owned();
        let mut starts = Vec::new();
        for _ in 0..n {
            let mut schedule = Schedule::parse(&written, zone, Timestamp(0)).expect(text);
            starts.push(schedule.start.format());
            assert!(schedule.advance());
            written = schedule.format();
        }
        starts
    }

    #[test]
    fn a_daily_run_keeps_its_local_time_across_dst_both_ways() {
        // New York: clocks went forward on 2024-03-10 and back on 2024-11-03.
        assert_eq!(
            occurrences("R/2024-03-09T09:00:00-05:00/P1D", "America/New_York", 3),
            [
                "2024-03-09T09:00:00.000-05:00",
                "2024-03-10T09:00:00.000-04:00",
                "2024-03-11T09:00:00.000-04:00"
            ]
        );
        assert_eq!(
            occurrences("R/2024-11-02T09:00:00-04:00/P1D", "America/New_York", 3),
            [
                "2024-11-02T09:00:00.000-04:00",
                "2024-11-03T09:00:00.000-05:00",
                "2024-11-04T09:00:00.000-05:00"
            ]
        );
        // Berlin, the other side of UTC: 2024-03-31 and 2024-10-27.
        assert_eq!(
            occurrences("R/2024-03-30T09:00:00Z/P1D", "Europe/Berlin", 2),
            [
                "2024-03-30T09:00:00.000+01:00",
                "2024-03-31T09:00:00.000+02:00"
            ]
        );
        assert_eq!(
            occurrences("R/2024-10-26T09:00:00Z/P1D", "Europe/Berlin", 2),
            [
                "2024-10-26T09:00:00.000+02:00",
                "2024-10-27T09:00:00.000+01:00"
            ]
        );
        // PT24H is elapsed time: an hour later by the clock after spring-forward.
        assert_eq!(
            occurrences("R/2024-03-09T09:00:00Z/PT24H", "America/New_York", 2)[1],
            "2024-03-10T10:00:00.000-04:00"
        );
        // Without a zone the written offset is kept: no DST.
        assert_eq!(
            occurrences("R/2024-03-09T09:00:00-05:00/P1D", "", 2)[1],
            "2024-03-10T09:00:00.000-05:00"
        );
    }

    #[test]
    fn hourly_runs_cross_the_repeated_and_the_skipped_hour_once() {
        // 01:30 happens twice in New York on 2024-11-03; each is run once, and the
        // rewritten text reads back as the second one, not the first again.
        assert_eq!(
            occurrences("R/2024-11-03T00:30:00-04:00/PT1H", "America/New_York", 4),
            [
                "2024-11-03T00:30:00.000-04:00",
                "2024-11-03T01:30:00.000-04:00",
                "2024-11-03T01:30:00.000-05:00",
                "2024-11-03T02:30:00.000-05:00"
            ]
        );
        // 02:30 never happens on 2024-03-10: the hour after 01:30 is 03:30.
        assert_eq!(
            occurrences("R/2024-03-10T01:30:00-05:00/PT1H", "America/New_York", 2)[1],
            "2024-03-10T03:30:00.000-04:00"
        );
        // A daily run at 02:30 runs at 03:30 that day, and at 03:30 from then on: each
        // step starts from the rewritten start, as in Chronos.
        assert_eq!(
            occurrences("R/2024-03-09T02:30:00-05:00/P1D", "America/New_York", 3),
            [
                "2024-03-09T02:30:00.000-05:00",
                "2024-03-10T03:30:00.000-04:00",
                "2024-03-11T03:30:00.000-04:00"
            ]
        );
    }

    #[test]
    fn skipping_days_in_a_dst_zone_steps_through_the_calendar() {
        let mut daily = Schedule::parse(
            "R/2024-03-01T09:00:00-05:00/P1D",
            "America/New_York",
            Timestamp(0),
        )
        .expect("parses");
        let later = Instant::parse("2024-03-20T12:00:00Z", None)
            .expect("parses")
            .millis;
        assert_eq!(daily.skip_before(later), 19);
        assert_eq!(daily.start.format(), "2024-03-20T09:00:00.000-04:00");
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
