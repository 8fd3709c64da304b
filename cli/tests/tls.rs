//! TLS on every port, with real processes: a master and an agent serving TLS with
//! certificates of a CA made for the test, a task run through `wasmesos run` over
//! `https://`, the master's HTTP API over TLS (HTTP/2 and HTTP/1.1), and what is refused:
//! a client trusting another CA, a plain-HTTP client on the TLS port, and (mutual TLS) an
//! agent without a client certificate.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use wasmesos_detector::{ClientTls, Identity};
use wasmesos_guest_artifacts as guests;
use wasmesos_harness::{ChildProcess, TestPki, eventually_some, spawn_and_read_url};
use wasmesos_proto::HeartbeatRequest;
use wasmesos_proto::agent_channel_client::AgentChannelClient;
use wasmesos_sdk_scheduler::{Driver, DriverConfig};

/// How long a condition on the master's published state may take to hold.
const DEADLINE: Duration = Duration::from_secs(10);

const BINARY: &str = env!("CARGO_BIN_EXE_wasmesos");
const STARTUP: Duration = Duration::from_secs(60);
/// What a client trusting the wrong CA is told.
const UNTRUSTED: &str = "not signed by a CA this client trusts";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// `wasmesos ARGS` against `master`, trusting `ca` when given.
fn wasmesos(master: &str, ca: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env("WASMESOS_MASTER", master)
        .env_remove("WASMESOS_TLS_CA")
        .env_remove("RUST_LOG");
    if let Some(ca) = ca {
        command.env("WASMESOS_TLS_CA", ca);
    }
    command.output().expect("the binary runs")
}

/// `wasmesos master` on a loopback port with `identity`, trusting `ca` for agents, and
/// `extra` flags.
async fn master(dir: &Path, identity: &Identity, ca: &Path, extra: &[&str]) -> ChildProcess {
    let work_dir = path(&dir.join("master"));
    let (cert, key, ca) = (path(&identity.cert), path(&identity.key), path(ca));
    let mut args = vec![
        "master",
        "--listen",
        "127.0.0.1:0",
        "--work-dir",
        &work_dir,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls-ca",
        &ca,
    ];
    args.extend_from_slice(extra);
    spawn_and_read_url(Path::new(BINARY), "master", &args, STARTUP, false)
        .await
        .expect("a TLS master")
}

/// `wasmesos agent` of `master` serving TLS with `identity`, verifying the master with
/// `ca`; returns once it registered.
async fn agent(dir: &Path, master: &str, identity: &Identity, ca: &Path) -> ChildProcess {
    let work_dir = path(&dir.join("agent"));
    let (cert, key, ca) = (path(&identity.cert), path(&identity.key), path(ca));
    let args = [
        "agent",
        "--master",
        master,
        "--listen",
        "127.0.0.1:0",
        "--work-dir",
        &work_dir,
        "--resources",
        "cpus:2;mem:1GiB;disk:1GiB",
        "--max-tasks",
        "64",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls-ca",
        &ca,
    ];
    spawn_and_read_url(Path::new(BINARY), "agent", &args, STARTUP, true)
        .await
        .expect("a TLS agent that registered over TLS")
}

