//! `wasmesos exec`: run one component locally, under exactly the sandbox an agent uses.
//!
//! The flags become a `TaskInfo`, as a framework would send it, and the agent's own
//! [`task_spec`] turns that into the executor's spec; only the sandbox directory, the
//! output copied to the terminal, and the guest's log lines on stderr are exec's own.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use wasmesos_agent::task_spec;
use wasmesos_proto::resource_names::{CPUS, DISK, MEM};
use wasmesos_proto::{ExecutorInfo, Resources, TaskInfo};
use wasmesos_wasm_executor::{
    AllowedAddr, Executor, ExecutorConfig, FailureReason, GuestEvent, GuestEvents, Outcome, Report,
    TaskSpec, log_guest_line,
};

use crate::units::{parse_cpus, parse_duration, parse_env, parse_size};

const EXAMPLES: &str = "\
Examples:
  # Run a command component with arguments
  wasmesos exec hello.wasm -- world

  # Tight limits: 32 MiB of memory, a quarter of a core, 2 s of wall time
  wasmesos exec --mem 32MiB --cpus 0.25 --timeout 2s spin.wasm

  # An executor component with input data and a machine-readable summary
  wasmesos exec --data-file words.txt --json wordcount.wasm

  # Keep the sandbox (stdout, stderr, files the task wrote) for inspection
  wasmesos exec --sandbox ./sandbox --disk 16MiB --env MODE=fast app.wasm

Exit status: the guest's exit code when it finished or exited by itself; 124 on timeout;
137 when killed; 125 when the component could not be loaded or run; 1 for any other failure
(trap, memory limit, fuel, disk quota, stack overflow, executor error).";

/// Run a WebAssembly component locally under the agent's sandbox and limits.
///
/// The component is either a wasi:cli/command (its exit code is the result) or a
/// wasmesos:executor (its `run` result is the result). Guest stdout and stderr stream to the
/// terminal; the last line on stderr is a one-line summary of the outcome.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct ExecArgs {
    /// Memory limit: all linear memories and tables together.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_nonzero_size)]
    mem: u64,

    /// CPU share, e.g. 0.5 for half a core (default: unthrottled).
    #[arg(long, value_name = "CPUS", value_parser = parse_cpus)]
    cpus: Option<f64>,

    /// Instruction budget (default: unmetered).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    fuel: Option<u64>,

    /// Wall-clock limit, e.g. 500ms, 5s, 2m.
    #[arg(long, value_name = "DURATION", value_parser = parse_nonzero_duration)]
    timeout: Option<Duration>,

    /// Quota on the sandbox directory, e.g. 16MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_nonzero_size)]
    disk: Option<u64>,

    /// An environment variable for the guest (repeatable). The guest sees no other.
    #[arg(long = "env", short = 'e', value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,

    /// File whose bytes are passed as the task's `data` (executor components).
    #[arg(long, value_name = "FILE")]
    data_file: Option<PathBuf>,

    /// Print the summary as one JSON object instead of text.
    #[arg(long)]
    json: bool,

    /// Use this directory as the sandbox and keep it (default: a temporary one, removed).
    #[arg(long, value_name = "DIR")]
    sandbox: Option<PathBuf>,

    /// Allow the guest to use this address, IP:PORT or IP for any port, e.g. 127.0.0.1:8080
    /// or [::1]:80 (repeatable). The same syntax as a task's `network_allow` on an agent.
    #[arg(long = "allow-net", value_name = "ADDR", value_parser = AllowedAddr::from_str)]
    allow_net: Vec<AllowedAddr>,

    /// Bytes of stdout and of stderr kept in the sandbox files (the tail is kept).
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
    output_cap: u64,

    /// Directory for compiled components, so that the next run skips compilation.
    #[arg(long, value_name = "DIR", env = "WASMESOS_CACHE_DIR")]
    cache_dir: Option<PathBuf>,

    /// The component (.wasm) to run.
    #[arg(value_name = "COMPONENT.wasm")]
    component: PathBuf,

    /// Arguments for the guest, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

/// A size that is more than zero: to an agent, a zero grant means no limit at all.
fn parse_nonzero_size(text: &str) -> Result<u64, String> {
    match parse_size(text)? {
        0 => Err("must be more than 0 bytes".into()),
        bytes => Ok(bytes),
    }
}

/// A duration that is more than zero: to an agent, a zero timeout means none.
fn parse_nonzero_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err("must be longer than 0".into()),
        duration => Ok(duration),
    }
}

