//! The agent syntax: `name(role):value;...`, with byte suffixes for `mem` and `disk`,
//! ranges as `[31000-31005,32000-32010]` and sets as `{a,b}`. This is the one parser of
//! resource text in wasmesos: the agent's `--resources`, the master's flags and the CLI all
//! read resources through [`Resources`]'s `FromStr`.

use std::fmt;
use std::sync::Arc;

use super::{
    MAX_VALUES, REVOCABLE_MARK, Ranges, Resource, Resources, SetItems, Value, amount_to_units,
    is_bytes,
};
use crate::Error;

const KIB: i64 = 1 << 10;
const MIB: i64 = 1 << 20;
const GIB: i64 = 1 << 30;
const TIB: i64 = 1 << 40;

/// Largest unit first, so display picks the shortest exact form.
const BYTE_SUFFIXES: [(&str, i64); 5] = [
    ("TiB", TIB),
    ("GiB", GIB),
    ("MiB", MIB),
    ("KiB", KIB),
    ("B", 1),
];

pub(super) fn parse(text: &str) -> Result<Resources, Error> {
    let mut out = Resources::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        out.push(parse_entry(part)?);
    }
    out.check_bounds()?;
    Ok(out)
}

fn parse_entry(part: &str) -> Result<Resource, Error> {
    let (head, value) = part
        .split_once(':')
        .ok_or_else(|| invalid(part, "expected name:amount"))?;
    let head = head.trim();
    let (head, revocable) = match head.strip_suffix(REVOCABLE_MARK) {
        Some(head) => (head, true),
        None => (head, false),
    };
    let (name, reservation) = parse_head(head, part).map_err(|err| within(part, err))?;
    let value = value.trim();
    let value = if let Some(inner) = value.strip_prefix('[') {
        Value::Ranges(parse_ranges(inner, part)?)
    } else if let Some(inner) = value.strip_prefix('{') {
        Value::Set(parse_set(inner, part)?)
    } else {
        Value::Scalar(parse_amount(&name, value, part)?)
    };
    Ok(Resource {
        name: Arc::from(name),
        reservation,
        revocable,
        value,
    })
}

/// `31000-31005,32000-32010]` (after the `[`); a single value `31000` is `31000-31000`.
fn parse_ranges(inner: &str, part: &str) -> Result<Ranges, Error> {
    let body = inner
        .strip_suffix(']')
        .ok_or_else(|| invalid(part, "missing ']' after the ranges"))?;
    let pieces: Vec<&str> = body
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if pieces.len() > MAX_VALUES {
        return Err(invalid(part, &format!("more than {MAX_VALUES} ranges")));
    }
    let mut spans = Vec::with_capacity(pieces.len());
    for piece in pieces {
        let (begin, end) = piece.split_once('-').unwrap_or((piece, piece));
        let bound = |text: &str| {
            text.trim().parse::<u64>().map_err(|_| {
                invalid(
                    part,
                    &format!("{piece:?} is not a range of whole numbers such as 31000-32000"),
                )
            })
        };
        let (begin, end) = (bound(begin)?, bound(end)?);
        if begin > end {
            return Err(invalid(
                part,
                &format!("range {piece:?} ends before it begins"),
            ));
        }
        spans.push((begin, end));
    }
    Ranges::from_spans(spans).map_err(|err| invalid(part, &err.to_string()))
}

/// `a,b}` (after the `{`).
fn parse_set(inner: &str, part: &str) -> Result<SetItems, Error> {
    let body = inner
        .strip_suffix('}')
        .ok_or_else(|| invalid(part, "missing '}' after the set"))?;
    let items: Vec<&str> = body
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if items.len() > MAX_VALUES {
        return Err(invalid(part, &format!("more than {MAX_VALUES} set items")));
    }
    SetItems::from_items(items).map_err(|err| invalid(part, &err.to_string()))
}

