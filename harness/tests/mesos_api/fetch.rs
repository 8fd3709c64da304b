//! Mesos tasks whose program the agent fetches over HTTP: `shell=true` (the first word of
//! `value`) and `shell=false` (`value` with `arguments` as argv), and a fetch that fails.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use serde_json::json;
use wasmesos_guest_artifacts::HELLO;
use wasmesos_harness::read_task_file;
use wasmesos_proto::SandboxFile;

use crate::client::{Framework, subscribe_call};
use crate::common::cluster;

/// Serves the hello component at `/hello.wasm` (everything else is 404).
async fn file_server() -> SocketAddr {
    let bytes = std::fs::read(HELLO).expect("the hello component");
    let app = Router::new().route("/hello.wasm", get(move || async move { bytes.clone() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

async fn stdout_of(master_url: &str, task_id: &str) -> String {
    let bytes = read_task_file(master_url, task_id, SandboxFile::Stdout)
        .await
        .expect("the task's stdout");
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetched_programs_run_with_shell_true_and_shell_false() {
    let (cluster, authority) = cluster().await;
    let server = file_server().await;
    let url = format!("http://{server}/hello.wasm");
    let mut framework = Framework::subscribe(&authority, &subscribe_call("fetch", json!({}))).await;

    let offers = framework.events.offers().await;
    framework
        .launch(
            &offers[0],
            "shell-true",
            json!({"uris": [{"value": url}], "value": "hello.wasm 'two words' plain"}),
        )
        .await;
    framework
        .wait_for_state("shell-true", "TASK_FINISHED")
        .await;
    let out = stdout_of(&cluster.master_url(), "shell-true").await;
    assert!(out.contains("hello from wasmesos"), "{out}");
    assert!(
        out.contains("=two words"),
        "the quoted word is one argument: {out}"
    );
    assert!(out.contains("=plain"), "{out}");

    let offers = framework.events.offers().await;
    framework
        .launch(
            &offers[0],
            "shell-false",
            json!({"uris": [{"value": url, "cache": true}], "shell": false, "value": "hello.wasm",
                   "arguments": ["hello.wasm", "a | b", "$HOME"]}),
        )
        .await;
    framework
        .wait_for_state("shell-false", "TASK_FINISHED")
        .await;
    let out = stdout_of(&cluster.master_url(), "shell-false").await;
    assert!(
        out.contains("=a | b"),
        "arguments pass untouched without a shell: {out}"
    );
    assert!(out.contains("=$HOME"), "{out}");
    cluster.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fetch_fails_the_task_with_container_launch_failed() {
    let (cluster, authority) = cluster().await;
    let server = file_server().await;
    let mut framework =
        Framework::subscribe(&authority, &subscribe_call("nofetch", json!({}))).await;
    let offers = framework.events.offers().await;
    framework
        .launch(
            &offers[0],
            "missing",
            json!({"uris": [{"value": format!("http://{server}/missing.wasm")}],
                   "value": "missing.wasm"}),
        )
        .await;
    let failed = framework.wait_for_state("missing", "TASK_FAILED").await;
    assert_eq!(
        failed["reason"], "REASON_CONTAINER_LAUNCH_FAILED",
        "{failed}"
    );
    let message = failed["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("missing.wasm"),
        "the message names the uri: {message}"
    );
    cluster.shutdown().await.expect("shutdown");
}
