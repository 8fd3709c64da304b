//! Dominant shares and the integer keys that order them.

use crate::pool::Qty;

/// What a dominant share is measured against.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ShareCtx<'a> {
    pub(crate) totals: &'a Qty,
    /// Per name id: left out of fair-share computation.
    pub(crate) excluded: &'a [bool],
}

impl ShareCtx<'_> {
    /// The largest fraction of any counted resource that `alloc` holds, in [0, 1] when
    /// `alloc` is part of the cluster.
    pub(crate) fn share(&self, alloc: &Qty) -> f64 {
        alloc
            .iter()
            .filter(|(name, _)| {
                !self
                    .excluded
                    .get(usize::from(*name))
                    .copied()
                    .unwrap_or(false)
            })
            .filter_map(|(name, units)| {
                let total = self.totals.get(name);
                (total > 0).then(|| units as f64 / total as f64)
            })
            .fold(0.0, f64::max)
    }
}

/// A sortable key for `share / weight`. Non-negative finite floats order like their bits.
pub(crate) fn share_key(share: f64, weight: f64) -> u64 {
    let weighted = share / weight;
    if weighted.is_finite() && weighted > 0.0 {
        weighted.to_bits()
    } else {
        0
    }
}
