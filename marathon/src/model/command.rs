//! What an app runs: its `cmd` (or `args`) and `fetch` as a wasmesos executor, by the SDK's
//! one convention ([`executor_for`]): the first word names a fetched file (or is
//! `wasmesos://sha256:<digest>`, a component uploaded to the master), the rest are its
//! arguments. There is no shell.

use wasmesos_proto::shell::split_words;
use wasmesos_proto::{ExecutorInfo, FetchUri};
use wasmesos_sdk_scheduler::command::executor_for;

use super::app::App;

/// The executor an app's tasks run, or why it cannot run.
pub fn executor_of(app: &App) -> Result<ExecutorInfo, String> {
    let words = match (&app.cmd, &app.args) {
        (Some(cmd), _) => split_words(cmd).map_err(|err| err.0)?,
        (None, Some(args)) if !args.is_empty() => args.clone(),
        _ => return Err("AppDefinition must either contain one of 'cmd' or 'args'".into()),
    };
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
    executor_for(words, uris)
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
