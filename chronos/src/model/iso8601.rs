//! ISO 8601 as Chronos reads it (Joda-Time's parsers): instants such as
//! `2014-03-08T20:00:00.000Z` or `…+01:00` (a date alone, minutes alone and no zone are
//! accepted too) and durations such as `PT1S`, `P1DT12H`, `P1Y2M3W4DT5H6M7.5S`. Arithmetic
//! is Joda's: years, months, weeks and days move the local date in the instant's zone (so
//! `P1M` from January 31st lands on the last day of February, and `P1D` at 09:00 stays at
//! 09:00 across a DST change), hours, minutes and seconds are elapsed time.

use std::fmt::Write as _;

use jiff::Span;
use wasmesos_sdk_scheduler::time::{Timestamp, civil_from_days, days_from_civil};

pub use super::zone::Zone;

const MS_PER_DAY: i64 = 86_400_000;
/// The last year a schedule may reach (Joda's four-digit years), which keeps all the
/// calendar arithmetic far from overflow.
const MAX_YEAR: i64 = 9999;

/// An offset as an instant's text writes it (`Z`, `+01:00`, `-0530`, `+02`), in seconds.
fn written_offset(text: &str) -> Option<i32> {
    if text == "Z" {
        return Some(0);
    }
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) => (h, m),
        None if digits.len() > 2 => digits.split_at(digits.len() - 2),
        None => (digits, "0"),
    };
    let hours: i32 = number(hours)?;
    let minutes: i32 = number(minutes)?;
    (hours <= 18 && minutes < 60).then_some(sign * (hours * 60 + minutes) * 60)
}

fn number<T: std::str::FromStr>(digits: &str) -> Option<T> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// An instant and the zone it was written in (which calendar arithmetic follows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instant {
    /// Milliseconds since the Unix epoch (negative before 1970).
    pub millis: i64,
    pub zone: Zone,
}

impl Instant {
    /// Parses `2014-03-08T20:00:00.000Z` and Joda's shorter forms; no zone in the text is
    /// UTC. `force_zone` (Chronos's `scheduleTimeZone`) keeps the local fields but puts
    /// them in that zone, as Joda's `withZoneRetainFields` (the written offset is dropped).
    pub fn parse(text: &str, force_zone: Option<&Zone>) -> Option<Instant> {
        let (date, time) = match text.split_once('T') {
            Some((date, time)) => (date, time),
            None => (text, ""),
        };
        let mut parts = date.split('-');
        let year: i64 = number(parts.next()?)?;
        let month: u32 = parts.next().map_or(Some(1), number)?;
        let day: u32 = parts.next().map_or(Some(1), number)?;
        if parts.next().is_some() || !(1..=12).contains(&month) || !(0..=MAX_YEAR).contains(&year) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        let zone_at = time.find(['Z', '+', '-']).unwrap_or(time.len());
        let (clock, zone_text) = time.split_at(zone_at);
        let written = if zone_text.is_empty() {
            0
        } else {
            written_offset(zone_text)?
        };
        let local_ms = clock_ms(clock)?;
        let days = days_from_civil(year, month, day);
        let local = days.checked_mul(MS_PER_DAY)?.checked_add(local_ms)?;
        let as_written = local.checked_sub(i64::from(written) * 1000)?;
        match force_zone {
            None => Some(Instant {
                millis: as_written,
                zone: Zone::fixed(written)?,
            }),
            Some(zone) => Some(Instant {
                millis: zone.resolve_local(local, as_written)?,
                zone: zone.clone(),
            }),
        }
    }

