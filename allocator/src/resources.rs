//! Named resources, reserved or not, in the Mesos agent syntax, of Mesos's three kinds:
//! scalars (`cpus:4`), ranges (`ports:[31000-32000]`, see [`Ranges`]) and sets
//! (`zones:{a,b}`, see [`SetItems`]).
//!
//! Scalar amounts are fixed point: `mem` and `disk` are whole bytes, every other name is
//! counted in thousandths (Mesos also rounds scalars to three decimals). Integer
//! arithmetic means sums and differences never drift, so "free + offered + used =
//! total" holds exactly and nothing can go negative through rounding.

mod parse;
mod ranges;
mod set;
mod value;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;
pub use parse::parse_size;
pub use ranges::Ranges;
pub use set::{MAX_ITEM_LEN, SetItems};
pub(crate) use value::Value;
pub use value::{Kind, MAX_VALUES};

/// How the agent syntax marks a revocable entry (`cpus{REV}:0.5`), as Mesos prints one.
pub(crate) const REVOCABLE_MARK: &str = "{REV}";

/// Units per whole for names that are not byte quantities.
pub(crate) const MILLI: i64 = 1000;

/// Largest amount one entry may hold (1 PiB of memory, 10^12 cpus), so that sums over
/// thousands of such agents stay in `i64`; sums saturate rather than wrap beyond that.
pub(crate) const MAX_UNITS: i64 = 1 << 50;

/// `mem` and `disk` are counted in bytes; everything else in thousandths.
pub(crate) fn is_bytes(name: &str) -> bool {
    matches!(name, "mem" | "disk")
}

/// One entry: `name(role):value`, or `name:value` when unreserved; `name{REV}:value` when
/// revocable (Mesos's notation for it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Resource {
    name: Arc<str>,
    reservation: Option<Arc<str>>,
    /// Oversubscribed: an agent's estimate of CPU its tasks hold but do not use. Always
    /// unreserved and scalar.
    revocable: bool,
    value: Value,
}

impl Resource {
    /// The resource name, e.g. `cpus`, `mem`, `gpus`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The role this entry is reserved for, or `None` for the unreserved pool (`*`).
    pub fn reservation(&self) -> Option<&str> {
        self.reservation.as_deref()
    }

    /// Whether the entry is revocable (oversubscribed).
    pub fn is_revocable(&self) -> bool {
        self.revocable
    }

    /// Scalar, ranges or set.
    pub fn kind(&self) -> Kind {
        self.value.kind()
    }

    /// A scalar's amount in natural units (bytes for `mem`/`disk`, a count otherwise); for
    /// ranges and sets, how many values or items they hold.
    pub fn amount(&self) -> f64 {
        match &self.value {
            Value::Scalar(units) => units_to_amount(&self.name, *units),
            Value::Ranges(ranges) => ranges.count() as f64,
            Value::Set(set) => set.len() as f64,
        }
    }

    /// The intervals of a ranges entry.
    pub fn ranges(&self) -> Option<&Ranges> {
        match &self.value {
            Value::Ranges(ranges) => Some(ranges),
            _ => None,
        }
    }

    /// The items of a set entry.
    pub fn set(&self) -> Option<&SetItems> {
        match &self.value {
            Value::Set(set) => Some(set),
            _ => None,
        }
    }

    /// Fixed-point units of a scalar; 0 for ranges and sets.
    pub(crate) fn units(&self) -> i64 {
        match self.value {
            Value::Scalar(units) => units,
            _ => 0,
        }
    }

    pub(crate) fn value(&self) -> &Value {
        &self.value
    }

    pub(crate) fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    fn key(&self) -> (&str, Option<&str>, bool, Kind) {
        (
            &self.name,
            self.reservation.as_deref(),
            self.revocable,
            self.value.kind(),
        )
    }
}

