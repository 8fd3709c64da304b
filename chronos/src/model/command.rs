//! What a job runs, by the SDK's one convention for commands (as Marathon's `cmd`): with
//! `shell` (Chronos's default) the `command` line is split into words without a shell; with
//! `"shell": false` the `command` is the program and `arguments` (and a run's own
//! arguments) follow it. The first word names a fetched file or a component uploaded to the
//! master (`wasmesos://sha256:<digest>`); `fetch` or `uris` bring the files.

use wasmesos_proto::shell::split_words;
use wasmesos_proto::{ExecutorInfo, FetchUri};
use wasmesos_sdk_scheduler::command::executor_for;

use super::Job;

/// The executor a run of `job` starts, with `extra` arguments (from a manual start), or why
/// it cannot run.
pub fn executor_of(job: &Job, extra: Option<&str>) -> Result<ExecutorInfo, String> {
    let words = if job.shell {
        split_words(&job.command).map_err(|err| err.0)?
    } else {
        let mut words = vec![job.command.clone()];
        words.extend(job.arguments.iter().cloned());
        if let Some(extra) = extra {
            words.extend(split_words(extra).map_err(|err| err.0)?);
        }
        words
    };
    if words.first().is_none_or(|w| w.is_empty()) {
        return Err("the job's command is empty".into());
    }
    let uris: Vec<FetchUri> = if job.fetch.is_empty() {
        job.uris
            .iter()
            .map(|uri| FetchUri {
                value: uri.clone(),
                ..FetchUri::default()
            })
            .collect()
    } else {
        job.fetch
            .iter()
            .map(|item| FetchUri {
                value: item.uri.clone(),
                executable: item.executable,
                output_file: item.output_file.clone(),
                cache: item.cache,
            })
            .collect()
    };
    executor_for(words, uris)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(value: serde_json::Value) -> Job {
        Job::from_json(&value).expect("a job")
    }

    #[test]
    fn shell_commands_split_and_plain_ones_take_their_arguments() {
        let digest = "cd".repeat(32);
        let store = format!("wasmesos://sha256:{digest}");
        let shell = job(json!({"name": "a", "command": "job.wasm --n 3",
                               "fetch": [{"uri": store, "output_file": "job.wasm"}]}));
        let executor = executor_of(&shell, Some("ignored")).expect("runs");
        assert_eq!(
            (executor.digest.as_str(), executor.args.clone()),
            (digest.as_str(), vec!["--n".to_owned(), "3".to_owned()])
        );
        let plain =
            job(json!({"name": "a", "command": store, "shell": false, "arguments": ["x y"]}));
        let executor = executor_of(&plain, Some("-v")).expect("runs");
        assert_eq!(executor.args, vec!["x y", "-v"]);
        assert!(executor_of(&job(json!({"name": "a", "command": "a.wasm | b"})), None).is_err());
        assert!(executor_of(&job(json!({"name": "a", "command": ""})), None).is_err());
        assert!(
            executor_of(
                &job(json!({"name": "a", "command": "unfetched.wasm"})),
                None
            )
            .is_err()
        );
    }
}
