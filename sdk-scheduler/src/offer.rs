//! Packing tasks into offers.

use wasmesos_allocator::Ranges;
use wasmesos_proto::resource_names::PORTS;
use wasmesos_proto::{Offer, Resource, Resources, ValueType};

use crate::TaskBuilder;

/// Rounding slack, so that ten tasks of 0.1 cpus fit in 1.0 cpus.
const EPSILON: f64 = 1e-9;

/// What is left of an offer while tasks are packed into it: scalars summed over roles
/// (revocable amounts apart from regular ones), ranges (ports) kept per role and value by
/// value, so two tasks packed into one offer never get the same port.
///
/// ```
/// use wasmesos_proto::{Offer, Resources};
/// use wasmesos_sdk_scheduler::{Capacity, TaskBuilder};
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
///
/// // Ports: `place` picks the lowest free ones for `.ports(n)`.
/// let offer = Offer {
///     resources: Some(wasmesos_proto::resources::resources_to_proto(
///         &"cpus:1;ports:[31000-31002]".parse().unwrap(),
///     )),
///     ..Offer::default()
/// };
/// let mut left = Capacity::of(&offer);
/// let a = left.place(TaskBuilder::new("a", "digest").cpus(0.1).ports(2)).unwrap();
/// let b = left.place(TaskBuilder::new("b", "digest").cpus(0.1).ports(1)).unwrap();
/// assert_eq!(a.resources().ranges("ports").to_string(), "[31000-31001]");
/// assert_eq!(b.resources().ranges("ports").to_string(), "[31002-31002]");
/// assert!(left.place(TaskBuilder::new("c", "digest").ports(1)).is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capacity {
    /// `(name, revocable, amount)`.
    scalars: Vec<(String, bool, f64)>,
    /// `(name, role, ranges)`; an empty role is unreserved.
    ranges: Vec<(String, String, Ranges)>,
}

