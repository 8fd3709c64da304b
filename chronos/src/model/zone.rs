//! Time zones as Chronos knows them. A schedule's instants carry a fixed offset (`Z`,
//! `+01:00`) unless the job names a `scheduleTimeZone`, which Chronos reads as
//! `DateTimeZone.forTimeZone(TimeZone.getTimeZone(name))`:
//!
//! - Java knows tz database names (exactly as written, case included), its old three-letter
//!   ids and custom `GMT±h[h][[:]mm]` offsets, and answers GMT for anything else, so an
//!   unknown name is no error: the job is accepted and runs on UTC;
//! - Joda-Time then maps the old three-letter ids to zones of its own (`EST` is New York,
//!   with its DST; `BST` is Dhaka).
//!
//! The rules come from the tz database bundled into the binary, the same on Linux, macOS
//! and Windows whatever the system has.

use std::sync::LazyLock;

use jiff::tz::{AmbiguousOffset, Offset, TimeZone, TimeZoneDatabase};

static TZDB: LazyLock<TimeZoneDatabase> = LazyLock::new(TimeZoneDatabase::bundled);

const MS_PER_DAY: i64 = 86_400_000;

/// Joda-Time's conversions of the old Java ids, applied before its own database is asked
/// (`DateTimeZone.LazyInit.buildMap`, Joda-Time 2.9.6 as Chronos links it).
const JODA_ALIASES: [(&str, &str); 33] = [
    ("GMT", "UTC"),
    ("WET", "WET"),
    ("CET", "CET"),
    ("MET", "CET"),
    ("ECT", "CET"),
    ("EET", "EET"),
    ("MIT", "Pacific/Apia"),
    ("HST", "Pacific/Honolulu"),
    ("AST", "America/Anchorage"),
    ("PST", "America/Los_Angeles"),
    ("MST", "America/Denver"),
    ("PNT", "America/Phoenix"),
    ("CST", "America/Chicago"),
    ("EST", "America/New_York"),
    ("IET", "America/Indiana/Indianapolis"),
    ("PRT", "America/Puerto_Rico"),
    ("CNT", "America/St_Johns"),
    ("AGT", "America/Argentina/Buenos_Aires"),
    ("BET", "America/Sao_Paulo"),
    ("ART", "Africa/Cairo"),
    ("CAT", "Africa/Harare"),
    ("EAT", "Africa/Addis_Ababa"),
    ("NET", "Asia/Yerevan"),
    ("PLT", "Asia/Karachi"),
    ("IST", "Asia/Kolkata"),
    ("BST", "Asia/Dhaka"),
    ("VST", "Asia/Ho_Chi_Minh"),
    ("CTT", "Asia/Shanghai"),
    ("JST", "Asia/Tokyo"),
    ("ACT", "Australia/Darwin"),
    ("AET", "Australia/Sydney"),
    ("SST", "Pacific/Guadalcanal"),
    ("NST", "Pacific/Auckland"),
];

/// A fixed offset or a tz database zone with its DST rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone(TimeZone);

impl Default for Zone {
    fn default() -> Self {
        Zone::UTC
    }
}

impl Zone {
    pub const UTC: Zone = Zone(TimeZone::UTC);

    /// A fixed offset of `seconds` east of UTC (`None` beyond what any zone uses).
    pub fn fixed(seconds: i32) -> Option<Zone> {
        Offset::from_seconds(seconds)
            .ok()
            .map(|offset| Zone(TimeZone::fixed(offset)))
    }

    /// A `scheduleTimeZone` as Chronos reads it: unknown names are UTC (Java's GMT).
    pub fn schedule_time_zone(name: &str) -> Zone {
        Zone::named(name).unwrap_or(Zone::UTC)
    }

    /// The zone `name` means to Java and Joda-Time, or `None` when Java does not know it
    /// (and Chronos silently uses GMT).
    pub fn named(name: &str) -> Option<Zone> {
        if let Some(seconds) = java_custom_offset(name) {
            return Zone::fixed(seconds);
        }
        let id = JODA_ALIASES
            .iter()
            .find(|(old, _)| *old == name)
            .map_or(name, |(_, new)| *new);
        let zone = TZDB.get(id).ok()?;
        // The database ignores case; Java does not.
        (zone.iana_name() == Some(id)).then_some(Zone(zone))
    }

    /// Whether its offset never changes (so a day is always 24 hours long in it).
    pub fn is_fixed(&self) -> bool {
        self.0.to_fixed_offset().is_ok()
    }

    /// Its offset from UTC at the instant `millis`, in milliseconds.
    pub fn offset_ms(&self, millis: i64) -> Option<i64> {
        let at = jiff::Timestamp::from_millisecond(millis).ok()?;
        Some(i64::from(self.0.to_offset(at).seconds()) * 1000)
    }

