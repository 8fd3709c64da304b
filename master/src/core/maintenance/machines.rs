//! Machines: how they are compared and matched to agents, and the checks Mesos makes of a
//! schedule and of a list of machines (`master/maintenance.cpp`'s `validation`), with its
//! messages.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use wasmesos_proto::v1::{MachineId, MachineInfo, MachineMode, MaintenanceSchedule};

use crate::Error;

/// A machine as Mesos compares them: the hostname lower-cased, the IP as written; an empty
/// field is one not given.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct MachineKey {
    hostname: String,
    ip: String,
}

impl MachineKey {
    pub(super) fn of(id: &MachineId) -> Self {
        Self {
            hostname: id.hostname.to_ascii_lowercase(),
            ip: id.ip.clone(),
        }
    }

    fn new(hostname: &str, ip: &str) -> Self {
        Self {
            hostname: hostname.to_ascii_lowercase(),
            ip: ip.to_string(),
        }
    }
}

/// The scheduled machine an agent announcing `hostname` and `address` is on: the one with
/// both its hostname and IP, else one given by that hostname alone, else by that IP alone.
/// (Mesos matches only the first; a machine scheduled by one field is a wasmesos extension
/// for clusters whose agents do not announce a fixed IP.)
pub(super) fn machine_of<'a>(
    machines: &'a BTreeMap<MachineKey, MachineInfo>,
    hostname: &str,
    address: &str,
) -> Option<(&'a MachineKey, &'a MachineInfo)> {
    let ip = ip_of(address);
    let candidates = [
        MachineKey::new(hostname, &ip),
        MachineKey::new(hostname, ""),
        MachineKey::new("", &ip),
    ];
    candidates
        .iter()
        .filter(|key| !(key.hostname.is_empty() && key.ip.is_empty()))
        .find_map(|key| machines.get_key_value(key))
}

/// The IPv4 address in an agent's address (`http://10.0.0.1:5051`), as Mesos's machine ids
/// carry it; empty when the host is a name or an IPv6 address (not IPv4-mapped).
pub(super) fn ip_of(address: &str) -> String {
    let rest = address.split_once("://").map_or(address, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(bracketed),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    let v4: Option<Ipv4Addr> = match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => Some(v4),
        Ok(IpAddr::V6(v6)) => v6.to_ipv4_mapped(),
        Err(_) => None,
    };
    v4.map(|ip| ip.to_string()).unwrap_or_default()
}

/// Mesos's `stringify(JSON::protobuf(id))`: `{"hostname":"h","ip":"10.0.0.1"}` with only
/// the fields given.
pub(super) fn machine_text(id: &MachineId) -> String {
    let mut fields = serde_json::Map::new();
    if !id.hostname.is_empty() {
        fields.insert("hostname".into(), id.hostname.clone().into());
    }
    if !id.ip.is_empty() {
        fields.insert("ip".into(), id.ip.clone().into());
    }
    serde_json::Value::Object(fields).to_string()
}

fn refuse(message: String) -> Error {
    Error::InvalidArgument(message)
}

/// The longest hostname a machine id may carry (DNS's limit), so that no message that
/// names a machine grows with what a caller sent.
const MAX_HOSTNAME: usize = 255;

/// One machine id: a hostname or an IP, and an IP that is IPv4 (Mesos parses it as such).
/// A hostname longer than [`MAX_HOSTNAME`] is refused too (Mesos has no limit).
fn check_machine(id: &MachineId) -> Result<(), Error> {
    if id.hostname.is_empty() && id.ip.is_empty() {
        return Err(refuse(
            "Both 'hostname' and 'ip' for a machine are empty".into(),
        ));
    }
    if id.hostname.len() > MAX_HOSTNAME {
        return Err(refuse(format!(
            "A machine's 'hostname' is {} bytes, more than the {MAX_HOSTNAME} allowed",
            id.hostname.len()
        )));
    }
    if !id.ip.is_empty() && id.ip.parse::<Ipv4Addr>().is_err() {
        // "255.255.255.255" is the longest an IPv4 address is written.
        return Err(refuse(if id.ip.len() <= 15 {
            format!("Failed to parse IPv4: {}", id.ip)
        } else {
            format!("Failed to parse IPv4: an address of {} bytes", id.ip.len())
        }));
    }
    Ok(())
}

/// Mesos's `validation::schedule`: every window has machines and an unavailability whose
/// duration is not negative, every machine is valid and appears once, and no DOWN machine
/// is left out (the schedule cannot bring a machine up).
pub(super) fn check_schedule(
    schedule: &MaintenanceSchedule,
    machines: &BTreeMap<MachineKey, MachineInfo>,
) -> Result<(), Error> {
    let mut seen = HashSet::new();
    for window in &schedule.windows {
        if window.machine_ids.is_empty() {
            return Err(refuse(
                "List of machines in the maintenance window is empty".into(),
            ));
        }
        let Some(unavailability) = &window.unavailability else {
            return Err(refuse(
                "A maintenance window's 'unavailability' is required".into(),
            ));
        };
        if unavailability.duration_nanos.is_some_and(|d| d < 0) {
            return Err(refuse("Unavailability 'duration' is negative".into()));
        }
        for id in &window.machine_ids {
            check_machine(id)?;
            if !seen.insert(MachineKey::of(id)) {
                return Err(refuse(format!(
                    "Machine '{}' appears more than once in the schedule",
                    machine_text(id)
                )));
            }
        }
    }
    for (key, machine) in machines {
        if machine.mode() == MachineMode::MachineDown && !seen.contains(key) {
            let id = machine.id.clone().unwrap_or_default();
            return Err(refuse(format!(
                "Machine '{}' is deactivated and cannot be removed from the schedule",
                machine_text(&id)
            )));
        }
    }
    Ok(())
}

