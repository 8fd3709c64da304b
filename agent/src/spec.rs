//! A [`TaskInfo`] turned into the executor's [`TaskSpec`]: its grant becomes the limits
//! (`limits`), its `network_allow` the network policy, its executor's args and env (sorted
//! by name) the guest's, with its granted ports added as Marathon does (`PORT0..PORTn`,
//! `PORT`, `PORTS` and `HOST`), and the output cap the agent's.
//!
//! This is the one place that does it: the runner calls it for every task, and
//! `wasmesos exec` calls it with a `TaskInfo` made from its flags, so that a local run gets
//! exactly the sandbox an agent would give. The sandbox directory and where the output is held
//! are left to the caller.

use std::path::PathBuf;

use wasmesos_proto::TaskInfo;
use wasmesos_proto::resource_names::PORTS;
use wasmesos_wasm_executor::{ExecutorConfig, OutputConfig, TaskSpec};

use crate::Error;
use crate::limits::{limits_for, network_for};

/// Most ports named in a task's environment (`PORT0`..`PORT1023`); a task granted more
/// still holds them all, its environment lists the lowest.
pub const MAX_PORT_ENV: usize = 1024;

/// The spec a task runs under on an executor configured as `executor` on the agent
/// advertised as `hostname`, keeping `output_cap_bytes` of each of its stdout and stderr.
/// Its `sandbox_dir` is empty: the caller chooses it when the task starts.
///
/// Fails with [`Error::InvalidTask`] when the grant or a network grant is not one the agent
/// can run (no `mem`, more `mem` than the executor's pool allows, a negative or NaN value, an
/// unparsable address). The executor's digest is not looked at.
pub fn task_spec(
    task: TaskInfo,
    executor: &ExecutorConfig,
    output_cap_bytes: u64,
    hostname: &str,
) -> Result<TaskSpec, Error> {
    let limits = limits_for(&task, executor.max_task_memory_bytes)?;
    let ports = port_env(&task, hostname);
    let executor_info = task.executor.unwrap_or_default();
    let network = network_for(&executor_info.network_allow)?;
    let mut env = executor_info.env;
    for (key, value) in ports {
        // What the framework set itself wins, as Marathon lets an app's env do.
        env.entry(key).or_insert(value);
    }
    let mut env: Vec<(String, String)> = env.into_iter().collect();
    env.sort();
    Ok(TaskSpec {
        task_id: task.task_id,
        name: task.name,
        args: executor_info.args,
        env,
        data: task.data,
        limits,
        sandbox_dir: PathBuf::new(),
        network,
        output: OutputConfig {
            cap_bytes: output_cap_bytes,
            tee: false,
            memory: None,
        },
    })
}