/// A bag of resources, sorted by name, reservation and kind, without zero or empty entries.
///
/// Parse and display use the Mesos agent syntax:
/// `"cpus:4;mem:8GiB;cpus(ads):2;gpus:1;ports:[31000-32000];zones:{a,b}"`.
/// `mem` and `disk` accept `B`, binary `KiB`..`TiB` (or `K`..`T`) and decimal `KB`..`TB`, in
/// any case; a plain number means MiB, as in Mesos. Display uses the largest exact binary
/// unit. Ranges are inclusive intervals of whole numbers (`[31000-31005,32000-32010]`), sets
/// are names (`{a,b}`); a parsed entry holds at most [`MAX_VALUES`] of either, and one name
/// has one kind. A role of `*` means unreserved.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Resources {
    items: Vec<Resource>,
}

impl Resources {
    /// No resources.
    pub fn new() -> Self {
        Self::default()
    }

    /// `amount` of unreserved `name` (bytes for `mem`/`disk`).
    pub fn scalar(name: &str, amount: f64) -> Result<Self, Error> {
        Self::new().with(name, amount)
    }

    /// Adds `amount` of unreserved `name` (bytes for `mem`/`disk`).
    pub fn with(self, name: &str, amount: f64) -> Result<Self, Error> {
        self.with_entry(name, None, amount)
    }

    /// Adds `amount` of `name` reserved for `role` (bytes for `mem`/`disk`).
    pub fn with_reserved(self, name: &str, role: &str, amount: f64) -> Result<Self, Error> {
        self.with_entry(name, Some(role), amount)
    }

    fn with_entry(mut self, name: &str, role: Option<&str>, amount: f64) -> Result<Self, Error> {
        parse::validate_name(name)?;
        let reservation = match role {
            Some(role) if role != "*" => Some(Arc::from(crate::roles::validate_role(role)?)),
            _ => None,
        };
        let units = amount_to_units(name, amount)?;
        self.push_checked(name, reservation, Value::Scalar(units))?;
        Ok(self)
    }

    /// Adds `ranges` of `name` (e.g. `ports`), reserved for `role` unless it is `None` or `*`.
    pub fn with_ranges(
        self,
        name: &str,
        role: Option<&str>,
        ranges: Ranges,
    ) -> Result<Self, Error> {
        self.with_value(name, role, Value::Ranges(ranges))
    }

    /// Adds the `set` items of `name` (e.g. `zones`), reserved for `role` unless it is `None`
    /// or `*`.
    pub fn with_set(self, name: &str, role: Option<&str>, set: SetItems) -> Result<Self, Error> {
        self.with_value(name, role, Value::Set(set))
    }

    fn with_value(mut self, name: &str, role: Option<&str>, value: Value) -> Result<Self, Error> {
        parse::validate_name(name)?;
        let reservation = match role {
            Some(role) if role != "*" => Some(Arc::from(crate::roles::validate_role(role)?)),
            _ => None,
        };
        self.push_checked(name, reservation, value)?;
        Ok(self)
    }

    fn push_checked(
        &mut self,
        name: &str,
        reservation: Option<Arc<str>>,
        value: Value,
    ) -> Result<(), Error> {
        self.push(Resource {
            name: Arc::from(name),
            reservation,
            revocable: false,
            value,
        });
        self.check_bounds()
    }

    /// Adds `amount` of revocable `name` (bytes for `mem`/`disk`): always unreserved.
    pub fn with_revocable(mut self, name: &str, amount: f64) -> Result<Self, Error> {
        parse::validate_name(name)?;
        let units = amount_to_units(name, amount)?;
        self.push(Resource {
            name: Arc::from(name),
            reservation: None,
            revocable: true,
            value: Value::Scalar(units),
        });
        self.check_bounds()?;
        Ok(self)
    }

