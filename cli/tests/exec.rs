//! `wasmesos exec`, run as the real binary.

use std::process::{Command, Output};

use wasmesos_guest_artifacts as guests;

fn exec(args: &[&str]) -> Output {
    exec_logging(args, None)
}

fn exec_logging(args: &[&str], rust_log: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasmesos"));
    command
        .arg("exec")
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("WASMESOS_CACHE_DIR");
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    command.output().expect("the binary runs")
}

fn last_stderr_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

fn json_summary(output: &Output) -> serde_json::Value {
    let line = last_stderr_line(output);
    serde_json::from_str(&line).unwrap_or_else(|err| panic!("{line:?} is not JSON: {err}"))
}

#[test]
fn hello_runs_with_its_output_on_the_terminal_and_a_summary_last() {
    let output = exec(&["--env", "GREETING=hi", guests::HELLO, "--", "world"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout,
        "hello from wasmesos\narg[0]=hello\narg[1]=world\nGREETING=hi\n"
    );
    let summary = last_stderr_line(&output);
    assert!(
        summary.starts_with("wasmesos: finished [finished]"),
        "{summary}"
    );
}

#[test]
fn the_guest_s_exit_code_is_the_process_exit_code() {
    let output = exec(&[guests::HELLO, "--", "--exit", "7", "--stderr", "oops"]);
    assert_eq!(output.status.code(), Some(7));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("oops\n"), "{stderr}");
    assert!(last_stderr_line(&output).contains("[exit_code]"));
}

#[test]
fn a_trapping_guest_fails_with_a_non_zero_status() {
    let output = exec(&[guests::TRAP]);
    assert_eq!(output.status.code(), Some(1));
    let summary = last_stderr_line(&output);
    assert!(
        summary.starts_with("wasmesos: failed: trapped:"),
        "{summary}"
    );
    assert!(summary.contains("[trap]"), "{summary}");
}

#[test]
fn json_summary_of_a_finished_executor_carries_its_result_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("words.txt");
    std::fs::write(&data, "one two three").expect("write");
    let output = exec(&[
        "--json",
        "--data-file",
        data.to_str().expect("utf-8 path"),
        guests::WORDCOUNT,
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let summary = json_summary(&output);
    assert_eq!(summary["state"], "finished");
    assert_eq!(summary["reason"], "finished");
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["data"], "3");
    assert!(summary["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0));
    assert!(
        summary["peak_memory_bytes"]
            .as_u64()
            .is_some_and(|bytes| bytes > 0)
    );
    assert!(summary["fuel_consumed"].is_null());
}

#[test]
fn json_summary_of_a_limit_names_the_reason() {
    let output = exec(&["--json", "--fuel", "1000000", guests::FUEL_BOMB]);
    assert_eq!(output.status.code(), Some(1));
    let summary = json_summary(&output);
    assert_eq!(summary["state"], "failed");
    assert_eq!(summary["reason"], "fuel_exhausted");
    assert_eq!(summary["fuel_consumed"], 1_000_000);
    assert!(summary["exit_code"].is_null());

    let output = exec(&[
        "--json",
        "--timeout",
        "200ms",
        "--cpus",
        "0.5",
        guests::SPIN,
    ]);
    assert_eq!(output.status.code(), Some(124));
    assert_eq!(json_summary(&output)["reason"], "timeout");
}

#[test]
fn load_errors_are_reported_in_the_summary() {
    let output = exec(&["--json", guests::UNSUPPORTED_IMPORT]);
    assert_eq!(output.status.code(), Some(125));
    let summary = json_summary(&output);
    assert_eq!(summary["state"], "error");
    assert_eq!(summary["reason"], "unsupported_imports");
    assert!(
        summary["message"]
            .as_str()
            .is_some_and(|m| m.contains("acme:missing/thing"))
    );

    let output = exec(&["/nonexistent/guest.wasm"]);
    assert_eq!(output.status.code(), Some(125));
    assert!(last_stderr_line(&output).contains("[io_error]"));
}

#[test]
fn bad_flag_values_are_rejected_naming_the_flag() {
    for (flag, value) in [
        ("--mem", "64XB"),
        ("--timeout", "5"),
        ("--cpus", "0"),
        ("--disk", "lots"),
        // Zero means "no limit" to an agent, so exec refuses it rather than change its meaning.
        ("--mem", "0"),
        ("--disk", "0B"),
        ("--fuel", "0"),
        ("--timeout", "0s"),
        ("--allow-net", "example.com:80"),
        ("--allow-net", "[127.0.0.1]"),
    ] {
        let output = exec(&[flag, value, guests::HELLO]);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(flag), "{flag}: {stderr}");
    }
}

#[test]
fn a_kept_sandbox_holds_the_output_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sandbox = dir.path().join("box");
    let output = exec(&[
        "--sandbox",
        sandbox.to_str().expect("utf-8 path"),
        guests::HELLO,
    ]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = std::fs::read_to_string(sandbox.join("stdout")).expect("stdout file");
    assert!(stdout.starts_with("hello from wasmesos"));
}

#[test]
fn help_shows_examples() {
    let output = exec(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("Examples:"), "{help}");
    assert!(help.contains("--mem <SIZE>"), "{help}");
}

#[test]
fn guest_log_lines_go_to_stderr_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("words.txt");
    std::fs::write(&data, "one two three").expect("write");
    let output = exec_logging(
        &[
            "--data-file",
            data.to_str().expect("utf-8 path"),
            guests::WORDCOUNT,
        ],
        Some("wasmesos::guest=info"),
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines = stderr
        .lines()
        .filter(|line| line.contains("wasmesos::guest") && line.contains(": 3 words"))
        .count();
    assert_eq!(lines, 1, "{stderr}");
}

#[test]
fn network_grants_take_the_agent_s_syntax() {
    for grant in ["127.0.0.1:8080", "[::1]:80", "[::1]", "::1", "10.0.0.1"] {
        let output = exec(&["--allow-net", grant, guests::HELLO]);
        assert_eq!(output.status.code(), Some(0), "{grant}: {output:?}");
    }
    let output = exec(&["--allow-net", "localhost:80", guests::HELLO]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("network grant `localhost:80`"), "{stderr}");
}
