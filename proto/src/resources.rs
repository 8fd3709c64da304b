//! The one conversion between wire resources ([`crate::Resources`]) and the resource model
//! ([`wasmesos_allocator::Resources`]), used by the master, the agent, the scheduler SDK and
//! the CLI. What a peer sends is checked here: finite amounts, well-formed names, roles,
//! ranges and set items, one kind per name, and at most [`MAX_VALUES`] ranges or items in
//! one resource.

use wasmesos_allocator::{Error, Kind, MAX_VALUES, Ranges, Resources as Model, SetItems};

use crate::v1::{Resource, Resources, ValueRange, ValueType};

/// Whether zero and negative amounts are refused (tasks) or zero entries skipped (agents).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Amounts {
    /// Every scalar above zero and every ranges or set entry non-empty: what a task asks.
    Positive,
    /// Zero scalars and empty ranges or sets are skipped: what an agent has.
    NonNegative,
}

/// Reads wire resources into the model, explaining the first bad entry.
pub fn resources_from_proto(
    resources: Option<&Resources>,
    amounts: Amounts,
) -> Result<Model, Error> {
    let mut out = Model::new();
    for item in resources
        .map(|r| r.resources.as_slice())
        .unwrap_or_default()
    {
        out = add_entry(out, item, amounts)?;
    }
    Ok(out)
}

