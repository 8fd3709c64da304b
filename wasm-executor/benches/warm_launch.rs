//! Warm launch: instantiate a loaded component and run it to exit, through the executor and
//! through the bare wasmtime API on the same engine configuration, in the same run.
//!
//! The baseline does what any sandboxed run must: a fresh `Store` and WASI context with the
//! same args, the sandbox dir preopened, and stdout and stderr captured the same way the
//! executor's are: in memory (as the agent runs tasks, with `OutputConfig::memory`), or, in
//! the last row, in files in the sandbox dir. The executor adds its task machinery on top:
//! limiter, epoch watchdog, CPU metering, event channels, capped output and the outcome
//! classification. Its task runs inline (`Executor::launch_inline`, as the agent launches);
//! the "spawned" column is `Executor::launch`, which adds a tokio spawn and join.
//! Between file-mode runs, outside the timed part, the stdout file is removed, so that every
//! run creates it as a task in a new sandbox would.
//!
//! wasmtime captures a backtrace while dropping a store when `RUST_BACKTRACE` or
//! `RUST_LIB_BACKTRACE` enables it (several µs); run with `RUST_LIB_BACKTRACE=0` for the
//! figures an agent in production sees. The bench prints which mode it ran in.
//!
//! `cargo bench -p wasmesos-wasm-executor --bench warm_launch [-- --quick]`; with
//! `WARM_LAUNCH_ONLY=trivial` (or any part of a guest's name) only the guests it names run,
//! and the two-thread table is left out, and `WARM_LAUNCH_ITERATIONS=N` runs each N times:
//! for profiling one guest.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{Samples, micros, quick, ratio, table};
use wasmesos_wasm_executor::{
    Executor, ExecutorConfig, Outcome, OutputMemory, Program, RunningTask, TaskSpec,
};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// A command that returns `ok` at once: the cost of a launch and nothing else.
const TRIVIAL: &str = r#"
(component
  (core module $m (func (export "run") (result i32) (i32.const 0)))
  (core instance $i (instantiate $m))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $cli_run (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $cli_run)))
"#;

/// What the agent holds in memory per stream by default.
const OUTPUT_MEMORY_BYTES: u64 = 8 * 1024;

/// Where a run's stdout and stderr go, in both the executor and the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Memory,
    Files,
}

struct Guest {
    name: &'static str,
    bytes: Vec<u8>,
    output: Output,
}

fn main() {
    let iterations = std::env::var("WARM_LAUNCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick() { 300 } else { 3_000 });
    let hello = std::fs::read(wasmesos_guest_artifacts::HELLO).expect("hello artifact");
    let guests = [
        Guest {
            name: "trivial (WAT)",
            bytes: wat::parse_str(TRIVIAL).expect("valid WAT"),
            output: Output::Memory,
        },
        Guest {
            name: "hello (Rust, prints 2 lines)",
            bytes: hello.clone(),
            output: Output::Memory,
        },
        Guest {
            name: "hello, output to sandbox files",
            bytes: hello,
            output: Output::Files,
        },
    ];
    let config = ExecutorConfig {
        max_concurrent_tasks: 1_000,
        ..ExecutorConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let executor = Executor::new(config.clone()).expect("executor");
    let bare = Bare::new(&config);
    let sandbox = tempfile::tempdir().expect("temp dir");

    let backtraces =
        std::backtrace::Backtrace::capture().status() == std::backtrace::BacktraceStatus::Captured;
    println!(
        "## warm launch, one thread, {iterations} runs each (backtrace capture {}, keep_resident {} KiB)\n",
        if backtraces {
            "ON: set RUST_LIB_BACKTRACE=0"
        } else {
            "off"
        },
        config.keep_resident_bytes / 1024,
    );
    let only = std::env::var("WARM_LAUNCH_ONLY").ok();
    let mut rows = Vec::new();
    for guest in guests
        .iter()
        .filter(|guest| only.as_deref().is_none_or(|only| guest.name.contains(only)))
    {
        let program = runtime
            .block_on(executor.load(&guest.bytes))
            .expect("loads");
        let pre = bare.prepare(&guest.bytes);
        let launch = Launcher {
            executor: &executor,
            program: &program,
            output: guest.output,
        };
        let dir = sandbox.path().join("executor");
        let ours = runtime.block_on(launch.time(&dir, iterations, Executor::launch_inline));
        let spawned = runtime.block_on(launch.time(&dir, iterations, Executor::launch));
        let baseline = runtime.block_on(time_bare(
            &bare,
            &pre,
            guest.output,
            sandbox.path(),
            iterations,
        ));
        rows.push(vec![
            guest.name.to_owned(),
            micros(ours.median()),
            micros(ours.percentile(99.0)),
            micros(spawned.median()),
            micros(baseline.median()),
            micros(baseline.percentile(99.0)),
            ratio(ours.median(), baseline.median()),
        ]);
    }
    table(
        &[
            "guest",
            "executor p50",
            "executor p99",
            "spawned p50",
            "bare wasmtime p50",
            "bare p99",
            "p50 ratio",
        ],
        &rows,
    );
    println!("\ntarget: executor p50 <= 50 µs, ratio <= 1.2\n");
    if only.is_some() {
        return;
    }
    two_threads(&executor, &bare, &guests[1], sandbox.path(), iterations);
}

type LaunchFn =
    fn(&Executor, &Program, TaskSpec) -> Result<RunningTask, wasmesos_wasm_executor::Error>;

struct Launcher<'a> {
    executor: &'a Executor,
    program: &'a Program,
    output: Output,
}

impl Launcher<'_> {
    async fn run_once(&self, dir: &Path, launch: LaunchFn) -> Outcome {
        let mut spec = TaskSpec::new("bench", dir);
        if self.output == Output::Memory {
            spec.output.memory = Some(OutputMemory::new(OUTPUT_MEMORY_BYTES));
        }
        let task = launch(self.executor, self.program, spec).expect("launches");
        task.wait().await.outcome
    }

    async fn time(&self, dir: &Path, iterations: usize, launch: LaunchFn) -> Samples {
        std::fs::create_dir_all(dir).expect("dir");
        let mut samples = Vec::with_capacity(iterations);
        for round in 0..iterations + iterations / 10 {
            let start = Instant::now();
            let outcome = self.run_once(dir, launch).await;
            let elapsed = start.elapsed();
            assert!(matches!(outcome, Outcome::Finished { .. }), "{outcome:?}");
            remove_output(dir);
            if round >= iterations / 10 {
                samples.push(elapsed);
            }
        }
        Samples::new(samples)
    }
}

