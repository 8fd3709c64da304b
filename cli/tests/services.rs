//! `wasmesos run --ports` on a cluster of separate OS processes: a wasi:http service served
//! on the port its offer gave it, health-checked by its agent, stopped with `wasmesos kill`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use wasmesos_guest_artifacts as guests;
use wasmesos_harness::{ProcessCluster, eventually_some};
use wasmesos_test_support::http_get;

const BINARY: &str = env!("CARGO_BIN_EXE_wasmesos");
const DEADLINE: Duration = Duration::from_secs(30);

/// `GET path` on `url` (`http://host:port`) over its own connection: status and body.
async fn get(url: &str, path: &str) -> std::io::Result<(u16, String)> {
    http_get(url.trim_start_matches("http://"), path).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasmesos_run_serves_a_wasi_http_service_on_its_offered_port() {
    // One port of the ephemeral range, free now, so that parallel clusters on this machine
    // do not offer the same port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let resources = format!("cpus:2;mem:2GiB;disk:2GiB;ports:[{port}-{port}]");
    let cluster = ProcessCluster::start(Path::new(BINARY), 1, &resources, &[], &[])
        .await
        .expect("master and agent as processes");
    let master = cluster.master_url();
    let mut run = Command::new(BINARY)
        .args(["run", "--ports", "1", "--health-http", "/", "--name", "web"])
        .arg(guests::HTTP_HELLO)
        .env("WASMESOS_MASTER", &master)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("wasmesos run starts");
    let stdout = run.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = tokio::time::timeout(DEADLINE, lines.next_line())
        .await
        .expect("the URL within the deadline")
        .expect("stdout readable")
        .expect("a URL line");
    assert_eq!(url, format!("http://127.0.0.1:{port}"));
    let (status, body) = get(&url, "/").await.expect("the service answers");
    assert_eq!((status, body.as_str()), (200, "hello from wasmesos\n"));

    // The agent's health check reaches the master's view of the task.
    let task_id = eventually_some(
        "the service healthy in tasks --json",
        DEADLINE,
        async || {
            let listing = Command::new(BINARY)
                .args(["tasks", "--json"])
                .env("WASMESOS_MASTER", &master)
                .output()
                .await
                .ok()?;
            let tasks: serde_json::Value = serde_json::from_slice(&listing.stdout).ok()?;
            let web = tasks
                .as_array()?
                .iter()
                .find(|task| task["name"] == "web")?;
            (web["state"] == "RUNNING" && web["healthy"] == true)
                .then(|| web["task_id"].as_str().map(str::to_owned))
                .flatten()
        },
    )
    .await
    .expect("a healthy RUNNING task");

    let killed = Command::new(BINARY)
        .args(["kill", &task_id])
        .env("WASMESOS_MASTER", &master)
        .output()
        .await
        .expect("wasmesos kill runs");
    assert_eq!(killed.status.code(), Some(0), "{killed:?}");
    let ended = tokio::time::timeout(DEADLINE, run.wait_with_output())
        .await
        .expect("wasmesos run ends once the service is killed")
        .expect("its output");
    let stderr = String::from_utf8_lossy(&ended.stderr);
    assert_eq!(ended.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("KILLED"), "{stderr}");
    assert!(
        get(&url, "/").await.is_err(),
        "the port is closed once the service is killed"
    );
}
