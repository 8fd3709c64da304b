//! A master, an agent and Marathon as processes, each on its own ports and temp dirs, and
//! a small JSON-over-HTTP client for Marathon's API.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use wasmesos_harness::{
    ChildProcess, ProcessCluster, TestFramework, eventually_some, spawn_and_read_url,
};

pub const BINARY: &str = env!("CARGO_BIN_EXE_wasmesos");
pub const DEADLINE: Duration = Duration::from_secs(60);
/// The session timeout of Marathons with `--zk` (the harness's ZooKeeper ticks every 100 ms,
/// so sessions may last 0.2–2 s): a killed leader is replaced about this soon.
pub const ZK_SESSION_TIMEOUT: &str = "1500ms";

/// A cluster with Marathon on it.
pub struct Env {
    pub cluster: ProcessCluster,
    pub marathon: ChildProcess,
    /// Marathon's API.
    pub api: Api,
    pub work_dir: PathBuf,
    /// `--zk`: Marathon keeps its state in ZooKeeper there, not in the work dir.
    pub zk: Option<String>,
    /// The digest of the uploaded `http-hello` service.
    pub hello: String,
}

/// The calls of Marathon's API, where every test reaches them (`env.call(…)`).
impl std::ops::Deref for Env {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// Marathon's REST API at `url`.
pub struct Api {
    /// `http://127.0.0.1:PORT` of Marathon.
    pub url: String,
    http: reqwest::Client,
}

/// `n` ports free on this machine now, as an agent resource (`ports:[a-a,b-b,…]`), so that
/// clusters of parallel tests never offer the same port.
pub fn free_ports(n: usize) -> String {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    let ranges: Vec<String> = listeners
        .iter()
        .map(|l| l.local_addr().expect("bound").port())
        .map(|p| format!("{p}-{p}"))
        .collect();
    format!("ports:[{}]", ranges.join(","))
}

impl Env {
    pub async fn start() -> Env {
        Env::start_on(None).await
    }

    /// With `zk`, Marathon keeps its state in ZooKeeper under that URL.
    pub async fn start_on(zk: Option<&str>) -> Env {
        Env::start_offering(zk, &free_ports(10)).await
    }

    /// An agent offering `ports` (an agent resource such as `ports:[a-a,b-b]`).
    pub async fn start_offering(zk: Option<&str>, ports: &str) -> Env {
        let resources = format!("cpus:4;mem:4GiB;disk:4GiB;{ports}");
        let cluster = ProcessCluster::start(Path::new(BINARY), 1, &resources, &[], &[])
            .await
            .expect("master and agent as processes");
        let hello = TestFramework::upload_component(
            &cluster.master_url(),
            wasmesos_guest_artifacts::HTTP_HELLO,
        )
        .await
        .expect("upload");
        let work_dir = cluster.dir().join("marathon");
        let marathon = start_marathon(&cluster.master_url(), &work_dir, "127.0.0.1:0", zk).await;
        let api = Api::new(&marathon.url);
        Env {
            cluster,
            marathon,
            api,
            work_dir,
            zk: zk.map(str::to_owned),
            hello,
        }
    }

    /// Kills Marathon with SIGKILL and starts it again on the same address and work dir.
    pub async fn restart_marathon(&mut self) {
        self.marathon.kill().await.expect("kill -9 marathon");
        let listen = self.url.trim_start_matches("http://").to_string();
        let zk = self.zk.as_deref();
        self.marathon =
            start_marathon(&self.cluster.master_url(), &self.work_dir, &listen, zk).await;
    }

