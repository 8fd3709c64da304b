//! A Chronos job: its definition and counters, read as Chronos's `JobDeserializer` reads
//! them (every field optional with Chronos's default, loose types, unknown keys ignored)
//! and written with exactly the keys Chronos's `JobSerializer` writes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One file to fetch into the task's sandbox (Chronos's `fetch` item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetch {
    pub uri: String,
    pub executable: bool,
    pub cache: bool,
    pub extract: bool,
    /// Written only when set, as Chronos does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output_file: String,
}

/// One `environmentVariables` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentVariable {
    pub name: String,
    pub value: String,
}

/// How a job is triggered: by its schedule, or by its parents' successes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Trigger {
    #[serde(rename_all = "camelCase")]
    Parents { parents: Vec<String> },
    #[serde(rename_all = "camelCase")]
    Schedule {
        schedule: String,
        schedule_time_zone: String,
    },
}

/// A job as Chronos answers it (the field order is its serializer's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub name: String,
    pub command: String,
    pub shell: bool,
    pub executor: String,
    pub executor_flags: String,
    pub task_info_data: String,
    pub retries: u32,
    pub owner: String,
    pub owner_name: String,
    pub description: String,
    pub success_count: u64,
    pub error_count: u64,
    pub last_success: String,
    pub last_error: String,
    pub cpus: f64,
    pub disk: f64,
    pub mem: f64,
    pub disabled: bool,
    pub soft_error: bool,
    pub data_processing_job_type: bool,
    pub errors_since_last_success: u64,
    pub fetch: Vec<Fetch>,
    pub uris: Vec<String>,
    pub environment_variables: Vec<EnvironmentVariable>,
    pub arguments: Vec<String>,
    pub high_priority: bool,
    pub run_as_user: String,
    pub concurrent: bool,
    pub max_completion_time: u64,
    pub constraints: Vec<Vec<String>>,
    /// How late a run may still start (an ISO 8601 duration; Chronos 2's per-job field).
    pub epsilon: String,
    #[serde(flatten)]
    pub trigger: Trigger,
}

/// Chronos's defaults for what a job leaves out (its `--mesos_task_*` and `--task_epsilon`).
pub const DEFAULT_CPUS: f64 = 0.1;
pub const DEFAULT_MEM: f64 = 128.0;
pub const DEFAULT_DISK: f64 = 256.0;
pub const DEFAULT_EPSILON: &str = "PT60S";
pub const DEFAULT_RETRIES: u32 = 2;

impl Job {
    /// Reads a job from a request body as Chronos does: `None` for a body that is not an
    /// object or has no `name`.
    pub fn from_json(node: &Value) -> Option<Job> {
        let object = node.as_object()?;
        let name = text(object.get("name")?);
        let field = |key: &str| object.get(key).filter(|v| !v.is_null());
        let text_or = |key: &str| field(key).map(text).unwrap_or_default();
        let flag = |key: &str, default: bool| field(key).map_or(default, |v| boolean(v, default));
        let count = |key: &str| field(key).and_then(long).unwrap_or(0);
        let resource = |key: &str, default: f64| {
            field(key)
                .and_then(double)
                .filter(|v| *v != 0.0)
                .unwrap_or(default)
        };
        let strings = |key: &str| -> Vec<String> {
            field(key)
                .and_then(Value::as_array)
                .map(|items| items.iter().map(text).collect())
                .unwrap_or_default()
        };
        let trigger = match field("parents") {
            Some(parents) => Trigger::Parents {
                parents: parents
                    .as_array()
                    .map(|items| items.iter().map(text).collect())
                    .unwrap_or_default(),
            },
            None => Trigger::Schedule {
                schedule: text_or("schedule"),
                schedule_time_zone: text_or("scheduleTimeZone"),
            },
        };
        Some(Job {
            name,
            command: text_or("command"),
            shell: flag("shell", true),
            executor: text_or("executor"),
            executor_flags: text_or("executorFlags"),
            task_info_data: text_or("taskInfoData"),
            retries: field("retries")
                .and_then(long)
                .map_or(DEFAULT_RETRIES, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            owner: text_or("owner"),
            owner_name: text_or("ownerName"),
            description: text_or("description"),
            success_count: count("successCount"),
            error_count: count("errorCount"),
            last_success: text_or("lastSuccess"),
            last_error: text_or("lastError"),
            cpus: resource("cpus", DEFAULT_CPUS),
            disk: resource("disk", DEFAULT_DISK),
            mem: resource("mem", DEFAULT_MEM),
            disabled: flag("disabled", false),
            soft_error: flag("softError", false),
            data_processing_job_type: flag("dataProcessingJobType", false),
            errors_since_last_success: count("errorsSinceLastSuccess"),
            fetch: field("fetch").map(fetches).unwrap_or_default(),
            uris: strings("uris"),
            environment_variables: field("environmentVariables")
                .map(variables)
                .unwrap_or_default(),
            arguments: strings("arguments"),
            high_priority: flag("highPriority", false),
            run_as_user: text_or("runAsUser"),
            concurrent: flag("concurrent", false),
            max_completion_time: count("maxCompletionTime"),
            constraints: field("constraints")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(Value::as_array)
                        .map(|c| c.iter().map(text).collect())
                        .collect()
                })
                .unwrap_or_default(),
            epsilon: field("epsilon")
                .map(text)
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| DEFAULT_EPSILON.to_owned()),
            trigger,
        })
    }

    /// The schedule's text and zone, for a scheduled job.
    pub fn schedule(&self) -> Option<(&str, &str)> {
        match &self.trigger {
            Trigger::Schedule {
                schedule,
                schedule_time_zone,
            } => Some((schedule, schedule_time_zone)),
            Trigger::Parents { .. } => None,
        }
    }

    pub fn parents(&self) -> &[String] {
        match &self.trigger {
            Trigger::Parents { parents } => parents,
            Trigger::Schedule { .. } => &[],
        }
    }

    /// The job as `GET /v1/scheduler/jobs` lists it: `fetch` filled from `uris` or the other
    /// way round, as Chronos does "for compatibility".
    pub fn listed(&self) -> Job {
        let mut job = self.clone();
        if job.fetch.is_empty() {
            job.fetch = job
                .uris
                .iter()
                .map(|uri| Fetch {
                    uri: uri.clone(),
                    executable: false,
                    cache: false,
                    extract: true,
                    output_file: String::new(),
                })
                .collect();
        } else {
            job.uris = job.fetch.iter().map(|f| f.uri.clone()).collect();
        }
        job
    }

    /// Chronos's graph state: `success`, `failure` or `fresh` by the last two dates.
    pub fn last_state(&self) -> &'static str {
        match (self.last_success.is_empty(), self.last_error.is_empty()) {
            (true, true) => "fresh",
            (true, false) => "failure",
            (false, true) => "success",
            // Both are `…T…Z` with milliseconds, so the text order is the time order.
            (false, false) if self.last_success > self.last_error => "success",
            (false, false) => "failure",
        }
    }
}