/// Runs the subcommand; returns the process exit status.
pub fn main(args: ExecArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            report_setup_error(&anyhow::Error::new(err), "host_error", args.json);
            return ExitCode::from(125);
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(report) => {
            print_result_data(&report, args.json);
            print_summary(&report, args.json);
            exit_status(&report.outcome)
        }
        Err(err) => {
            report_setup_error(&err, setup_reason(&err), args.json);
            ExitCode::from(125)
        }
    }
}

fn setup_reason(err: &anyhow::Error) -> &'static str {
    if let Some(err) = err.downcast_ref::<wasmesos_wasm_executor::Error>() {
        return err.reason_code();
    }
    match err.downcast_ref::<wasmesos_agent::Error>() {
        Some(wasmesos_agent::Error::InvalidTask(_)) => "invalid_task",
        Some(wasmesos_agent::Error::Executor(err)) => err.reason_code(),
        _ => "host_error",
    }
}

async fn run(args: &ExecArgs) -> anyhow::Result<Report> {
    let executor = Executor::new(executor_config(args)).context("cannot start the executor")?;
    let program = executor.load_file(&args.component).await?;
    let data = match &args.data_file {
        Some(path) => tokio::fs::read(path)
            .await
            .with_context(|| format!("cannot read --data-file {}", path.display()))?,
        None => Vec::new(),
    };
    let temp_sandbox;
    let sandbox_dir = match &args.sandbox {
        Some(dir) => dir.clone(),
        None => {
            temp_sandbox = tempfile::tempdir().context("cannot create a temporary sandbox")?;
            temp_sandbox.path().to_path_buf()
        }
    };
    let spec = spec_as_on_an_agent(args, executor.config(), sandbox_dir, data)?;
    let mut task = executor.launch(&program, spec)?;
    let events = std::mem::take(task.events());
    let (report, ()) = tokio::join!(task.wait(), log_guest_lines(events));
    Ok(report)
}

fn executor_config(args: &ExecArgs) -> ExecutorConfig {
    const WASM_PAGE: u64 = 64 * 1024;
    ExecutorConfig {
        cache_dir: args.cache_dir.clone(),
        max_concurrent_tasks: 1,
        max_task_memory_bytes: args.mem.clamp(WASM_PAGE, 4 << 30),
        ..ExecutorConfig::small()
    }
}

/// The spec the agent would give the task these flags describe, with its output also
/// copied to this terminal.
fn spec_as_on_an_agent(
    args: &ExecArgs,
    executor: &ExecutorConfig,
    sandbox_dir: PathBuf,
    data: Vec<u8>,
) -> anyhow::Result<TaskSpec> {
    let mut spec = task_spec(
        task_info(args, data),
        executor,
        args.output_cap,
        "localhost",
    )?;
    spec.sandbox_dir = sandbox_dir;
    spec.output.tee = true;
    Ok(spec)
}

