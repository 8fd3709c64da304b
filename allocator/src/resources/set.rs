//! `SetItems`: Mesos's set values (`zones:{a,b}`) as a sorted set of strings.

use std::fmt;
use std::sync::Arc;

use crate::Error;

/// Longest set item accepted.
pub const MAX_ITEM_LEN: usize = 256;

/// A sorted set of distinct strings, such as `{a, b}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SetItems {
    items: Vec<Arc<str>>,
}

impl SetItems {
    /// No items.
    pub fn new() -> Self {
        Self::default()
    }

    /// The given items, in any order, repeats merged. Items must be 1 to [`MAX_ITEM_LEN`]
    /// bytes without whitespace, control characters or any of `,;:{}[]()`.
    pub fn from_items<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Result<Self, Error> {
        let mut out: Vec<Arc<str>> = Vec::new();
        for item in items {
            let item = item.as_ref();
            validate_item(item)?;
            out.push(Arc::from(item));
        }
        out.sort_unstable();
        out.dedup();
        Ok(Self { items: out })
    }

    /// The items, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|item| &**item)
    }

    /// How many items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True with no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// True when every item of `other` is here.
    pub fn contains(&self, other: &SetItems) -> bool {
        other
            .items
            .iter()
            .all(|item| self.items.binary_search(item).is_ok())
    }

    /// Adds every item of `other` (a union).
    pub fn add(&mut self, other: &SetItems) {
        self.items.extend(other.items.iter().cloned());
        self.items.sort_unstable();
        self.items.dedup();
    }

    /// The items of `self` that are not in `other`.
    pub fn difference(&self, other: &SetItems) -> SetItems {
        SetItems {
            items: self
                .items
                .iter()
                .filter(|item| other.items.binary_search(item).is_err())
                .cloned()
                .collect(),
        }
    }
}

fn validate_item(item: &str) -> Result<(), Error> {
    let bad = item.is_empty()
        || item.len() > MAX_ITEM_LEN
        || item
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || ",;:{}[]()".contains(c));
    if bad {
        return Err(Error::InvalidResources(format!(
            "bad set item {item:?}: 1 to {MAX_ITEM_LEN} bytes, no spaces or any of ,;:{{}}[]()"
        )));
    }
    Ok(())
}

/// Mesos's text form: `{a, b}`.
impl fmt::Display for SetItems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (at, item) in self.items.iter().enumerate() {
            if at > 0 {
                f.write_str(", ")?;
            }
            f.write_str(item)?;
        }
        f.write_str("}")
    }
}
