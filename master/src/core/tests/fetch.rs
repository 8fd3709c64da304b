//! ACCEPT of tasks whose executor is fetched (`program` among `uris`): the shared fetch
//! rules are checked at the master, so a task that breaks one never reaches an agent.

use wasmesos_proto::v1::{ExecutorInfo, FetchUri, Reason, TaskInfo, TaskState};

use super::*;

fn uri(value: &str, output_file: &str) -> FetchUri {
    FetchUri {
        value: value.into(),
        output_file: output_file.into(),
        ..FetchUri::default()
    }
}

/// A task on `agent` whose executor is `uris` with `program` and `digest`.
fn fetching(agent: &str, digest: &str, uris: Vec<FetchUri>, program: &str) -> TaskInfo {
    TaskInfo {
        executor: Some(ExecutorInfo {
            digest: digest.into(),
            uris,
            program: program.into(),
            ..ExecutorInfo::default()
        }),
        ..task("t1", agent, "cpus:1;mem:1GiB")
    }
}

/// Accepts one task on a fresh cluster: `Ok` when it launched, else its TASK_ERROR.
fn accept_one(make: impl FnOnce(&str) -> TaskInfo) -> Result<(), (Reason, String)> {
    let mut h = Harness::new();
    let fw = h.subscribe("fw", &[]);
    let agent = h.register("cpus:4;mem:4GiB");
    h.settle();
    let offer = only_offer(&h.take(), &fw);
    h.accept(&fw, &[&offer.id], vec![make(&agent)], None);
    let out = h.take();
    if let [launch] = launches(&out, &agent).as_slice() {
        assert_eq!(launch.tasks.len(), 1);
        return Ok(());
    }
    let errors = updates(&out, &fw);
    let [status] = errors.as_slice() else {
        panic!("neither a launch nor one TASK_ERROR: {errors:?}");
    };
    assert_eq!(status.state, TaskState::TaskError as i32);
    let reason = Reason::try_from(status.reason).unwrap_or(Reason::Unspecified);
    Err((reason, status.message.clone()))
}

fn refused(make: impl FnOnce(&str) -> TaskInfo) -> (Reason, String) {
    accept_one(make).expect_err("the task is refused")
}

#[test]
fn a_fetched_program_launches_with_its_uris() {
    let uris = vec![
        uri("https://example.com/app.wasm", ""),
        uri("http://h/in.txt", ""),
    ];
    accept_one(|agent| fetching(agent, "", uris, "app.wasm")).expect("launched");
}

#[test]
fn an_uploaded_program_may_fetch_data_files_next_to_it() {
    let uris = vec![uri("file:///srv/input.txt", "")];
    accept_one(|agent| fetching(agent, DIGEST, uris, "")).expect("launched");
}

#[test]
fn an_output_name_escaping_the_sandbox_is_refused() {
    let uris = vec![uri("http://h/app.wasm", "../../etc/passwd")];
    let (reason, message) = refused(|agent| fetching(agent, "", uris, "../../etc/passwd"));
    assert_eq!(reason, Reason::InvalidTask);
    assert!(message.contains("path separator"), "{message}");
}

#[test]
fn every_shared_rule_is_checked_at_accept() {
    let cases: Vec<(Vec<FetchUri>, &str, &str)> = vec![
        (
            vec![uri("ftp://h/app.wasm", "")],
            "app.wasm",
            "not supported",
        ),
        (
            vec![uri("http://h/a.wasm", ""), uri("http://g/a.wasm", "")],
            "a.wasm",
            "same file",
        ),
        (
            vec![uri("http://h/a.wasm", "")],
            "b.wasm",
            "executor.program",
        ),
        (vec![uri("http://h/a.wasm", "CON")], "CON", "reserved"),
        (
            (0..65)
                .map(|i| uri(&format!("http://h/f{i}"), ""))
                .collect(),
            "f0",
            "at most 64",
        ),
    ];
    for (uris, program, why) in cases {
        let (reason, message) = refused(|agent| fetching(agent, "", uris, program));
        assert_eq!(reason, Reason::InvalidTask, "{message}");
        assert!(message.contains(why), "{why}: {message}");
    }
}

#[test]
fn an_executor_needs_exactly_one_of_digest_and_program() {
    let (reason, message) = refused(|agent| fetching(agent, "", vec![uri("http://h/d", "")], ""));
    assert_eq!(reason, Reason::InvalidTask);
    assert!(
        message.contains("digest") && message.contains("program"),
        "{message}"
    );
    let uris = vec![uri("http://h/a.wasm", "")];
    let (reason, message) = refused(|agent| fetching(agent, DIGEST, uris, "a.wasm"));
    assert_eq!(reason, Reason::InvalidTask);
    assert!(message.contains("both"), "{message}");
}

#[test]
fn a_wasmesos_uri_must_name_an_uploaded_component() {
    let missing = format!("wasmesos://sha256:{}", "cd".repeat(32));
    let (reason, message) =
        refused(|agent| fetching(agent, "", vec![uri(&missing, "p.wasm")], "p.wasm"));
    assert_eq!(reason, Reason::ExecutorNotFound);
    assert!(message.contains("not been uploaded"), "{message}");
    let uploaded = format!("wasmesos://sha256:{DIGEST}");
    accept_one(|agent| fetching(agent, "", vec![uri(&uploaded, "p.wasm")], "p.wasm"))
        .expect("an uploaded component launches");
}
