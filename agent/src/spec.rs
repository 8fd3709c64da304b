//! A [`TaskInfo`] turned into the executor's [`TaskSpec`]: its grant becomes the limits
//! (`limits`), its `network_allow` the network policy, its executor's args and env (sorted
//! by name) the guest's, and the output cap the agent's.
//!
//! This is the one place that does it: the runner calls it for every task, and
//! `wasmesos exec` calls it with a `TaskInfo` made from its flags, so that a local run gets
//! exactly the sandbox an agent would give. The sandbox directory and where the output is held
//! are left to the caller.

use std::path::PathBuf;

use wasmesos_proto::TaskInfo;
use wasmesos_wasm_executor::{ExecutorConfig, OutputConfig, TaskSpec};

use crate::Error;
use crate::limits::{limits_for, network_for};

/// The spec a task runs under on an executor configured as `executor`, keeping
/// `output_cap_bytes` of each of its stdout and stderr. Its `sandbox_dir` is empty: the caller
/// chooses it when the task starts.
///
/// Fails with [`Error::InvalidTask`] when the grant or a network grant is not one the agent
/// can run (no `mem`, more `mem` than the executor's pool allows, a negative or NaN value, an
/// unparsable address). The executor's digest is not looked at.
pub fn task_spec(
    task: TaskInfo,
    executor: &ExecutorConfig,
    output_cap_bytes: u64,
) -> Result<TaskSpec, Error> {
    let limits = limits_for(&task, executor.max_task_memory_bytes)?;
    let executor_info = task.executor.unwrap_or_default();
    let network = network_for(&executor_info.network_allow)?;
    let mut env: Vec<(String, String)> = executor_info.env.into_iter().collect();
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
            }),
            resources: Some(Resources::from_scalars([("mem", 1e6), ("cpus", 0.5)])),
            data: b"words".to_vec(),
            fuel: 7,
            ..TaskInfo::default()
        };
        let spec = task_spec(task, &ExecutorConfig::small(), 4096).expect("a valid task");
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
        assert_eq!(env, [("A", "1"), ("B", "2")]);
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
            let result = task_spec(task, &ExecutorConfig::small(), 4096);
            assert!(matches!(result, Err(Error::InvalidTask(_))), "{result:?}");
        }
    }
}
