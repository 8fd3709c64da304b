//! Conversions between wire types and the allocator's, and the statuses the master writes.

use wasmesos_allocator::Resources;
use wasmesos_proto::v1::{self as proto, Reason, StatusSource, TaskState, TaskStatus};

/// Whether zero and negative amounts are refused (tasks) or zero entries skipped (agents).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Amounts {
    Positive,
    NonNegative,
}

/// Converts wire resources, explaining the first bad entry.
pub(crate) fn resources_from_proto(
    resources: Option<&proto::Resources>,
    amounts: Amounts,
) -> Result<Resources, String> {
    let mut out = Resources::new();
    for item in resources
        .map(|r| r.resources.as_slice())
        .unwrap_or_default()
    {
        let (name, value) = (item.name.as_str(), item.value);
        if !value.is_finite() {
            return Err(format!("{name}: {value} is not a finite number"));
        }
        match amounts {
            Amounts::Positive if value <= 0.0 => {
                return Err(format!("{name}: {value} must be positive"));
            }
            Amounts::NonNegative if value < 0.0 => {
                return Err(format!("{name}: {value} must not be negative"));
            }
            Amounts::NonNegative if value == 0.0 => continue,
            _ => {}
        }
        out = match item.role.as_str() {
            "" | "*" => out.with(name, value),
            role => out.with_reserved(name, role, value),
        }
        .map_err(|err| err.to_string())?;
    }
    Ok(out)
}

/// Converts allocator resources to the wire form.
pub(crate) fn resources_to_proto(resources: &Resources) -> proto::Resources {
    proto::Resources {
        resources: resources
            .iter()
            .map(|item| proto::Resource {
                name: item.name().to_string(),
                value: item.amount(),
                role: item.reservation().unwrap_or_default().to_string(),
            })
            .collect(),
    }
}

/// A status the master writes itself (LOST, ERROR, answers to KILL and RECONCILE): it
/// carries no uuid, so nobody acknowledges it.
pub(crate) struct MasterStatus<'a> {
    pub(crate) framework_id: &'a str,
    pub(crate) agent_id: &'a str,
    pub(crate) task_id: &'a str,
    pub(crate) timestamp: f64,
}

impl MasterStatus<'_> {
    pub(crate) fn build(&self, state: TaskState, reason: Reason, message: String) -> TaskStatus {
        TaskStatus {
            task_id: self.task_id.to_string(),
            state: state as i32,
            reason: reason as i32,
            message,
            agent_id: self.agent_id.to_string(),
            framework_id: self.framework_id.to_string(),
            timestamp: self.timestamp,
            source: StatusSource::SourceMaster as i32,
            ..TaskStatus::default()
        }
    }
}

/// The task state a status carries, or `None` for values outside the enum.
pub(crate) fn state_of(status: &TaskStatus) -> Option<TaskState> {
    TaskState::try_from(status.state)
        .ok()
        .filter(|s| *s != TaskState::Unspecified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(pairs: &[(&str, f64, &str)]) -> proto::Resources {
        proto::Resources {
            resources: pairs
                .iter()
                .map(|(name, value, role)| proto::Resource {
                    name: name.to_string(),
                    value: *value,
                    role: role.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn round_trips_and_keeps_reservations() {
        let input = wire(&[
            ("cpus", 2.0, ""),
            ("mem", 1024.0, "*"),
            ("cpus", 1.0, "ads"),
        ]);
        let parsed = resources_from_proto(Some(&input), Amounts::Positive).expect("valid");
        assert_eq!(parsed.get("cpus"), 3.0);
        assert_eq!(parsed.get_reserved("cpus", "ads"), 1.0);
        let back = resources_to_proto(&parsed);
        assert_eq!(back.scalar("cpus"), 3.0);
        assert_eq!(back.scalar("mem"), 1024.0);
    }

    #[test]
    fn refuses_bad_amounts_by_name() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let input = wire(&[("cpus", bad, "")]);
            let err = resources_from_proto(Some(&input), Amounts::Positive).err();
            assert!(err.is_some_and(|e| e.contains("cpus")), "{bad}");
        }
        let zero = wire(&[("cpus", 0.0, ""), ("mem", 5.0, "")]);
        let agent = resources_from_proto(Some(&zero), Amounts::NonNegative).expect("zero skipped");
        assert_eq!(agent.get("cpus"), 0.0);
        let negative = wire(&[("mem", -5.0, "")]);
        assert!(resources_from_proto(Some(&negative), Amounts::NonNegative).is_err());
        let unnamed = wire(&[("", 1.0, "")]);
        assert!(resources_from_proto(Some(&unnamed), Amounts::Positive).is_err());
    }
}
