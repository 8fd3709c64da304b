//! A master, an agent and Chronos as processes, each on its own ports and temp dirs, and
//! a small JSON-over-HTTP client for Chronos's API.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use wasmesos_harness::{
    ChildProcess, ProcessCluster, TestFramework, eventually_some, spawn_and_read_url,
};
use wasmesos_sdk_scheduler::time::Timestamp;

pub const BINARY: &str = env!("CARGO_BIN_EXE_wasmesos");
pub const DEADLINE: Duration = Duration::from_secs(60);
/// Failed runs are retried this soon in tests (Chronos's default is a minute).
pub const RETRY_DELAY: &str = "200ms";

/// A cluster with Chronos on it.
pub struct Env {
    pub cluster: ProcessCluster,
    pub chronos: ChildProcess,
    /// `http://127.0.0.1:PORT` of Chronos.
    pub url: String,
    pub work_dir: PathBuf,
    /// `--zk`: Chronos keeps its state in ZooKeeper there, not in the work dir.
    pub zk: Option<String>,
    /// The digest of the uploaded `hello` program.
    pub hello: String,
    http: reqwest::Client,
}

impl Env {
    pub async fn start() -> Env {
        Env::start_on(None).await
    }

    /// With `zk`, Chronos keeps its state in ZooKeeper under that URL.
    pub async fn start_on(zk: Option<&str>) -> Env {
        let cluster =
            ProcessCluster::start(Path::new(BINARY), 1, "cpus:8;mem:8GiB;disk:8GiB", &[], &[])
                .await
                .expect("master and agent as processes");
        let hello =
            TestFramework::upload_component(&cluster.master_url(), wasmesos_guest_artifacts::HELLO)
                .await
                .expect("upload");
        let work_dir = cluster.dir().join("chronos");
        let chronos = start_chronos(&cluster.master_url(), &work_dir, "127.0.0.1:0", zk).await;
        let url = chronos.url.trim_end_matches('/').to_string();
        Env {
            cluster,
            chronos,
            url,
            work_dir,
            zk: zk.map(str::to_owned),
            hello,
            http: reqwest::Client::new(),
        }
    }

    /// Kills Chronos with SIGKILL and starts it again on the same address and work dir.
    pub async fn restart_chronos(&mut self) {
        self.chronos.kill().await.expect("kill -9 chronos");
        let listen = self.url.trim_start_matches("http://").to_string();
        let zk = self.zk.as_deref();
        self.chronos = start_chronos(&self.cluster.master_url(), &self.work_dir, &listen, zk).await;
    }

    /// A job running `hello` (with `args`) from the master's store on `schedule`.
    pub fn job(&self, name: &str, args: &str, schedule: &str) -> Value {
        serde_json::json!({
            "name": name,
            "command": format!("hello.wasm {args}").trim_end(),
            "schedule": schedule,
            "owner": "ops@example.com",
            "cpus": 0.1,
            "mem": 32,
            "disk": 0,
            "fetch": [{"uri": format!("wasmesos://sha256:{}", self.hello), "output_file": "hello.wasm"}],
        })
    }

    /// One request: its status and body text.
    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
        self.call_raw(method, path, body.map(Value::to_string))
            .await
    }

    /// A request with a raw body, for malformed ones.
    pub async fn call_raw(&self, method: &str, path: &str, body: Option<String>) -> (u16, String) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("chronos answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    /// `POST /v1/scheduler/iso8601` (or `/dependency` for a job with parents); must be 204.
    pub async fn add(&self, job: &Value) {
        let path = if job.get("parents").is_some() {
            "/v1/scheduler/dependency"
        } else {
            "/v1/scheduler/iso8601"
        };
        let (status, body) = self.call("POST", path, Some(job)).await;
        assert_eq!((status, body.as_str()), (204, ""), "adding {job}");
    }

    /// The job `name` from `GET /v1/scheduler/jobs`, once `ready` holds for it.
    pub async fn job_when(&self, what: &str, name: &str, ready: impl Fn(&Value) -> bool) -> Value {
        eventually_some(what, DEADLINE, async || {
            let (status, body) = self.call("GET", "/v1/scheduler/jobs", None).await;
            let jobs: Vec<Value> = serde_json::from_str(&body).ok()?;
            let job = jobs.into_iter().find(|j| j["name"] == name)?;
            (status == 200 && ready(&job)).then_some(job)
        })
        .await
        .unwrap_or_else(|err| panic!("{err}"))
    }

    /// [`Env::tasks_at_master`] once there are at least `n` (the master's state view lags
    /// its core by up to 100 ms, so a task Chronos heard of may not be listed yet).
    pub async fn tasks_at_master_when(&self, job: &str, n: usize) -> Vec<String> {
        eventually_some("the tasks at the master", DEADLINE, async || {
            let tasks = self.tasks_at_master(job).await;
            (tasks.len() >= n).then_some(tasks)
        })
        .await
        .unwrap_or_else(|err| panic!("{err}"))
    }

    /// Ids of the tasks of Chronos's framework the master knows for `job`, ended or not.
    pub async fn tasks_at_master(&self, job: &str) -> Vec<String> {
        let state = wasmesos_harness::cluster_state(&self.cluster.master_url())
            .await
            .expect("master state");
        let ids = state
            .frameworks
            .iter()
            .chain(state.completed_frameworks.iter())
            .filter_map(|f| f.framework.as_ref())
            .filter(|info| info.name == "chronos")
            .map(|info| info.id.clone())
            .collect::<Vec<_>>();
        let suffix = format!("_{job}");
        let mut tasks: Vec<String> = state
            .tasks
            .into_iter()
            .filter(|t| ids.contains(&t.framework_id) && t.task_id.ends_with(&suffix))
            .map(|t| t.task_id)
            .collect();
        tasks.sort();
        tasks
    }
}

/// A schedule of `count` runs, `period` apart, starting `delay` from now.
pub fn schedule(count: u32, delay: Duration, period: &str) -> String {
    format!("R{count}/{}/{period}", Timestamp::now().plus(delay).iso())
}

/// `wasmesos chronos` on `listen`, its state in `work_dir` or, with `zk`, in ZooKeeper.
pub async fn start_chronos(
    master: &str,
    work_dir: &Path,
    listen: &str,
    zk: Option<&str>,
) -> ChildProcess {
    let work_dir = work_dir.to_string_lossy().into_owned();
    let mut args = vec![
        "chronos",
        "--master",
        master,
        "--listen",
        listen,
        "--work-dir",
        &work_dir,
        "--retry-delay",
        RETRY_DELAY,
    ];
    if let Some(zk) = zk {
        // ZooKeeper in the tests ticks every 100 ms: sessions last 0.2–2 s.
        args.extend(["--zk", zk, "--zk-session-timeout", "1500ms"]);
    }
    spawn_and_read_url(Path::new(BINARY), "chronos", &args, DEADLINE, false)
        .await
        .expect("chronos starts")
}
