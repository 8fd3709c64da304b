//! `wasmesos roles` against a real in-process master: list (table and JSON), set-weight and
//! set-quota, and the errors a user sees.

use std::process::{Command, Output};

use serde_json::Value;
use wasmesos_master::MasterConfig;

const BINARY: &str = env!("CARGO_BIN_EXE_wasmesos");

async fn wasmesos(master: &str, args: &[&str]) -> Output {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env("WASMESOS_MASTER", master)
        .env_remove("RUST_LOG");
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
        .await
        .expect("join")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn roles_json(master: &str) -> Vec<Value> {
    let output = wasmesos(master, &["roles", "--json"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let value: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    value.as_array().cloned().expect("an array of roles")
}

fn find<'a>(roles: &'a [Value], name: &str) -> &'a Value {
    roles
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("role {name} in {roles:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_and_quota_are_set_and_listed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let master = wasmesos_master::spawn(MasterConfig::for_tests(dir.path()))
        .await
        .expect("master starts");
    let url = master.url();

    let output = wasmesos(&url, &["roles", "set-weight", "eng/backend", "3"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "role eng/backend now weighs 3\n");
    let quota = [
        "roles",
        "set-quota",
        "dev",
        "--guarantee",
        "cpus:1",
        "--limit",
        "cpus:2;mem:1GiB",
    ];
    let output = wasmesos(&url, &quota).await;
    assert!(output.status.success(), "{}", stderr(&output));

    let roles = roles_json(&url).await;
    assert_eq!(find(&roles, "eng/backend")["weight"], 3.0);
    assert_eq!(find(&roles, "eng")["weight"], 1.0, "the parent exists too");
    let dev = find(&roles, "dev");
    assert_eq!(dev["quota"]["guarantee"], "cpus:1");
    assert_eq!(dev["quota"]["limit"], "cpus:2;mem:1GiB");

    let table = wasmesos(&url, &["roles"]).await;
    assert!(table.status.success(), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(text.starts_with("ROLE"), "{text}");
    let row = text
        .lines()
        .find(|line| line.starts_with("eng/backend "))
        .expect("eng/backend row");
    assert_eq!(row.split_whitespace().nth(1), Some("3"), "{row}");

    let output = wasmesos(&url, &["roles", "set-quota", "dev", "--clear"]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(find(&roles_json(&url).await, "dev")["quota"], Value::Null);
    master.shutdown().await.expect("master stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_fail_with_a_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let master = wasmesos_master::spawn(MasterConfig::for_tests(dir.path()))
        .await
        .expect("master starts");
    let url = master.url();
    let cases: [(&[&str], &str); 5] = [
        (&["roles", "set-weight", "eng", "0"], "positive"),
        (&["roles", "set-weight", "a b", "2"], "role"),
        (
            &[
                "roles",
                "set-quota",
                "dev",
                "--guarantee",
                "cpus:4",
                "--limit",
                "cpus:2",
            ],
            "limit",
        ),
        (&["roles", "set-quota", "dev"], "--guarantee"),
        (
            &["roles", "set-quota", "dev", "--limit", "cpus(dev):1"],
            "quantities",
        ),
    ];
    for (args, expected) in cases {
        let output = wasmesos(&url, args).await;
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    master.shutdown().await.expect("master stops");

    // Nobody listens there any more.
    let output = wasmesos(&url, &["roles"]).await;
    assert!(!output.status.success());
}

#[test]
fn every_roles_command_has_examples_in_its_help() {
    for args in [
        &["roles", "--help"][..],
        &["roles", "set-weight", "--help"],
        &["roles", "set-quota", "--help"],
        &["sim", "--help"],
    ] {
        let output = Command::new(BINARY).args(args).output().expect("runs");
        assert!(output.status.success());
        assert!(stdout(&output).contains("Examples:"), "{args:?}");
    }
}
