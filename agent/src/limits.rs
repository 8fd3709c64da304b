//! A task's grant turned into sandbox limits: `mem` bytes cap linear memory and tables,
//! `cpus` becomes the CPU share, `disk` the sandbox quota; `fuel` and `timeout_ms` come from
//! the `TaskInfo`, and `network_allow` becomes the network policy.
//!
//! Whatever the master sends is checked here: garbage (NaN, negative, missing `mem`, a
//! grant larger than the executor's pool allows, unparsable addresses) is an invalid task,
//! never a panic. Addresses are read by the executor's one parser, [`AllowedAddr`]'s
//! `FromStr`, which `wasmesos exec --allow-net` uses too.

use std::time::Duration;

use wasmesos_proto::TaskInfo;
use wasmesos_proto::resource_names::{CPUS, DISK, MEM};
use wasmesos_wasm_executor::{AllowedAddr, Limits, NetworkPolicy};

use crate::Error;

/// The limits a task runs under, from its granted resources.
pub(crate) fn limits_for(task: &TaskInfo, max_mem_bytes: u64) -> Result<Limits, Error> {
    let resources = task.resources.clone().unwrap_or_default();
    if let Some(bad) = resources
        .resources
        .iter()
        .find(|r| !r.value.is_finite() || r.value < 0.0)
    {
        return Err(Error::InvalidTask(format!(
            "resource `{}` has the value {}, which is not a finite non-negative number",
            bad.name, bad.value
        )));
    }
    let mem = resources.scalar(MEM);
    if mem < 1.0 {
        return Err(Error::InvalidTask("the task was granted no `mem`".into()));
    }
    let mem_bytes = whole_bytes(mem);
    if mem_bytes > max_mem_bytes {
        return Err(Error::InvalidTask(format!(
            "the task was granted {mem_bytes} bytes of `mem`; this agent runs tasks of at most \
             {max_mem_bytes} bytes"
        )));
    }
    let cpus = resources.scalar(CPUS);
    let disk = resources.scalar(DISK);
    Ok(Limits {
        mem_bytes,
        cpus: (cpus > 0.0).then_some(cpus),
        fuel: (task.fuel > 0).then_some(task.fuel),
        timeout: (task.timeout_ms > 0).then(|| Duration::from_millis(task.timeout_ms)),
        disk_bytes: (disk >= 1.0).then(|| whole_bytes(disk)),
    })
}

/// The whole bytes of a granted amount (finite and non-negative, checked above).
#[allow(
    clippy::cast_possible_truncation,
    reason = "a float-to-integer `as` drops the fraction and saturates at u64::MAX, never \
              wraps: the whole bytes of the grant"
)]
fn whole_bytes(amount: f64) -> u64 {
    amount as u64
}

/// The addresses a task may reach, in the syntax of [`AllowedAddr`]'s `FromStr`.
pub(crate) fn network_for(allow: &[String]) -> Result<NetworkPolicy, Error> {
    let grants = allow
        .iter()
        .map(|entry| entry.parse::<AllowedAddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| Error::InvalidTask(err.to_string()))?;
    Ok(NetworkPolicy::allowing(grants))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmesos_proto::Resources;

    const GIB: u64 = 1 << 30;

    fn task(resources: &[(&str, f64)]) -> TaskInfo {
        TaskInfo {
            resources: Some(Resources::from_scalars(resources.iter().copied())),
            ..Default::default()
        }
    }

    #[test]
    fn granted_resources_become_limits() {
        let mut info = task(&[("cpus", 0.25), ("mem", 64.0 * 1048576.0), ("disk", 1e6)]);
        info.fuel = 1000;
        info.timeout_ms = 1500;
        let limits = limits_for(&info, GIB).expect("valid grant");
        assert_eq!(limits.mem_bytes, 64 << 20);
        assert_eq!(limits.cpus, Some(0.25));
        assert_eq!(limits.disk_bytes, Some(1_000_000));
        assert_eq!(limits.fuel, Some(1000));
        assert_eq!(limits.timeout, Some(Duration::from_millis(1500)));
        let bare = limits_for(&task(&[("mem", 1e6)]), GIB).expect("valid grant");
        assert_eq!(
            (bare.cpus, bare.fuel, bare.timeout, bare.disk_bytes),
            (None, None, None, None)
        );
    }

    #[test]
    fn garbage_grants_are_invalid_tasks() {
        for resources in [
            vec![],
            vec![("mem", 0.0)],
            vec![("mem", f64::NAN)],
            vec![("mem", 1e6), ("cpus", -1.0)],
            vec![("mem", f64::INFINITY)],
            vec![("mem", 2.0 * GIB as f64)],
        ] {
            let result = limits_for(&task(&resources), GIB);
            assert!(
                matches!(result, Err(Error::InvalidTask(_))),
                "{resources:?}"
            );
        }
        let missing = TaskInfo::default();
        assert!(limits_for(&missing, GIB).is_err());
    }

    #[test]
    fn network_grants_parse_or_are_refused() {
        let policy = network_for(&[
            "127.0.0.1:80".into(),
            "10.0.0.1".into(),
            "[::1]".into(),
            "[::1]:80".into(),
        ])
        .expect("valid grants");
        assert_eq!(policy.allow.len(), 4);
        assert!(network_for(&[]).expect("no grants").allow.is_empty());
        assert!(network_for(&["example.com:80".into()]).is_err());
        assert!(network_for(&["127.0.0.1:99999".into()]).is_err());
        let err = network_for(&["10.0.0.1".into(), "host:80".into()]).expect_err("a host name");
        assert!(
            matches!(&err, Error::InvalidTask(message) if message.contains("`host:80`")),
            "{err}"
        );
    }
}
