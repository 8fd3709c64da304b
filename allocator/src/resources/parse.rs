//! The agent syntax: `name(role):amount;...`, with byte suffixes for `mem` and `disk`.

use std::fmt;
use std::sync::Arc;

use super::{Resource, Resources, amount_to_units, is_bytes};
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
    let (name, reservation) = parse_head(head.trim(), part)?;
    let units = parse_amount(&name, value.trim(), part)?;
    Ok(Resource {
        name: Arc::from(name),
        reservation,
        units,
    })
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
    if value.starts_with('[') || value.starts_with('{') {
        return Err(invalid(part, "only scalar resources are supported"));
    }
    if !is_bytes(name) {
        let amount: f64 = value
            .parse()
            .map_err(|_| invalid(part, "amount is not a number"))?;
        return amount_to_units(name, amount);
    }
    let (number, unit) = split_unit(value);
    let scale = byte_scale(unit).ok_or_else(|| {
        invalid(
            part,
            "unknown size unit (use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)",
        )
    })?;
    let amount: f64 = number
        .trim()
        .parse()
        .map_err(|_| invalid(part, "amount is not a number such as 512MiB or 8GiB"))?;
    amount_to_units(name, amount * scale)
}

fn split_unit(value: &str) -> (&str, &str) {
    let start = value
        .rfind(|c: char| !c.is_ascii_alphabetic())
        .map_or(0, |at| at + 1);
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