fn remove_output(dir: &Path) {
    let _ = std::fs::remove_file(dir.join("stdout"));
}

/// Plain wasmtime + wasmtime-wasi, no executor.
struct Bare {
    engine: Engine,
    linker: Linker<BareState>,
}

struct BareState {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for BareState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

impl Bare {
    fn new(config: &ExecutorConfig) -> Self {
        let engine = Engine::new(&config.wasmtime_config(false)).expect("engine");
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi");
        Bare { engine, linker }
    }

    fn prepare(&self, bytes: &[u8]) -> CommandPre<BareState> {
        let component = Component::new(&self.engine, bytes).expect("compiles");
        CommandPre::new(self.linker.instantiate_pre(&component).expect("links")).expect("command")
    }

    async fn run_once(&self, pre: &CommandPre<BareState>, output: Output, dir: &Path) {
        let mut wasi = WasiCtxBuilder::new();
        wasi.arg("bench");
        wasi.preopened_dir(dir, "/", FsPerms::ReadWrite)
            .expect("preopen");
        match output {
            Output::Memory => {
                let capacity = OUTPUT_MEMORY_BYTES as usize;
                wasi.stdout(MemoryOutputPipe::new(capacity))
                    .stderr(MemoryOutputPipe::new(capacity));
            }
            Output::Files => {
                let stdout = std::fs::File::create(dir.join("stdout")).expect("stdout file");
                wasi.stdout(wasmtime_wasi::cli::OutputFile::new(stdout));
            }
        }
        let state = BareState {
            ctx: wasi.build(),
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&self.engine, state);
        store.set_epoch_deadline(u64::MAX / 2);
        let command = pre
            .instantiate_async(&mut store)
            .await
            .expect("instantiates");
        let exit = command
            .wasi_cli_run()
            .call_run(&mut store)
            .await
            .expect("runs");
        assert!(exit.is_ok());
    }
}

async fn time_bare(
    bare: &Bare,
    pre: &CommandPre<BareState>,
    output: Output,
    sandbox: &Path,
    iterations: usize,
) -> Samples {
    let dir = sandbox.join("bare");
    std::fs::create_dir_all(&dir).expect("dir");
    let mut samples = Vec::with_capacity(iterations);
    for round in 0..iterations + iterations / 10 {
        let start = Instant::now();
        bare.run_once(pre, output, &dir).await;
        let elapsed = start.elapsed();
        remove_output(&dir);
        if round >= iterations / 10 {
            samples.push(elapsed);
        }
    }
    Samples::new(samples)
}

/// Throughput with two launching threads (the machine has two cores).
fn two_threads(executor: &Executor, bare: &Bare, guest: &Guest, sandbox: &Path, iterations: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let program = runtime
        .block_on(executor.load(&guest.bytes))
        .expect("loads");
    let pre = Arc::new(bare.prepare(&guest.bytes));
    let runs = iterations * 2;

    let start = Instant::now();
    runtime.block_on(async {
        let workers: Vec<_> = (0..2)
            .map(|worker| {
                let executor = executor.clone();
                let program = program.clone();
                let dir = sandbox.join(format!("executor-{worker}"));
                tokio::spawn(async move {
                    let launcher = Launcher {
                        executor: &executor,
                        program: &program,
                        output: Output::Memory,
                    };
                    for _ in 0..runs / 2 {
                        launcher.run_once(&dir, Executor::launch_inline).await;
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.expect("worker");
        }
    });
    let ours = start.elapsed();

    let start = std::thread::scope(|scope| {
        let start = Instant::now();
        for worker in 0..2 {
            let pre = Arc::clone(&pre);
            let dir = sandbox.join(format!("bare-{worker}"));
            std::fs::create_dir_all(&dir).expect("dir");
            scope.spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                for _ in 0..runs / 2 {
                    runtime.block_on(bare.run_once(&pre, guest.output, &dir));
                }
            });
        }
        start
    });
    let baseline = start.elapsed();

    println!(
        "## warm launch, two threads, {runs} runs of {}\n",
        guest.name
    );
    let per_second =
        |elapsed: Duration| format!("{:.0} runs/s", runs as f64 / elapsed.as_secs_f64());
    table(
        &["", "executor", "bare wasmtime", "time ratio"],
        &[vec![
            "throughput".into(),
            per_second(ours),
            per_second(baseline),
            ratio(ours, baseline),
        ]],
    );
}
