//! `Ranges`: Mesos's range values (`ports:[31000-32000]`) as sorted, coalesced,
//! non-overlapping inclusive intervals, with the set arithmetic the allocator needs.

use std::fmt;
use std::sync::Arc;

use crate::Error;

/// Sorted, coalesced, non-overlapping inclusive intervals of `u64`, such as
/// `[31000-31005, 32000-32010]`. Adjacent intervals are merged, so equal sets of values
/// always compare equal. No operation panics or overflows on any input. The intervals are
/// shared, so a copy (an offer made of an agent's free ports) allocates nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ranges {
    spans: Arc<[(u64, u64)]>,
}

impl Ranges {
    /// No values.
    pub fn new() -> Self {
        Self::default()
    }

    /// The values from `begin` to `end`, both included; an error when `begin > end`.
    pub fn span(begin: u64, end: u64) -> Result<Self, Error> {
        Self::from_spans([(begin, end)])
    }

    /// Every `(begin, end)` interval (inclusive), in any order, overlapping or not.
    pub fn from_spans(spans: impl IntoIterator<Item = (u64, u64)>) -> Result<Self, Error> {
        let mut spans: Vec<(u64, u64)> = spans.into_iter().collect();
        if let Some((begin, end)) = spans.iter().find(|(begin, end)| begin > end) {
            return Err(Error::InvalidResources(format!(
                "range {begin}-{end} ends before it begins"
            )));
        }
        spans.sort_unstable();
        Ok(Self {
            spans: coalesce(spans).into(),
        })
    }

    /// The single values in `values`, in any order, repeats allowed.
    pub fn from_values(values: impl IntoIterator<Item = u64>) -> Self {
        let mut spans: Vec<(u64, u64)> = values.into_iter().map(|v| (v, v)).collect();
        spans.sort_unstable();
        Self {
            spans: coalesce(spans).into(),
        }
    }

    /// The intervals, sorted and disjoint.
    pub fn spans(&self) -> &[(u64, u64)] {
        &self.spans
    }

    /// True with no values.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// How many values, saturating at `u64::MAX`.
    pub fn count(&self) -> u64 {
        self.spans.iter().fold(0u64, |sum, (begin, end)| {
            sum.saturating_add((end - begin).saturating_add(1))
        })
    }

    /// Every value, in ascending order.
    pub fn values(&self) -> impl Iterator<Item = u64> + '_ {
        self.spans.iter().flat_map(|(begin, end)| *begin..=*end)
    }

    /// The value at position `index` in ascending order (the 0th is the lowest), or `None`
    /// past the last.
    pub fn nth(&self, index: u64) -> Option<u64> {
        let mut left = index;
        for &(begin, end) in self.spans.iter() {
            let last = end - begin;
            if left <= last {
                return Some(begin + left);
            }
            left -= last + 1;
        }
        None
    }

    /// True when `value` is one of the values.
    pub fn contains_value(&self, value: u64) -> bool {
        self.span_at(value).is_some()
    }

    /// The index of the span holding `value`.
    fn span_at(&self, value: u64) -> Option<usize> {
        let at = self.spans.partition_point(|(begin, _)| *begin <= value);
        let at = at.checked_sub(1)?;
        let (_, end) = self.spans.get(at)?;
        (value <= *end).then_some(at)
    }

    /// True when every value of `other` is one of these.
    pub fn contains(&self, other: &Ranges) -> bool {
        // Spans are coalesced, so a contained span lies inside a single one of ours.
        other.spans.iter().all(|(begin, end)| {
            self.span_at(*begin)
                .and_then(|at| self.spans.get(at))
                .is_some_and(|(_, ours)| end <= ours)
        })
    }

    /// Adds every value of `other` (a union).
    pub fn add(&mut self, other: &Ranges) {
        if other.spans.is_empty() {
            return;
        }
        if self.spans.is_empty() {
            self.spans.clone_from(&other.spans);
            return;
        }
        let mut merged = Vec::with_capacity(self.spans.len() + other.spans.len());
        let (mut a, mut b) = (self.spans.iter().peekable(), other.spans.iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x <= y => a.next(),
                (Some(_), Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            merged.extend(next.copied());
        }
        self.spans = coalesce(merged).into();
    }

    /// The values of `self` that are not in `other`.
    pub fn difference(&self, other: &Ranges) -> Ranges {
        let mut out = Vec::with_capacity(self.spans.len());
        let mut cut = other.spans.iter().peekable();
        for &(begin, end) in self.spans.iter() {
            let mut from = Some(begin);
            while let (Some(start), Some(&&(cut_begin, cut_end))) = (from, cut.peek()) {
                if cut_end < start {
                    cut.next();
                    continue;
                }
                if cut_begin > end {
                    break;
                }
                if cut_begin > start {
                    out.push((start, cut_begin - 1));
                }
                // Past this cut: the rest of the span starts after it (if anything is left).
                from = cut_end.checked_add(1).filter(|next| *next <= end);
                if cut_end <= end {
                    cut.next();
                } else {
                    break;
                }
            }
            if let Some(start) = from {
                out.push((start, end));
            }
        }
        Ranges { spans: out.into() }
    }

    /// `self - other`, or `None` when some value of `other` is not in `self`.
    pub fn checked_sub(&self, other: &Ranges) -> Option<Ranges> {
        self.contains(other).then(|| self.difference(other))
    }

    /// The `n` lowest values, or `None` when there are fewer than `n`.
    pub fn lowest(&self, n: u64) -> Option<Ranges> {
        let mut left = n;
        let mut out = Vec::new();
        for &(begin, end) in self.spans.iter() {
            if left == 0 {
                break;
            }
            let size = (end - begin).saturating_add(1);
            if size >= left {
                out.push((begin, begin + (left - 1)));
                left = 0;
            } else {
                out.push((begin, end));
                left -= size;
            }
        }
        (left == 0).then(|| Ranges { spans: out.into() })
    }
}

