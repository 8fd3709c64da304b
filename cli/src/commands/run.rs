//! `wasmesos run`: the `mesos-execute` of wasmesos. Uploads a component (or names one the
//! agent fetches, `--program-uri`), registers a one-shot framework, launches it as one task on the first offer that fits, prints each
//! state change (stderr), then the task's stdout (stdout) and stderr (stderr), and exits with
//! the task's exit code.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use wasmesos_detector::MasterService as Channel;
use wasmesos_proto::operator_client::OperatorClient;
use wasmesos_proto::resource_names::PORTS;
use wasmesos_proto::{
    GetStateRequest, HealthCheck, Offer, Reason, SandboxFile, TaskState, TaskStatus, health_check,
};
use wasmesos_sdk_scheduler::{
    Capacity, Driver, DriverConfig, Fetch, Progress, Scheduler, TaskBuilder,
};

use super::logs::copy_task_file;
use super::state::{MasterArg, reason_text};
use crate::signals::shutdown_signal;
use crate::units::{parse_cpus, parse_duration, parse_env, parse_size};

const EXAMPLES: &str = "\
Examples:
  # Run a component on the local cluster (`wasmesos dev`) and print its output
  wasmesos run hello.wasm

  # Arguments after `--` go to the guest; environment variables with --env
  wasmesos run --env GREETING=hi hello.wasm -- --exit 3

  # More resources and hard limits, on a remote master, in role `batch`
  wasmesos run --master http://10.0.0.5:5050 --role batch \\
      --cpus 1 --mem 256MiB --disk 1GiB --fuel 1000000000 --timeout 30s job.wasm

  # A component the agent downloads itself, with a data file next to it, both cached there
  wasmesos run --program-uri https://example.com/wordcount.wasm \\
      --fetch https://example.com/words.txt --cache -- words.txt

  # A wasi:http service on one port, health-checked; prints its URL once it listens,
  # serves until Ctrl-C
  wasmesos run --ports 1 --health-http /health http-hello.wasm

State changes go to stderr, the task's stdout to stdout, so `wasmesos run x.wasm > out.txt`
captures just the task's output; a service's URLs (`http://host:port`, one per port) go to
stdout too, once it is RUNNING. The exit status is the task's exit code; a task that fails
for another reason (a limit, a trap, a lost agent, a failed health check) exits with 1 and
says why.";

/// Run a WebAssembly component as a one-off task on the cluster.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct RunArgs {
    #[command(flatten)]
    master: MasterArg,
    /// CPU cores for the task.
    #[arg(long, value_name = "C", value_parser = parse_cpus, default_value = "0.1")]
    cpus: f64,
    /// Memory limit.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "64MiB")]
    mem: u64,
    /// Sandbox disk quota.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "64MiB")]
    disk: u64,
    /// Instruction budget (default: unmetered).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,
    /// Wall-clock limit, e.g. 30s (default: none).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Role to receive offers for (default: `*`).
    #[arg(long, value_name = "ROLE")]
    role: Option<String>,
    /// Environment variable for the guest (repeatable); it sees no others.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Task name (default: the component's file name).
    #[arg(long)]
    name: Option<String>,
    /// Ports to give the task, the lowest free ones of the offer (`PORT0`.. in its env); a
    /// wasi:http service listens on the first.
    #[arg(long, value_name = "N", default_value = "0")]
    ports: u64,
    /// Health-check the service with `GET PATH` on its first port (2xx/3xx is healthy);
    /// three failures in a row kill it. Needs --ports.
    #[arg(long, value_name = "PATH", requires = "ports")]
    health_http: Option<String>,
    /// Requests a wasi:http service serves at once; more wait in its queue.
    #[arg(long, value_name = "N")]
    concurrency: Option<u32>,
    /// Run the component at this URL instead of uploading one: the agent fetches it into the
    /// sandbox (http, https, file under its --fetch-allowed-dir, or wasmesos://sha256:HEX).
    #[arg(long, value_name = "URL", conflicts_with = "component")]
    program_uri: Option<String>,
    /// A file the agent fetches into the task's sandbox before it starts, under the last
    /// segment of the URL's path (repeatable). A failed fetch fails the task.
    #[arg(long = "fetch", value_name = "URL")]
    fetch: Vec<String>,
    /// Keep what --program-uri and --fetch download in the agent's fetcher cache.
    #[arg(long)]
    cache: bool,
    /// The component (.wasm) to upload and run.
    #[arg(required_unless_present = "program_uri")]
    component: Option<PathBuf>,
    /// Arguments for the guest.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

