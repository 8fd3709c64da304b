//! `wasmesos exec`: run one component locally, under exactly the sandbox an agent uses.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use wasmesos_wasm_executor::{
    AllowedAddr, Executor, ExecutorConfig, FailureReason, Limits, NetworkPolicy, Outcome,
    OutputConfig, Report, TaskSpec,
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
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    mem: u64,

    /// CPU share, e.g. 0.5 for half a core (default: unthrottled).
    #[arg(long, value_name = "CPUS", value_parser = parse_cpus)]
    cpus: Option<f64>,

    /// Instruction budget (default: unmetered).
    #[arg(long, value_name = "N")]
    fuel: Option<u64>,

    /// Wall-clock limit, e.g. 500ms, 5s, 2m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<Duration>,

    /// Quota on the sandbox directory, e.g. 16MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
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

    /// Allow the guest to use this address, IP:PORT or IP for any port (repeatable).
    #[arg(long = "allow-net", value_name = "ADDR", value_parser = parse_allowed_addr)]
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

fn parse_allowed_addr(text: &str) -> Result<AllowedAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(AllowedAddr::Socket(addr));
    }
    text.parse::<IpAddr>()
        .map(AllowedAddr::Ip)
        .map_err(|_| "expected IP:PORT or IP, e.g. 127.0.0.1:8080".into())
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
            let reason = err
                .downcast_ref::<wasmesos_wasm_executor::Error>()
                .map_or("host_error", wasmesos_wasm_executor::Error::reason_code);
            report_setup_error(&err, reason, args.json);
            ExitCode::from(125)
        }
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
    let spec = task_spec(args, sandbox_dir, data);
    let task = executor.launch(&program, spec)?;
    Ok(task.wait().await)
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

fn task_spec(args: &ExecArgs, sandbox_dir: PathBuf, data: Vec<u8>) -> TaskSpec {
    let name = args.component.file_stem().map_or_else(
        || "task".to_owned(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    TaskSpec {
        task_id: format!("exec-{}", std::process::id()),
        name,
        args: args.args.clone(),
        env: args.env.clone(),
        data,
        limits: Limits {
            mem_bytes: args.mem,
            cpus: args.cpus,
            fuel: args.fuel,
            timeout: args.timeout,
            disk_bytes: args.disk,
        },
        sandbox_dir,
        network: NetworkPolicy::allowing(args.allow_net.iter().copied()),
        output: OutputConfig {
            cap_bytes: args.output_cap,
            tee: true,
            memory: None,
        },
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
