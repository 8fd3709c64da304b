//! The value of one resource entry: Mesos's three kinds.

use std::fmt;

use super::{Ranges, SetItems, parse};

/// Most intervals (ranges) or items (sets) one entry may hold when it comes from outside
/// (a flag, a peer's message): bounds the work and memory one message can cause.
pub const MAX_VALUES: usize = 1024;

/// Which of Mesos's value types an entry has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A number: `cpus:4`, `mem:8GiB`.
    Scalar,
    /// Intervals of whole numbers: `ports:[31000-32000]`.
    Ranges,
    /// Distinct strings: `zones:{a,b}`.
    Set,
}

impl Kind {
    /// How Mesos names the type (`SCALAR`, `RANGES`, `SET`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Scalar => "SCALAR",
            Kind::Ranges => "RANGES",
            Kind::Set => "SET",
        }
    }
}

/// An entry's value; scalars are fixed-point units (see the `resources` module docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Value {
    Scalar(i64),
    Ranges(Ranges),
    Set(SetItems),
}

impl Value {
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Value::Scalar(_) => Kind::Scalar,
            Value::Ranges(_) => Kind::Ranges,
            Value::Set(_) => Kind::Set,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Value::Scalar(units) => *units == 0,
            Value::Ranges(ranges) => ranges.is_empty(),
            Value::Set(set) => set.is_empty(),
        }
    }

    /// Intervals or items held, for the [`MAX_VALUES`] bound (scalars hold none).
    pub(crate) fn pieces(&self) -> usize {
        match self {
            Value::Scalar(_) => 0,
            Value::Ranges(ranges) => ranges.spans().len(),
            Value::Set(set) => set.len(),
        }
    }

    /// Adds `other` of the same kind (sum or union); other kinds are ignored.
    pub(crate) fn merge(&mut self, other: &Value) {
        match (self, other) {
            (Value::Scalar(a), Value::Scalar(b)) => *a = a.saturating_add(*b),
            (Value::Ranges(a), Value::Ranges(b)) => a.add(b),
            (Value::Set(a), Value::Set(b)) => a.add(b),
            _ => {}
        }
    }

    /// True when `other` (of the same kind) fits in `self`.
    pub(crate) fn contains(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Scalar(a), Value::Scalar(b)) => a >= b,
            (Value::Ranges(a), Value::Ranges(b)) => a.contains(b),
            (Value::Set(a), Value::Set(b)) => a.contains(b),
            _ => false,
        }
    }

    /// `self - other`; callers check [`Value::contains`] first.
    pub(crate) fn subtract(&mut self, other: &Value) {
        match (self, other) {
            (Value::Scalar(a), Value::Scalar(b)) => *a = a.saturating_sub(*b),
            (Value::Ranges(a), Value::Ranges(b)) => *a = a.difference(b),
            (Value::Set(a), Value::Set(b)) => *a = a.difference(b),
            _ => {}
        }
    }

    /// Writes the value in the agent syntax; `bytes` for `mem` and `disk` scalars.
    pub(crate) fn write(&self, f: &mut fmt::Formatter<'_>, bytes: bool) -> fmt::Result {
        match self {
            Value::Scalar(units) if bytes => parse::write_bytes(f, *units),
            Value::Scalar(units) => parse::write_milli(f, *units),
            Value::Ranges(ranges) => write!(f, "{ranges}"),
            Value::Set(set) => write!(f, "{set}"),
        }
    }
}
