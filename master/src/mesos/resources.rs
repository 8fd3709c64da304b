//! Resources between Mesos's form and wasmesos's: Mesos nests values (`scalar`, `ranges`,
//! `set`), counts `mem` and `disk` in MB where wasmesos counts bytes, and names a reservation
//! either in `reservations` (frameworks with RESERVATION_REFINEMENT) or in the older `role`.
//! Offers carry `allocation_info.role`, the role they are offered to.

use wasmesos_proto::mesos::v1 as mesos;
use wasmesos_proto::resource_names::{DISK, MEM};
use wasmesos_proto::v1::{Resource, ValueRange, ValueType};

/// Bytes in Mesos's megabyte.
const MB: f64 = 1024.0 * 1024.0;

/// Most resources one Mesos message may list.
pub(crate) const MAX_RESOURCES: usize = 1024;

/// How a framework reads reservations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReservationFormat {
    /// `reservations`, a stack of roles (the RESERVATION_REFINEMENT capability).
    Refined,
    /// `role` plus `reservation`, as before refinement.
    Legacy,
}

fn is_bytes(name: &str) -> bool {
    name == MEM || name == DISK
}

/// A wasmesos resource as Mesos writes it in an offer to `allocation_role`.
#[allow(
    deprecated,
    reason = "`role` is how frameworks without RESERVATION_REFINEMENT read reservations"
)]
pub(crate) fn to_mesos(
    resource: &Resource,
    allocation_role: Option<&str>,
    format: ReservationFormat,
) -> mesos::Resource {
    let mut out = mesos::Resource {
        name: resource.name.clone(),
        ..Default::default()
    };
    match ValueType::try_from(resource.r#type).unwrap_or(ValueType::Scalar) {
        ValueType::Scalar => {
            let value = if is_bytes(&resource.name) {
                resource.value / MB
            } else {
                resource.value
            };
            out.r#type = mesos::value::Type::Scalar as i32;
            out.scalar = Some(mesos::value::Scalar { value });
        }
        ValueType::Ranges => {
            out.r#type = mesos::value::Type::Ranges as i32;
            out.ranges = Some(mesos::value::Ranges {
                range: resource
                    .ranges
                    .iter()
                    .map(|r| mesos::value::Range {
                        begin: r.begin,
                        end: r.end,
                    })
                    .collect(),
            });
        }
        ValueType::Set => {
            out.r#type = mesos::value::Type::Set as i32;
            out.set = Some(mesos::value::Set {
                item: resource.set_items.clone(),
            });
        }
    }
    if resource.revocable {
        out.revocable = Some(mesos::resource::RevocableInfo {});
    }
    out.allocation_info = allocation_role.map(|role| mesos::resource::AllocationInfo {
        role: Some(role.to_string()),
    });
    let reserved = !resource.role.is_empty() && resource.role != "*";
    match format {
        ReservationFormat::Refined => {
            if reserved {
                out.reservations = vec![reservation(&resource.role)];
            }
        }
        ReservationFormat::Legacy => {
            out.role = Some(if reserved {
                resource.role.clone()
            } else {
                "*".to_string()
            });
            if reserved {
                out.reservation = Some(mesos::resource::ReservationInfo::default());
            }
        }
    }
    out
}

fn reservation(role: &str) -> mesos::resource::ReservationInfo {
    mesos::resource::ReservationInfo {
        r#type: Some(mesos::resource::reservation_info::Type::Dynamic as i32),
        role: Some(role.to_string()),
        ..Default::default()
    }
}

/// A Mesos resource as wasmesos counts it; the reservation's role is the last of
/// `reservations`, else `role` unless it is `*`.
#[allow(
    deprecated,
    reason = "`role` is how frameworks without RESERVATION_REFINEMENT name reservations"
)]
pub(crate) fn from_mesos(resource: &mesos::Resource) -> Result<Resource, String> {
    let role = resource
        .reservations
        .last()
        .and_then(|r| r.role.clone())
        .or_else(|| resource.role.clone().filter(|role| role != "*"))
        .unwrap_or_default();
    let mut out = Resource {
        name: resource.name.clone(),
        role,
        revocable: resource.revocable.is_some(),
        ..Default::default()
    };
    let kind = mesos::value::Type::try_from(resource.r#type)
        .map_err(|_| format!("resource '{}' has an unknown type", resource.name))?;
    match kind {
        mesos::value::Type::Scalar => {
            let value = resource
                .scalar
                .as_ref()
                .ok_or_else(|| format!("scalar resource '{}' has no 'scalar'", resource.name))?
                .value;
            out.r#type = ValueType::Scalar as i32;
            out.value = if is_bytes(&resource.name) {
                value * MB
            } else {
                value
            };
        }
        mesos::value::Type::Ranges => {
            out.r#type = ValueType::Ranges as i32;
            out.ranges = resource
                .ranges
                .as_ref()
                .map(|ranges| {
                    ranges
                        .range
                        .iter()
                        .map(|r| ValueRange {
                            begin: r.begin,
                            end: r.end,
                        })
                        .collect()
                })
                .unwrap_or_default();
        }
        mesos::value::Type::Set => {
            out.r#type = ValueType::Set as i32;
            out.set_items = resource
                .set
                .as_ref()
                .map(|set| set.item.clone())
                .unwrap_or_default();
        }
        mesos::value::Type::Text => {
            return Err(format!(
                "resource '{}' is TEXT, which is not a resource type",
                resource.name
            ));
        }
    }
    Ok(out)
}

/// Several Mesos resources as wasmesos's, at most [`MAX_RESOURCES`].
pub(crate) fn all_from_mesos(
    resources: &[mesos::Resource],
) -> Result<wasmesos_proto::v1::Resources, String> {
    if resources.len() > MAX_RESOURCES {
        return Err(format!(
            "{} resources listed, at most {MAX_RESOURCES} are accepted",
            resources.len()
        ));
    }
    Ok(wasmesos_proto::v1::Resources {
        resources: resources.iter().map(from_mesos).collect::<Result<_, _>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(deprecated, reason = "the legacy `role` is what this checks")]
    fn mem_is_megabytes_and_reservations_round_trip() {
        let mem = Resource {
            name: "mem".into(),
            value: 256.0 * MB,
            role: "ads".into(),
            ..Default::default()
        };
        let mesos = to_mesos(&mem, Some("ads"), ReservationFormat::Refined);
        assert_eq!(mesos.scalar.as_ref().map(|s| s.value), Some(256.0));
        assert_eq!(mesos.reservations.len(), 1);
        assert_eq!(
            mesos
                .allocation_info
                .as_ref()
                .and_then(|a| a.role.as_deref()),
            Some("ads")
        );
        assert_eq!(from_mesos(&mesos), Ok(mem));
        let legacy = to_mesos(&Resource::default(), None, ReservationFormat::Legacy);
        assert_eq!(legacy.role.as_deref(), Some("*"));
    }

    #[test]
    fn ports_are_ranges_and_text_is_refused() {
        let ports = Resource {
            name: "ports".into(),
            r#type: ValueType::Ranges as i32,
            ranges: vec![ValueRange {
                begin: 31000,
                end: 31005,
            }],
            ..Default::default()
        };
        let mesos = to_mesos(&ports, None, ReservationFormat::Refined);
        assert_eq!(from_mesos(&mesos), Ok(ports));
        let text = mesos::Resource {
            name: "x".into(),
            r#type: mesos::value::Type::Text as i32,
            ..Default::default()
        };
        assert!(from_mesos(&text).is_err());
    }
}