pub fn main(args: RunArgs) -> ExitCode {
    match run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("wasmesos run: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    if args.health_http.is_some() && args.ports == 0 {
        anyhow::bail!("--health-http needs a port to check: add --ports 1");
    }
    if let Some(path) = &args.health_http
        && !path.starts_with('/')
    {
        anyhow::bail!("--health-http takes a path starting with `/`, not `{path}`");
    }
    let bytes = match &args.component {
        Some(component) => Some(
            std::fs::read(component)
                .with_context(|| format!("cannot read {}", component.display()))?,
        ),
        None => None,
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(run_task(args, bytes))
}

async fn run_task(args: RunArgs, bytes: Option<Vec<u8>>) -> anyhow::Result<ExitCode> {
    let mut config = DriverConfig::new(&args.master.master, "wasmesos-run");
    config.connect_timeout = wasmesos_detector::DEFAULT_CONNECT_TIMEOUT;
    config.credential = args.master.credential()?;
    config.tls = args.master.tls();
    if let Some(role) = &args.role {
        config = config.role(role);
    }
    let driver = Driver::connect(config).await?;
    let task_id = new_task_id();
    let task = match (bytes, &args.component) {
        (Some(bytes), Some(component)) => {
            let file_name = component
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| "component.wasm".into());
            let bar = upload_bar(bytes.len() as u64);
            let uploaded = driver
                .upload_executor_bytes(&file_name, bytes, Some(progress_of(&bar)))
                .await;
            bar.finish_and_clear();
            task_for(&args, &task_id, &uploaded?.digest, &file_name)
        }
        _ => {
            let uri = args.program_uri.clone().unwrap_or_default();
            task_for(&args, &task_id, "", &uri).program_uri(fetched(&args, uri))
        }
    };
    let operator = args.master.operator().await?;
    let mut one_shot = OneShot::new(task_id, task, args.health_http.clone(), operator);
    tokio::select! {
        result = driver.run(&mut one_shot) => result?,
        () = shutdown_signal() => {
            eprintln!("wasmesos run: interrupted; tearing the framework down");
            let _ = driver.teardown().await;
            return Ok(ExitCode::from(130));
        }
    }
    Ok(one_shot.exit_code())
}

pub(crate) fn upload_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "uploading {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

pub(crate) fn progress_of(bar: &ProgressBar) -> Progress {
    let bar = bar.clone();
    Box::new(move |sent, _total| bar.set_position(sent))
}

/// Unique enough across runs of this command: the time in microseconds plus the pid.
fn new_task_id() -> String {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros());
    format!("run-{micros:x}-{}", std::process::id())
}

fn task_for(args: &RunArgs, task_id: &str, digest: &str, file_name: &str) -> TaskBuilder {
    let mut task = TaskBuilder::new(task_id, digest)
        .name(args.name.clone().unwrap_or_else(|| file_name.to_string()))
        .cpus(args.cpus)
        .mem(args.mem)
        .args(args.args.iter().cloned());
    if args.disk > 0 {
        task = task.disk(args.disk);
    }
    if let Some(fuel) = args.fuel {
        task = task.fuel(fuel);
    }
    if let Some(timeout) = args.timeout {
        task = task.timeout(timeout);
    }
    for (key, value) in &args.env {
        task = task.env(key, value);
    }
    if args.ports > 0 {
        task = task.ports(args.ports);
    }
    if let Some(concurrency) = args.concurrency {
        task = task.max_concurrency(concurrency);
    }
    for uri in &args.fetch {
        task = task.fetch(fetched(args, uri.clone()));
    }
    task
}

/// `uri` as a file to fetch, cached when --cache says so.
fn fetched(args: &RunArgs, uri: String) -> Fetch {
    let fetch = Fetch::new(uri);
    if args.cache { fetch.cached() } else { fetch }
}