    /// Joda's `ISODateTimeFormat.dateTime`: `2014-03-08T20:00:00.000Z`, `…+01:00`, with
    /// the offset the zone has at that instant.
    pub fn format(&self) -> String {
        let offset = self.zone.offset_ms(self.millis).unwrap_or(0);
        let local = self.millis + offset;
        let days = local.div_euclid(MS_PER_DAY);
        let ms = local.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let (hour, minute, second, milli) =
            (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        let mut out =
            format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}");
        if offset == 0 {
            out.push('Z');
        } else {
            let sign = if offset < 0 { '-' } else { '+' };
            let seconds = offset.abs() / 1000;
            let _ = write!(out, "{sign}{:02}:{:02}", seconds / 3600, seconds / 60 % 60);
            if seconds % 60 != 0 {
                let _ = write!(out, ":{:02}", seconds % 60);
            }
        }
        out
    }

    /// `self + period` in its zone (Joda's `DateTime.plus(Period)`); `None` past the
    /// representable range.
    pub fn plus(&self, period: &Period) -> Option<Instant> {
        let start = jiff::Timestamp::from_millisecond(self.millis).ok()?;
        let next = start
            .to_zoned_datetime(self.zone.time_zone().clone())
            .checked_add(period.span()?)
            .ok()?;
        if i64::from(next.year()) > MAX_YEAR {
            return None;
        }
        Some(Instant {
            millis: next.timestamp().as_millisecond(),
            zone: self.zone.clone(),
        })
    }

    /// As a [`Timestamp`] (instants before 1970 become 0).
    pub fn timestamp(&self) -> Timestamp {
        Timestamp(u64::try_from(self.millis).unwrap_or(0))
    }
}

/// `hh:mm:ss.fff` (minutes, seconds and the fraction optional) in milliseconds.
fn clock_ms(clock: &str) -> Option<i64> {
    if clock.is_empty() {
        return Some(0);
    }
    let (whole, fraction) = match clock.split_once(['.', ',']) {
        Some((whole, fraction)) => (whole, fraction),
        None => (clock, ""),
    };
    let mut fields = whole.split(':');
    let hour: i64 = number(fields.next()?)?;
    let minute: i64 = fields.next().map_or(Some(0), number)?;
    let second: i64 = fields.next().map_or(Some(0), number)?;
    if fields.next().is_some() || hour > 24 || minute > 59 || second > 59 {
        return None;
    }
    let millis = fraction_ms(fraction)?;
    Some(((hour * 60 + minute) * 60 + second) * 1000 + millis)
}

/// The first three digits of a decimal fraction, as milliseconds.
fn fraction_ms(fraction: &str) -> Option<i64> {
    if fraction.is_empty() {
        return Some(0);
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = fraction.chars().chain("000".chars()).take(3).collect();
    digits.parse().ok()
}

/// An ISO 8601 duration, field by field (Joda's `Period`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Period {
    pub years: i64,
    pub months: i64,
    pub weeks: i64,
    pub days: i64,
    pub hours: i64,
    pub minutes: i64,
    pub millis: i64,
}

impl Period {
    /// `P1Y2M3W4DT5H6M7.5S` and any subset (`PT1S`, `P1D`); `None` for anything else.
    pub fn parse(text: &str) -> Option<Period> {
        let body = text.strip_prefix('P')?;
        let (date, time) = match body.split_once('T') {
            Some((date, time)) if !time.is_empty() => (date, Some(time)),
            Some(_) => return None,
            None => (body, None),
        };
        let mut period = Period::default();
        let mut any = false;
        for (value, unit) in fields(date)? {
            let slot = match unit {
                'Y' => &mut period.years,
                'M' => &mut period.months,
                'W' => &mut period.weeks,
                'D' => &mut period.days,
                _ => return None,
            };
            *slot = number(value)?;
            any = true;
        }
        for (value, unit) in fields(time.unwrap_or(""))? {
            match unit {
                'H' => period.hours = number(value)?,
                'M' => period.minutes = number(value)?,
                'S' => {
                    let (whole, fraction) = value.split_once(['.', ',']).unwrap_or((value, ""));
                    let seconds: i64 = number(whole)?;
                    period.millis = seconds
                        .checked_mul(1000)?
                        .checked_add(fraction_ms(fraction)?)?;
                }
                _ => return None,
            }
            any = true;
        }
        (any && period.approximate_ms().is_some()).then_some(period)
    }