/// Merges overlapping and adjacent spans of a list sorted by begin.
fn coalesce(sorted: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(sorted.len());
    for (begin, end) in sorted {
        match out.last_mut() {
            Some(last) if begin <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => out.push((begin, end)),
        }
    }
    out
}

/// Mesos's text form: `[31000-31005, 32000-32010]`, a single value as `31000-31000`.
impl fmt::Display for Ranges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (at, (begin, end)) in self.spans.iter().enumerate() {
            if at > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{begin}-{end}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(spans: &[(u64, u64)]) -> Ranges {
        Ranges::from_spans(spans.iter().copied()).expect("valid spans")
    }

    #[test]
    fn coalesces_overlapping_and_adjacent_spans() {
        assert_eq!(
            r(&[(5, 9), (1, 3), (4, 4), (20, 30), (25, 26)]).spans(),
            &[(1, 9), (20, 30)]
        );
        assert_eq!(
            r(&[(u64::MAX, u64::MAX), (0, u64::MAX)]).spans(),
            &[(0, u64::MAX)]
        );
        assert!(Ranges::span(3, 2).is_err());
    }

    #[test]
    fn difference_splits_spans_and_saturates_at_the_edges() {
        let all = r(&[(0, u64::MAX)]);
        let hole = r(&[(0, 0), (10, 20), (u64::MAX, u64::MAX)]);
        assert_eq!(all.difference(&hole).spans(), &[(1, 9), (21, u64::MAX - 1)]);
        assert_eq!(all.count(), u64::MAX);
        let a = r(&[(1, 10), (20, 30)]);
        assert_eq!(a.difference(&r(&[(5, 25)])).spans(), &[(1, 4), (26, 30)]);
        assert_eq!(a.difference(&r(&[(0, 100)])).spans(), &[]);
        assert_eq!(a.checked_sub(&r(&[(5, 25)])), None);
        assert_eq!(a.checked_sub(&r(&[(5, 6)])).map(|x| x.count()), Some(19));
    }

    #[test]
    fn nth_counts_across_spans() {
        let ranges = Ranges::from_spans([(10, 12), (20, 20), (u64::MAX - 1, u64::MAX)]).unwrap();
        let all: Vec<Option<u64>> = (0..7).map(|i| ranges.nth(i)).collect();
        assert_eq!(
            all,
            [
                Some(10),
                Some(11),
                Some(12),
                Some(20),
                Some(u64::MAX - 1),
                Some(u64::MAX),
                None
            ]
        );
        assert_eq!(Ranges::new().nth(0), None);
        let whole = Ranges::span(0, u64::MAX).unwrap();
        assert_eq!(whole.nth(u64::MAX), Some(u64::MAX));
    }

    #[test]
    fn lowest_takes_values_across_spans() {
        let a = r(&[(31000, 31001), (32000, 32010)]);
        assert_eq!(a.lowest(3), Some(r(&[(31000, 31001), (32000, 32000)])));
        assert_eq!(a.lowest(0), Some(Ranges::new()));
        assert_eq!(a.lowest(14), None);
        assert_eq!(a.to_string(), "[31000-31001, 32000-32010]");
    }
}