/// An HTTP/1.1-only client (as curl or a browser may be) trusting `ca`.
fn http1_client(ca: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca).expect("the CA file");
    let ca = reqwest::Certificate::from_pem(&pem).expect("a CA certificate");
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .http1_only()
        .build()
        .expect("a client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_runs_over_tls_and_untrusted_or_plain_clients_are_refused() {
    let pki = TestPki::new("wasmesos test CA").expect("a CA");
    let dir = tempfile::tempdir().expect("temp dir");
    let master_identity = pki.issue("master").expect("master certificate");
    let master = master(dir.path(), &master_identity, pki.ca(), &[]).await;
    let url = master.url.clone();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    // A client that connects and never says hello holds no one up.
    let port = url.rsplit(':').next().expect("a port");
    let mut silent = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .expect("connect");

    let agent_identity = pki.issue("agent").expect("agent certificate");
    let agent = agent(dir.path(), &url, &agent_identity, pki.ca()).await;
    assert!(agent.url.starts_with("https://"), "{}", agent.url);

    // The master reads the task's stdout from the https agent, verifying it with --tls-ca.
    let run = wasmesos(&url, Some(pki.ca()), &["run", guests::HELLO, "--", "world"]);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let stdout = text(&run.stdout);
    assert!(stdout.starts_with("hello from wasmesos\n"), "{stdout}");

    // /state over TLS: HTTP/2 through the CLI's channel, HTTP/1.1 as curl would.
    let state = wasmesos(&url, Some(pki.ca()), &["state", "--json"]);
    assert_eq!(state.status.code(), Some(0), "{state:?}");
    let json: serde_json::Value = serde_json::from_slice(&state.stdout).expect("JSON");
    assert_eq!(json["agents"].as_array().map(Vec::len), Some(1), "{json}");
    let response = http1_client(pki.ca())
        .get(format!("{url}/state"))
        .send()
        .await
        .expect("GET /state over TLS");
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert!(response.status().is_success(), "{response:?}");
    let body = response.bytes().await.expect("a body");
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert!(
        json["tasks"].as_array().is_some_and(|t| !t.is_empty()),
        "{json}"
    );

    // Another CA, or the system's roots: refused, saying why and what fixes it.
    let other = TestPki::new("another CA").expect("a CA");
    for ca in [Some(other.ca()), None] {
        let refused = wasmesos(&url, ca, &["agents"]);
        assert_eq!(refused.status.code(), Some(1), "{refused:?}");
        let stderr = text(&refused.stderr);
        assert!(
            stderr.contains(&format!("cannot reach the master at {url}"))
                && stderr.contains(UNTRUSTED)
                && stderr.contains("--tls-ca"),
            "{stderr}"
        );
    }
    let config = DriverConfig {
        tls: ClientTls {
            ca: Some(other.ca().to_path_buf()),
            identity: None,
        },
        ..DriverConfig::new(&url, "untrusting")
    };
    let sdk = Driver::connect(config)
        .await
        .err()
        .map(|err| err.to_string());
    assert!(
        sdk.as_deref().is_some_and(|e| e.contains(UNTRUSTED)),
        "{sdk:?}"
    );

    // Plain HTTP on the TLS port is told to use https://, and served nothing else.
    let plain = url.replacen("https://", "http://", 1);
    let grpc = wasmesos(&plain, None, &["agents"]);
    assert_eq!(grpc.status.code(), Some(1), "{grpc:?}");
    let stderr = text(&grpc.stderr);
    assert!(
        stderr.contains("serves TLS only") && stderr.contains("https://"),
        "{stderr}"
    );
    let response = reqwest::get(format!("{plain}/state"))
        .await
        .expect("an answer");
    assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);
    let body = response.text().await.expect("a body");
    assert!(
        body.contains("serves TLS only") && !body.contains("agents"),
        "{body}"
    );

    // Still served after all of that, the silent connection still open.
    let state = wasmesos(&url, Some(pki.ca()), &["agents"]);
    assert_eq!(state.status.code(), Some(0), "{state:?}");
    let _ = silent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_client_ca_agents_need_a_client_certificate_and_others_may_go_without() {
    let pki = TestPki::new("wasmesos test CA").expect("a CA");
    let dir = tempfile::tempdir().expect("temp dir");
    let identity = pki.issue("master").expect("master certificate");
    let client_ca = path(pki.ca());
    let master = master(
        dir.path(),
        &identity,
        pki.ca(),
        &["--tls-client-ca", &client_ca],
    )
    .await;
    let url = master.url.clone();

    // An agent presenting its certificate registers.
    let agent_identity = pki.issue("agent").expect("agent certificate");
    let _agent = agent(dir.path(), &url, &agent_identity, pki.ca()).await;

    // Without a client certificate the agents' service refuses, naming what is missing.
    let without = ClientTls {
        ca: Some(pki.ca().to_path_buf()),
        identity: None,
    };
    let tls = without.load().expect("client TLS");
    let endpoint = tonic::transport::Endpoint::from_shared(url.clone()).expect("endpoint");
    let channel = tls
        .endpoint(endpoint)
        .expect("TLS endpoint")
        .connect()
        .await
        .expect("frameworks and the CLI connect without a certificate");
    let refused = AgentChannelClient::new(channel)
        .heartbeat(HeartbeatRequest::default())
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
    assert!(
        refused.message().contains("requires a client certificate"),
        "{refused:?}"
    );

    // The CLI without one still reads the state, which lists the one agent (the state the
    // master publishes may lag the registration by a moment).
    eventually_some("the agent listed over TLS", DEADLINE, async || {
        let agents = wasmesos(&url, Some(pki.ca()), &["agents", "--json"]);
        assert_eq!(agents.status.code(), Some(0), "{agents:?}");
        let json: serde_json::Value = serde_json::from_slice(&agents.stdout).expect("JSON");
        (json.as_array().map(Vec::len) == Some(1)).then_some(())
    })
    .await
    .expect("the CLI lists the agent");

    // A certificate another CA signed fails the handshake. TLS 1.3 sends the client's
    // certificate after the server's Finished, so the first call sees the refusal, as a
    // connection closed under it (the server logs the reason).
    let other = TestPki::new("another CA").expect("a CA");
    let stranger = ClientTls {
        ca: Some(pki.ca().to_path_buf()),
        identity: Some(other.issue("stranger").expect("certificate")),
    };
    let tls = stranger.load().expect("client TLS");
    let endpoint = tonic::transport::Endpoint::from_shared(url.clone()).expect("endpoint");
    let channel = tls.endpoint(endpoint).expect("TLS endpoint").connect_lazy();
    let refused = AgentChannelClient::new(channel)
        .heartbeat(HeartbeatRequest::default())
        .await
        .expect_err("refused");
    assert_ne!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
}

#[test]
fn a_missing_certificate_is_named_before_serving() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("missing-cert.pem");
    let key = dir.path().join("missing-key.pem");
    let work_dir = path(&dir.path().join("m"));
    let output = Command::new(BINARY)
        .args(["master", "--listen", "127.0.0.1:0", "--work-dir", &work_dir])
        .args(["--tls-cert", &path(&cert), "--tls-key", &path(&key)])
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot read certificate {}", cert.display())),
        "{stderr}"
    );
}