fn parse_head(head: &str, part: &str) -> Result<(String, Option<Arc<str>>), Error> {
    let Some((name, rest)) = head.split_once('(') else {
        validate_name(head)?;
        return Ok((head.to_owned(), None));
    };
    let role = rest
        .strip_suffix(')')
        .ok_or_else(|| invalid(part, "missing ')' after the role"))?;
    validate_name(name)?;
    let reservation = match role {
        "*" => None,
        role => Some(Arc::from(crate::roles::validate_role(role)?)),
    };
    Ok((name.to_owned(), reservation))
}

fn parse_amount(name: &str, value: &str, part: &str) -> Result<i64, Error> {
    if !is_bytes(name) {
        let amount: f64 = value
            .parse()
            .map_err(|_| invalid(part, "amount is not a number"))?;
        return amount_to_units(name, amount).map_err(|err| within(part, err));
    }
    let bytes = parse_size(value).map_err(|why| invalid(part, &why))?;
    amount_to_units(name, bytes).map_err(|err| within(part, err))
}

/// Names the entry in an error about its amount.
fn within(part: &str, err: Error) -> Error {
    match err {
        Error::InvalidResources(why) => invalid(part, &why),
        other => other,
    }
}

/// Bytes from a size such as `8GiB`, `1.5G`, `100B`, `2GB` or a bare `512`, which means
/// MiB (as Mesos reads `mem:512`). The one size rule of wasmesos: the agent's and master's
/// size flags and settings read sizes with it too. Not negative, finite, and at most
/// 2^63 bytes.
pub fn parse_size(text: &str) -> Result<f64, String> {
    let (number, unit) = split_unit(text.trim());
    let scale = byte_scale(unit).ok_or_else(|| {
        format!("unknown size unit {unit:?} (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)")
    })?;
    let amount: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as 512MiB or 8GiB"))?;
    let bytes = amount * scale;
    if !bytes.is_finite() || bytes < 0.0 || bytes > 2f64.powi(63) {
        return Err(format!(
            "{text:?} must be a size between 0 and 8EiB (not negative, not NaN)"
        ));
    }
    Ok(bytes)
}

fn split_unit(value: &str) -> (&str, &str) {
    // The unit starts after the last character that is not a letter, whatever its width.
    let start = value
        .char_indices()
        .rfind(|(_, c)| !c.is_ascii_alphabetic())
        .map_or(0, |(at, c)| at + c.len_utf8());
    value.split_at(start)
}

/// The same units as the agent's other size flags: a bare number is MiB (as Mesos reads
/// `mem:1024`), `KiB`..`TiB` (or `K`..`T`) are binary, `KB`..`TB` decimal; any case.
fn byte_scale(unit: &str) -> Option<f64> {
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" => MIB as f64,
        "b" => 1.0,
        "k" | "kib" => KIB as f64,
        "m" | "mib" => MIB as f64,
        "g" | "gib" => GIB as f64,
        "t" | "tib" => TIB as f64,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => return None,
    };
    Some(scale)
}

/// Resource names: letters, digits, `_`, `-`, `.`; not empty.
pub(crate) fn validate_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidResources(format!(
            "bad resource name {name:?}: use letters, digits, '_', '-', '.'"
        )))
    }
}

fn invalid(part: &str, why: &str) -> Error {
    Error::InvalidResources(format!("{part:?}: {why}"))
}

pub(super) fn write_bytes(f: &mut fmt::Formatter<'_>, units: i64) -> fmt::Result {
    let (suffix, scale) = BYTE_SUFFIXES
        .iter()
        .find(|(_, scale)| units % scale == 0)
        .copied()
        .unwrap_or(("B", 1));
    write!(f, "{}{suffix}", units / scale)
}

pub(super) fn write_milli(f: &mut fmt::Formatter<'_>, units: i64) -> fmt::Result {
    let whole = units / super::MILLI;
    let frac = units % super::MILLI;
    if frac == 0 {
        return write!(f, "{whole}");
    }
    let digits = format!("{frac:03}");
    write!(f, "{whole}.{}", digits.trim_end_matches('0'))
}