    /// An app running `http-hello` from the master's store, health-checked over HTTP.
    pub fn hello_app(&self, id: &str, instances: u32) -> Value {
        hello_app(&self.hello, id, instances)
    }
}

/// An app running `http-hello` (uploaded as `digest`), health-checked over HTTP.
pub fn hello_app(digest: &str, id: &str, instances: u32) -> Value {
    serde_json::json!({
            "id": id,
            "cmd": "http-hello.wasm",
            "cpus": 0.1,
            "mem": 64,
            "instances": instances,
            "fetch": [{"uri": format!("wasmesos://sha256:{digest}"), "outputFile": "http-hello.wasm"}],
            "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0,
                              "gracePeriodSeconds": 30, "intervalSeconds": 1,
                              "timeoutSeconds": 1, "delaySeconds": 0}],
            "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
            "backoffSeconds": 0.2,
    })
}

impl Api {
    pub fn new(url: &str) -> Api {
        Api {
            url: url.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// One request: its status and JSON body (`null` when the body is not JSON).
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("marathon answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A raw body, for malformed requests.
    pub async fn call_raw(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let response = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("marathon answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `GET /v2/apps{id}`'s app, once `ready` holds for it.
    pub async fn app_when(&self, what: &str, id: &str, ready: impl Fn(&Value) -> bool) -> Value {
        eventually_some(what, DEADLINE, async || {
            let (status, body) = self.call("GET", &format!("/v2/apps{id}"), None).await;
            let app = body.get("app").cloned()?;
            (status == 200 && ready(&app)).then_some(app)
        })
        .await
        .unwrap_or_else(|err| panic!("{err}"))
    }
}

impl Env {
    /// Tasks of Marathon's framework the master counts as not ended.
    pub async fn live_tasks_at_master(&self) -> Vec<String> {
        self.tasks_at_master(|t| !t.state().is_terminal()).await
    }

    /// Tasks of Marathon's framework launched at or after `since` (Unix seconds), ended or not.
    pub async fn tasks_launched_at_master_since(&self, since: f64) -> Vec<String> {
        self.tasks_at_master(|t| t.started_time >= since).await
    }

    async fn tasks_at_master(
        &self,
        keep: impl Fn(&wasmesos_proto::TaskSummary) -> bool,
    ) -> Vec<String> {
        let state = wasmesos_harness::cluster_state(&self.cluster.master_url())
            .await
            .expect("master state");
        let marathon = state.frameworks.iter().find(|f| {
            f.framework
                .as_ref()
                .is_some_and(|info| info.name == "marathon")
        });
        let Some(id) = marathon
            .and_then(|f| f.framework.as_ref())
            .map(|i| i.id.clone())
        else {
            return Vec::new();
        };
        state
            .tasks
            .into_iter()
            .filter(|t| t.framework_id == id && keep(t))
            .map(|t| t.task_id)
            .collect()
    }
}

/// Whether `app` runs `n` tasks, all healthy, with no deployment left.
pub fn settled(app: &Value, n: u64) -> bool {
    app["tasksRunning"] == n
        && app["tasksHealthy"] == n
        && app["tasks"].as_array().is_some_and(|t| t.len() as u64 == n)
        && app["deployments"].as_array().is_some_and(Vec::is_empty)
}

pub fn task_ids(app: &Value) -> Vec<String> {
    let mut ids: Vec<String> = app["tasks"]
        .as_array()
        .map(|tasks| {
            tasks
                .iter()
                .filter_map(|t| t["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// `wasmesos marathon` on `listen`, its state in `work_dir` or, with `zk`, in ZooKeeper.
pub async fn start_marathon(
    master: &str,
    work_dir: &Path,
    listen: &str,
    zk: Option<&str>,
) -> ChildProcess {
    let work_dir = work_dir.to_string_lossy().into_owned();
    let mut args = vec![
        "marathon",
        "--master",
        master,
        "--listen",
        listen,
        "--work-dir",
        &work_dir,
    ];
    if let Some(zk) = zk {
        args.extend(["--zk", zk, "--zk-session-timeout", ZK_SESSION_TIMEOUT]);
    }
    spawn_and_read_url(Path::new(BINARY), "marathon", &args, DEADLINE, false)
        .await
        .expect("marathon starts")
}