impl Capacity {
    /// The whole of an offer's resources (scalars summed over roles).
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
            if resource.r#type == ValueType::Ranges as i32 {
                let ranges = resource.ranges_value();
                match self.ranges_slot(&resource.name, &resource.role) {
                    Some(slot) => slot.add(&ranges),
                    None => {
                        self.ranges
                            .push((resource.name.clone(), resource.role.clone(), ranges))
                    }
                }
                continue;
            }
            match self.slot(&resource.name, resource.revocable) {
                Some(slot) => *slot += resource.value,
                None => {
                    self.scalars
                        .push((resource.name.clone(), resource.revocable, resource.value))
                }
            }
        }
    }

    /// What is left of the scalar `name` that is not revocable (0 when the offer had none).
    pub fn get(&self, name: &str) -> f64 {
        self.scalar(name, false)
    }

    /// What is left of the revocable scalar `name` (offered only to frameworks with
    /// [`crate::DriverConfig::revocable_resources`]).
    pub fn get_revocable(&self, name: &str) -> f64 {
        self.scalar(name, true)
    }

    fn scalar(&self, name: &str, revocable: bool) -> f64 {
        self.scalars
            .iter()
            .find(|(have, r, _)| have == name && *r == revocable)
            .map_or(0.0, |(_, _, value)| *value)
    }

    /// What is left of the ranges resource `name` (say `ports`), over every role.
    pub fn ranges(&self, name: &str) -> Ranges {
        let mut out = Ranges::new();
        for (_, _, ranges) in self.ranges.iter().filter(|(have, ..)| have == name) {
            out.add(ranges);
        }
        out
    }

    /// Whether `wanted` fits in what is left: every scalar, and every range value under its
    /// role. Sets are not tracked and never fit.
    pub fn fits(&self, wanted: &Resources) -> bool {
        wanted
            .resources
            .iter()
            .all(|resource| match ValueType::try_from(resource.r#type) {
                Ok(ValueType::Scalar) => {
                    resource.value <= self.scalar(&resource.name, resource.revocable) + EPSILON
                }
                Ok(ValueType::Ranges) => {
                    let wanted = resource.ranges_value();
                    wanted.is_empty()
                        || self
                            .ranges
                            .iter()
                            .find(|(n, r, _)| *n == resource.name && *r == resource.role)
                            .is_some_and(|(_, _, have)| have.contains(&wanted))
                }
                _ => false,
            })
    }

    /// Subtracts `wanted` if it fits; returns whether it did.
    pub fn take(&mut self, wanted: &Resources) -> bool {
        if !self.fits(wanted) {
            return false;
        }
        for resource in &wanted.resources {
            if resource.r#type == ValueType::Ranges as i32 {
                if let Some(slot) = self.ranges_slot(&resource.name, &resource.role) {
                    *slot = slot.difference(&resource.ranges_value());
                }
            } else if let Some(slot) = self.slot(&resource.name, resource.revocable) {
                *slot = (*slot - resource.value).max(0.0);
            }
        }
        true
    }

    /// Fits `task` in what is left: chooses free ports for its [`TaskBuilder::ports`] (the
    /// lowest) or [`TaskBuilder::random_ports`] (at random), unreserved ones first, then takes
    /// all it asks for. Returns the task with its ports chosen, or `None` (leaving the
    /// capacity as it was) when it does not fit.
    pub fn place(&mut self, task: TaskBuilder) -> Option<TaskBuilder> {
        let wanted = task.wanted_ports();
        let at_random = task.ports_at_random();
        let mut task = task.clear_wanted_ports();
        if wanted > 0 {
            let named = task.resources().ranges(PORTS);
            let mut left = wanted;
            let mut sources: Vec<&(String, String, Ranges)> =
                self.ranges.iter().filter(|(n, ..)| n == PORTS).collect();
            sources.sort_by_key(|(_, role, _)| !role.is_empty());
            let mut picked: Vec<Resource> = Vec::new();
            for (_, role, ranges) in sources {
                let free = ranges.difference(&named);
                let count = left.min(free.count());
                let chosen = if at_random {
                    drawn_at_random(&free, count)?
                } else {
                    free.lowest(count)?
                };
                if !chosen.is_empty() {
                    picked.push(Resource::from_ranges(PORTS, role, &chosen));
                }
                left -= count;
                if left == 0 {
                    break;
                }
            }
            if left > 0 {
                return None;
            }
            for resource in picked {
                task = task.with_ranges(resource);
            }
        }
        self.take(task.resources()).then_some(task)
    }

    fn slot(&mut self, name: &str, revocable: bool) -> Option<&mut f64> {
        self.scalars
            .iter_mut()
            .find(|(have, r, _)| have == name && *r == revocable)
            .map(|(_, _, value)| value)
    }

    fn ranges_slot(&mut self, name: &str, role: &str) -> Option<&mut Ranges> {
        self.ranges
            .iter_mut()
            .find(|(n, r, _)| n == name && r == role)
            .map(|(_, _, ranges)| ranges)
    }
}

