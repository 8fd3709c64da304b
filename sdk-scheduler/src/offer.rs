//! Packing tasks into offers.

use wasmesos_proto::{Offer, Resources};

/// Rounding slack, so that ten tasks of 0.1 cpus fit in 1.0 cpus.
const EPSILON: f64 = 1e-9;

/// What is left of an offer while tasks are packed into it.
///
/// ```
/// use wasmesos_proto::{Offer, Resources};
/// use wasmesos_sdk_scheduler::Capacity;
///
/// let offer = Offer {
///     resources: Some(Resources::from_scalars([("cpus", 1.0), ("mem", 100.0)])),
///     ..Offer::default()
/// };
/// let mut left = Capacity::of(&offer);
/// let task = Resources::from_scalars([("cpus", 0.4), ("mem", 10.0)]);
/// assert!(left.take(&task));
/// assert!(left.take(&task));
/// assert!(!left.take(&task)); // 0.2 cpus left
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capacity {
    scalars: Vec<(String, f64)>,
}

impl Capacity {
    /// The whole of an offer's resources (summed over roles).
    pub fn of(offer: &Offer) -> Self {
        let mut capacity = Capacity::default();
        if let Some(resources) = &offer.resources {
            capacity.add(resources);
        }
        capacity
    }

    /// Adds resources, e.g. of several offers from one agent accepted together.
    pub fn add(&mut self, resources: &Resources) {
        for resource in &resources.resources {
            match self.slot(&resource.name) {
                Some(slot) => *slot += resource.value,
                None => self.scalars.push((resource.name.clone(), resource.value)),
            }
        }
    }

    /// What is left of `name` (0 when the offer had none).
    pub fn get(&self, name: &str) -> f64 {
        self.scalars
            .iter()
            .find(|(have, _)| have == name)
            .map_or(0.0, |(_, value)| *value)
    }

    /// Whether `wanted` fits in what is left.
    pub fn fits(&self, wanted: &Resources) -> bool {
        wanted
            .resources
            .iter()
            .all(|resource| resource.value <= self.get(&resource.name) + EPSILON)
    }

    /// Subtracts `wanted` if it fits; returns whether it did.
    pub fn take(&mut self, wanted: &Resources) -> bool {
        if !self.fits(wanted) {
            return false;
        }
        for resource in &wanted.resources {
            if let Some(slot) = self.slot(&resource.name) {
                *slot = (*slot - resource.value).max(0.0);
            }
        }
        true
    }

    fn slot(&mut self, name: &str) -> Option<&mut f64> {
        self.scalars
            .iter_mut()
            .find(|(have, _)| have == name)
            .map(|(_, value)| value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_tenths_fit_in_one() {
        let offer = Offer {
            resources: Some(Resources::from_scalars([("cpus", 1.0)])),
            ..Offer::default()
        };
        let mut left = Capacity::of(&offer);
        let tenth = Resources::from_scalars([("cpus", 0.1)]);
        let taken = (0..11).filter(|_| left.take(&tenth)).count();
        assert_eq!(taken, 10);
    }

    #[test]
    fn a_resource_the_offer_lacks_never_fits() {
        let offer = Offer {
            resources: Some(Resources::from_scalars([("cpus", 4.0)])),
            ..Offer::default()
        };
        let left = Capacity::of(&offer);
        assert!(!left.fits(&Resources::from_scalars([("gpus", 1.0)])));
        assert!(left.fits(&Resources::from_scalars([("cpus", 4.0)])));
    }
}