/// Mesos's `validation::machines` for START_MAINTENANCE and STOP_MAINTENANCE: not empty,
/// each valid and listed once.
pub(super) fn check_machines(ids: &[MachineId]) -> Result<(), Error> {
    if ids.is_empty() {
        return Err(refuse("List of machines is empty".into()));
    }
    let mut seen = HashSet::new();
    for id in ids {
        check_machine(id)?;
        if !seen.insert(MachineKey::of(id)) {
            return Err(refuse(format!(
                "Machine '{}' appears more than once in the schedule",
                machine_text(id)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmesos_proto::v1::{MaintenanceWindow, Unavailability};

    fn id(hostname: &str, ip: &str) -> MachineId {
        MachineId {
            hostname: hostname.into(),
            ip: ip.into(),
        }
    }

    fn window(ids: Vec<MachineId>, duration: Option<i64>) -> MaintenanceWindow {
        MaintenanceWindow {
            machine_ids: ids,
            unavailability: Some(Unavailability {
                start_nanos: 0,
                duration_nanos: duration,
            }),
        }
    }

    fn message(err: Error) -> String {
        err.to_string()
    }

    #[test]
    fn schedules_are_refused_with_mesos_messages() {
        let none = BTreeMap::new();
        let check = |windows: Vec<MaintenanceWindow>| {
            check_schedule(&MaintenanceSchedule { windows }, &none).map_err(message)
        };
        assert_eq!(check(vec![]), Ok(()));
        assert_eq!(
            check(vec![window(vec![], None)]),
            Err("List of machines in the maintenance window is empty".into())
        );
        assert_eq!(
            check(vec![window(vec![id("a", "")], Some(-1))]),
            Err("Unavailability 'duration' is negative".into())
        );
        assert_eq!(
            check(vec![window(vec![id("", "")], None)]),
            Err("Both 'hostname' and 'ip' for a machine are empty".into())
        );
        assert_eq!(
            check(vec![window(vec![id("a", "10.0.0.256")], None)]),
            Err("Failed to parse IPv4: 10.0.0.256".into())
        );
        let long = "x".repeat(1000);
        assert_eq!(
            check(vec![window(vec![id("a", &long)], None)]),
            Err("Failed to parse IPv4: an address of 1000 bytes".into()),
            "what a caller sent is not echoed back at length"
        );
        assert_eq!(
            check(vec![window(vec![id(&long, "")], None)]),
            Err("A machine's 'hostname' is 1000 bytes, more than the 255 allowed".into())
        );
        assert_eq!(
            check(vec![
                window(vec![id("Machine1", "10.0.0.1")], None),
                window(vec![id("machine1", "10.0.0.1")], Some(5)),
            ]),
            Err(
                "Machine '{\"hostname\":\"machine1\",\"ip\":\"10.0.0.1\"}' appears more than once in the schedule"
                    .into()
            ),
            "hostnames compare without case"
        );
        assert_eq!(
            check(vec![window(vec![id("a", ""), id("a", "10.0.0.1")], None)]),
            Ok(()),
            "a hostname alone and with an IP are two machines, as in Mesos"
        );
    }

    #[test]
    fn a_down_machine_cannot_leave_the_schedule() {
        let down = id("db1", "");
        let mut machines = BTreeMap::new();
        machines.insert(
            MachineKey::of(&down),
            MachineInfo {
                id: Some(down.clone()),
                mode: MachineMode::MachineDown as i32,
                unavailability: None,
            },
        );
        let err = check_schedule(&MaintenanceSchedule::default(), &machines).expect_err("down");
        assert_eq!(
            message(err),
            "Machine '{\"hostname\":\"db1\"}' is deactivated and cannot be removed from the schedule"
        );
        let kept = MaintenanceSchedule {
            windows: vec![window(vec![id("DB1", "")], None)],
        };
        assert!(check_schedule(&kept, &machines).is_ok());
    }

    #[test]
    fn machine_lists_are_checked_as_mesos_checks_them() {
        assert_eq!(
            check_machines(&[]).map_err(message),
            Err("List of machines is empty".into())
        );
        assert_eq!(
            check_machines(&[id("a", ""), id("A", "")]).map_err(message),
            Err("Machine '{\"hostname\":\"A\"}' appears more than once in the schedule".into())
        );
        assert!(check_machines(&[id("a", ""), id("", "10.0.0.1")]).is_ok());
    }

    #[test]
    fn agents_match_the_most_specific_machine() {
        let mut machines = BTreeMap::new();
        for (hostname, ip) in [("a", "10.0.0.1"), ("a", ""), ("", "10.0.0.2")] {
            let id = id(hostname, ip);
            machines.insert(
                MachineKey::of(&id),
                MachineInfo {
                    id: Some(id),
                    ..MachineInfo::default()
                },
            );
        }
        let found = |hostname: &str, address: &str| {
            machine_of(&machines, hostname, address)
                .and_then(|(_, machine)| machine.id.clone())
                .map(|id| (id.hostname, id.ip))
        };
        assert_eq!(
            found("A", "http://10.0.0.1:5051"),
            Some(("a".into(), "10.0.0.1".into()))
        );
        assert_eq!(
            found("a", "http://10.0.0.9:5051"),
            Some(("a".into(), String::new()))
        );
        assert_eq!(
            found("b", "http://10.0.0.2:5051"),
            Some((String::new(), "10.0.0.2".into()))
        );
        assert_eq!(found("b", "http://10.0.0.3:5051"), None);
        assert_eq!(ip_of("http://[::ffff:10.1.2.3]:5051/x"), "10.1.2.3");
        assert_eq!(ip_of("https://agent.example:5051"), "");
        assert_eq!(ip_of("http://[::1]:5051"), "");
    }
}