    /// Every scalar within [`MAX_UNITS`] (entries of one name merge, so sums are checked),
    /// every ranges or set entry within [`MAX_VALUES`], one kind per name, and revocable
    /// entries unreserved scalars.
    pub(crate) fn check_bounds(&self) -> Result<(), Error> {
        if let Some(item) = self.items.iter().find(|item| {
            item.revocable && (item.reservation.is_some() || item.kind() != Kind::Scalar)
        }) {
            return Err(Error::InvalidResources(format!(
                "{}: revocable resources are unreserved scalars",
                item.name
            )));
        }
        if let Some(item) = self.items.iter().find(|item| item.units() > MAX_UNITS) {
            return Err(Error::InvalidResources(format!(
                "{}: {} is more than one entry may hold",
                item.name,
                item.amount()
            )));
        }
        if let Some(item) = self.items.iter().find(|i| i.value.pieces() > MAX_VALUES) {
            return Err(Error::InvalidResources(format!(
                "{}: {} {} is more than one entry may hold (at most {MAX_VALUES})",
                item.name,
                item.value.pieces(),
                if item.kind() == Kind::Set {
                    "items"
                } else {
                    "ranges"
                },
            )));
        }
        for pair in self.items.windows(2) {
            if let [a, b] = pair
                && a.name == b.name
                && a.kind() != b.kind()
            {
                return Err(Error::InvalidResources(format!(
                    "{}: given both as {} and as {}; a name has one kind",
                    a.name,
                    a.kind().name(),
                    b.kind().name()
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn entry(
        name: Arc<str>,
        reservation: Option<Arc<str>>,
        revocable: bool,
        value: Value,
    ) -> Resource {
        Resource {
            name,
            reservation,
            revocable,
            value,
        }
    }

    /// Adds one entry, merging with an equal name, reservation and kind.
    pub(crate) fn push(&mut self, item: Resource) {
        if item.value.is_empty() {
            return;
        }
        match self
            .items
            .binary_search_by(|probe| probe.key().cmp(&item.key()))
        {
            Ok(at) => self.items[at].value.merge(&item.value),
            Err(at) => self.items.insert(at, item),
        }
    }

    /// True when there is nothing in the bag.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The entries, sorted by name then reservation (unreserved first).
    pub fn iter(&self) -> impl Iterator<Item = &Resource> {
        self.items.iter()
    }

    /// The total of the scalar `name` over every reservation, in natural units (0 for ranges
    /// and sets: see [`Resources::ranges`] and [`Resources::set`]).
    pub fn get(&self, name: &str) -> f64 {
        units_to_amount(name, self.units_of(name, |_| true))
    }

    /// The unreserved amount of the scalar `name`, in natural units.
    pub fn get_unreserved(&self, name: &str) -> f64 {
        units_to_amount(name, self.units_of(name, |r| r.is_none()))
    }

    /// The amount of the scalar `name` reserved for exactly `role`, in natural units.
    pub fn get_reserved(&self, name: &str, role: &str) -> f64 {
        units_to_amount(name, self.units_of(name, |r| r == Some(role)))
    }

    fn units_of(&self, name: &str, keep: impl Fn(Option<&str>) -> bool) -> i64 {
        self.items
            .iter()
            .filter(|item| &*item.name == name && keep(item.reservation()))
            .map(Resource::units)
            .fold(0, i64::saturating_add)
    }

    /// Every interval of the ranges resource `name` (say `ports`), over every reservation.
    pub fn ranges(&self, name: &str) -> Ranges {
        let mut out = Ranges::new();
        for ranges in self.named(name).filter_map(Resource::ranges) {
            out.add(ranges);
        }
        out
    }

    /// Every item of the set resource `name` (say `zones`), over every reservation.
    pub fn set(&self, name: &str) -> SetItems {
        let mut out = SetItems::new();
        for set in self.named(name).filter_map(Resource::set) {
            out.add(set);
        }
        out
    }

    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.items.iter().filter(move |item| &*item.name == name)
    }

    /// Only the scalar entries: what DRF shares and quota count.
    pub fn scalars(&self) -> Resources {
        self.filtered(|item| item.kind() == Kind::Scalar)
    }

    /// The distinct resource names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.items.iter().map(Resource::name).collect();
        names.dedup();
        names
    }

    /// Only the revocable entries.
    pub fn revocable(&self) -> Resources {
        self.filtered(|item| item.revocable)
    }

    /// Only the entries that are not revocable.
    pub fn non_revocable(&self) -> Resources {
        self.filtered(|item| !item.revocable)
    }

    /// The unreserved scalar `name` that is revocable, in natural units.
    pub fn get_revocable(&self, name: &str) -> f64 {
        let units = self
            .items
            .iter()
            .filter(|item| &*item.name == name && item.revocable)
            .map(Resource::units)
            .fold(0, i64::saturating_add);
        units_to_amount(name, units)
    }

    /// Only the unreserved entries.
    pub fn unreserved(&self) -> Resources {
        self.filtered(|item| item.reservation.is_none())
    }

    /// Only the reserved entries, whatever their role.
    pub fn reserved(&self) -> Resources {
        self.filtered(|item| item.reservation.is_some())
    }

    /// Only the entries reserved for exactly `role`.
    pub fn reserved_for(&self, role: &str) -> Resources {
        self.filtered(|item| item.reservation() == Some(role))
    }

    fn filtered(&self, keep: impl Fn(&Resource) -> bool) -> Resources {
        Resources {
            items: self
                .items
                .iter()
                .filter(|item| keep(item))
                .cloned()
                .collect(),
        }
    }

    /// The same quantities with every reservation dropped (sums per name).
    pub fn quantities(&self) -> Resources {
        let mut out = Resources::new();
        for item in &self.items {
            out.push(Resource {
                name: item.name.clone(),
                reservation: None,
                revocable: item.revocable,
                value: item.value.clone(),
            });
        }
        out
    }

    /// The same quantities, all reserved for `role` (`*` unreserves them).
    pub fn reserve_for(&self, role: &str) -> Result<Resources, Error> {
        let reservation = match role {
            "*" => None,
            role => Some(Arc::from(crate::roles::validate_role(role)?)),
        };
        let mut out = Resources::new();
        for item in &self.items {
            out.push(Resource {
                name: item.name.clone(),
                reservation: reservation.clone(),
                revocable: item.revocable,
                value: item.value.clone(),
            });
        }
        Ok(out)
    }

    /// Adds every entry of `other`.
    pub fn add(&mut self, other: &Resources) {
        for item in &other.items {
            self.push(item.clone());
        }
    }

    /// True when every entry of `other` (name and reservation) fits in `self`.
    pub fn contains(&self, other: &Resources) -> bool {
        other.items.iter().all(|wanted| {
            self.items
                .binary_search_by(|probe| probe.key().cmp(&wanted.key()))
                .is_ok_and(|at| self.items[at].value.contains(&wanted.value))
        })
    }

    /// `self - other`, or `None` when `other` does not fit in `self`.
    pub fn checked_sub(&self, other: &Resources) -> Option<Resources> {
        if !self.contains(other) {
            return None;
        }
        let mut out = self.clone();
        for wanted in &other.items {
            if let Ok(at) = out
                .items
                .binary_search_by(|probe| probe.key().cmp(&wanted.key()))
            {
                out.items[at].value.subtract(&wanted.value);
            }
        }
        out.items.retain(|item| !item.value.is_empty());
        Some(out)
    }
}

/// Converts a natural amount into fixed-point units, rejecting negatives and non-finite values.
pub(crate) fn amount_to_units(name: &str, amount: f64) -> Result<i64, Error> {
    let scale = if is_bytes(name) { 1.0 } else { MILLI as f64 };
    let units = (amount * scale).round();
    if !amount.is_finite() || units < 0.0 || units > MAX_UNITS as f64 {
        return Err(Error::InvalidResources(format!(
            "{name}: amount {amount} must be a finite number between 0 and {}",
            MAX_UNITS as f64 / scale
        )));
    }
    Ok(units as i64)
}

pub(crate) fn units_to_amount(name: &str, units: i64) -> f64 {
    if is_bytes(name) {
        units as f64
    } else {
        units as f64 / MILLI as f64
    }
}

impl FromStr for Resources {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        parse::parse(text)
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, item) in self.items.iter().enumerate() {
            if at > 0 {
                f.write_str(";")?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(role) = &self.reservation {
            write!(f, "({role})")?;
        }
        if self.revocable {
            f.write_str(REVOCABLE_MARK)?;
        }
        f.write_str(":")?;
        self.value.write(f, is_bytes(&self.name))
    }
}

/// Serialized as the agent syntax string, which round-trips exactly.
impl Serialize for Resources {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Resources {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