/// Jackson's `asText`: strings as they are, other scalars printed, containers empty.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// Jackson's `asBoolean`: `true`, `"true"` and non-zero numbers.
fn boolean(value: &Value, default: bool) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => s.trim().eq_ignore_ascii_case("true"),
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        _ => default,
    }
}

fn double(value: &Value) -> Option<f64> {
    let number = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    number.is_finite().then_some(number)
}

fn long(value: &Value) -> Option<u64> {
    let number = double(value)?;
    // Saturating: negative counts are 0, huge ones the maximum.
    Some(number.max(0.0) as u64)
}

fn fetches(value: &Value) -> Vec<Fetch> {
    let Some(items) = value.as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(Value::as_object)
        .map(|item| {
            let flag =
                |key: &str, default: bool| item.get(key).map_or(default, |v| boolean(v, default));
            Fetch {
                uri: item.get("uri").map(text).unwrap_or_default(),
                executable: flag("executable", false),
                cache: flag("cache", false),
                extract: flag("extract", true),
                output_file: item.get("output_file").map(text).unwrap_or_default(),
            }
        })
        .collect()
}

fn variables(value: &Value) -> Vec<EnvironmentVariable> {
    let Some(items) = value.as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(Value::as_object)
        .map(|item| EnvironmentVariable {
            name: item.get("name").map(text).unwrap_or_default(),
            value: item.get("value").map(text).unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn omitted_fields_get_chronos_defaults_and_unknown_keys_are_ignored() {
        let job = Job::from_json(&json!({
            "name": "a", "command": "a.wasm", "schedule": "R/2014-01-01T00:00:00Z/PT1H",
            "cpus": "0.5", "mem": 0, "async": false, "container": {"image": "x"}
        }))
        .expect("a job");
        assert_eq!(
            (job.cpus, job.mem, job.disk),
            (0.5, DEFAULT_MEM, DEFAULT_DISK)
        );
        assert_eq!(job.retries, 2);
        assert!(job.shell && !job.disabled && !job.concurrent);
        assert_eq!((job.success_count, job.last_success.as_str()), (0, ""));
        assert_eq!(job.schedule(), Some(("R/2014-01-01T00:00:00Z/PT1H", "")));
        assert_eq!(Job::from_json(&json!({"command": "x"})), None);
        assert_eq!(Job::from_json(&json!([1])), None);
    }

    #[test]
    fn answers_carry_chronos_keys() {
        let job = Job::from_json(&json!({"name": "child", "parents": ["a", "b"], "uris": ["u"]}))
            .expect("a job");
        let answer = serde_json::to_value(job.listed()).expect("json");
        let keys: Vec<&str> = answer
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        for key in [
            "name",
            "command",
            "shell",
            "retries",
            "successCount",
            "errorCount",
            "lastSuccess",
            "lastError",
            "cpus",
            "disk",
            "mem",
            "disabled",
            "fetch",
            "uris",
            "environmentVariables",
            "arguments",
            "concurrent",
            "parents",
            "epsilon",
        ] {
            assert!(keys.contains(&key), "{key} in {keys:?}");
        }
        assert!(!keys.contains(&"schedule"));
        assert_eq!(answer["fetch"][0]["uri"], "u");
        assert_eq!(answer["lastError"], "");
        let back: Job = serde_json::from_value(answer).expect("stored records read back");
        assert_eq!(back.parents(), ["a", "b"]);
    }
}