/// The `TaskInfo` a framework would send for this run: the flags as granted resources, a
/// fuel budget and a timeout.
fn task_info(args: &ExecArgs, data: Vec<u8>) -> TaskInfo {
    let name = args.component.file_stem().map_or_else(
        || "task".to_owned(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    let mut grant = vec![(MEM, args.mem as f64)];
    grant.extend(args.cpus.map(|cpus| (CPUS, cpus)));
    grant.extend(args.disk.map(|disk| (DISK, disk as f64)));
    TaskInfo {
        task_id: format!("exec-{}", std::process::id()),
        name,
        executor: Some(ExecutorInfo {
            digest: String::new(),
            args: args.args.clone(),
            env: args.env.iter().cloned().collect(),
            network_allow: args.allow_net.iter().map(ToString::to_string).collect(),
            ..ExecutorInfo::default()
        }),
        resources: Some(Resources::from_scalars(grant)),
        data,
        fuel: args.fuel.unwrap_or(0),
        timeout_ms: args.timeout.map_or(0, whole_millis),
        ..TaskInfo::default()
    }
}

/// Milliseconds, rounded up so that a timeout under 1 ms is not read as none.
fn whole_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// The guest's log lines, logged as the agent logs them; its status and messages have no
/// reader here. Ends when the task does.
async fn log_guest_lines(mut events: GuestEvents) {
    while let Some(event) = events.recv().await {
        if let GuestEvent::Log { level, message } = event {
            log_guest_line(level, &message);
        }
    }
}

/// An executor's result data goes to stdout as is, unless the JSON summary carries it.
fn print_result_data(report: &Report, json: bool) {
    if let Outcome::Finished { data, .. } = &report.outcome
        && !data.is_empty()
        && !json
    {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(data).and_then(|()| stdout.flush());
    }
}

fn print_summary(report: &Report, json: bool) {
    let line = if json {
        json_summary(report).to_string()
    } else {
        text_summary(report)
    };
    eprintln!("{line}");
}

fn text_summary(report: &Report) -> String {
    let outcome = &report.outcome;
    let mut line = format!(
        "wasmesos: {} [{}] in {:.1} ms, peak memory {}",
        outcome,
        outcome.reason_code(),
        report.duration.as_secs_f64() * 1000.0,
        human_bytes(report.peak_memory_bytes),
    );
    if let Some(fuel) = report.fuel_consumed {
        line.push_str(&format!(", fuel {fuel}"));
    }
    line
}

fn json_summary(report: &Report) -> serde_json::Value {
    let outcome = &report.outcome;
    let mut summary = serde_json::json!({
        "state": outcome.state(),
        "reason": outcome.reason_code(),
        "message": outcome.to_string(),
        "exit_code": outcome.exit_code(),
        "duration_ms": report.duration.as_secs_f64() * 1000.0,
        "peak_memory_bytes": report.peak_memory_bytes,
        "fuel_consumed": report.fuel_consumed,
        "cpu_time_ms": report.cpu_time.as_secs_f64() * 1000.0,
    });
    if let Outcome::Finished { data, .. } = outcome
        && !data.is_empty()
    {
        match std::str::from_utf8(data) {
            Ok(text) => summary["data"] = text.into(),
            Err(_) => {
                summary["data_base64"] = base64::engine::general_purpose::STANDARD
                    .encode(data)
                    .into();
            }
        }
    }
    summary
}

fn report_setup_error(err: &anyhow::Error, reason: &str, json: bool) {
    if json {
        let summary = serde_json::json!({
            "state": "error",
            "reason": reason,
            "message": format!("{err:#}"),
            "exit_code": null,
            "duration_ms": 0,
            "peak_memory_bytes": 0,
            "fuel_consumed": null,
        });
        eprintln!("{summary}");
    } else {
        eprintln!("wasmesos: error [{reason}]: {err:#}");
    }
}

fn exit_status(outcome: &Outcome) -> ExitCode {
    let code: u8 = match outcome {
        Outcome::Finished { .. } => 0,
        Outcome::Failed(FailureReason::ExitCode(code)) => u8::try_from(*code)
            .ok()
            .filter(|code| *code != 0)
            .unwrap_or(1),
        Outcome::Failed(FailureReason::Timeout) => 124,
        Outcome::Failed(_) => 1,
        Outcome::Killed => 137,
        Outcome::Error(_) => 125,
    };
    ExitCode::from(code)
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ExecArgs {
        ExecArgs {
            mem: 32 << 20,
            cpus: Some(0.25),
            fuel: Some(10),
            timeout: Some(Duration::from_micros(250)),
            disk: Some(16 << 20),
            env: vec![("Z".into(), "last".into()), ("A".into(), "first".into())],
            data_file: None,
            json: false,
            sandbox: None,
            allow_net: vec!["[::1]".parse().expect("a grant")],
            output_cap: 4096,
            cache_dir: None,
            component: "dir/wordcount.wasm".into(),
            args: vec!["one".into()],
        }
    }

    #[test]
    fn the_flags_become_the_spec_an_agent_would_give() {
        let args = args();
        let config = executor_config(&args);
        let spec = spec_as_on_an_agent(&args, &config, "box".into(), b"data".to_vec())
            .expect("a valid task");
        assert_eq!(spec.name, "wordcount");
        assert_eq!(spec.args, ["one"]);
        assert_eq!(spec.env[0], ("A".to_owned(), "first".to_owned()));
        assert_eq!(spec.data, b"data");
        assert_eq!(spec.limits.mem_bytes, 32 << 20);
        assert_eq!(spec.limits.cpus, Some(0.25));
        assert_eq!(spec.limits.fuel, Some(10));
        // Under a millisecond is still a timeout, not none.
        assert_eq!(spec.limits.timeout, Some(Duration::from_millis(1)));
        assert_eq!(spec.limits.disk_bytes, Some(16 << 20));
        assert_eq!(
            spec.network.allow,
            [AllowedAddr::Ip("::1".parse().expect("ip"))]
        );
        assert_eq!(spec.sandbox_dir, PathBuf::from("box"));
        assert!(spec.output.tee);
        assert_eq!(spec.output.cap_bytes, 4096);
    }

    #[test]
    fn more_memory_than_the_pool_allows_is_an_invalid_task() {
        let args = ExecArgs {
            mem: 8 << 30,
            ..args()
        };
        let config = executor_config(&args);
        let err = spec_as_on_an_agent(&args, &config, "box".into(), Vec::new())
            .expect_err("8 GiB is over the 4 GiB pool");
        assert_eq!(setup_reason(&err), "invalid_task");
    }
}