    /// Joda's `ISOPeriodFormat.standard` printing: the non-zero fields, `PT0S` for none.
    pub fn format(&self) -> String {
        let mut out = String::from("P");
        for (value, unit) in [
            (self.years, 'Y'),
            (self.months, 'M'),
            (self.weeks, 'W'),
            (self.days, 'D'),
        ] {
            if value != 0 {
                let _ = write!(out, "{value}{unit}");
            }
        }
        if self.hours != 0 || self.minutes != 0 || self.millis != 0 || out.len() == 1 {
            out.push('T');
            if self.hours != 0 {
                let _ = write!(out, "{}H", self.hours);
            }
            if self.minutes != 0 {
                let _ = write!(out, "{}M", self.minutes);
            }
            if self.millis != 0 || out.ends_with('T') {
                let (seconds, millis) = (self.millis / 1000, self.millis % 1000);
                if millis == 0 {
                    let _ = write!(out, "{seconds}S");
                } else {
                    let _ = write!(out, "{seconds}.{millis:03}S");
                }
            }
        }
        out
    }

    /// As a jiff span, field by field (`None` beyond its ranges).
    fn span(&self) -> Option<Span> {
        Span::new()
            .try_years(self.years)
            .and_then(|s| s.try_months(self.months))
            .and_then(|s| s.try_weeks(self.weeks))
            .and_then(|s| s.try_days(self.days))
            .and_then(|s| s.try_hours(self.hours))
            .and_then(|s| s.try_minutes(self.minutes))
            .and_then(|s| s.try_milliseconds(self.millis))
            .ok()
    }

    /// The length of the clock fields (hours, minutes, seconds) in milliseconds.
    fn clock_ms(&self) -> Option<i64> {
        self.hours
            .checked_mul(3_600_000)?
            .checked_add(self.minutes.checked_mul(60_000)?)?
            .checked_add(self.millis)
    }

    /// Its length with 365-day years and 30-day months (for epsilons, and to bound catch-up).
    pub fn approximate_ms(&self) -> Option<i64> {
        let days = self
            .years
            .checked_mul(365)?
            .checked_add(self.months.checked_mul(30)?)?
            .checked_add(self.weeks.checked_mul(7)?)?
            .checked_add(self.days)?;
        days.checked_mul(MS_PER_DAY)?.checked_add(self.clock_ms()?)
    }

    /// Whether it has calendar fields (years, months), whose length varies.
    pub fn is_calendar(&self) -> bool {
        self.years != 0 || self.months != 0
    }

    /// Whether it has only clock fields, which are elapsed time in every zone (a day is 23
    /// or 25 hours long across a DST change).
    pub fn is_elapsed_time(&self) -> bool {
        !self.is_calendar() && self.weeks == 0 && self.days == 0
    }
}

