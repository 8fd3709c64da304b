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
    let (number, scale) = split_byte_suffix(value);
    let amount: f64 = number.trim().parse().map_err(|_| {
        invalid(
            part,
            "amount is not a number with an optional B/KiB/MiB/GiB/TiB suffix",
        )
    })?;
    amount_to_units(name, amount * scale as f64)
}

/// A plain number is MiB, as Mesos reads `mem:1024`.
fn split_byte_suffix(value: &str) -> (&str, i64) {
    BYTE_SUFFIXES
        .iter()
        .find_map(|(suffix, scale)| value.strip_suffix(suffix).map(|n| (n, *scale)))
        .unwrap_or((value, MIB))
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