/// `GET path` on the task's first port, from the start (no delay), otherwise as Mesos.
fn http_check(path: &str, port: u64) -> HealthCheck {
    HealthCheck {
        r#type: health_check::Type::Http as i32,
        http: Some(health_check::HttpCheck {
            port: u32::try_from(port).unwrap_or(0),
            path: path.to_owned(),
            statuses: Vec::new(),
        }),
        delay_seconds: Some(0.0),
        ..HealthCheck::default()
    }
}

/// The one-shot framework: launch on the first offer that fits, report, tear down.
struct OneShot {
    task_id: String,
    task: Option<TaskBuilder>,
    /// The health check's path, set on the task once its ports are chosen.
    health_http: Option<String>,
    /// The URLs of a task with ports, printed when it is first RUNNING.
    urls: Option<Vec<String>>,
    operator: OperatorClient<Channel>,
    started: Instant,
    said_waiting: bool,
    last_printed: Option<(TaskState, String)>,
    outcome: Option<TaskStatus>,
    failure: Option<String>,
}

impl OneShot {
    fn new(
        task_id: String,
        task: TaskBuilder,
        health_http: Option<String>,
        operator: OperatorClient<Channel>,
    ) -> Self {
        OneShot {
            task_id,
            task: Some(task),
            health_http,
            urls: None,
            operator,
            started: Instant::now(),
            said_waiting: false,
            last_printed: None,
            outcome: None,
            failure: None,
        }
    }

    fn exit_code(&self) -> ExitCode {
        if let Some(failure) = &self.failure {
            eprintln!("wasmesos run: {failure}");
            return ExitCode::FAILURE;
        }
        let Some(status) = &self.outcome else {
            eprintln!("wasmesos run: the framework stopped before the task ended");
            return ExitCode::FAILURE;
        };
        exit_code_of(status)
    }

    fn print_change(&mut self, status: &TaskStatus) {
        let key = (status.state(), status.message.clone());
        if self.last_printed.as_ref() == Some(&key) {
            return; // a duplicate delivery
        }
        let mut line = format!(
            "{:>8.3}s  {}  {}",
            self.started.elapsed().as_secs_f64(),
            status.task_id,
            status.state().name()
        );
        let reason = reason_text(status.reason());
        if !reason.is_empty() && status.reason() != Reason::Finished {
            line.push_str(&format!(" ({reason})"));
        }
        if let Some(code) = status.exit_code {
            line.push_str(&format!(" exit code {code}"));
        }
        if !status.message.is_empty() {
            line.push_str(&format!(": {}", status.message));
        }
        eprintln!("{line}");
        self.last_printed = Some(key);
    }

    async fn print_output(&mut self) {
        let files = [
            (SandboxFile::Stdout, "stdout"),
            (SandboxFile::Stderr, "stderr"),
        ];
        for (file, name) in files {
            // The unlocked handles: a lock guard would make this future !Send.
            let result = match file {
                SandboxFile::Stderr => {
                    copy_task_file(
                        &mut self.operator,
                        &self.task_id,
                        file,
                        &mut std::io::stderr(),
                    )
                    .await
                }
                _ => {
                    copy_task_file(
                        &mut self.operator,
                        &self.task_id,
                        file,
                        &mut std::io::stdout(),
                    )
                    .await
                }
            };
            if let Err(err) = result {
                eprintln!("wasmesos run: cannot read the task's {name}: {err:#}");
            }
        }
    }

    async fn launch_on(&mut self, driver: &Driver, offer: Offer, mut task: TaskBuilder) {
        let ports: Vec<u64> = task.resources().ranges(PORTS).values().collect();
        if let (Some(path), Some(&first)) = (&self.health_http, ports.first()) {
            task = task.health_check(http_check(path, first));
        }
        if !ports.is_empty() {
            let host = self.agent_host(&offer).await;
            let urls = ports
                .iter()
                .map(|port| format!("http://{host}:{port}"))
                .collect();
            self.urls = Some(urls);
        }
        let info = task.build_for(&offer);
        eprintln!(
            "{:>8.3}s  {}  launching on agent {}",
            self.started.elapsed().as_secs_f64(),
            self.task_id,
            offer.agent_id
        );
        if let Err(err) = driver.launch([offer.id], vec![info]).await {
            self.failure = Some(format!("launch failed: {err}"));
            let _ = driver.teardown().await;
        }
    }
}

