//! The task description an executor receives, converted from the WIT `task-info` record.

use std::time::Duration;

use crate::bindings::wasmesos::executor::types;

/// One task, as the agent launched it.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The id the framework gave the task; unique within the framework.
    pub task_id: String,
    /// The human-readable task name.
    pub name: String,
    /// Arguments from the task's launch request.
    pub args: Vec<String>,
    /// The only environment variables the task can see, in launch order.
    pub env: Vec<(String, String)>,
    /// Opaque bytes from the framework's scheduler.
    pub data: Vec<u8>,
    /// The resources granted to the task, each one enforced as a hard limit.
    pub resources: Resources,
}

impl Task {
    /// The value of the environment variable `key`, if the task was given one.
    ///
    /// When a key was given twice, the last value wins, as in a process environment.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }
}

/// The resources an agent granted a task.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resources {
    /// Share of one CPU core, e.g. `0.25`.
    pub cpus: f64,
    /// Total linear memory and tables, in bytes.
    pub mem_bytes: u64,
    /// Quota on the sandbox directory, in bytes.
    pub disk_bytes: u64,
    /// Instruction budget, if the task has one.
    pub fuel: Option<u64>,
    /// Wall-clock budget, if the task has one.
    pub timeout: Option<Duration>,
}

impl From<types::TaskInfo> for Task {
    fn from(info: types::TaskInfo) -> Self {
        Self {
            task_id: info.task_id,
            name: info.name,
            args: info.args,
            env: info.env,
            data: info.data,
            resources: info.resources.into(),
        }
    }
}

impl From<types::Resources> for Resources {
    fn from(granted: types::Resources) -> Self {
        Self {
            cpus: granted.cpus,
            mem_bytes: granted.mem_bytes,
            disk_bytes: granted.disk_bytes,
            fuel: granted.fuel,
            timeout: granted.timeout_ms.map(Duration::from_millis),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task_info() -> types::TaskInfo {
        types::TaskInfo {
            task_id: "t-1".into(),
            name: "count words".into(),
            args: vec!["input.txt".into()],
            env: vec![
                ("MODE".into(), "fast".into()),
                ("MODE".into(), "slow".into()),
            ],
            data: b"a b c".to_vec(),
            resources: types::Resources {
                cpus: 0.5,
                mem_bytes: 64 << 20,
                disk_bytes: 16 << 20,
                fuel: Some(1_000),
                timeout_ms: Some(2_500),
            },
        }
    }

    #[test]
    fn conversion_keeps_every_field() {
        let task = Task::from(task_info());
        assert_eq!(task.task_id, "t-1");
        assert_eq!(task.name, "count words");
        assert_eq!(task.args, ["input.txt"]);
        assert_eq!(task.data, b"a b c");
        assert_eq!(task.resources.cpus, 0.5);
        assert_eq!(task.resources.mem_bytes, 64 << 20);
        assert_eq!(task.resources.disk_bytes, 16 << 20);
        assert_eq!(task.resources.fuel, Some(1_000));
        assert_eq!(task.resources.timeout, Some(Duration::from_millis(2_500)));
    }

    #[test]
    fn missing_timeout_stays_missing() {
        let mut info = task_info();
        info.resources.timeout_ms = None;
        info.resources.fuel = None;
        let task = Task::from(info);
        assert_eq!(task.resources.timeout, None);
        assert_eq!(task.resources.fuel, None);
    }

    #[test]
    fn env_var_returns_the_last_value_given() {
        let task = Task::from(task_info());
        assert_eq!(task.env_var("MODE"), Some("slow"));
        assert_eq!(task.env_var("PATH"), None);
    }
}
