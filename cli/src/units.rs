//! Parsing of human sizes ("64MiB", "1.5GiB") and durations ("500ms", "5s") in flags.
//!
//! clap prefixes these errors with the flag's name, so the messages say only what is wrong
//! with the value.

use std::time::Duration;

/// Bytes from a size such as `64MiB`, `1.5GiB`, `512k` or `1000000B`. Binary units (KiB,
/// MiB, GiB, TiB, and the single letters K, M, G, T) are powers of 1024; KB, MB, GB and TB
/// are powers of 1000; a bare number is MiB, as in resources (`mem:512`): the one size rule,
/// `wasmesos_allocator::parse_size`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bytes = wasmesos_allocator::parse_size(text)?;
    if bytes >= u64::MAX as f64 {
        return Err("size is too large".into());
    }
    Ok(bytes.round() as u64)
}

/// A duration such as `500ms`, `5s`, `1.5m`, `2h` or `250us`. A unit is required.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = split_number(text)?;
    let seconds: f64 = match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "" => return Err("a duration needs a unit, e.g. 500ms, 5s, 2m".into()),
        _ => {
            return Err(format!(
                "unknown duration unit `{unit}` (use ns, us, ms, s, m, h)"
            ));
        }
    };
    Duration::try_from_secs_f64(number * seconds).map_err(|err| err.to_string())
}

/// `d` in the largest unit that states it exactly (`2m`, `200ms`, `1500us`): what
/// [`parse_duration`] reads back to the same value.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    let units: [(u128, &str); 5] = [
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
    ];
    for (size, unit) in units {
        if nanos > 0 && nanos.is_multiple_of(size) {
            return format!("{}{unit}", nanos / size);
        }
    }
    format!("{nanos}ns")
}

/// `bytes` in the largest binary unit that states it exactly (`64MiB`, `1536KiB`, `100B`):
/// what [`parse_size`] reads back to the same value.
pub fn format_size(bytes: u64) -> String {
    for (shift, unit) in [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")] {
        let size = 1u64 << shift;
        if bytes > 0 && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}B")
}

/// A socket address such as `127.0.0.1:5050` or `[::1]:5051`.
pub fn parse_socket_addr(text: &str) -> Result<std::net::SocketAddr, String> {
    text.trim()
        .parse()
        .map_err(|_| "expected an address such as 127.0.0.1:5050".to_string())
}

/// A positive CPU share such as `0.5` or `2`.
pub fn parse_cpus(text: &str) -> Result<f64, String> {
    let cpus: f64 = text
        .trim()
        .parse()
        .map_err(|_| "expected a number of CPUs, e.g. 0.5".to_string())?;
    if !(cpus.is_finite() && cpus > 0.0) {
        return Err("the CPU share must be a positive number".into());
    }
    Ok(cpus)
}

/// `KEY=VALUE`.
pub fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err("expected KEY=VALUE".into()),
    }
}

/// Splits `1.5GiB` into `1.5` and `GiB`; the number must be finite and not negative.
fn split_number(text: &str) -> Result<(f64, &str), String> {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(end);
    if number.is_empty() {
        return Err("expected a number first, e.g. 64MiB or 5s".into());
    }
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{number}` is not a number"))?;
    Ok((number, unit.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("100MB"), Ok(100_000_000));
        assert_eq!(parse_size("4096B"), Ok(4096));
        assert_eq!(
            parse_size("4"),
            Ok(4 << 20),
            "a bare number is MiB, as in resources"
        );
        assert!(parse_size("64XB").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("-1MiB").is_err());
        assert!(parse_size("1.2.3MiB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }

    #[test]
    fn formatted_values_read_back() {
        for d in [
            Duration::from_secs(7200),
            Duration::from_secs(120),
            Duration::from_secs(90),
            Duration::from_millis(200),
            Duration::from_micros(1500),
            Duration::from_nanos(7),
            Duration::ZERO,
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{d:?}");
        }
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_millis(200)), "200ms");
        for bytes in [0, 100, 1536 << 10, 64 << 20, 3 << 30, 5 << 40] {
            assert_eq!(parse_size(&format_size(bytes)), Ok(bytes), "{bytes}");
        }
        assert_eq!(format_size(64 << 20), "64MiB");
    }

    #[test]
    fn cpus_and_env() {
        assert_eq!(parse_cpus("0.25"), Ok(0.25));
        assert!(parse_cpus("0").is_err());
        assert!(parse_cpus("NaN").is_err());
        assert_eq!(parse_env("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert!(parse_env("=x").is_err());
        assert!(parse_env("novalue").is_err());
    }
}
