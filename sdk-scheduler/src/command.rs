//! A Mesos-style command as a wasmesos executor, by the convention of the Mesos API path:
//! the first word names a fetched file (or is `wasmesos://sha256:<digest>`, a component
//! uploaded to the master), the rest are its arguments. There is no shell. Marathon's `cmd`
//! and `args` and Chronos's `command`, `arguments` and `uris` all come through here.

use wasmesos_proto::fetch::{self, ARTIFACT_PREFIX};
use wasmesos_proto::{ExecutorInfo, FetchUri};

/// The executor that runs `words` (program first) with `uris` fetched into its sandbox, or
/// why it cannot run.
pub fn executor_for(mut words: Vec<String>, uris: Vec<FetchUri>) -> Result<ExecutorInfo, String> {
    if words.is_empty() {
        return Err("the program to run is missing".into());
    }
    let program = words.remove(0);
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

    fn words(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_owned).collect()
    }

    fn uri(value: &str, output_file: &str) -> FetchUri {
        FetchUri {
            value: value.into(),
            output_file: output_file.into(),
            ..FetchUri::default()
        }
    }

    #[test]
    fn a_program_uploaded_to_the_master_runs_by_digest() {
        let digest = "ab".repeat(32);
        let store = format!("wasmesos://sha256:{digest}");
        let fetched = executor_for(words("job.wasm x"), vec![uri(&store, "job.wasm")]);
        let fetched = fetched.expect("runs");
        assert_eq!(
            (fetched.digest.as_str(), fetched.args.clone()),
            (digest.as_str(), vec!["x".to_owned()])
        );
        assert!(fetched.uris.is_empty() && fetched.program.is_empty());
        let direct = executor_for(words(&format!("{store} y")), Vec::new()).expect("runs");
        assert_eq!(direct.digest, digest);
        assert!(executor_for(Vec::new(), Vec::new()).is_err());
        assert!(executor_for(words("wasmesos://sha256:12"), Vec::new()).is_err());
        assert!(executor_for(words("missing.wasm"), Vec::new()).is_err());
    }
}