/// `n` distinct values of `free` drawn uniformly at random (Floyd's sampling: `n` draws,
/// whatever the size of `free`), or `None` when it has fewer than `n`.
fn drawn_at_random(free: &Ranges, n: u64) -> Option<Ranges> {
    let size = free.count();
    let first = size.checked_sub(n)?;
    let mut picked = std::collections::BTreeSet::new();
    for last in first..size {
        let index = fastrand::u64(0..=last);
        if !picked.insert(index) {
            picked.insert(last);
        }
    }
    let values: Option<Vec<u64>> = picked.into_iter().map(|index| free.nth(index)).collect();
    Some(Ranges::from_values(values?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmesos_proto::resources::resources_to_proto;

    fn offer_of(text: &str) -> Offer {
        let model: wasmesos_allocator::Resources = text.parse().expect("valid");
        Offer {
            resources: Some(resources_to_proto(&model)),
            ..Offer::default()
        }
    }

    #[test]
    fn revocable_cpus_are_apart_from_regular_ones() {
        let mut left = Capacity::of(&offer_of("cpus:1;cpus{REV}:2;mem:1GiB"));
        assert_eq!(left.get("cpus"), 1.0);
        assert_eq!(left.get_revocable("cpus"), 2.0);
        let best_effort = TaskBuilder::new("b", "digest")
            .revocable_cpus(1.5)
            .mem(1 << 20);
        let placed = left.place(best_effort).expect("fits the revocable cpus");
        assert!(
            placed
                .resources()
                .resources
                .iter()
                .any(|r| r.name == "cpus" && r.revocable)
        );
        assert_eq!(left.get("cpus"), 1.0, "the regular cpus are untouched");
        // A regular task of 1.5 cpus does not fit in 1 regular cpu, revocable ones aside.
        let regular = TaskBuilder::new("r", "digest").cpus(1.5);
        assert!(left.place(regular).is_none());
        assert!((left.get_revocable("cpus") - 0.5).abs() < 1e-9);
    }

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

    #[test]
    fn tasks_packed_into_one_offer_get_distinct_ports() {
        let mut left = Capacity::of(&offer_of("cpus:4;ports:[31000-31002,32000-32010]"));
        let exact = TaskBuilder::new("exact", "d").cpus(0.1).port(31001);
        let exact = left.place(exact).expect("31001 is offered");
        let picked = left
            .place(TaskBuilder::new("any", "d").cpus(0.1).ports(3))
            .expect("three ports are left");
        assert_eq!(exact.resources().ranges(PORTS).to_string(), "[31001-31001]");
        assert_eq!(
            picked.resources().ranges(PORTS).to_string(),
            "[31000-31000, 31002-31002, 32000-32000]"
        );
        assert!(
            left.place(TaskBuilder::new("again", "d").port(31001))
                .is_none(),
            "a port already placed is gone"
        );
        assert!(
            left.place(TaskBuilder::new("far", "d").port(40000))
                .is_none()
        );
        let before = left.clone();
        assert!(
            left.place(TaskBuilder::new("many", "d").ports(11))
                .is_none()
        );
        assert_eq!(left, before, "a task that does not fit takes nothing");
        assert_eq!(left.ranges(PORTS).count(), 10);
        let mixed = TaskBuilder::new("mixed", "d").port(32005).ports(2);
        let mixed = left.place(mixed).expect("fits");
        assert_eq!(
            mixed.resources().ranges(PORTS).to_string(),
            "[32001-32002, 32005-32005]"
        );
    }

    #[test]
    fn random_ports_are_distinct_free_ones_and_vary() {
        let offer = offer_of("cpus:4;ports:[31000-31001,31005-31009,40000-40000]");
        let offered = Capacity::of(&offer).ranges(PORTS);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let mut left = Capacity::of(&offer);
            let held = left
                .place(TaskBuilder::new("exact", "d").port(31005))
                .expect("31005 is offered");
            let task = left
                .place(TaskBuilder::new("any", "d").random_ports(3))
                .expect("seven ports are left");
            let ports = task.resources().ranges(PORTS);
            assert_eq!(ports.count(), 3, "{ports}");
            assert!(offered.contains(&ports), "{ports} is offered");
            assert!(!ports.contains(&held.resources().ranges(PORTS)));
            assert_eq!(left.ranges(PORTS).count(), 4, "what was drawn is taken");
            seen.extend(ports.values());
        }
        assert_eq!(seen.len(), 7, "every free port is drawn sometime: {seen:?}");
        let mut left = Capacity::of(&offer);
        assert!(
            left.place(TaskBuilder::new("many", "d").random_ports(9))
                .is_none()
        );
        assert_eq!(
            left.ranges(PORTS).count(),
            8,
            "a task that does not fit takes nothing"
        );
    }

    #[test]
    fn reserved_ports_keep_their_role() {
        let mut left = Capacity::of(&offer_of("ports:[31000-31000];ports(web):[80-81]"));
        let task = left
            .place(TaskBuilder::new("t", "d").ports(2))
            .expect("fits");
        let roles: Vec<(&str, String)> = task
            .resources()
            .resources
            .iter()
            .map(|r| (r.role.as_str(), r.ranges_value().to_string()))
            .collect();
        assert_eq!(
            roles,
            [("", "[31000-31000]".into()), ("web", "[80-80]".into())]
        );
    }
}