fn add_entry(out: Model, item: &Resource, amounts: Amounts) -> Result<Model, Error> {
    let name = item.name.as_str();
    let role = match item.role.as_str() {
        "" | "*" => None,
        role => Some(role),
    };
    let bad = |why: String| Error::InvalidResources(format!("{name}: {why}"));
    let value_type = ValueType::try_from(item.r#type)
        .map_err(|_| bad(format!("unknown value type {}", item.r#type)))?;
    let too_many = |count: usize, what: &str| {
        (count > MAX_VALUES).then(|| bad(format!("{count} {what}: at most {MAX_VALUES}")))
    };
    if let Some(err) =
        too_many(item.ranges.len(), "ranges").or(too_many(item.set_items.len(), "set items"))
    {
        return Err(err);
    }
    let empty = match value_type {
        ValueType::Scalar => {
            let value = item.value;
            if !value.is_finite() {
                return Err(bad(format!("{value} is not a finite number")));
            }
            if value < 0.0 || (amounts == Amounts::Positive && value == 0.0) {
                let must = match amounts {
                    Amounts::Positive => "must be positive",
                    Amounts::NonNegative => "must not be negative",
                };
                return Err(bad(format!("{value} {must}")));
            }
            value == 0.0
        }
        ValueType::Ranges => item.ranges.is_empty(),
        ValueType::Set => item.set_items.is_empty(),
    };
    if empty {
        return match amounts {
            Amounts::Positive => Err(bad("is empty".into())),
            Amounts::NonNegative => Ok(out),
        };
    }
    if item.revocable {
        return match (value_type, role) {
            (ValueType::Scalar, None) => out.with_revocable(name, item.value),
            _ => Err(bad("revocable resources are unreserved scalars".into())),
        };
    }
    match value_type {
        ValueType::Scalar => match role {
            None => out.with(name, item.value),
            Some(role) => out.with_reserved(name, role, item.value),
        },
        ValueType::Ranges => {
            let ranges = Ranges::from_spans(item.ranges.iter().map(|r| (r.begin, r.end)))
                .map_err(|err| bad(err.to_string()))?;
            out.with_ranges(name, role, ranges)
        }
        ValueType::Set => {
            let set = SetItems::from_items(&item.set_items).map_err(|err| bad(err.to_string()))?;
            out.with_set(name, role, set)
        }
    }
}

/// Writes model resources in the wire form.
pub fn resources_to_proto(resources: &Model) -> Resources {
    Resources {
        resources: resources
            .iter()
            .map(|item| {
                let mut wire = Resource {
                    name: item.name().to_string(),
                    role: item.reservation().unwrap_or_default().to_string(),
                    revocable: item.is_revocable(),
                    ..Resource::default()
                };
                match item.kind() {
                    Kind::Scalar => wire.value = item.amount(),
                    Kind::Ranges => {
                        let ranges = item.ranges().cloned().unwrap_or_default();
                        wire = Resource::from_ranges(&wire.name, &wire.role, &ranges);
                    }
                    Kind::Set => {
                        wire.r#type = ValueType::Set as i32;
                        wire.set_items = item
                            .set()
                            .map(|s| s.iter().map(str::to_string).collect())
                            .unwrap_or_default();
                    }
                }
                wire
            })
            .collect(),
    }
}

impl Resources {
    /// The intervals of the ranges resource `name` (say `ports`) over every role; entries
    /// that are not ranges, and malformed intervals, count as none.
    pub fn ranges(&self, name: &str) -> Ranges {
        let mut out = Ranges::new();
        for resource in self.resources.iter().filter(|r| r.name == name) {
            out.add(&resource.ranges_value());
        }
        out
    }
}

impl Resource {
    /// A ranges resource: `name(role):[ranges]`; an empty `role` is unreserved.
    pub fn from_ranges(name: &str, role: &str, ranges: &Ranges) -> Resource {
        Resource {
            name: name.to_string(),
            role: role.to_string(),
            r#type: ValueType::Ranges as i32,
            ranges: ranges
                .spans()
                .iter()
                .map(|&(begin, end)| ValueRange { begin, end })
                .collect(),
            ..Resource::default()
        }
    }

    /// The intervals of a ranges resource; none for other kinds, and malformed intervals
    /// (begin after end) are left out.
    pub fn ranges_value(&self) -> Ranges {
        if self.r#type != ValueType::Ranges as i32 {
            return Ranges::new();
        }
        let spans = self
            .ranges
            .iter()
            .filter(|r| r.begin <= r.end)
            .map(|r| (r.begin, r.end));
        Ranges::from_spans(spans).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(name: &str, value: f64, role: &str) -> Resource {
        Resource {
            name: name.into(),
            value,
            role: role.into(),
            ..Resource::default()
        }
    }

    fn ports(spans: &[(u64, u64)]) -> Resource {
        Resource {
            name: "ports".into(),
            r#type: ValueType::Ranges as i32,
            ranges: spans
                .iter()
                .map(|&(begin, end)| ValueRange { begin, end })
                .collect(),
            ..Resource::default()
        }
    }

    fn wire(items: Vec<Resource>) -> Resources {
        Resources { resources: items }
    }

    #[test]
    fn round_trips_every_kind_and_keeps_reservations() {
        let model: Model =
            "cpus:2;cpus(ads):1;cpus{REV}:0.5;mem:1GiB;ports:[31000-31005,32000-32010];zones(ads):{a,b}"
                .parse()
                .expect("valid");
        let back = resources_from_proto(Some(&resources_to_proto(&model)), Amounts::Positive);
        assert_eq!(back, Ok(model));
        let mut reserved_revocable = scalar("cpus", 1.0, "ads");
        reserved_revocable.revocable = true;
        let err = resources_from_proto(Some(&wire(vec![reserved_revocable])), Amounts::Positive)
            .expect_err("a reserved revocable resource is refused");
        assert!(err.to_string().contains("unreserved scalars"), "{err}");
        let old = wire(vec![scalar("cpus", 2.0, ""), scalar("mem", 1024.0, "*")]);
        let read = resources_from_proto(Some(&old), Amounts::Positive).expect("old records read");
        assert_eq!(read.get("cpus"), 2.0);
        assert_eq!(old.ranges("ports"), Ranges::new());
        assert_eq!(
            wire(vec![ports(&[(5, 6), (1, 2)])]).ranges("ports").count(),
            4
        );
    }

    #[test]
    fn refuses_bad_entries_by_name() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let input = wire(vec![scalar("cpus", bad, "")]);
            let err = resources_from_proto(Some(&input), Amounts::Positive).err();
            assert!(err.is_some_and(|e| e.to_string().contains("cpus")), "{bad}");
        }
        let zero = wire(vec![
            scalar("cpus", 0.0, ""),
            scalar("mem", 5.0, ""),
            ports(&[]),
        ]);
        let agent = resources_from_proto(Some(&zero), Amounts::NonNegative).expect("zero skipped");
        assert_eq!(agent.get("cpus"), 0.0);
        for bad in [
            vec![scalar("mem", -5.0, "")],
            vec![scalar("", 1.0, "")],
            vec![ports(&[(10, 5)])],
            vec![ports(&[(1, 2)]), scalar("ports", 1.0, "")],
            vec![Resource {
                r#type: 9,
                ..scalar("x", 1.0, "")
            }],
            vec![Resource {
                r#type: ValueType::Set as i32,
                set_items: vec!["a b".into()],
                ..scalar("zones", 0.0, "")
            }],
        ] {
            let input = wire(bad);
            assert!(
                resources_from_proto(Some(&input), Amounts::NonNegative).is_err(),
                "{input:?}"
            );
        }
        let empty_task = wire(vec![ports(&[])]);
        assert!(resources_from_proto(Some(&empty_task), Amounts::Positive).is_err());
    }

    /// `Resource` as it was before ranges and sets: what old registries and checkpoints hold.
    #[derive(Clone, PartialEq, prost::Message)]
    struct ScalarOnlyResource {
        #[prost(string, tag = "1")]
        name: String,
        #[prost(double, tag = "2")]
        value: f64,
        #[prost(string, tag = "3")]
        role: String,
    }

    #[test]
    fn records_written_before_ranges_read_as_scalars() {
        use prost::Message;
        let old = ScalarOnlyResource {
            name: "mem".into(),
            value: 1024.0,
            role: "ads".into(),
        };
        let read = Resource::decode(old.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(read.r#type, ValueType::Scalar as i32);
        let model = resources_from_proto(Some(&wire(vec![read])), Amounts::Positive).expect("ok");
        assert_eq!(model.get_reserved("mem", "ads"), 1024.0);
    }

    #[test]
    fn more_than_the_bound_is_refused() {
        let spans: Vec<(u64, u64)> = (0..=MAX_VALUES as u64).map(|i| (i * 3, i * 3)).collect();
        let err = resources_from_proto(Some(&wire(vec![ports(&spans)])), Amounts::Positive);
        assert!(err.is_err_and(|e| e.to_string().contains("at most 1024")));
        let ok: Vec<(u64, u64)> = spans.iter().copied().take(MAX_VALUES).collect();
        assert!(resources_from_proto(Some(&wire(vec![ports(&ok)])), Amounts::Positive).is_ok());
    }
}