    /// The instant whose local time here is `local` (milliseconds of local time since
    /// 1970-01-01T00:00): as Joda-Time's `withZoneRetainFields`, the offset this zone has
    /// at `hint` when it fits; otherwise the time after a gap, and the earlier of two in an
    /// overlap.
    pub fn resolve_local(&self, local: i64, hint: i64) -> Option<i64> {
        let preferred = self.offset_ms(hint)?;
        let candidate = local.checked_sub(preferred)?;
        if self.offset_ms(candidate)? == preferred {
            return Some(candidate);
        }
        let days = local.div_euclid(MS_PER_DAY);
        let ms = local.rem_euclid(MS_PER_DAY);
        let (year, month, day) = wasmesos_sdk_scheduler::time::civil_from_days(days);
        let datetime = jiff::civil::DateTime::new(
            i16::try_from(year).ok()?,
            i8::try_from(month).ok()?,
            i8::try_from(day).ok()?,
            i8::try_from(ms / 3_600_000).ok()?,
            i8::try_from(ms / 60_000 % 60).ok()?,
            i8::try_from(ms / 1000 % 60).ok()?,
            i32::try_from(ms % 1000).ok()? * 1_000_000,
        )
        .ok()?;
        let resolved = self.0.to_ambiguous_timestamp(datetime);
        let offset = match resolved.offset() {
            AmbiguousOffset::Unambiguous { offset } => offset,
            // The offset before the gap: the local time moves on by the gap's length.
            AmbiguousOffset::Gap { before, .. } => before,
            AmbiguousOffset::Fold { before, .. } => before,
        };
        local.checked_sub(i64::from(offset.seconds()) * 1000)
    }

    pub(super) fn time_zone(&self) -> &TimeZone {
        &self.0
    }
}

/// Java's custom time zone ids (`TimeZone.parseCustomTimeZone`): `GMT` and a sign, then
/// hours of one or two digits with optional `:mm`, or `hmm`/`hhmm`; hours to 23, minutes
/// to 59. Seconds east of UTC.
fn java_custom_offset(id: &str) -> Option<i32> {
    let rest = id.strip_prefix("GMT")?;
    let (negative, digits) = match rest.as_bytes() {
        [b'-', _, ..] => (true, &rest[1..]),
        [b'+', _, ..] => (false, &rest[1..]),
        _ => return None,
    };
    let (mut hours, mut number, mut length, mut delimiters) = (0u32, 0u32, 0, 0);
    for byte in digits.bytes() {
        if byte == b':' {
            if delimiters > 0 || length > 2 {
                return None;
            }
            hours = number;
            (number, length, delimiters) = (0, 0, 1);
            continue;
        }
        if !byte.is_ascii_digit() {
            return None;
        }
        number = number
            .checked_mul(10)?
            .checked_add(u32::from(byte - b'0'))?;
        length += 1;
    }
    match delimiters {
        0 if length <= 2 => (hours, number) = (number, 0),
        0 => (hours, number) = (number / 100, number % 100),
        _ if length != 2 => return None,
        _ => {}
    }
    if hours > 23 || number > 59 {
        return None;
    }
    let seconds = i32::try_from((hours * 60 + number) * 60).ok()?;
    Some(if negative { -seconds } else { seconds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_as_java_and_joda_resolve_them() {
        let offset_at = |name: &str, millis: i64| {
            Zone::named(name)
                .unwrap_or_else(|| panic!("{name} is known"))
                .offset_ms(millis)
                .expect("an offset")
                / 60_000
        };
        // 2008-03-01T13:00:00Z, as Chronos's Iso8601ExpressionParserSpec.
        let march = 1_204_376_400_000;
        assert_eq!(offset_at("Europe/Paris", march), 60);
        assert_eq!(offset_at("PST", march), -8 * 60);
        assert_eq!(offset_at("BST", march), 6 * 60, "Dhaka, not London");
        // Joda maps EST to New York, with its DST (2008-07-01).
        assert_eq!(offset_at("EST", 1_214_870_400_000), -4 * 60);
        assert_eq!(offset_at("US/Eastern", march), -5 * 60);
        assert_eq!(offset_at("UTC", march), 0);
        assert_eq!(offset_at("GMT", march), 0);
        assert_eq!(offset_at("GMT+5", march), 5 * 60);
        assert_eq!(offset_at("GMT-0530", march), -(5 * 60 + 30));
        assert_eq!(offset_at("GMT+05:30", march), 5 * 60 + 30);
        assert_eq!(offset_at("GMT+530", march), 5 * 60 + 30);
        assert!(Zone::named("Europe/Berlin").is_some_and(|z| !z.is_fixed()));
        assert!(Zone::named("GMT+5").is_some_and(|z| z.is_fixed()));
        // What Java does not know is GMT to Chronos: no error, UTC.
        for unknown in [
            "Mars/Olympus",
            "america/new_york",
            "+01:00",
            "UTC+2",
            "GMT+24",
            "GMT+5:3",
            "GMT+",
            " ",
            "Etc/Unknown",
        ] {
            assert_eq!(Zone::named(unknown), None, "{unknown}");
            assert_eq!(Zone::schedule_time_zone(unknown), Zone::UTC, "{unknown}");
        }
    }

    #[test]
    fn local_times_in_gaps_move_on_and_in_overlaps_keep_the_hinted_offset() {
        let berlin = Zone::named("Europe/Berlin").expect("known");
        let hour = 3_600_000;
        // 2024-03-31: 02:00 CET became 03:00 CEST (at 01:00Z).
        let gap_local = 1_711_843_200_000 + 5 * hour / 2; // 02:30 local, as if UTC
        let resolved = berlin.resolve_local(gap_local, 0).expect("resolves");
        assert_eq!(resolved, 1_711_848_600_000, "03:30 CEST, 01:30Z");
        // 2024-10-27: 03:00 CEST became 02:00 CET (at 01:00Z): 02:30 happened twice.
        let fold_local = 1_729_987_200_000 + 5 * hour / 2; // 02:30 local, as if UTC
        let first = 1_729_989_000_000; // 00:30Z, +02:00
        let second = first + hour; // 01:30Z, +01:00
        assert_eq!(berlin.resolve_local(fold_local, first), Some(first));
        assert_eq!(berlin.resolve_local(fold_local, second), Some(second));
    }
}
