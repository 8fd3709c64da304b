//! What an app runs: its `cmd` (or `args`) and `fetch` as a wasmesos executor, by the
//! convention of the Mesos API path: the first word names a fetched file (or is
//! `wasmesos://sha256:<digest>`, a component uploaded to the master), the rest are its
//! arguments. There is no shell.

use wasmesos_proto::fetch::{self, ARTIFACT_PREFIX};
use wasmesos_proto::shell::split_words;
use wasmesos_proto::{ExecutorInfo, FetchUri};

use super::app::App;

/// The executor an app's tasks run, or why it cannot run.
pub fn executor_of(app: &App) -> Result<ExecutorInfo, String> {
    let mut words = match (&app.cmd, &app.args) {
        (Some(cmd), _) => split_words(cmd).map_err(|err| err.0)?,
        (None, Some(args)) if !args.is_empty() => args.clone(),
        _ => return Err("AppDefinition must either contain one of 'cmd' or 'args'".into()),
    };
    let program = words.remove(0);
    let uris: Vec<FetchUri> = app
        .fetch
        .iter()
        .map(|item| FetchUri {
            value: item.uri.clone(),
            executable: item.executable,
            output_file: item.output_file.clone().unwrap_or_default(),
            cache: item.cache,
        })
        .collect();
    let mut executor = ExecutorInfo {
        args: words,
        uris,
        ..ExecutorInfo::default()
    };
    if let Some(digest) = program.strip_prefix(ARTIFACT_PREFIX) {
        executor.digest = checked_digest(digest)?;
    } else {
        executor.program = program;
    }
    let plan = fetch::plan(&executor).map_err(|refused| refused.0)?;
    // A program fetched only from the master's store runs from it by digest, as the Mesos
    // API path does: the agent then compiles it once for every task.
    if let [only] = plan.fetches.as_slice()
        && plan.program.as_deref() == Some(only.output_file.as_str())
        && let fetch::Source::Artifact(digest) = &only.source
    {
        executor.digest = digest.clone();
        executor.program.clear();
        executor.uris.clear();
    }
    if executor.digest.is_empty() && executor.program.is_empty() {
        return Err("the program to run is missing".into());
    }
    Ok(executor)
}

fn checked_digest(digest: &str) -> Result<String, String> {
    let hex = digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit());
    if hex {
        Ok(digest.to_ascii_lowercase())
    } else {
        Err(format!(
            "'{ARTIFACT_PREFIX}{digest}' does not name a sha256 digest"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::update::AppUpdate;

    fn app(json: serde_json::Value) -> App {
        let update: AppUpdate = serde_json::from_value(json).expect("an update");
        let id = crate::model::PathId::parse("/a").expect("id");
        update.apply(None, id, crate::time::Timestamp(0))
    }

    #[test]
    fn the_first_word_names_a_fetched_program() {
        let digest = "ab".repeat(32);
        let fetched = app(serde_json::json!({
            "cmd": "web.wasm --port 1",
            "fetch": [{"uri": "https://example.com/web.wasm"}, {"uri": "https://example.com/data.txt"}],
        }));
        let executor = executor_of(&fetched).expect("runs");
        assert_eq!(executor.program, "web.wasm");
        assert_eq!(executor.args, vec!["--port", "1"]);
        assert_eq!(executor.uris.len(), 2);
        let uploaded = app(serde_json::json!({
            "cmd": "hello.wasm",
            "uris": [format!("wasmesos://sha256:{digest}")],
        }));
        let uploaded_program = app(serde_json::json!({
            "cmd": "hello.wasm",
            "fetch": [{"uri": format!("wasmesos://sha256:{digest}"), "outputFile": "hello.wasm"}],
        }));
        assert!(
            executor_of(&uploaded).is_err(),
            "the file is named by its digest"
        );
        assert_eq!(executor_of(&uploaded_program).expect("runs").digest, digest);
        let direct = app(serde_json::json!({"cmd": format!("wasmesos://sha256:{digest} x")}));
        assert_eq!(executor_of(&direct).expect("runs").args, vec!["x"]);
    }

    #[test]
    fn shells_and_missing_programs_are_refused() {
        assert!(executor_of(&app(serde_json::json!({"cmd": "a.wasm | b"}))).is_err());
        assert!(executor_of(&app(serde_json::json!({"cmd": "a.wasm"}))).is_err());
        assert!(executor_of(&app(serde_json::json!({"args": []}))).is_err());
        assert!(executor_of(&app(serde_json::json!({"cmd": "wasmesos://sha256:12"}))).is_err());
    }
}