/// `12D3H` into `[("12", 'D'), ("3", 'H')]`.
fn fields(text: &str) -> Option<Vec<(&str, char)>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (at, c) in text.char_indices() {
        if c.is_ascii_alphabetic() {
            let value = &text[start..at];
            if value.is_empty() {
                return None;
            }
            out.push((value, c));
            start = at + c.len_utf8();
        }
    }
    (start == text.len()).then_some(out)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Instant {
        Instant::parse(text, None).expect(text)
    }

    #[test]
    fn instants_parse_and_print_as_joda_does() {
        assert_eq!(at("1970-01-01T00:00:00Z").millis, 0);
        assert_eq!(at("2015-09-25T15:13:48.343Z").millis, 1_443_194_028_343);
        assert_eq!(
            at("2015-09-25T16:13:48.343+01:00").millis,
            1_443_194_028_343
        );
        assert_eq!(at("2015-09-25T10:43:48.343-0430").millis, 1_443_194_028_343);
        assert_eq!(
            at("2015-09-25T15:13:48.343Z").format(),
            "2015-09-25T15:13:48.343Z"
        );
        assert_eq!(
            at("2015-09-25T16:13+01:00").format(),
            "2015-09-25T16:13:00.000+01:00"
        );
        assert_eq!(at("2015-09-25").format(), "2015-09-25T00:00:00.000Z");
        assert_eq!(at("1969-12-31T23:59:59Z").millis, -1000);
        for bad in [
            "",
            "2015-13-01",
            "2015-02-29T00:00Z",
            "2015-01-01T25:00Z",
            "x",
            "2015-01-01Tab",
        ] {
            assert_eq!(Instant::parse(bad, None), None, "{bad}");
        }
    }

    #[test]
    fn a_forced_zone_keeps_the_local_fields() {
        let plus_two = Zone::named("GMT+02:00").expect("a custom id");
        let forced = Instant::parse("2014-10-10T18:32:00Z", Some(&plus_two)).expect("parses");
        assert_eq!(forced.format(), "2014-10-10T18:32:00.000+02:00");
        assert_eq!(forced.millis, at("2014-10-10T16:32:00Z").millis);
        // Chronos's spec: the zone wins over the written offset (13:00-04:00 in PST is
        // 13:00-08:00), and a date alone is midnight there.
        let pst = Zone::named("PST").expect("known");
        let both = Instant::parse("2008-03-01T13:00:00-04:00", Some(&pst)).expect("parses");
        assert_eq!(both.millis, at("2008-03-01T13:00:00-08:00").millis);
        assert_eq!(both.format(), "2008-03-01T13:00:00.000-08:00");
        let date = Instant::parse("2008-03-01", Some(&pst)).expect("parses");
        assert_eq!(date.millis, at("2008-03-01T00:00:00-08:00").millis);
        let summer = Zone::named("Europe/London").expect("known");
        let bst = Instant::parse("2024-07-01T09:00:00Z", Some(&summer)).expect("parses");
        assert_eq!(bst.format(), "2024-07-01T09:00:00.000+01:00");
        let winter = Instant::parse("2024-01-01T09:00:00+05:00", Some(&summer)).expect("parses");
        assert_eq!(winter.format(), "2024-01-01T09:00:00.000Z");
    }

    #[test]
    fn periods_parse_print_and_add_in_the_calendar() {
        let p = Period::parse("P1Y2M3W4DT5H6M7.5S").expect("parses");
        assert_eq!(
            (
                p.years, p.months, p.weeks, p.days, p.hours, p.minutes, p.millis
            ),
            (1, 2, 3, 4, 5, 6, 7500)
        );
        assert_eq!(p.format(), "P1Y2M3W4DT5H6M7.500S");
        assert_eq!(Period::parse("PT1S").expect("parses").format(), "PT1S");
        assert_eq!(Period::parse("PT0S").expect("parses").format(), "PT0S");
        for bad in ["", "P", "PT", "1S", "PT1", "P1S", "PTS", "P1H", "PT1.5M"] {
            assert_eq!(Period::parse(bad), None, "{bad}");
        }
        let month = Period::parse("P1M").expect("parses");
        let jan31 = at("2016-01-31T10:00:00Z");
        assert_eq!(
            jan31.plus(&month).expect("adds").format(),
            "2016-02-29T10:00:00.000Z"
        );
        let day = Period::parse("P1D").expect("parses");
        assert_eq!(
            at("2016-12-31T23:30:00-01:00")
                .plus(&day)
                .expect("adds")
                .format(),
            "2017-01-01T23:30:00.000-01:00"
        );
        let eons = Period::parse("P9000Y").expect("parses");
        assert_eq!(
            jan31.plus(&eons),
            None,
            "beyond the calendar, not an overflow"
        );
        let second = Period::parse("PT1S").expect("parses");
        assert_eq!(
            at("1970-01-01T00:00:00Z")
                .plus(&second)
                .expect("adds")
                .millis,
            1000
        );
    }
}