impl OneShot {
    /// Where the agent of `offer` serves its tasks' ports: the host of its address, else
    /// the offer's hostname.
    async fn agent_host(&mut self, offer: &Offer) -> String {
        let state = self.operator.get_state(GetStateRequest::default()).await;
        state
            .ok()
            .and_then(|state| {
                state
                    .into_inner()
                    .agents
                    .into_iter()
                    .filter_map(|summary| summary.agent)
                    .find(|agent| agent.id == offer.agent_id)
            })
            .and_then(|agent| {
                let uri: tonic::codegen::http::Uri = agent.address.parse().ok()?;
                uri.host().map(str::to_owned)
            })
            .unwrap_or_else(|| offer.hostname.clone())
    }
}

impl Scheduler for OneShot {
    async fn offers(&mut self, driver: &Driver, offers: Vec<Offer>) {
        for offer in offers {
            let placed = match self.task.take() {
                Some(task) => match Capacity::of(&offer).place(task.clone()) {
                    Some(placed) => Some(placed),
                    None => {
                        self.task = Some(task);
                        None
                    }
                },
                None => None,
            };
            if let Some(placed) = placed {
                self.launch_on(driver, offer, placed).await;
                continue;
            }
            if self.task.is_some() && !self.said_waiting {
                eprintln!("wasmesos run: waiting for an offer large enough for the task…");
                self.said_waiting = true;
            }
            let _ = driver.decline([offer.id], None).await;
        }
    }

    async fn update(&mut self, driver: &Driver, status: &TaskStatus) {
        if status.task_id != self.task_id || self.outcome.is_some() {
            return;
        }
        self.print_change(status);
        if status.state() == TaskState::TaskRunning
            && let Some(urls) = self.urls.take()
        {
            for url in urls {
                println!("{url}");
            }
        }
        if status.state().is_terminal() {
            self.outcome = Some(status.clone());
            self.print_output().await;
            let _ = driver.teardown().await;
        }
    }

    async fn error(&mut self, _driver: &Driver, message: &str) {
        eprintln!("wasmesos run: the master says: {message}");
    }

    async fn disconnected(&mut self, _driver: &Driver) {
        eprintln!("wasmesos run: lost the master; reconnecting…");
    }
}

/// The guest's own exit code when it has one; 1 for every other way of not finishing.
fn exit_code_of(status: &TaskStatus) -> ExitCode {
    match (status.state(), status.exit_code) {
        (TaskState::TaskFinished, _) => ExitCode::SUCCESS,
        (TaskState::TaskFailed, Some(code)) if status.reason() == Reason::ExitCode => {
            ExitCode::from(u8::try_from(code.clamp(1, 255)).unwrap_or(1))
        }
        (state, _) => {
            let reason = reason_text(status.reason());
            let mut text = format!("task {} {}", status.task_id, state.name());
            if !reason.is_empty() {
                text.push_str(&format!(" ({reason})"));
            }
            if !status.message.is_empty() {
                text.push_str(&format!(": {}", status.message));
            }
            eprintln!("wasmesos run: {text}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: TaskState, reason: Reason, exit_code: Option<i32>) -> TaskStatus {
        TaskStatus {
            state: state as i32,
            reason: reason as i32,
            exit_code,
            ..TaskStatus::default()
        }
    }

    #[test]
    fn the_guest_exit_code_becomes_ours() {
        let finished = status(TaskState::TaskFinished, Reason::Finished, Some(0));
        assert_eq!(exit_code_of(&finished), ExitCode::SUCCESS);
        let three = status(TaskState::TaskFailed, Reason::ExitCode, Some(3));
        assert_eq!(exit_code_of(&three), ExitCode::from(3));
        let huge = status(TaskState::TaskFailed, Reason::ExitCode, Some(70_000));
        assert_eq!(exit_code_of(&huge), ExitCode::from(255));
        let memory = status(TaskState::TaskFailed, Reason::MemoryLimit, None);
        assert_eq!(exit_code_of(&memory), ExitCode::FAILURE);
        let lost = status(TaskState::TaskLost, Reason::AgentLost, None);
        assert_eq!(exit_code_of(&lost), ExitCode::FAILURE);
    }
}