/// Marathon's variables for a task's granted ports, lowest first: `PORT0`, `PORT1`, ...,
/// `PORT` (the first), `PORTS` (comma separated) and `HOST`. A task without ports gets none
/// of them: its environment stays exactly the one its framework gave.
fn port_env(task: &TaskInfo, hostname: &str) -> Vec<(String, String)> {
    let ports: Vec<u64> = task
        .resources
        .as_ref()
        .map(|r| r.ranges(PORTS).values().take(MAX_PORT_ENV).collect())
        .unwrap_or_default();
    let Some(first) = ports.first() else {
        return Vec::new();
    };
    let mut env: Vec<(String, String)> = ports
        .iter()
        .enumerate()
        .map(|(at, port)| (format!("PORT{at}"), port.to_string()))
        .collect();
    env.push(("PORT".into(), first.to_string()));
    let all: Vec<String> = ports.iter().map(u64::to_string).collect();
    env.push(("PORTS".into(), all.join(",")));
    env.push(("HOST".into(), hostname.to_string()));
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmesos_proto::{ExecutorInfo, Resources};
    use wasmesos_wasm_executor::AllowedAddr;

    #[test]
    fn a_task_info_becomes_the_spec_it_runs_under() {
        let task = TaskInfo {
            task_id: "t-1".into(),
            name: "count".into(),
            executor: Some(ExecutorInfo {
                digest: "ignored".into(),
                args: vec!["--fast".into()],
                env: [("B".into(), "2".into()), ("A".into(), "1".into())].into(),
                network_allow: vec!["[::1]:80".into()],
                ..ExecutorInfo::default()
            }),
            resources: Some(Resources::from_scalars([("mem", 1e6), ("cpus", 0.5)])),
            data: b"words".to_vec(),
            fuel: 7,
            ..TaskInfo::default()
        };
        let spec = task_spec(task, &ExecutorConfig::small(), 4096, "node-1").expect("a valid task");
        assert_eq!(
            (spec.task_id.as_str(), spec.name.as_str()),
            ("t-1", "count")
        );
        assert_eq!(spec.args, ["--fast"]);
        let env: Vec<(&str, &str)> = spec
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(env, [("A", "1"), ("B", "2")], "no ports: nothing added");
        assert_eq!(spec.data, b"words");
        assert_eq!(
            (spec.limits.mem_bytes, spec.limits.cpus, spec.limits.fuel),
            (1_000_000, Some(0.5), Some(7))
        );
        let v6: std::net::SocketAddr = "[::1]:80".parse().expect("addr");
        assert_eq!(spec.network.allow, [AllowedAddr::Socket(v6)]);
        assert_eq!(spec.output.cap_bytes, 4096);
        assert!(!spec.output.tee && spec.output.memory.is_none());
    }

    #[test]
    fn a_task_the_agent_cannot_run_is_invalid() {
        let too_big = TaskInfo {
            resources: Some(Resources::from_scalars([("mem", 1e15)])),
            ..TaskInfo::default()
        };
        let bad_grant = TaskInfo {
            resources: Some(Resources::from_scalars([("mem", 1e6)])),
            executor: Some(ExecutorInfo {
                network_allow: vec!["example.com:80".into()],
                ..ExecutorInfo::default()
            }),
            ..TaskInfo::default()
        };
        for task in [too_big, bad_grant] {
            let result = task_spec(task, &ExecutorConfig::small(), 4096, "node-1");
            assert!(matches!(result, Err(Error::InvalidTask(_))), "{result:?}");
        }
    }

    #[test]
    fn granted_ports_are_in_the_env_as_marathon_names_them() {
        let mut resources: Resources =
            crate::parse_resources("mem:1MiB;ports:[31002-31003,31000-31000]").expect("valid");
        resources.resources.sort_by(|a, b| a.name.cmp(&b.name));
        let task = TaskInfo {
            resources: Some(resources),
            executor: Some(ExecutorInfo {
                env: [("PORT1".into(), "mine".into())].into(),
                ..ExecutorInfo::default()
            }),
            ..TaskInfo::default()
        };
        let spec = task_spec(task, &ExecutorConfig::small(), 4096, "node-1").expect("valid");
        let env: std::collections::HashMap<&str, &str> = spec
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(env.get("PORT0"), Some(&"31000"));
        assert_eq!(
            env.get("PORT1"),
            Some(&"mine"),
            "the framework's own env wins"
        );
        assert_eq!(env.get("PORT2"), Some(&"31003"));
        assert_eq!(env.get("PORT"), Some(&"31000"));
        assert_eq!(env.get("PORTS"), Some(&"31000,31002,31003"));
        assert_eq!(env.get("HOST"), Some(&"node-1"));
        let huge = TaskInfo {
            resources: Some(
                crate::parse_resources("mem:1MiB;ports:[0-18446744073709551615]").expect("valid"),
            ),
            ..TaskInfo::default()
        };
        let spec = task_spec(huge, &ExecutorConfig::small(), 4096, "h").expect("valid");
        assert_eq!(spec.env.len(), MAX_PORT_ENV + 3, "bounded");
    }
}
