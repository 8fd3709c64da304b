//! The fetcher against a real agent and a local HTTP server: programs and data files fetched
//! into the sandbox, every failure a TASK_FAILED with REASON_CONTAINER_LAUNCH_FAILED and the
//! uri, the size cap and time limit enforced, file:// confined, the cache used.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use wasmesos_guest_artifacts::{SLEEPY, WORDCOUNT};
use wasmesos_proto::agent_command::{Command, Kill};
use wasmesos_proto::{FetchUri, Reason, TaskInfo, TaskState, TaskStatus};

use wasmesos_test_support::http_get;

use crate::fake_master::AckPolicy;
use crate::support::{Cluster, task, with_args};

/// Files the server serves, and how many requests each path got.
#[derive(Clone, Default)]
struct Served {
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl Served {
    fn put(&self, name: &str, bytes: Vec<u8>) {
        self.files.lock().expect("files").insert(name.into(), bytes);
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .expect("hits")
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

/// A local HTTP server on `127.0.0.1:0`: `/files/NAME` serves what was put (404 otherwise),
/// `/big-len/N` and `/big-chunked/N` N bytes with and without Content-Length, `/stall` a
/// body that never comes, `/redirect/N` N redirects before `two words`.
struct FileServer {
    addr: SocketAddr,
    served: Served,
    _task: tokio::task::JoinHandle<()>,
}

impl FileServer {
    async fn start() -> FileServer {
        let served = Served::default();
        let app = Router::new()
            .route("/files/{name}", get(file))
            .route("/big-len/{n}", get(big_with_length))
            .route("/big-chunked/{n}", get(big_chunked))
            .route("/stall", get(stall))
            .route("/redirect/{n}", get(redirect))
            .with_state(served.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FileServer {
            addr,
            served,
            _task: task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

fn count(served: &Served, path: String) {
    *served.hits.lock().expect("hits").entry(path).or_default() += 1;
}

async fn file(State(served): State<Served>, Path(name): Path<String>) -> Response {
    count(&served, format!("/files/{name}"));
    match served.files.lock().expect("files").get(&name) {
        Some(bytes) => bytes.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn big_with_length(Path(n): Path<usize>) -> Response {
    vec![b'x'; n].into_response()
}

async fn big_chunked(Path(n): Path<usize>) -> Response {
    let chunks = n.div_ceil(64 * 1024);
    let stream = futures::stream::iter(
        (0..chunks).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 64 * 1024]))),
    );
    Body::from_stream(stream).into_response()
}

async fn redirect(Path(n): Path<u32>) -> Response {
    match n.checked_sub(1) {
        Some(next) => {
            axum::response::Redirect::temporary(&format!("/redirect/{next}")).into_response()
        }
        None => "two words".into_response(),
    }
}

async fn stall() -> Response {
    let first = futures::stream::once(async { Ok::<_, std::io::Error>(Bytes::from("a")) });
    let never = futures::stream::pending();
    Body::from_stream(futures::StreamExt::chain(first, never)).into_response()
}

fn uri(value: String) -> FetchUri {
    FetchUri {
        value,
        ..FetchUri::default()
    }
}

/// A task that fetches `uris`; `program` (when set) is the fetched file it runs.
fn fetching(task_id: &str, digest: &str, uris: Vec<FetchUri>, program: &str) -> TaskInfo {
    let mut task = task(task_id, digest);
    if let Some(executor) = task.executor.as_mut() {
        executor.uris = uris;
        executor.program = program.into();
    }
    task
}

/// Asserts a failed fetch of `uri`: TASK_FAILED, CONTAINER_LAUNCH_FAILED, a message naming the
/// uri and containing `cause`.
fn assert_fetch_failed(status: &TaskStatus, uri: &str, cause: &str) {
    assert_eq!(status.state(), TaskState::TaskFailed, "{status:?}");
    assert_eq!(status.reason(), Reason::ContainerLaunchFailed, "{status:?}");
    let prefix = format!("Failed to fetch '{uri}': ");
    assert!(status.message.starts_with(&prefix), "{}", status.message);
    assert!(status.message.contains(cause), "{}", status.message);
}

fn wordcount_bytes() -> Vec<u8> {
    std::fs::read(WORDCOUNT).expect("the wordcount guest is built")
}

#[tokio::test]
async fn a_component_fetched_over_http_runs_and_is_compiled_once_for_two_tasks() {
    let server = FileServer::start().await;
    server.served.put("wordcount.wasm", wordcount_bytes());
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let url = server.url("/files/wordcount.wasm");
    for (id, data, words) in [("http-1", "one two three", "3"), ("http-2", "a b", "2")] {
        let mut task = fetching(id, "", vec![uri(url.clone())], "wordcount.wasm");
        task.data = data.as_bytes().to_vec();
        master.launch("fw-1", vec![task]).await;
        let done = master.terminal(id).await;
        assert_eq!(done.state(), TaskState::TaskFinished, "{done:?}");
        assert_eq!(done.data, words.as_bytes());
    }
    assert_eq!(
        server.served.hits("/files/wordcount.wasm"),
        2,
        "no cache asked"
    );
    assert!(
        master.recorded().downloads.is_empty(),
        "nothing came from the master"
    );
    // The same bytes twice: compiled (or loaded from the shared disk cache) once, then found
    // in memory.
    let (code, body) = http_get(cluster.agent.addr(), "/state")
        .await
        .expect("agent state");
    assert_eq!(code, 200, "{body}");
    let state: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let cache = &state["compile_cache"];
    let count = |key: &str| cache[key].as_u64().unwrap_or(0);
    assert_eq!(count("compiled") + count("loaded_from_disk"), 1, "{cache}");
    assert!(count("memory_hits") >= 1, "{cache}");
}

#[tokio::test]
async fn a_data_file_fetched_next_to_an_uploaded_program_is_read_by_the_guest() {
    let server = FileServer::start().await;
    server
        .served
        .put("words.txt", b"four words in here".to_vec());
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let digest = master.upload_file(WORDCOUNT);
    let task = fetching(
        "data",
        &digest,
        vec![uri(server.url("/files/words.txt"))],
        "",
    );
    master
        .launch("fw-1", vec![with_args(task, &["words.txt"])])
        .await;
    let done = master.terminal("data").await;
    assert_eq!(done.state(), TaskState::TaskFinished, "{done:?}");
    assert_eq!(done.data, b"4");
}

#[tokio::test]
async fn a_missing_file_fails_the_task_with_the_http_status() {
    let server = FileServer::start().await;
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let url = server.url("/files/absent.wasm");
    let task = fetching("missing", "", vec![uri(url.clone())], "absent.wasm");
    cluster.master.launch("fw-1", vec![task]).await;
    let failed = cluster.master.terminal("missing").await;
    assert_fetch_failed(&failed, &url, "HTTP 404 Not Found");
    let states: Vec<TaskState> = cluster
        .master
        .updates_of("missing")
        .iter()
        .map(TaskStatus::state)
        .collect();
    assert!(!states.contains(&TaskState::TaskRunning), "{states:?}");
}

#[tokio::test]
async fn a_body_over_the_size_cap_fails_with_and_without_content_length() {
    let server = FileServer::start().await;
    let cluster = Cluster::start_with(AckPolicy::OnReceipt(1), |config| {
        config.fetch_max_bytes = 1 << 20;
    })
    .await;
    let master = &cluster.master;
    let digest = master.upload_file(WORDCOUNT);
    let too_big = 2 << 20;
    let with_length = server.url(&format!("/big-len/{too_big}"));
    let chunked = server.url(&format!("/big-chunked/{too_big}"));
    let fits = server.url(&format!("/big-chunked/{}", 1 << 19));
    for (id, url) in [("len", &with_length), ("chunked", &chunked)] {
        let task = fetching(id, &digest, vec![uri(url.clone())], "");
        master.launch("fw-1", vec![task]).await;
        let failed = master.terminal(id).await;
        assert_fetch_failed(&failed, url, "more than 1048576 bytes");
        assert!(
            failed.message.contains("--fetch-max-size"),
            "{}",
            failed.message
        );
    }
    let task = with_args(fetching("fits", &digest, vec![uri(fits)], ""), &["524288"]);
    master.launch("fw-1", vec![task]).await;
    let done = master.terminal("fits").await;
    assert_eq!(done.state(), TaskState::TaskFinished, "{done:?}");
    assert_eq!(done.data, b"1", "one long word of 512 KiB");
}

#[tokio::test]
async fn a_server_that_stalls_fails_the_task_at_the_timeout() {
    let server = FileServer::start().await;
    let cluster = Cluster::start_with(AckPolicy::OnReceipt(1), |config| {
        config.fetch_timeout = Duration::from_millis(500);
    })
    .await;
    let digest = cluster.master.upload_file(WORDCOUNT);
    let url = server.url("/stall");
    let task = fetching("stalled", &digest, vec![uri(url.clone())], "");
    cluster.master.launch("fw-1", vec![task]).await;
    let failed = cluster.master.terminal("stalled").await;
    assert_fetch_failed(&failed, &url, "timed out");
}

#[tokio::test]
async fn file_uris_are_read_only_under_the_allowed_dirs() {
    let outside = tempfile::tempdir().expect("temp dir");
    let allowed = outside.path().join("allowed");
    std::fs::create_dir(&allowed).expect("mkdir");
    std::fs::write(allowed.join("inside.txt"), b"three words here").expect("write");
    std::fs::write(outside.path().join("secret.txt"), b"do not read").expect("write");
    let dirs = vec![allowed.clone()];
    let cluster = Cluster::start_with(AckPolicy::OnReceipt(1), move |config| {
        config.fetch_allowed_dirs = dirs;
    })
    .await;
    let master = &cluster.master;
    let digest = master.upload_file(WORDCOUNT);
    let file_uri = |path: &std::path::Path| format!("file://{}", path.display());
    let inside = file_uri(&allowed.join("inside.txt"));
    let task = fetching("inside", &digest, vec![uri(inside)], "");
    master
        .launch("fw-1", vec![with_args(task, &["inside.txt"])])
        .await;
    let done = master.terminal("inside").await;
    assert_eq!(done.state(), TaskState::TaskFinished, "{done:?}");
    assert_eq!(done.data, b"3");
    // Through `..` from an allowed dir, and straight at the file: both outside.
    let sneaky = file_uri(&allowed.join("..").join("secret.txt"));
    let direct = file_uri(&outside.path().join("secret.txt"));
    for (id, url) in [("sneaky", sneaky), ("direct", direct)] {
        let task = fetching(id, &digest, vec![uri(url.clone())], "");
        master.launch("fw-1", vec![task]).await;
        let failed = master.terminal(id).await;
        assert_fetch_failed(&failed, &url, "outside the agent's allowed directories");
    }
}

#[tokio::test]
async fn file_uris_are_refused_when_no_dir_is_allowed() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("f.txt"), b"x").expect("write");
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let digest = cluster.master.upload_file(WORDCOUNT);
    let url = format!("file://{}", dir.path().join("f.txt").display());
    let task = fetching("refused", &digest, vec![uri(url.clone())], "");
    cluster.master.launch("fw-1", vec![task]).await;
    let failed = cluster.master.terminal("refused").await;
    assert_fetch_failed(&failed, &url, "--fetch-allowed-dir");
}

#[tokio::test]
async fn a_cached_uri_is_downloaded_once_for_two_tasks() {
    let server = FileServer::start().await;
    server.served.put("wc.wasm", wordcount_bytes());
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let cached = FetchUri {
        value: server.url("/files/wc.wasm"),
        cache: true,
        ..FetchUri::default()
    };
    let tasks = ["c-1", "c-2"].map(|id| {
        let mut task = fetching(id, "", vec![cached.clone()], "wc.wasm");
        task.data = b"x y".to_vec();
        task
    });
    // Together: the second waits for the first's download rather than start its own.
    master.launch("fw-1", tasks.to_vec()).await;
    for id in ["c-1", "c-2"] {
        let done = master.terminal(id).await;
        assert_eq!(done.state(), TaskState::TaskFinished, "{done:?}");
        assert_eq!(done.data, b"2");
    }
    assert_eq!(server.served.hits("/files/wc.wasm"), 1);
    let mut later = fetching("c-3", "", vec![cached], "wc.wasm");
    later.data = b"1 2 3 4 5".to_vec();
    master.launch("fw-1", vec![later]).await;
    assert_eq!(master.terminal("c-3").await.data, b"5");
    assert_eq!(server.served.hits("/files/wc.wasm"), 1, "still once");
}

#[tokio::test]
async fn a_task_killed_while_fetching_is_killed_and_others_run_meanwhile() {
    let server = FileServer::start().await;
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let digest = master.upload_file(WORDCOUNT);
    let stalled = fetching("fetching", &digest, vec![uri(server.url("/stall"))], "");
    master.launch("fw-1", vec![stalled]).await;
    master.state("fetching", TaskState::TaskStarting).await;
    let sleepy = master.upload_file(SLEEPY);
    master
        .launch("fw-1", vec![with_args(task("other", &sleepy), &["1"])])
        .await;
    let other = master.terminal("other").await;
    assert_eq!(other.state(), TaskState::TaskFinished, "{other:?}");
    master
        .send(Command::Kill(Kill {
            framework_id: "fw-1".into(),
            task_id: "fetching".into(),
            kill_policy: None,
            reason: Default::default(),
        }))
        .await;
    let killed = master.terminal("fetching").await;
    assert_eq!(killed.state(), TaskState::TaskKilled, "{killed:?}");
    assert_eq!(killed.reason(), Reason::Killed);
}

#[tokio::test]
async fn an_output_name_escaping_the_sandbox_is_refused_by_the_agent_too() {
    let server = FileServer::start().await;
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let digest = cluster.master.upload_file(WORDCOUNT);
    let escaping = FetchUri {
        value: server.url("/files/x"),
        output_file: "../escape".into(),
        ..FetchUri::default()
    };
    let task = fetching("escape", &digest, vec![escaping], "");
    cluster.master.launch("fw-1", vec![task]).await;
    let refused = cluster.master.terminal("escape").await;
    assert_eq!(refused.state(), TaskState::TaskError, "{refused:?}");
    assert_eq!(refused.reason(), Reason::InvalidTask);
    assert!(
        refused.message.contains("path separator"),
        "{}",
        refused.message
    );
    assert_eq!(server.served.hits("/files/x"), 0, "nothing fetched");
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let server = FileServer::start().await;
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let digest = master.upload_file(WORDCOUNT);
    let near = FetchUri {
        value: server.url("/redirect/5"),
        output_file: "words".into(),
        ..FetchUri::default()
    };
    let task = with_args(fetching("near", &digest, vec![near], ""), &["words"]);
    master.launch("fw-1", vec![task]).await;
    let done = master.terminal("near").await;
    assert_eq!(done.state(), TaskState::TaskFinished, "{done:?}");
    assert_eq!(done.data, b"2");
    let far = server.url("/redirect/6");
    let task = fetching("far", &digest, vec![uri(far.clone())], "");
    master.launch("fw-1", vec![task]).await;
    let failed = master.terminal("far").await;
    assert_fetch_failed(&failed, &far, "more than 5 redirects");
}

#[tokio::test]
async fn fetched_files_count_against_the_task_s_disk() {
    let server = FileServer::start().await;
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let digest = master.upload_file(WORDCOUNT);
    let half = server.url(&format!("/big-len/{}", 600 * 1024));
    let other = server.url(&format!("/big-chunked/{}", 500 * 1024));
    let mut task = fetching("disk", &digest, vec![uri(half), uri(other.clone())], "");
    if let Some(resources) = task.resources.as_mut() {
        resources.resources.push(wasmesos_proto::Resource {
            name: "disk".into(),
            value: f64::from(1u32 << 20),
            ..Default::default()
        });
    }
    master.launch("fw-1", vec![task]).await;
    let failed = master.terminal("disk").await;
    assert_fetch_failed(&failed, &other, "what is left of the task's disk");
}

#[tokio::test]
async fn an_uploaded_component_is_fetched_by_its_wasmesos_uri() {
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let master = &cluster.master;
    let digest = master.upload_file(WORDCOUNT);
    let by_digest = FetchUri {
        value: format!("wasmesos://sha256:{digest}"),
        output_file: "wc.wasm".into(),
        ..FetchUri::default()
    };
    let mut task = fetching("by-uri", "", vec![by_digest], "wc.wasm");
    task.data = b"a b c d e f".to_vec();
    master.launch("fw-1", vec![task]).await;
    let done = master.terminal("by-uri").await;
    assert_eq!(done.state(), TaskState::TaskFinished, "{done:?}");
    assert_eq!(done.data, b"6");
    assert_eq!(master.recorded().downloads.get(&digest), Some(&1));
    let absent = format!("wasmesos://sha256:{}", "0".repeat(64));
    let task = fetching("absent", "", vec![uri(absent.clone())], &"0".repeat(64));
    master.launch("fw-1", vec![task]).await;
    let failed = master.terminal("absent").await;
    assert_fetch_failed(&failed, &absent, "no executor with digest");
}

#[tokio::test]
async fn a_fetched_program_that_is_no_component_is_an_invalid_component() {
    let server = FileServer::start().await;
    server.served.put("fake.wasm", b"not wasm at all".to_vec());
    let cluster = Cluster::start(AckPolicy::OnReceipt(1)).await;
    let task = fetching(
        "fake",
        "",
        vec![uri(server.url("/files/fake.wasm"))],
        "fake.wasm",
    );
    cluster.master.launch("fw-1", vec![task]).await;
    let refused = cluster.master.terminal("fake").await;
    assert_eq!(refused.state(), TaskState::TaskError, "{refused:?}");
    assert_eq!(refused.reason(), Reason::InvalidComponent, "{refused:?}");
}
