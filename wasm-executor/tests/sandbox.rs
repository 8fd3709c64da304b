//! The sandbox: one preopened directory, only the given env, no network unless granted.

mod common;

use std::time::Duration;

use common::{Sandbox, assert_failed, assert_host_healthy, load, run};
use wasmesos_guest_artifacts as guests;
use wasmesos_test_support::scaled;
use wasmesos_wasm_executor::{AllowedAddr, FailureReason, NetworkPolicy};

#[tokio::test]
async fn filesystem_escapes_are_blocked() {
    let escape = load(guests::FS_ESCAPE).await;
    let sandbox = Sandbox::new();
    // A secret next to the sandbox, where `..` would lead.
    let secret = sandbox.dir.path().join("secret.txt");
    std::fs::write(&secret, "host secret").expect("write secret");
    let mut spec = sandbox.spec("fs-escape");
    spec.args = vec![secret.display().to_string(), "/etc/hostname".into()];
    let report = run(&escape, spec).await;
    let stdout = sandbox.read("stdout");
    assert!(!stdout.contains("ESCAPED"), "{stdout}");
    assert!(stdout.contains("BLOCKED list .."), "{stdout}");
    assert!(stdout.contains("BLOCKED read /etc/passwd"), "{stdout}");
    assert_eq!(
        report.outcome.reason_code(),
        "finished",
        "{:?}\n{stdout}",
        report.outcome
    );
    assert!(!sandbox.dir.path().join("fs-escape-probe").exists());
    assert_host_healthy().await;
}

#[tokio::test]
async fn the_guest_sees_only_the_env_and_args_it_was_given() {
    // SAFETY-free way to be sure the host env is not empty: PATH is set for cargo test.
    assert!(std::env::var_os("PATH").is_some());
    let probe = load(guests::ENV_PROBE).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("env-probe");
    spec.name = "probe".into();
    spec.args = vec!["--flag".into()];
    spec.env = vec![("ONLY".into(), "this".into())];
    let report = run(&probe, spec).await;
    assert_eq!(
        report.outcome.reason_code(),
        "finished",
        "{:?}",
        report.outcome
    );
    let stdout = sandbox.read("stdout");
    let expected = "ONLY=this\narg[0]=probe\narg[1]=--flag\ncwd=/\n\
                    probe PATH=<unset>\nprobe HOME=<unset>\nprobe USER=<unset>\n\
                    probe SHELL=<unset>\nprobe TMPDIR=<unset>\n";
    assert_eq!(stdout, expected);
    assert_host_healthy().await;
}

#[tokio::test]
async fn sockets_are_denied_by_default() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let attempt = load(guests::SOCKET_ATTEMPT).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("socket-denied");
    spec.args = vec![addr.to_string()];
    spec.limits.timeout = Some(Duration::from_secs(30));
    let report = run(&attempt, spec).await;
    assert_failed(&report, &FailureReason::ExitCode(3));
    assert!(
        sandbox.read("stdout").starts_with("DENIED"),
        "{}",
        sandbox.read("stdout")
    );
    let accepted = tokio::time::timeout(Duration::from_millis(1), listener.accept()).await;
    assert!(accepted.is_err(), "the guest reached the listener");
    assert_host_healthy().await;
}

#[tokio::test]
async fn a_granted_address_is_reachable_and_others_are_not() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accept = tokio::spawn(async move { listener.accept().await.map(|(_, peer)| peer) });
    let attempt = load(guests::SOCKET_ATTEMPT).await;

    let other = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("socket-other-port");
    spec.args = vec![other.local_addr().expect("addr").to_string()];
    spec.network = NetworkPolicy::allowing([AllowedAddr::Socket(addr)]);
    assert_failed(&run(&attempt, spec).await, &FailureReason::ExitCode(3));

    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("socket-granted");
    spec.args = vec![addr.to_string()];
    spec.network = NetworkPolicy::allowing([AllowedAddr::Socket(addr)]);
    let report = run(&attempt, spec).await;
    assert_eq!(
        report.outcome.reason_code(),
        "finished",
        "{:?}",
        report.outcome
    );
    assert_eq!(sandbox.read("stdout"), "CONNECTED\n");
    let peer = tokio::time::timeout(scaled(Duration::from_secs(10)), accept)
        .await
        .expect("the listener saw the guest")
        .expect("joins")
        .expect("accepts");
    assert!(peer.ip().is_loopback());
}

#[tokio::test]
async fn stdin_is_closed_and_output_files_live_in_the_sandbox() {
    let hello = load(guests::HELLO).await;
    let sandbox = Sandbox::new();
    let mut spec = sandbox.spec("files");
    spec.args = vec!["--stderr".into(), "to stderr".into()];
    let report = run(&hello, spec).await;
    assert_eq!(report.outcome.reason_code(), "finished");
    assert!(sandbox.read("stdout").starts_with("hello from wasmesos\n"));
    assert_eq!(sandbox.read("stderr"), "to stderr\n");
}
